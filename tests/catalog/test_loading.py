"""Loading into pgSTAC (in a caller's transaction and in bulk), extents, publication."""

from __future__ import annotations

import dataclasses

import pytest

from rsarchive.catalog import bulk_load, item_dict, load_items, publish
from rsarchive.catalog.publication import INTERNAL_PROPERTIES
from rsarchive.db import connect
from rsarchive.errors import CatalogError, NotFoundError
from rsarchive.testing.items import synthetic_item, synthetic_scene


def count(dsn: str, where: str = "true", params: tuple = ()) -> int:
    with connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM pgstac.items WHERE {where}", params).fetchone()[0]


def test_load_in_callers_transaction(catalog_settings) -> None:
    dsn = catalog_settings.internal_database_dsn
    items = [synthetic_item(i) for i in range(5)]
    with connect(dsn) as conn:
        load_items(conn, items)
        conn.rollback()  # the caller decides: nothing is left
    assert count(dsn) == 0
    with connect(dsn) as conn:
        report = load_items(conn, items)
        conn.commit()
    assert report.items == 5 and count(dsn) == 5
    bad = synthetic_item(99)
    bad["properties"]["eo:cloud_cover"] = 250
    with connect(dsn) as conn, pytest.raises(CatalogError, match="eo:cloud_cover"):
        load_items(conn, [synthetic_item(50), bad])
    assert count(dsn) == 5, "an invalid item rejects the whole load"
    orphan = synthetic_item(7, collection="no-such-collection")
    with connect(dsn) as conn, pytest.raises(NotFoundError):
        load_items(conn, [orphan], validate=False)


def test_bulk_load_and_extents(catalog_settings) -> None:
    dsn = catalog_settings.internal_database_dsn
    items = [synthetic_item(i) for i in range(300)]
    report = bulk_load(dsn, items)
    assert report.items == 300 and count(dsn) == 300
    lons = [c for i in items for c in (i["bbox"][0], i["bbox"][2])]
    with connect(dsn) as conn:
        extent = conn.execute("SELECT content->'extent' FROM pgstac.collections WHERE id = 'vnredsat1-product'").fetchone()[0]
    assert extent["spatial"]["bbox"][0][0] == pytest.approx(min(lons))
    assert extent["spatial"]["bbox"][0][2] == pytest.approx(max(lons))
    first = min(i["properties"]["datetime"] for i in items)
    assert extent["temporal"]["interval"][0][0][:19] == first[:19]
    bulk_load(dsn, items[:10])  # upsert: same ids again
    assert count(dsn) == 300


def test_publication_sanitises_and_withholds(catalog_settings) -> None:
    internal, public = catalog_settings.internal_database_dsn, catalog_settings.public_database_dsn
    open_items = [synthetic_item(i) for i in range(4)] + [synthetic_item(10, form="level0")]
    secret = synthetic_item(20, security="top-secret", lon=112.0, lat=16.0)
    with connect(internal) as conn:
        load_items(conn, open_items + [secret])
        conn.commit()
    report = publish(internal, public, [i["id"] for i in open_items + [secret]])
    assert report.withheld == [secret["id"]] and len(report.published) == 5
    assert count(public, "id = %s", (secret["id"],)) == 0
    with connect(public) as conn:
        stored = {r[0]: r[1] for r in conn.execute("SELECT id, pgstac.get_item(id, collection) FROM pgstac.items").fetchall()}
        extent = conn.execute("SELECT content->'extent' FROM pgstac.collections WHERE id = 'vnredsat1-product'").fetchone()[0]
    assert extent["spatial"]["bbox"][0][2] < 111.0, "the public extent ignores the withheld item"
    for item in stored.values():
        assert not INTERNAL_PROPERTIES & set(item["properties"])
        assert item["properties"]["published"]
    level0 = stored[open_items[-1]["id"]]
    assert "level0" not in level0["assets"], "archive assets are not published"
    with connect(internal) as conn:
        log = conn.execute("SELECT item_id, action FROM rsarchive.publications ORDER BY id").fetchall()
    assert (secret["id"], "withheld") in log and len(log) == 6

    # Reclassified later: publishing again withholds it and removes the public copy.
    scene = dataclasses.replace(synthetic_scene(0), security="confidential")
    with connect(internal) as conn:
        load_items(conn, [item_dict(scene)])
        conn.commit()
    report = publish(internal, public, [scene.item_id])
    assert report.withheld == [scene.item_id]
    assert count(public, "id = %s", (scene.item_id,)) == 0
