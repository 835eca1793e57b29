"""Foreign product readers against the products' own metadata (no services)."""

from __future__ import annotations

import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from shapely.geometry import Point, shape

from rsarchive.errors import UsageError
from rsarchive.foreign import open_delivery, recognise, unrecognised_message
from rsarchive.testing.dimap import DimapSpec, write_dimap_product

REAL = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "real" / "foreign"
if not REAL.is_dir():
    REAL = Path("/work/shared/testdata/real/foreign")
LC08 = REAL / "landsat" / "LC08_L2SP_005009_20150710_20200908_02_T2"
S2_L1C = next((REAL / "sentinel2").glob("S2A_MSIL1C_*.SAFE"))


def _read(path: Path):  # type: ignore[no-untyped-def]
    with open_delivery([path]) as delivered:
        return recognise(delivered.readable)


def test_landsat_item_is_the_mtl() -> None:
    product = _read(LC08)
    mtl = ET.parse(next(LC08.glob("*_MTL.xml"))).getroot()
    props = product.item["properties"]
    assert product.collection == "landsat-c2-l2" and props["platform"] == "landsat-8"
    assert props["eo:cloud_cover"] == float(mtl.findtext("IMAGE_ATTRIBUTES/CLOUD_COVER"))
    assert props["view:sun_elevation"] == pytest.approx(float(mtl.findtext("IMAGE_ATTRIBUTES/SUN_ELEVATION")))
    assert props["datetime"].startswith(mtl.findtext("IMAGE_ATTRIBUTES/DATE_ACQUIRED"))
    assert product.quality["image_quality_oli"] == int(mtl.findtext("IMAGE_ATTRIBUTES/IMAGE_QUALITY_OLI"))
    assert set(product.bands) >= {"red", "nir08", "qa_pixel", "lwir11"}


def test_sentinel2_l1c_item_is_the_safe() -> None:
    product = _read(S2_L1C)
    root = ET.parse(S2_L1C / "MTD_MSIL1C.xml").getroot()
    cloud = float(next(e.text for e in root.iter() if e.tag.endswith("Cloud_Coverage_Assessment")))
    assert product.collection == "sentinel-2-l1c" and product.item["properties"]["eo:cloud_cover"] == cloud
    assert product.quality["check_geometric_quality"] == "PASSED" and product.bands == {}


def test_dimap_v2_reader_agrees_with_gdal_dimap_driver(tmp_path: Path) -> None:
    import rasterio

    spec = DimapSpec()
    folder = write_dimap_product(tmp_path / "SPOT7", spec)
    product = _read(folder)
    props = product.item["properties"]
    with rasterio.open(next(folder.glob("DIM_*.XML"))) as gdal:
        assert gdal.driver == "DIMAP" and gdal.count == len(product.bands) == 4
        assert props["proj:code"] == f"EPSG:{gdal.crs.to_epsg()}"
        assert props["proj:transform"] == pytest.approx(list(gdal.transform)[:6])
    assert (props["platform"], props["eo:cloud_cover"], props["view:sun_azimuth"]) == ("spot-7", 7.5, 135.25)
    assert product.collection == "spot-ortho"
    raster = product.item["assets"]["B0"]["raster:bands"][0]
    assert raster["scale"] == pytest.approx(1 / spec.gains[0])
    centre = shape(product.item["geometry"]).centroid
    assert shape(product.item["geometry"]).contains(Point(centre.x, centre.y))


def test_truncated_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "LC08.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(LC08, arcname=LC08.name)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(UsageError, match="LC08.tar.gz is truncated or corrupt"):
        _read(archive)


def test_unknown_format_names_the_recognised_ones(tmp_path: Path) -> None:
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "scene.hdf").write_bytes(b"\x89HDF\r\n")
    with open_delivery([tmp_path / "prod"]) as delivered:
        assert recognise(delivered.readable) is None
        message = unrecognised_message(delivered.readable)
    assert "landsat-c2" in message and "sentinel-2-safe" in message and "dimap-v2" in message


def test_corrupt_metadata_is_named(tmp_path: Path) -> None:
    folder = write_dimap_product(tmp_path / "SPOT7")
    dim = next(folder.glob("DIM_*.XML"))
    dim.write_text(dim.read_text()[:1500])
    with pytest.raises(UsageError, match=f"{dim.name} is not well-formed XML"):
        _read(folder)
