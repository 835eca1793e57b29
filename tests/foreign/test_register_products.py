"""Registering real foreign products from their own metadata (issue #20): item fields equal the
product's metadata, validated offline; COGs of the bands; a cube of a Landsat band; the coverage
check counts them; bad input stores nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point, shape

from rsarchive import originals
from rsarchive.catalog import validate_item
from rsarchive.db import connect
from rsarchive.errors import UsageError
from rsarchive.settings import Settings
from rsarchive.storage import Archive
from rsarchive.testing.dimap import DimapSpec, band_values, write_dimap_product

pytestmark = pytest.mark.services

REAL = Path("/work/shared/testdata/real/foreign")
LC08 = REAL / "landsat" / "LC08_L2SP_005009_20150710_20200908_02_T2"
LM01 = REAL / "landsat" / "LM01_L1GS_001010_19720908_20200909_02_T2"
SAFES = sorted((REAL / "sentinel2").glob("*.SAFE"))
RECEIVED = dt.date(2026, 6, 1)
CLASSIFIED = originals.MetadataOverrides(classification="unclassified")


@pytest.fixture
def settings(fresh_settings: Settings, tmp_path: Path) -> Settings:
    root = tmp_path / "archive"
    root.mkdir()
    return fresh_settings.derive(archive_root=root)


def _item(settings: Settings, item_id: str) -> dict[str, Any]:
    with connect(settings.internal_database_dsn) as conn:
        row = conn.execute("SELECT pgstac.get_item(id, collection) FROM pgstac.items WHERE id = %s",
                           (item_id,)).fetchone()
    assert row is not None, f"item {item_id} not catalogued"
    return dict(row[0])


def _mtl(folder: Path) -> ET.Element:
    return ET.parse(next(folder.glob("*_MTL.xml"))).getroot()


def _register(settings: Settings, path: Path, **kw: Any) -> originals.Delivery:
    return originals.register(settings, [path], provider="usgs", route="exchange", received=RECEIVED,
                              metadata=kw.pop("metadata", CLASSIFIED), **kw)


def _centre_inside(item: dict[str, Any], lon: float, lat: float) -> None:
    assert shape(item["geometry"]).contains(Point(lon, lat))


@pytest.mark.parametrize("folder", [LC08, LM01], ids=["LC08-L2SP", "LM01-L1GS"])
def test_landsat_product_directory_registers_from_its_mtl(settings: Settings, folder: Path) -> None:
    delivery = _register(settings, folder)
    mtl = _mtl(folder)
    image = mtl.find("IMAGE_ATTRIBUTES")
    item = _item(settings, delivery.item_id or "")
    validate_item(item)
    props = item["properties"]
    assert props["datetime"].startswith(f"{image.findtext('DATE_ACQUIRED')}T{image.findtext('SCENE_CENTER_TIME')[:8]}")
    assert props["eo:cloud_cover"] == float(image.findtext("CLOUD_COVER"))
    assert props["view:sun_azimuth"] == pytest.approx(float(image.findtext("SUN_AZIMUTH")))
    assert props["view:sun_elevation"] == pytest.approx(float(image.findtext("SUN_ELEVATION")))
    assert props["platform"] == image.findtext("SPACECRAFT_ID").lower().replace("_", "-")
    assert props["processing:level"] == mtl.findtext("PRODUCT_CONTENTS/PROCESSING_LEVEL")
    assert (props["rsarchive:form"], props["rsarchive:provider"], props["rsarchive:acquisition_route"]) == (
        "original", "usgs", "exchange")
    assert props["rsarchive:received"] == "2026-06-01T00:00:00Z" and props["rsarchive:metadata_due"] == "2026-09-03"  # 1 Sep, 2 Sep holidays
    assert props["rsarchive:metadata_deadline_met"] is (dt.date.today() <= dt.date(2026, 9, 1))
    # the archive is the custodian (Circular 09/2017/TT-BTNMT, Art. 7.1(y)), from the legal basis
    custodian = props["contacts"][-1]
    assert custodian["roles"] == ["custodian"] and custodian["organization"].startswith("Bộ Nông nghiệp và Môi trường")
    # scene centre from the MTL's corners: inside the (valid-data) footprint, which is not the bbox
    proj = mtl.find("PROJECTION_ATTRIBUTES")
    lats = [float(proj.findtext(f"CORNER_{c}_LAT_PRODUCT")) for c in ("UL", "UR", "LL", "LR")]
    lons = [float(proj.findtext(f"CORNER_{c}_LON_PRODUCT")) for c in ("UL", "UR", "LL", "LR")]
    _centre_inside(item, sum(lons) / 4, sum(lats) / 4)
    assert item["geometry"]["type"] == "Polygon" and len(item["geometry"]["coordinates"][0]) >= 5
    assert not shape(item["geometry"]).equals(shape(item["geometry"]).envelope)
    files = sorted(p.name for p in folder.iterdir())
    originals_ = {a["title"].rsplit("/", 1)[-1]: a for a in item["assets"].values() if "original" in a["roles"]}
    assert sorted(originals_) == files
    archive = Archive.from_settings(settings)
    for key in delivery.keys:
        assert archive.record(key).copies == 2
        assert archive.record(key).sha256 == archive.copy.get(key, None).sha256
    if folder == LC08:
        red = item["assets"]["red"]
        assert red["raster:bands"][0]["scale"] == float(mtl.findtext(
            "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS/REFLECTANCE_MULT_BAND_4"))
        assert red["raster:bands"][0]["offset"] == float(mtl.findtext(
            "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS/REFLECTANCE_ADD_BAND_4"))
        assert red["eo:bands"][0]["common_name"] == "red" and red["href"].split("/")[-7] == "product"
        assert props["rsarchive:product_quality"]["image_quality_oli"] == 9
        with connect(settings.public_database_dsn) as conn:
            public = conn.execute("SELECT pgstac.get_item(id, collection) FROM pgstac.items").fetchone()[0]
        assert public["id"] == item["id"] and public["assets"] == {}, "an original item offers no file"
        assert len(public["properties"]["rsarchive:files"]) == len(item["assets"])
        assert "file://" not in json.dumps(public) and "s3://" not in json.dumps(public)


@pytest.mark.parametrize("safe", SAFES, ids=[s.name[:10] for s in SAFES])
def test_sentinel2_safe_registers_from_its_metadata(settings: Settings, safe: Path) -> None:
    delivery = _register(settings, safe)
    root = ET.parse(next(safe.glob("MTD_MSIL*.xml"))).getroot()
    tile = ET.parse(next(safe.glob("GRANULE/*/MTD_TL.xml"))).getroot()
    item = _item(settings, delivery.item_id or "")
    validate_item(item)
    props = item["properties"]
    text = {e.tag.rsplit("}", 1)[-1]: (e.text or "").strip() for e in root.iter()}
    assert props["eo:cloud_cover"] == pytest.approx(float(text["Cloud_Coverage_Assessment"]))
    assert props["datetime"][:19] == text["PRODUCT_START_TIME"][:19]
    assert props["platform"] == text["SPACECRAFT_NAME"].lower()
    sun = next(e for e in tile.iter() if e.tag.endswith("Mean_Sun_Angle"))
    assert props["view:sun_azimuth"] == pytest.approx(float(sun.findtext("AZIMUTH_ANGLE")))
    assert props["view:sun_elevation"] == pytest.approx(90 - float(sun.findtext("ZENITH_ANGLE")))
    assert item["collection"] == ("sentinel-2-l2a" if "MSIL2A" in safe.name else "sentinel-2-l1c")
    assert props["rsarchive:product_quality"]["check_geometric_quality"] == "PASSED"
    footprint = shape(item["geometry"])
    assert footprint.contains(footprint.representative_point())
    assert sorted(a["title"] for a in item["assets"].values()) == sorted(
        p.relative_to(safe.parent).as_posix() for p in safe.rglob("*") if p.is_file())


def test_dimap_v2_product_registers_the_same_way_with_cogs(settings: Settings, tmp_path: Path) -> None:
    import rasterio
    from rio_cogeo.cogeo import cog_validate

    from rsarchive.foreign.cogs import TILE  # noqa: F401  (the COG layout used)

    spec = DimapSpec()
    folder = write_dimap_product(tmp_path / "SPOT7_ORTHO_001", spec)
    delivery = originals.register(settings, [folder], provider="airbus", route="purchase", received=RECEIVED,
                                  metadata=originals.MetadataOverrides(classification="confidential"))
    item = _item(settings, delivery.item_id or "")
    validate_item(item)
    props = item["properties"]
    assert item["collection"] == "spot-ortho" and props["platform"] == "spot-7"
    assert props["datetime"] == "2026-03-14T03:21:45.500000Z" and props["eo:cloud_cover"] == spec.cloud
    assert (props["view:sun_azimuth"], props["view:sun_elevation"]) == (spec.sun_azimuth, spec.sun_elevation)
    assert props["rsarchive:security_classification"] == "confidential"
    with connect(settings.public_database_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pgstac.items").fetchone()[0] == 0, "classified: never public"
    values = band_values(spec)
    archive = Archive.from_settings(settings)
    for index, band in enumerate(("B0", "B1", "B2", "B3")):
        asset = item["assets"][band]
        key = asset["href"][len(archive.primary.url) + 1:]
        assert key.startswith("product/spot-7/2026/03/14/")
        local = tmp_path / f"{band}.tif"
        archive.get(key, local)
        assert cog_validate(str(local))[0]
        with rasterio.open(local) as cog:
            assert (cog.read(1) == values[index]).all()
            assert asset["proj:shape"] == [cog.height, cog.width]
        assert asset["raster:bands"][0]["scale"] == pytest.approx(1 / spec.gains[index])


def test_archive_as_delivered_is_kept_whole(settings: Settings, tmp_path: Path) -> None:
    tarball = tmp_path / "LM01_L1GS_001010_19720908_20200909_02_T2.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(LM01, arcname=LM01.name)
    delivery = _register(settings, tarball)
    assert [k.rsplit("/", 1)[-1] for k in delivery.keys] == [tarball.name]
    item = _item(settings, delivery.item_id or "")
    assert item["id"] == "LM01_L1GS_001010_19720908_02_T2" and item["collection"] == "landsat-c2-l1"
    local = tmp_path / "back.tar.gz"
    Archive.from_settings(settings).get(delivery.keys[0], local)
    assert local.read_bytes() == tarball.read_bytes()
    again = _register(settings, tarball)
    assert again.delivery_id == delivery.delivery_id and len(originals.list_deliveries(settings)) == 1


def test_unclassified_is_held_and_coverage_counts_the_product(settings: Settings) -> None:
    from rsarchive.catalog.classification import held_items
    from rsarchive.users.identity import Principal
    from rsarchive.requests.coverage import coverage_check
    from rsarchive.requests.models import CoverageQuery

    held = originals.register(settings, [SAFES[0]], provider="esa", route="exchange", received=RECEIVED)
    with connect(settings.internal_database_dsn) as conn:
        assert [h.item_id for h in held_items(conn)] == [held.item_id], "no classification: held"
    _register(settings, LC08)
    item = _item(settings, "LC08_L2SP_005009_20150710_02_T2")
    centre = shape(item["geometry"]).representative_point()
    query = CoverageQuery(bbox=[centre.x - 0.05, centre.y - 0.02, centre.x + 0.05, centre.y + 0.02],
                          start=dt.date(2015, 7, 1), end=dt.date(2015, 7, 31))
    officer = Principal(user_id=None, name="officer", role="officer", clearance="unclassified")
    with connect(settings.internal_database_dsn) as conn:
        result = coverage_check(conn, officer, query)
    assert [i["id"] for i in result.items] == [item["id"]] and result.fraction == pytest.approx(1.0)


@pytest.mark.parametrize("case", ["truncated", "missing-metadata", "safe-without-mtd", "unknown"])
def test_bad_input_names_the_problem_and_stores_nothing(settings: Settings, tmp_path: Path, case: str) -> None:
    if case == "truncated":
        path = tmp_path / "LC08.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            tar.add(LC08, arcname=LC08.name)
        path.write_bytes(path.read_bytes()[:200_000])
        expected = "LC08.tar.gz is truncated or corrupt"
    elif case == "missing-metadata":
        path = tmp_path / LC08.name
        shutil.copytree(LC08, path)
        next(path.glob("*_MTL.xml")).unlink()
        expected = "Landsat product but its \\*_MTL.xml is missing"
    elif case == "safe-without-mtd":
        path = tmp_path / SAFES[0].name
        shutil.copytree(SAFES[0], path, copy_function=shutil.copyfile)
        next(path.glob("MTD_MSIL*.xml")).unlink()
        expected = "manifest.safe is there but MTD_MSIL1C.xml / MTD_MSIL2A.xml is missing"
    else:
        path = tmp_path / "product"
        path.mkdir()
        (path / "scene.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
        expected = "Recognised formats: landsat-c2"
    with pytest.raises(UsageError, match=expected):
        _register(settings, path, metadata=None)
    assert originals.list_deliveries(settings) == []
    archive = Archive.from_settings(settings)
    assert not list(archive.primary.list("original/")) and not list(archive.primary.list("product/"))
    # the CLI: one clear line, non-zero exit, no traceback
    env = {**os.environ, "PYTHONPATH": str(Path(originals.__file__).parents[1])}
    run = subprocess.run([sys.executable, "-m", "rsarchive", "register", str(path), "--provider", "usgs",
                          "--route", "exchange", "--received", "2026-06-01"], check=False, capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert run.stderr.startswith("rsarchive: error: ") and re.search(expected, run.stderr)


def test_cube_of_a_landsat_band_equals_the_delivered_file(settings: Settings) -> None:
    import numpy as np
    import rasterio
    from pyproj import Transformer

    from rsarchive.users import identity
    from rsarchive.api import create_app
    from rsarchive.db import transaction
    from rsarchive.cube import load
    from rsarchive.testing.server import serve

    _register(settings, LC08)
    with transaction(settings) as conn:
        token = identity.add_user(conn, "analyst", "officer", "Cục Viễn thám quốc gia", "unclassified")
    red = next(LC08.glob("*_SR_B4.TIF"))
    with rasterio.open(red) as src:
        delivered, transform, crs = src.read(1), src.transform, src.crs
    # a box well inside the delivered raster, in lon/lat
    x0, y0 = transform @ (100, 100)
    x1, y1 = transform @ (300, 260)
    to_ll = Transformer.from_crs(crs, 4326, always_xy=True)
    lons, lats = zip(*(to_ll.transform(x, y) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))), strict=True)
    bbox = (max(lons[0], lons[2]), max(lats[2], lats[3]), min(lons[1], lons[3]), min(lats[0], lats[1]))
    with serve(create_app(settings)) as base:
        cube = load(bbox, bands=["red"], resolution=30, crs=crs.to_string(), collection="landsat-c2-l2",
                    api_url=f"{base}/internal/stac", token=token, scale=False, mask_qa=False,
                    settings=settings.derive(api_port=int(base.rsplit(":", 1)[1])))
        values = cube["red"].isel(time=0).values
        scaled = load(bbox, bands=["red"], resolution=30, crs=crs.to_string(), collection="landsat-c2-l2",
                      api_url=f"{base}/internal/stac", token=token, scale=True, mask_qa=False,
                      settings=settings.derive(api_port=int(base.rsplit(":", 1)[1])))["red"].isel(time=0).values
    xs, ys = np.meshgrid(cube.x.values, cube.y.values)
    rows, cols = rasterio.transform.rowcol(transform, xs.ravel(), ys.ravel())
    expected = delivered[np.asarray(rows), np.asarray(cols)].reshape(values.shape)
    assert values.size > 1000 and (values == expected).all()
    reflectance = np.where(expected == 0, np.nan, expected * 2.75e-05 - 0.2)  # the MTL's SR scale and offset
    np.testing.assert_allclose(scaled, reflectance, rtol=1e-6, atol=1e-6)


def test_sentinel2_band_delivered_in_the_safe_gets_a_cog(settings: Settings, tmp_path: Path) -> None:
    """The shared SAFE products hold no images: one 10 m band is added where the SAFE keeps it
    (JPEG 2000, lossless, on the tile's grid from MTD_TL.xml)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rio_cogeo.cogeo import cog_validate

    safe = tmp_path / SAFES[0].name
    shutil.copytree(SAFES[0], safe, copy_function=shutil.copyfile)
    granule = next((safe / "GRANULE").iterdir())
    (granule / "IMG_DATA").mkdir()
    jp2 = granule / "IMG_DATA" / f"{granule.name.split('_')[1]}_{safe.name.split('_')[2]}_B04.jp2"
    values = (np.indices((256, 256)).sum(axis=0) % 4000 + 1).astype("uint16")
    with rasterio.open(jp2, "w", driver="JP2OpenJPEG", width=256, height=256, count=1, dtype="uint16",
                       crs="EPSG:32646", transform=from_origin(499980, 3100020, 10, 10), nodata=0,
                       QUALITY=100, REVERSIBLE="YES") as dst:
        dst.write(values, 1)
    delivery = originals.register(settings, [safe], provider="esa", route="exchange", received=RECEIVED,
                                  metadata=CLASSIFIED)
    item = _item(settings, delivery.item_id or "")
    validate_item(item)
    red = item["assets"]["red"]
    assert red["raster:bands"][0]["scale"] == 0.0001 and red["eo:bands"][0]["name"] == "B04"
    assert red["proj:shape"] == [256, 256] and red["proj:code"] == "EPSG:32646"
    local = tmp_path / "red.tif"
    archive = Archive.from_settings(settings)
    archive.get(red["href"][len(archive.primary.url) + 1:], local)
    assert cog_validate(str(local))[0]
    with rasterio.open(local) as cog:
        assert (cog.read(1) == values).all()
    assert f"original:{safe.name}/{jp2.relative_to(safe).as_posix()}" in item["assets"]
