"""STAC Collections: definitions in ``catalog/*.json`` of the package data and the site
directory (one per mission × form, see :mod:`rsarchive.resources`), loaded
into pgSTAC, with extents kept up to date from the items of the same database.

Extents are computed inside each database from that database's items only, so the
public database's extents reflect published items only and never a classified one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rsarchive.catalog.validation import SchemaStore, validate_collection
from rsarchive.errors import CatalogError, NotFoundError
from rsarchive.resources import listing, searched, site_or_shipped

log = logging.getLogger(__name__)

__all__ = ["catalog_file", "collection_definitions", "ensure_collections", "ensure_queryables", "extent_from_aggregate",
           "update_extents"]


def catalog_file(name: str, site: Path | None = None) -> Path:
    """``catalog/<name>`` (``licence.html``, ``queryables.json``) of ``site`` (else the site
    directory) or of the package."""
    return site_or_shipped(f"catalog/{name}", site)


def collection_definitions(site: Path | None = None, store: SchemaStore | None = None) -> dict[str, dict[str, Any]]:
    """Every collection definition in ``catalog/*.json`` of the package and of ``site`` (else
    the site directory; its files replace the package's of the same name), validated, by id."""
    found: dict[str, dict[str, Any]] = {}
    for path in listing("catalog", "*.json", site).values():
        if path.name == "queryables.json":
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CatalogError(f"collection file {path} is not valid JSON: {exc}") from None
        validate_collection(data, store)
        if data["id"] != path.stem:
            raise CatalogError(f"collection file {path} holds id {data['id']!r}; the file must be named after its id")
        found[data["id"]] = data
    if not found:
        raise CatalogError(f"no collection definitions (*.json) in {searched('catalog', site)}")
    return found


def init_catalogs(settings: Any) -> list[str]:
    """:func:`ensure_collections` (all of them) in both databases of ``settings``, each
    committed; returns the collection ids."""
    from rsarchive.db import connect

    ids: list[str] = []
    for dsn in (settings.internal_database_dsn, settings.public_database_dsn):
        with connect(dsn) as conn:
            ids = ensure_collections(conn)
            conn.commit()
    return ids


def ensure_collections(conn: Any, ids: Iterable[str] | None = None, site: Path | None = None) -> list[str]:
    """Create or update the collections ``ids`` (default: all) in the pgSTAC database of ``conn``.

    The definition's extent is a default; the stored extent, computed from the items, is
    kept when it exists.  Runs in the caller's transaction."""
    definitions = collection_definitions(site)
    wanted = list(ids) if ids is not None else list(definitions)
    unknown = [i for i in wanted if i not in definitions]
    if unknown:  # a collection made at run time (a body's harvested items, rsarchive.harvest) is kept as stored
        stored = {r[0] for r in conn.execute("SELECT id FROM pgstac.collections WHERE id = ANY(%s)", (unknown,))}
        unknown = [i for i in unknown if i not in stored]
    if unknown:
        raise NotFoundError(f"unknown collection(s) {', '.join(unknown)}; defined: {', '.join(definitions)}")
    for cid in (i for i in wanted if i in definitions):
        definition = definitions[cid]
        row = conn.execute("SELECT content FROM pgstac.collections WHERE id = %s", (cid,)).fetchone()
        if row is not None:
            content = dict(definition, extent=row[0].get("extent", definition["extent"]))
            if content == row[0]:
                continue
        else:
            content = definition
        conn.execute("SELECT pgstac.upsert_collection(%s::jsonb)", (json.dumps(content),))
        log.info("collection %s %s", cid, "updated" if row else "created")
    ensure_queryables(conn, site)
    if wanted:
        update_extents(conn, wanted)
    return wanted


def ensure_queryables(conn: Any, site: Path | None = None) -> None:
    """Register the queryables of ``catalog/queryables.json`` (typed, so that filters and sorts
    compare numbers as numbers; indexed where marked).  Idempotent, caller's transaction."""
    path = catalog_file("queryables.json", site)
    if not path.is_file():
        return
    wanted = {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if not k.startswith("$")}
    rows = conn.execute(
        "SELECT name, definition, property_wrapper, property_index_type FROM pgstac.queryables "
        "WHERE collection_ids IS NULL AND name = ANY(%s)", (list(wanted),)
    ).fetchall()
    current = {r[0]: (r[1], r[2], r[3]) for r in rows}
    changed = [n for n, spec in wanted.items()
               if current.get(n) != (spec["definition"], spec.get("wrapper"), spec.get("index"))]
    if not changed:
        return
    # pgSTAC's queryables triggers call unqualified pgstac functions.
    previous = conn.execute("SELECT current_setting('search_path')").fetchone()[0]
    conn.execute("SELECT set_config('search_path', 'pgstac, public', true)")
    for name in changed:
        spec = wanted[name]
        conn.execute("DELETE FROM pgstac.queryables WHERE name = %s AND collection_ids IS NULL", (name,))
        conn.execute(
            "INSERT INTO pgstac.queryables (name, definition, property_wrapper, property_index_type) "
            "VALUES (%s, %s::jsonb, %s, %s)",
            (name, json.dumps(spec["definition"]), spec.get("wrapper"), spec.get("index")),
        )
    conn.execute("SELECT set_config('search_path', %s, true)", (previous,))


_EXTENT_SQL = """
WITH agg AS (
    SELECT st_extent(geometry) AS box, min(datetime) AS first, max(end_datetime) AS last
    FROM pgstac.items WHERE collection = %(id)s
)
SELECT st_xmin(box), st_ymin(box), st_xmax(box), st_ymax(box), first, last FROM agg WHERE box IS NOT NULL
"""


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def extent_from_aggregate(xmin: float, ymin: float, xmax: float, ymax: float, first: Any, last: Any) -> dict[str, Any]:
    """A STAC collection ``extent`` from the aggregates of its items: the bounds of
    ``ST_Extent(geometry)``, ``min(datetime)`` and ``max(end_datetime)`` (aware datetimes).

    The one spelling of a computed extent, used for the stored extents here and for the
    per-clearance extents of the internal API (:mod:`rsarchive.api.extents`)."""
    return {
        "spatial": {"bbox": [[xmin, ymin, xmax, ymax]]},
        "temporal": {"interval": [[_iso(first), _iso(last)]]},
    }


def update_extents(conn: Any, ids: Iterable[str]) -> None:
    """Recompute the spatial and temporal extent of collections from their items in this database.

    A collection without items keeps the default extent of its definition."""
    definitions = collection_definitions()
    for cid in sorted(set(ids)):
        row = conn.execute(_EXTENT_SQL, {"id": cid}).fetchone()
        if row is None:
            default = definitions.get(cid, {}).get("extent")
            if default is None:
                continue
            extent = default
        else:
            extent = extent_from_aggregate(*row)
        conn.execute(
            "UPDATE pgstac.collections SET content = jsonb_set(content, '{extent}', %s::jsonb) WHERE id = %s",
            (json.dumps(extent), cid),
        )
