"""Loading Items into a pgSTAC database.

Two ways in:

* :func:`load_items` -- inside the caller's transaction (psycopg connection): the
  storage layer's atomic publication writes objects and items together and commits
  once.  Uses the SQL function ``pgstac.upsert_items``.
* :func:`bulk_load` -- many items (re-indexing, migrations, benchmarks): pypgstac's
  ``Loader`` (COPY into the collection partition), its own connection and commits.

Both validate every item offline first (unless told the items are already valid) and
recompute the extents of the collections they touched.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rsarchive.catalog.collections import update_extents
from rsarchive.catalog.items import with_collection_link
from rsarchive.catalog.validation import SchemaStore, default_store, validate_item
from rsarchive.db import connect
from rsarchive.errors import CatalogError, NotFoundError

log = logging.getLogger(__name__)

__all__ = ["LoadReport", "bulk_load", "delete_items", "fetch_items", "load_items"]


@dataclass(frozen=True)
class LoadReport:
    """What a load did."""

    items: int
    collections: tuple[str, ...]
    seconds: float

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("inf")


def _batched(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(iterable)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _checked(items: Iterable[Mapping[str, Any]], validate: bool, store: SchemaStore | None) -> Iterator[dict[str, Any]]:
    store = store or (default_store() if validate else None)
    seen: set[tuple[str, str]] = set()
    for raw in items:
        item = with_collection_link(dict(raw))
        if not item.get("collection"):
            raise CatalogError(f"STAC item {item.get('id')!r} has no collection")
        key = (item["collection"], item.get("id", ""))
        if key in seen:
            raise CatalogError(f"STAC item {key[1]!r} appears twice in collection {key[0]!r} in one load")
        seen.add(key)
        if validate:
            validate_item(item, store)
        yield item


def _known_collections(conn: Any, wanted: set[str]) -> None:
    rows = conn.execute("SELECT id FROM pgstac.collections WHERE id = ANY(%s)", (sorted(wanted),)).fetchall()
    missing = wanted - {r[0] for r in rows}
    if missing:
        raise NotFoundError(f"collection(s) {', '.join(sorted(missing))} not in the catalog; create them first")


def load_items(
    conn: Any,
    items: Iterable[Mapping[str, Any]],
    *,
    validate: bool = True,
    store: SchemaStore | None = None,
    batch_size: int = 500,
) -> LoadReport:
    """Upsert ``items`` into the pgSTAC database of ``conn`` within the caller's transaction.

    Nothing is committed here: the caller commits (or rolls back) with the rest of its
    work.  An invalid item raises :class:`CatalogError` before anything is written."""
    start = time.perf_counter()
    checked = list(_checked(items, validate, store))
    collections = {item["collection"] for item in checked}
    if collections:
        _known_collections(conn, collections)
    for batch in _batched(checked, batch_size):
        conn.execute("SELECT pgstac.upsert_items(%s::jsonb)", (json.dumps(list(batch)),))
    if collections:
        update_extents(conn, collections)
    return LoadReport(len(checked), tuple(sorted(collections)), time.perf_counter() - start)


def delete_items(conn: Any, collection: str, ids: Iterable[str]) -> int:
    """Delete items by id from ``collection`` (caller's transaction); extents recomputed."""
    ids = list(ids)
    if not ids:
        return 0
    deleted = conn.execute(
        "DELETE FROM pgstac.items WHERE collection = %s AND id = ANY(%s)", (collection, ids)
    ).rowcount
    update_extents(conn, [collection])
    return int(deleted or 0)


def bulk_load(
    dsn: str,
    items: Iterable[Mapping[str, Any]],
    *,
    validate: bool = True,
    store: SchemaStore | None = None,
    upsert: bool = True,
    chunk_size: int = 10_000,
) -> LoadReport:
    """Load many items fast with pypgstac's ``Loader`` (COPY); commits per chunk.

    ``validate=False`` is for items already validated (e.g. built and validated by the
    pipeline, or read back from another pgSTAC database)."""
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods

    start = time.perf_counter()
    collections: set[str] = set()
    count = 0

    def tracked() -> Iterator[dict[str, Any]]:
        nonlocal count
        for item in _checked(items, validate, store):
            collections.add(item["collection"])
            count += 1
            yield item

    with connect(dsn) as conn:
        known = {r[0] for r in conn.execute("SELECT id FROM pgstac.collections").fetchall()}
    try:
        with PgstacDB(dsn=dsn) as db:
            loader = Loader(db=db)
            for chunk in _batched(tracked(), chunk_size):
                missing = {i["collection"] for i in chunk} - known
                if missing:
                    raise NotFoundError(f"collection(s) {', '.join(sorted(missing))} not in the catalog; create them first")
                loader.load_items(iter(chunk), insert_mode=Methods.upsert if upsert else Methods.insert)
    except (CatalogError, NotFoundError):
        raise
    except Exception as exc:  # pypgstac raises psycopg and plain errors
        raise CatalogError(f"bulk load into pgSTAC failed after {count} items: {exc}") from exc
    with connect(dsn) as conn:
        update_extents(conn, collections)
        conn.commit()
    report = LoadReport(count, tuple(sorted(collections)), time.perf_counter() - start)
    log.info("bulk-loaded %d items into %s (%.0f items/s)", report.items, ", ".join(report.collections), report.items_per_second)
    return report


def fetch_items(conn: Any, ids: Iterable[str], collection: str | None = None) -> list[dict[str, Any]]:
    """Items (hydrated) by id from the pgSTAC database of ``conn``; :class:`NotFoundError` if one is missing."""
    ids = list(ids)
    if collection:
        rows = conn.execute(
            "SELECT id, pgstac.get_item(id, collection) FROM pgstac.items WHERE collection = %s AND id = ANY(%s)",
            (collection, ids),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT id, pgstac.get_item(id, collection) FROM pgstac.items WHERE id = ANY(%s)", (ids,)
        ).fetchall()
    found: dict[str, dict[str, Any]] = {}
    for item_id, content in rows:
        if item_id in found:
            raise NotFoundError(f"item id {item_id!r} is in several collections; name the collection")
        found[item_id] = content
    missing = [i for i in ids if i not in found]
    if missing:
        where = f"collection {collection!r}" if collection else "the internal catalog"
        raise NotFoundError(f"item(s) {', '.join(missing)} not found in {where}")
    return [found[i] for i in ids]
