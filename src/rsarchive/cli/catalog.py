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
    """Create or update the collections of catalog/*.json in both databases."""
    from rsarchive.catalog import ensure_collections
    from rsarchive.db import connect

    settings = get_settings()
    for dsn in (settings.internal_database_dsn, settings.public_database_dsn):
        with connect(dsn) as conn:
            ids = ensure_collections(conn)
            conn.commit()
    click.echo(f"collections: {', '.join(ids)}")


@command.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish/--no-publish", default=False, help="Also publish the loaded items (unclassified only).")
def load(files: tuple[Path, ...], publish: bool) -> None:
    """Validate and load STAC items (JSON Item, FeatureCollection or ndjson FILEs) into the internal catalog."""
    import json

    from rsarchive.catalog import bulk_load, ensure_collections, publish as publish_items
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
        result = publish_items(settings.internal_database_dsn, settings.public_database_dsn, [i["id"] for i in items])
        click.echo(f"published {len(result.published)}, withheld {len(result.withheld)}")


@command.command("publish")
@click.argument("item_ids", nargs=-1, required=True)
@click.option("--collection", help="Collection of the items (needed if an id is in several).")
def publish(item_ids: tuple[str, ...], collection: str | None) -> None:
    """Publish ITEM_IDs of the internal catalog to the public one (classified items are withheld)."""
    from rsarchive.catalog import publish as publish_items

    settings = get_settings()
    report = publish_items(settings.internal_database_dsn, settings.public_database_dsn, item_ids, collection)
    for item_id in report.published:
        click.echo(f"published {item_id}")
    for item_id in report.withheld:
        click.echo(f"withheld  {item_id} (security classification)")


@command.command("export")
@click.option("--to", "target", required=True, help="Directory (or file:// URL) for the static catalog.")
def export(target: str) -> None:
    """Write a self-contained static STAC catalog of the PUBLIC data (relative links)."""
    from rsarchive.catalog import export_catalog, writer_for

    report = export_catalog(get_settings().public_database_dsn, writer_for(target))
    click.echo(f"exported {report.collections} collections, {report.items} items to {report.target}")
