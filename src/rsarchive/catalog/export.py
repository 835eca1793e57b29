"""Static catalog export of the PUBLIC database: a self-contained STAC catalog with
relative links, for mirrors and crawlers, in a directory or an S3 bucket.

Layout (the STAC best-practice layout)::

    catalog.json
    licence.html
    <collection>/collection.json
    <collection>/<item>/<item>.json

Only the public database is read, so nothing classified can be exported.  No store URL
leaves either: an asset whose href is not on the archive's public URL (http/https) is
left out, and a document that would still hold a ``file://`` or ``s3://`` URL stops the
export before the root is rewritten (:func:`rsarchive.catalog.assets.store_hrefs`).  Output goes
through a :class:`~rsarchive.catalog.sinks.CatalogSink` (a directory or a bucket
prefix), so both targets receive the same bytes.

Publication order, so that a crash at any point leaves a catalog whose every link
resolves and that a mirror crawling from ``catalog.json`` reads as a consistent whole
(the previous export, or the previous one with some items' contents refreshed):

1. every item file (new and changed ones; identical ones are not rewritten);
2. every ``collection.json`` (now linking only the items just written) and the licence;
3. a durability barrier, then ``catalog.json``, the commit point;
4. the files of the previous export that are no longer linked — items withdrawn from
   the public database, collections that disappeared, interrupted temporary files —
   are removed.  Only files of the export layout are ever removed.

Everything is read in one read-only REPEATABLE READ transaction, so the extents in the
collections and the items exported come from the same snapshot.  A target that holds
other files and no catalog of ours is refused rather than written into.
"""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from rsarchive.catalog.assets import store_hrefs
from rsarchive.catalog.licence import licence_html
from rsarchive.catalog.sinks import (CatalogSink, DirectorySink, S3Sink, content_type, is_temp, md5_hex,
                                     open_sink)
from rsarchive.catalog.webmap import without_web_map
from rsarchive.db import connect
from rsarchive.errors import CatalogError, UsageError

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["CATALOG_ID", "CatalogSink", "DirectorySink", "ExportReport", "S3Sink", "export_catalog",
           "is_export_file", "open_sink", "writer_for"]

CATALOG_ID = "rsarchive-public"
DEFAULT_TITLE = "Viet Nam national remote-sensing archive"
ITEM_MEDIA_TYPE = "application/geo+json"  # items are GeoJSON Features; catalog and collections application/json

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
_LAYOUT = re.compile(r"^(?:catalog\.json|licence\.html|[^/]+/collection\.json|[^/]+/(?P<item>[^/]+)/(?P=item)\.json)$")


def writer_for(target: str, settings: Settings | None = None) -> CatalogSink:
    """Alias of :func:`~rsarchive.catalog.sinks.open_sink` (the earlier name)."""
    return open_sink(target, settings)


def is_export_file(path: str) -> bool:
    """True for a path of the export layout (or an interrupted write of one): the only
    files an export ever removes from its target."""
    return bool(_LAYOUT.match(path)) or is_temp(path)


@dataclass(frozen=True)
class ExportReport:
    target: str
    collections: int
    items: int
    written: int = 0      # files written (new or changed)
    unchanged: int = 0    # files already there with the same bytes
    removed: int = 0      # files of an earlier export no longer published


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode()


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SEGMENT.match(value):
        raise CatalogError(f"{what} {value!r} cannot be a path in the static catalog: expected letters, digits, "
                           "'.', '_', '+', '-' (not starting with a dot or dash, at most 200 characters)")
    return value


_SERVER_RELS = {"self", "root", "parent", "collection", "items", "child", "item", "next", "prev"}


