"""The metadata fields of Circular 09/2017/TT-BTNMT, Art. 7.1 (raw data and 2A/3A products), on the items the
real ingest builds: each field where CIRCULAR_09_FIELDS says it is, with a valid value, and every item valid
against the offline schemas (contacts extension included)."""

from __future__ import annotations

from typing import Any

import pytest

from rsarchive.catalog.items import CIRCULAR_09_FIELDS, EXTENSIONS
from rsarchive.catalog.validation import validate_item
from rsarchive.db import connect
from rsarchive.law import load_basis
from rsarchive.settings import Settings
from rsarchive.testing.ingested import ingest_small_pass

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def ingested(service_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    from rsarchive.testing import stack

    root = tmp_path_factory.mktemp("archive")
    settings = stack.fresh_buckets(stack.clone_databases(service_settings)).derive(archive_root=root)
    ingest_small_pass(settings, tmp_path_factory.mktemp("downlink"), scenes=1, pass_id="p0909")
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute("SELECT pgstac.get_item(id, collection) FROM pgstac.items WHERE collection IN "
                            "('vnredsat1-raw', 'vnredsat1-product')").fetchall()
    items = {item["properties"]["rsarchive:form"]: item for (item,) in rows}
    assert set(items) == {"raw", "product"}
    return items


def _check_common(item: dict[str, Any]) -> None:
    p = item["properties"]
    assert p["platform"] == "vnredsat-1" and p["instruments"]                              # a, b
    assert item["id"]                                                                      # c
    assert p["rsarchive:imaging_mode"] == "pan+ms"                                         # d: PAN and B1–B4
    assert p["processing:level"] in ("L1A", "L2A")                                         # đ
    assert p["datetime"].endswith("Z")                                                     # e, g
    assert 0 <= p["view:sun_elevation"] <= 90 and 0 <= p["view:sun_azimuth"] < 360        # k, l
    bands = [b for a in item["assets"].values() if "data" in a.get("roles", []) for b in a.get("raster:bands", [])]
    assert bands and all(b["data_type"] in ("uint8", "uint16", "int16", "float32") for b in bands)   # o
    west, south, east, north = item["bbox"]                                                # r–u, v
    centre = p["proj:centroid"]                                                            # p, q
    assert west < centre["lon"] < east and south < centre["lat"] < north
    custodian = p["contacts"][0]                                                           # y
    authority = load_basis().authority
    assert custodian["roles"] == ["custodian"] and custodian["name"].startswith(authority.archive_vi)
    assert custodian["organization"].startswith("Bộ Nông nghiệp và Môi trường")
    assert custodian["addresses"][0]["city"] == "Hà Nội" and custodian["emails"] and custodian["phones"]
    assert EXTENSIONS["contacts"] in item["stac_extensions"]
    validate_item(item)


def test_the_product_carries_every_circular_09_field(ingested: dict[str, dict[str, Any]]) -> None:
    item = ingested["product"]
    _check_common(item)
    p = item["properties"]
    assert 0 <= p["eo:cloud_cover"] <= 100                                                 # h
    assert p["view:incidence_angle"] >= 0                                                  # i
    # m, "if any": the accuracy summary names its reference; a measured RMSE only with a reference image
    assert "reference" in p["rsarchive:accuracy"]
    if "rsarchive:geometric_accuracy" in p:
        assert p["rsarchive:geometric_accuracy"]["rmse_m"] >= 0
    assert p["gsd"] > 0                                                                    # n
    assert any({"overview", "thumbnail"} & set(a.get("roles", [])) for a in item["assets"].values())  # x


def test_the_raw_item_carries_the_fields_it_has(ingested: dict[str, dict[str, Any]]) -> None:
    """The raw item (L1A, sensor geometry) has a–g, k, l, n–y; its cloud cover, incidence angle and quicklook
    are computed at the product stage (see README: not yet on raw items)."""
    raw, product = ingested["raw"], ingested["product"]
    _check_common(raw)
    # n: the nominal GSD from the approximate footprint and the finest band's grid (PAN); the product's MS grid
    # is four times coarser than PAN on this mission
    assert 0 < raw["properties"]["gsd"] < product["properties"]["gsd"]


def test_the_field_table_covers_article_7_1() -> None:
    letters = {key.split()[0].rstrip(",") for key in CIRCULAR_09_FIELDS}
    assert {"a", "b", "c", "d", "đ", "e", "h", "i", "k", "l", "m", "n", "o", "p", "r–u", "v", "x", "y"} <= letters
    assert load_basis().rule("metadata.fields").article == "7.1"
