"""A second rsarchive -- a province's own database -- run by the tests: its own databases and
buckets, a small pass ingested with the real pipeline, its public STAC API served by uvicorn.
One of its products is classified secret there (its public API does not show it).  Each test
harvests it into a fresh national archive (``national``)."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rsarchive.catalog.classification import classify
from rsarchive.db import connect, with_database
from rsarchive.settings import Settings
from rsarchive.testing import stack
from rsarchive.testing.ingested import ingest_small_pass
from rsarchive.testing.items import synthetic_item
from rsarchive.testing.server import free_port, serve


@dataclass
class Province:
    settings: Settings
    base: str
    products: list[str]       # ids of its products, oldest first; products[-1] is secret

    @property
    def stac(self) -> str:
        return f"{self.base}/stac/"

    def public_items(self) -> dict[str, dict[str, Any]]:
        """(collection, id) of every item its public database holds → the item."""
        with connect(self.settings.public_database_dsn) as conn:
            rows = conn.execute("SELECT id, pgstac.get_item(id, collection) FROM pgstac.items").fetchall()
        return {r[0]: r[1] for r in rows}


@pytest.fixture(scope="package")
def province(service_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    from rsarchive.api import create_app

    port = free_port()
    settings = stack.fresh_buckets(stack.clone_databases(service_settings)).derive(
        archive_root=tmp_path_factory.mktemp("province"), public_base_url=f"http://127.0.0.1:{port}", api_port=port)
    ids = ingest_small_pass(settings, tmp_path_factory.mktemp("downlink"), scenes=3, pass_id="p0922")
    assert len(ids) == 3
    classify(settings.internal_database_dsn, settings.public_database_dsn, [ids[-1]], "secret",
             collection="vnredsat1-product", note="harvest test", public_url=settings.public_url)
    try:
        with serve(create_app(settings), port=port) as base:
            yield Province(settings, base, ids)
    finally:
        stack.drop_databases(with_database(settings.internal_database_dsn, "postgres"),
                             [settings.internal_db, settings.public_db])


@pytest.fixture
def national(service_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    settings = stack.clone_databases(service_settings).derive(archive_root=tmp_path / "national")
    try:
        yield settings
    finally:
        stack.drop_databases(with_database(settings.internal_database_dsn, "postgres"),
                             [settings.internal_db, settings.public_db])


@contextmanager
def static_site(root: Path) -> Iterator[str]:
    """``root`` served over HTTP by Python's own file server on a free port; yields its base URL."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_static_catalog(root: Path, items: list[dict[str, Any]], collection: str = "thanh-tra-2026") -> Path:
    """A static STAC catalog (catalog → collection → items, relative links) in ``root``; its catalog.json."""
    root.mkdir(parents=True, exist_ok=True)
    (root / collection).mkdir(exist_ok=True)
    catalog = {"type": "Catalog", "stac_version": "1.1.0", "id": "bo-quoc-phong", "description": "Danh mục / Catalog",
               "links": [{"rel": "root", "href": "./catalog.json"},
                         {"rel": "child", "href": f"./{collection}/collection.json"}]}
    coll = {"type": "Collection", "stac_version": "1.1.0", "id": collection,
            "title": "Ảnh kiểm tra 2026 / Inspection images 2026", "description": "Ảnh / Images", "license": "other",
            "extent": {"spatial": {"bbox": [[100, 8, 110, 24]]}, "temporal": {"interval": [[None, None]]}},
            "links": [{"rel": "root", "href": "../catalog.json"}, {"rel": "parent", "href": "../catalog.json"}]}
    for item in items:
        item = dict(item, collection=collection,
                    links=[{"rel": "root", "href": "../../catalog.json"}, {"rel": "parent", "href": "../collection.json"},
                           {"rel": "collection", "href": "../collection.json"}])
        (root / collection / item["id"]).mkdir(exist_ok=True)
        (root / collection / item["id"] / f"{item['id']}.json").write_text(json.dumps(item), encoding="utf-8")
        coll["links"].append({"rel": "item", "href": f"./{item['id']}/{item['id']}.json"})
    (root / collection / "collection.json").write_text(json.dumps(coll), encoding="utf-8")
    (root / "catalog.json").write_text(json.dumps(catalog), encoding="utf-8")
    return root / "catalog.json"


def defence_items() -> list[dict[str, Any]]:
    """Three items of a ministry's static catalog, built by the archive's own item builder: one
    unclassified, one marked secret by the ministry, one with no classification."""
    public, secret, unmarked = (synthetic_item(i, seed=7) for i in (0, 1, 2))
    secret["properties"]["rsarchive:security_classification"] = "secret"
    unmarked["properties"].pop("rsarchive:security_classification", None)
    public["properties"]["rsarchive:security_classification"] = "unclassified"
    return [public, secret, unmarked]
