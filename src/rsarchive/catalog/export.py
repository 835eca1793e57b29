"""Static catalog export of the PUBLIC database: a self-contained STAC catalog with
relative links, for mirrors and crawlers.

Layout (the STAC best-practice layout)::

    catalog.json
    licence.html
    <collection>/collection.json
    <collection>/<item>/<item>.json

Only the public database is read, so nothing classified can be exported.  Output goes
through a small :class:`CatalogWriter` interface: a local directory today; an S3
writer can be added beside :class:`DirectoryWriter` when the storage layer lands.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from rsarchive.catalog.collections import catalog_dir
from rsarchive.db import connect
from rsarchive.errors import UsageError

log = logging.getLogger(__name__)

__all__ = ["CatalogWriter", "DirectoryWriter", "ExportReport", "export_catalog", "writer_for"]


class CatalogWriter(Protocol):
    """Where the static catalog goes: relative keys ('a/b.json') → bytes."""

    def write(self, key: str, data: bytes) -> None: ...

    def describe(self) -> str: ...


class DirectoryWriter:
    """A local directory (created if needed); each file written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def describe(self) -> str:
        return str(self.root)


def writer_for(target: str) -> CatalogWriter:
    """A writer for ``DIR``, ``file:///DIR`` (``s3://`` comes with the storage layer)."""
    parsed = urlparse(target)
    if parsed.scheme in ("", "file"):
        path = Path(parsed.path if parsed.scheme == "file" else target).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise UsageError(f"export target {path} exists and is not a directory")
        return DirectoryWriter(path)
    raise UsageError(f"export target {target!r}: only a directory or file:// URL is supported so far")


@dataclass(frozen=True)
class ExportReport:
    target: str
    collections: int
    items: int


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode()


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


def export_catalog(public_dsn: str, writer: CatalogWriter, *, title: str = "Viet Nam national remote-sensing archive") -> ExportReport:
    """Write the static catalog of everything in the public database through ``writer``."""
    root_links: list[dict[str, Any]] = [{"rel": "root", "href": "./catalog.json", "type": "application/json", "title": title}]
    n_items = 0
    with connect(public_dsn) as conn:
        collections = [row[0] for row in conn.execute("SELECT content FROM pgstac.collections ORDER BY id").fetchall()]
        for collection in collections:
            cid = collection["id"]
            item_links = []
            with conn.cursor(name=f"export_{cid}") as cur:
                cur.itersize = 2000
                cur.execute(
                    "SELECT id, pgstac.get_item(id, collection) FROM pgstac.items WHERE collection = %s ORDER BY datetime, id",
                    (cid,),
                )
                for item_id, item in cur:
                    item["links"] = [
                        {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
                        {"rel": "parent", "href": "../collection.json", "type": "application/json"},
                        {"rel": "collection", "href": "../collection.json", "type": "application/json"},
                    ]
                    writer.write(f"{cid}/{item_id}/{item_id}.json", _json(item))
                    item_links.append({"rel": "item", "href": f"./{item_id}/{item_id}.json", "type": "application/geo+json"})
                    n_items += 1
            collection = dict(collection)
            collection["links"] = [
                {"rel": "root", "href": "../catalog.json", "type": "application/json"},
                {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
                *_collection_links(collection.get("links") or []),
                *item_links,
            ]
            writer.write(f"{cid}/collection.json", _json(collection))
            root_links.append({"rel": "child", "href": f"./{cid}/collection.json", "type": "application/json",
                               "title": collection.get("title", cid)})
    licence = catalog_dir() / "licence.html"
    writer.write("licence.html", licence.read_bytes())
    root_links.append({"rel": "license", "href": "./licence.html", "type": "text/html"})
    catalog = {
        "type": "Catalog", "stac_version": "1.1.0", "id": "rsarchive-public", "title": title,
        "description": "Published metadata of Viet Nam's national remote-sensing archive (Decision 81/2010/QĐ-TTg, "
                       "Art. 7). Static export of the public catalogue.",
        "links": root_links,
    }
    writer.write("catalog.json", _json(catalog))
    log.info("exported %d collections, %d items to %s", len(collections), n_items, writer.describe())
    return ExportReport(writer.describe(), len(collections), n_items)
