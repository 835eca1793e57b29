"""pystac-client against the public API gets what direct SQL on the public database says."""

from __future__ import annotations

import datetime as dt

from pystac_client import Client

from rsarchive.db import connect

BBOX = (104.0, 10.0, 107.5, 21.0)
START, END = "2015-01-01T00:00:00Z", "2020-12-31T23:59:59Z"


def sql_ids(loaded, where: str, params: tuple, order: str = "id") -> list[str]:
    with connect(loaded.settings.public_database_dsn) as conn:
        rows = conn.execute(
            f"SELECT id FROM pgstac.items WHERE collection = 'vnredsat1-product' AND {where} ORDER BY {order}", params
        ).fetchall()
    return [r[0] for r in rows]


def test_bbox_datetime_filter_sort(loaded) -> None:
    client = Client.open(loaded.public_url)
    search = client.search(
        collections=["vnredsat1-product"], bbox=BBOX, datetime=f"{START}/{END}",
        filter="eo:cloud_cover < 40", filter_lang="cql2-text", sortby=["-eo:cloud_cover", "+id"], max_items=None,
        limit=7,  # several pages
        method="GET",  # CQL2 text is a GET encoding; POST takes CQL2 JSON (next test)
    )
    got = [item.id for item in search.items()]
    expected = sql_ids(
        loaded,
        "ST_Intersects(geometry, ST_MakeEnvelope(%s, %s, %s, %s, 4326)) AND datetime >= %s AND datetime <= %s "
        "AND (pgstac.get_item(id, collection)->'properties'->>'eo:cloud_cover')::float < 40",
        (*BBOX, START, END),
        order="(pgstac.get_item(id, collection)->'properties'->>'eo:cloud_cover')::float DESC, id",
    )
    assert expected, "the fixture should give some matches"
    assert got == expected
    assert search.matched() == len(expected)


def test_cql2_json_filter_and_datetime_only(loaded) -> None:
    client = Client.open(loaded.public_url)
    search = client.search(
        collections=["vnredsat1-product"], datetime=f"{START}/{END}",
        filter={"op": "and", "args": [{"op": ">=", "args": [{"property": "eo:cloud_cover"}, 50]},
                                      {"op": "=", "args": [{"property": "rsarchive:station"}, "VNSC-HN"]}]},
        filter_lang="cql2-json", sortby=["+datetime"],
    )
    items = list(search.items())
    expected = sql_ids(
        loaded,
        "datetime >= %s AND datetime <= %s AND (pgstac.get_item(id, collection)->'properties'->>'eo:cloud_cover')::float >= 50",
        (START, END), order="datetime, id",
    )
    assert [i.id for i in items] == expected
    times = [i.datetime for i in items]
    assert times == sorted(times)
    assert all(START <= i.datetime.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") <= END for i in items)


def test_item_round_trip_fields(loaded) -> None:
    import httpx

    raw = httpx.get(loaded.public_url + f"collections/vnredsat1-product/items/{loaded.public_ids[0]}").json()
    # Both, for odc-stac/stackstac (pystac itself migrates proj:epsg away when it reads an item).
    assert raw["properties"]["proj:code"] == f"EPSG:{raw['properties']['proj:epsg']}"
    client = Client.open(loaded.public_url)
    item = next(client.search(ids=[loaded.public_ids[0]]).items())
    b1 = item.assets["B1"].extra_fields
    assert b1["raster:bands"][0]["scale"] == 1e-4 and len(b1["proj:transform"]) == 6
    assert b1["file:checksum"].startswith("1220")
    assert item.get_self_href() == f"{loaded.public_url}collections/vnredsat1-product/items/{item.id}"
    # Sanitised: internal operational fields are not in the public copy, published is set.
    assert "rsarchive:plan_ref" not in item.properties and "rsarchive:pass_id" not in item.properties
    assert "published" in item.properties