def _collection_links(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = []
    for link in links:
        if link.get("rel") in _SERVER_RELS:
            continue
        if link.get("rel") == "license" and not urlparse(link.get("href", "")).scheme:
            link = {**link, "href": "../licence.html"}
        kept.append(link)
    return kept


def _public_only(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` without assets whose href is not an http(s) URL (a copy published before
    publication rewrote hrefs may still point into a store)."""
    assets = item.get("assets") or {}
    kept = {k: a for k, a in assets.items() if urlparse(str(a.get("href") or "")).scheme in ("http", "https")}
    if len(kept) != len(assets):
        log.warning("item %s: %d asset(s) with a non-public href left out of the export (publish it again)",
                    item.get("id"), len(assets) - len(kept))
    return {**item, "assets": kept}


def _checked(document: dict[str, Any], what: str) -> dict[str, Any]:
    leaks = store_hrefs(document)
    if leaks:
        raise CatalogError(f"{what} holds store URL(s) ({', '.join(sorted(set(leaks))[:3])}); not exported")
    return document


def _check_target(sink: CatalogSink, existing: dict[str, str | None]) -> None:
    """Refuse a target that holds something other than a static export of ours."""
    if "catalog.json" in existing:
        raw = sink.read_bytes("catalog.json")
        try:
            found = json.loads(raw or b"null")
            found_id = found.get("id") if isinstance(found, dict) else None
        except ValueError:
            found_id = None
        if found_id != CATALOG_ID:
            raise UsageError(f"export target {sink.url} holds a catalog.json that is not an rsarchive export (id "
                             f"{found_id!r}, expected {CATALOG_ID!r}); choose an empty directory or bucket prefix")
        return
    foreign = sorted(p for p in existing if not is_export_file(p))
    if foreign:
        raise UsageError(f"export target {sink.url} is not empty and holds no rsarchive catalog ({len(foreign)} other "
                         f"file(s), e.g. {foreign[0]!r}); choose an empty directory or bucket prefix")


class _Writer:
    """Writes through the sink from a few threads (bounded backlog), skipping files
    whose bytes are already there; the first failure is raised to the caller."""

    def __init__(self, sink: CatalogSink, existing: dict[str, str | None], workers: int) -> None:
        self.sink = sink
        self.existing = existing
        self.pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="catalog-export")
        self.backlog = 4 * max(1, workers)
        self.pending: deque[Future[None]] = deque()
        self.paths: set[str] = set()
        self.written = self.unchanged = self.removed = 0

    def put(self, path: str, data: bytes, media_type: str | None = None) -> None:
        if path in self.paths:
            raise CatalogError(f"two objects of the public catalog map to the same file {path!r}")
        self.paths.add(path)
        if self.existing.get(path) == md5_hex(data):
            self.unchanged += 1
            return
        self.written += 1
        self._submit(self.sink.write_bytes, path, data, media_type or content_type(path))

    def delete(self, path: str) -> None:
        self.removed += 1
        self._submit(self.sink.delete, path)

    def _submit(self, func: Any, *args: Any) -> None:
        self.pending.append(self.pool.submit(func, *args))
        while len(self.pending) > self.backlog or (self.pending and self.pending[0].done()):
            self.pending.popleft().result()

    def drain(self) -> None:
        while self.pending:
            self.pending.popleft().result()

    def close(self) -> None:
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)


def export_catalog(public_dsn: str, sink: CatalogSink | str, *, settings: Settings | None = None,
                   title: str = DEFAULT_TITLE, workers: int = 4) -> ExportReport:
    """Write the static catalog of everything in the public database to ``sink`` (a
    :class:`CatalogSink`, or a target URL opened with ``settings``), update an earlier
    export in place and remove what is no longer published.  See the module docstring
    for the order of writes."""
    if isinstance(sink, str):
        sink = open_sink(sink, settings)
    existing = sink.existing()  # first request: a missing bucket or dead endpoint fails before any work
    _check_target(sink, existing)
    writer = _Writer(sink, existing, workers)
    try:
        collections, n_items = _write_items_and_collections(public_dsn, writer)
        writer.put("licence.html", licence_html().encode("utf-8"))
        writer.drain()
        root_links: list[dict[str, Any]] = [
            {"rel": "root", "href": "./catalog.json", "type": "application/json", "title": title},
            *({"rel": "child", "href": f"./{c['id']}/collection.json", "type": "application/json",
               "title": c.get("title", c["id"])} for c in collections),
            {"rel": "license", "href": "./licence.html", "type": "text/html"},
        ]
        catalog = {
            "type": "Catalog", "stac_version": "1.1.0", "id": CATALOG_ID, "title": title,
            "description": "Published metadata of Viet Nam's national remote-sensing archive (Decision 81/2010/QĐ-TTg, "
                           "Art. 7). Static export of the public catalogue.",
            "links": root_links,
        }
        sink.sync()  # everything the new root links to is durable before the root changes
        writer.put("catalog.json", _json(catalog))
        writer.drain()
        sink.sync()
        for path in sorted(p for p in existing if p not in writer.paths and is_export_file(p)):
            log.info("removing %s from %s: no longer in the public catalog", path, sink.url)
            writer.delete(path)
        writer.drain()
        sink.sync()
    finally:
        writer.close()
    report = ExportReport(sink.url, len(collections), n_items, writer.written, writer.unchanged, writer.removed)
    log.info("exported %d collections, %d items to %s (%d files written, %d unchanged, %d removed)",
             report.collections, report.items, report.target, report.written, report.unchanged, report.removed)
    return report


def _write_items_and_collections(public_dsn: str, writer: _Writer) -> tuple[list[dict[str, Any]], int]:
    """Steps 1 and 2: every item, then every collection (from one snapshot of the public database)."""
    import psycopg

    n_items = 0
    collection_files: list[tuple[str, bytes]] = []
    with connect(public_dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        collections = [row[0] for row in conn.execute("SELECT content FROM pgstac.collections ORDER BY id").fetchall()]
        for collection in collections:
            cid = _segment(collection["id"], "collection id")
            item_links = []
            with conn.cursor(name=f"export_{len(collection_files)}") as cur:
                cur.itersize = 2000
                cur.execute(
                    "SELECT id, pgstac.get_item(id, collection) FROM pgstac.items WHERE collection = %s "
                    "ORDER BY datetime, id",
                    (cid,),
                )
                for item_id, item in cur:
                    _segment(item_id, f"item id (collection {cid})")
                    item["links"] = [
                        {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
                        {"rel": "parent", "href": "../collection.json", "type": "application/json"},
                        {"rel": "collection", "href": "../collection.json", "type": "application/json"},
                    ]
                    without_web_map(item)  # its tile links are absolute: the export keeps relative links only
                    item = _checked(_public_only(item), f"item {item_id} (collection {cid})")
                    writer.put(f"{cid}/{item_id}/{item_id}.json", _json(item), ITEM_MEDIA_TYPE)
                    item_links.append({"rel": "item", "href": f"./{item_id}/{item_id}.json",
                                       "type": ITEM_MEDIA_TYPE})
                    n_items += 1
            document = dict(collection)
            document["links"] = [
                {"rel": "root", "href": "../catalog.json", "type": "application/json"},
                {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
                *_collection_links(collection.get("links") or []),
                *item_links,
            ]
            collection_files.append((f"{cid}/collection.json", _json(_checked(document, f"collection {cid}"))))
        conn.rollback()
    writer.drain()  # step 1 done: every item is in place before a collection links to it
    for path, data in collection_files:
        writer.put(path, data)
    return collections, n_items
