"""Item builders and offline validation (no database)."""

from __future__ import annotations

import json
import shutil

import pytest

from rsarchive.catalog import validate_item
from rsarchive.catalog.items import EXTENSIONS, QA_BITFIELDS, item_dict
from rsarchive.catalog.validation import SchemaStore, default_store, schemas_dir
from rsarchive.errors import CatalogError, ConfigError
from rsarchive.testing.items import synthetic_scene


@pytest.mark.parametrize("form", ["level0", "raw", "product"])
def test_items_validate_offline(form) -> None:
    item = item_dict(synthetic_scene(3, form=form))
    validate_item(item)
    assert item["stac_version"] == "1.1.0"
    assert set(item["stac_extensions"]) <= set(EXTENSIONS.values())


def test_product_item_fields() -> None:
    scene = synthetic_scene(5, form="product", cloud_cover=12.5)
    item = item_dict(scene)
    props = item["properties"]
    assert props["proj:epsg"] == scene.assets[0].grid.epsg and props["proj:code"] == f"EPSG:{props['proj:epsg']}"
    b1 = item["assets"]["B1"]
    assert b1["proj:shape"] == [1750, 1750] and b1["proj:transform"] == list(scene.assets[0].grid.transform)
    band = b1["raster:bands"][0]
    assert (band["scale"], band["offset"], band["nodata"], band["data_type"]) == (1e-4, 0.0, 0, "uint16")
    assert b1["eo:bands"][0]["common_name"] == "blue"
    assert b1["file:checksum"] == scene.assets[0].checksum and b1["file:size"] == scene.assets[0].size
    qa = item["assets"]["qa"]
    assert [b["name"] for b in qa["raster:bands"]] == ["B1", "B2", "B3", "B4"]
    assert all(b["classification:bitfields"] == QA_BITFIELDS and "nodata" not in b for b in qa["raster:bands"])
    assert qa["classification:bitfields"] == QA_BITFIELDS and EXTENSIONS["classification"] in item["stac_extensions"]
    assert [f["offset"] for f in QA_BITFIELDS] == list(range(7))
    assert props["eo:cloud_cover"] == 12.5
    assert props["view:sun_elevation"] == scene.view.sun_elevation
    assert props["sat:absolute_orbit"] == scene.orbit.absolute_orbit and props["sat:orbit_state"] == "descending"
    assert props["processing:level"] == "L2A" and props["rsarchive:cpf_version"] == "vnredsat1-2024.1"
    assert props["rsarchive:acquisition_route"] == "station" and props["rsarchive:acquisition_article"] == "5.1a"
    assert props["rsarchive:plan_ref"].startswith("PLAN-") and props["rsarchive:security_classification"] == "unclassified"
    assert props["rsarchive:geometric_accuracy"]["rmse_m"] > 0
    assert props["rsarchive:level0_quality"]["lines_expected"] == 7000


@pytest.mark.parametrize("mutate, where", [
    (lambda i: i["properties"].__setitem__("proj:epsg", "32648"), "proj:epsg"),
    (lambda i: i["properties"].pop("datetime"), "datetime"),
    (lambda i: i["assets"]["B1"].__setitem__("file:size", -1), "file:size"),
    (lambda i: i["assets"]["B1"]["raster:bands"][0].__setitem__("data_type", "uint13"), "data_type"),
    (lambda i: i["properties"].__setitem__("eo:cloud_cover", 140), "cloud_cover"),
    (lambda i: i["properties"].__setitem__("proj:projjson", {"type": "x"}), "not available offline"),
    (lambda i: i["stac_extensions"].append("https://example.org/unknown/v1.0.0/schema.json"), "not available offline"),
])
def test_invalid_items_are_rejected_with_reason(mutate, where) -> None:
    item = json.loads(json.dumps(item_dict(synthetic_scene(1))))
    mutate(item)
    with pytest.raises(CatalogError) as caught:
        validate_item(item)
    assert where in str(caught.value), str(caught.value)


def test_schema_folder_from_environment(shared_dir, tmp_path, monkeypatch) -> None:
    copy = tmp_path / "schemas"
    shutil.copytree(shared_dir / "stac-schemas", copy)
    monkeypatch.setenv("RSARCHIVE_STAC_SCHEMAS", str(copy))
    assert schemas_dir() == copy
    store = default_store()
    assert store.folder == copy
    validate_item(item_dict(synthetic_scene(2)), store)
    (copy / "index.json").unlink()
    with pytest.raises(ConfigError):
        SchemaStore(schemas_dir())


def test_scene_inputs_are_checked() -> None:
    import dataclasses

    scene = synthetic_scene(1)
    with pytest.raises(CatalogError, match="security"):
        dataclasses.replace(scene, security="very-secret")
    with pytest.raises(CatalogError, match="cloud_cover"):
        dataclasses.replace(scene, cloud_cover=101.0)
