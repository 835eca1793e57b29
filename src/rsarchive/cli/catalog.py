"""``rsarchive catalog``: load, publish and export STAC metadata (thin wrappers)."""

from __future__ import annotations

from pathlib import Path

import click

from rsarchive.cli.options import get_settings


@click.group("catalog")
def command() -> None:
    """The STAC catalog: collections, items, publication, static export."""


@command.command("init")
def init() -> None:
    """Create or update the collections of catalog/*.json (package and site directory) in both databases."""
    from rsarchive.catalog import init_catalogs

    ids = init_catalogs(get_settings())
    click.echo(f"collections: {', '.join(ids)}")


@command.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish/--no-publish", default=False, help="Also publish the loaded items (unclassified only).")
def load(files: tuple[Path, ...], publish: bool) -> None:
    """Validate and load STAC items (JSON Item, FeatureCollection or ndjson FILEs) into the internal catalog."""
    import json

    from rsarchive.catalog import bulk_load, ensure_collections, publish as publish_items
    from rsarchive.catalog.classification import sync_public
    from rsarchive.db import connect
    from rsarchive.errors import UsageError

    items: list[dict] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix in (".ndjson", ".jsonl"):
                items += [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                data = json.loads(text)
                items += data["features"] if data.get("type") == "FeatureCollection" else [data]
        except (ValueError, KeyError, AttributeError) as exc:
            raise UsageError(f"{path}: not a STAC Item, FeatureCollection or ndjson file ({exc})") from None
    settings = get_settings()
    with connect(settings.internal_database_dsn) as conn:
        ensure_collections(conn, sorted({i.get("collection", "") for i in items if i.get("collection")}))
        conn.commit()
    report = bulk_load(settings.internal_database_dsn, items)
    click.echo(f"loaded {report.items} items into {', '.join(report.collections)} ({report.items_per_second:.0f} items/s)")
    if publish:
        result = publish_items(settings.internal_database_dsn, settings.public_database_dsn, [i["id"] for i in items],
                               public_url=settings.public_url)
        click.echo(f"published {len(result.published)}, withheld {len(result.withheld)}")
    else:  # an item reclassified (or held) by this load loses its public copy now, not at the next publish
        result = sync_public(settings.internal_database_dsn, settings.public_database_dsn, items,
                             public_url=settings.public_url)
        if result.withheld:
            click.echo(f"removed from the public catalog: {', '.join(result.withheld)}")


@command.command("publish")
@click.argument("item_ids", nargs=-1, required=True)
@click.option("--collection", help="Collection of the items (needed if an id is in several).")
def publish(item_ids: tuple[str, ...], collection: str | None) -> None:
    """Publish ITEM_IDs of the internal catalog to the public one (classified and withdrawn items are withheld)."""
    from rsarchive.catalog import publish as publish_items

    settings = get_settings()
    report = publish_items(settings.internal_database_dsn, settings.public_database_dsn, item_ids, collection,
                           public_url=settings.public_url)
    for item_id in report.published:
        click.echo(f"published {item_id}")
    for item_id in report.withheld:
        click.echo(f"withheld  {item_id} ({report.reasons.get(item_id, 'security classification')})")


@command.command("republish")
def republish() -> None:
    """Publish again every item of the public catalog (after an upgrade, or a new public_base_url)."""
    from rsarchive.catalog.publication import republish as republish_all

    settings = get_settings()
    report = republish_all(settings.internal_database_dsn, settings.public_database_dsn,
                           public_url=settings.public_url)
    click.echo(f"đã công bố lại / republished {len(report.published)}, đã gỡ / removed {len(report.withheld)}")
    for item_id in report.withheld:
        click.echo(f"removed   {item_id} ({report.reasons.get(item_id, '')})")


@command.command("held")
@click.option("--json", "as_json", is_flag=True, help="One JSON list.")
def held(as_json: bool) -> None:
    """Items held for want of a security classification (never published until classified)."""
    from rsarchive.catalog.classification import held_items
    from rsarchive.cli.options import echo_json
    from rsarchive.db import connect

    with connect(get_settings().internal_database_dsn) as conn:
        found = held_items(conn)
    if as_json:
        echo_json([h.to_dict() for h in found])
        return
    for h in found:
        click.echo(f"{h.collection}  {h.item_id}  {h.form or '?'}  {h.datetime.isoformat() if h.datetime else '-'}"
                   + (f"  (found {h.found!r})" if h.found else ""))
    click.echo(f"{len(found)} mục đang giữ / {len(found)} held item(s)"
               + ("; phân loại / classify: rsarchive catalog classify ID --classification …" if found else ""))


@command.command("classify")
@click.argument("item_ids", nargs=-1, required=True)
@click.option("--classification", required=True,
              type=click.Choice(["unclassified", "confidential", "secret", "top-secret"]),
              help="The security classification (only unclassified items are published).")
@click.option("--collection", help="Collection of the items (needed if an id is in several).")
@click.option("--note", default="", help="Why (recorded with the classification).")
def classify(item_ids: tuple[str, ...], classification: str, collection: str | None, note: str) -> None:
    """Classify ITEM_IDs; unclassified ones are published, any other loses its public copy at once."""
    from rsarchive.catalog.classification import classify as classify_items

    settings = get_settings()
    report = classify_items(settings.internal_database_dsn, settings.public_database_dsn, item_ids, classification,
                            collection=collection, note=note, public_url=settings.public_url)
    for item_id in report.published:
        click.echo(f"{item_id}: {classification}, published")
    for item_id in report.withheld:
        click.echo(f"{item_id}: {classification}, not public ({report.reasons.get(item_id, '')})")


@command.command("export")
@click.option("--to", "target", required=True, metavar="URL",
              help="Directory, file:///DIR or s3://BUCKET[/PREFIX/] (endpoint and credentials from the settings).")
def export(target: str) -> None:
    """Write a self-contained static STAC catalog of the PUBLIC data (relative links).

    Re-running updates the target in place: new and changed files are written, the root
    catalog.json last, then items no longer published are removed."""
    from rsarchive.catalog import export_catalog, open_sink

    settings = get_settings()
    sink = open_sink(target, settings)
    report = export_catalog(settings.public_database_dsn, sink, workers=settings.io_threads)
    click.echo(f"exported {report.collections} collections, {report.items} items to {report.target} "
               f"({report.written} files written, {report.unchanged} unchanged, {report.removed} removed)")


@command.command("rebuild")
@click.option("--publish/--no-publish", default=True, show_default=True,
              help="Publish the rebuilt unclassified items (--no-publish: the internal catalog only).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def rebuild(publish: bool, as_json: bool) -> None:
    """Recreate both catalogs (items, object records, deliveries, public copies) from the catalog
    records in the stores, into migrated databases; what they already hold is kept."""
    from dataclasses import asdict

    from rsarchive.catalog.rebuild import rebuild as rebuild_catalogs
    from rsarchive.cli.options import echo_json
    from rsarchive.storage.archive import Archive

    settings = get_settings()
    report = rebuild_catalogs(Archive.from_settings(settings), settings.internal_database_dsn,
                              settings.public_database_dsn, public_url=settings.public_url, publish=publish)
    if as_json:
        echo_json(asdict(report))
        return
    click.echo(report.summary())
    for key, why in report.skipped.items():
        click.echo(f"skipped {key}: {why}")
