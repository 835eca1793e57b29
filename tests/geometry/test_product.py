"""The image product (L2A) against the simulator's truth: geolocation, refinement, DEM, TOA
reflectance, clouds, bad input, files and metadata, the CLI."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rsarchive.geometry.cloud import cloud_class
from rsarchive.product import NOT_REFINED, REFINED, ProductOptions, process_product
from rsarchive.radiometry import QA_ANCILLARY, QA_CLOUD, QA_NODATA, QA_TERRAIN
from rsarchive.testing.gdal_reference import validate_cog
from tests.geometry.conftest import geolocation_px, read_reflectance, truth_cloud_mask, truth_on_grid

NO_REFINE = replace(ProductOptions(), refine=False)


# -- exact ancillary -------------------------------------------------------------------------

def test_exact_ancillary_geolocation_and_band_to_band(clean: Any, clean_product: Any) -> None:
    sim, _ = clean
    meta = clean_product.metadata.to_dict()
    rmse, chips = geolocation_px(clean_product.path, meta, sim, "B3")
    assert chips >= 20 and rmse <= 0.3, f"{rmse:.3f} px over {chips} chips"
    # every band against its own truth: the bands agree with each other within 0.2 px
    shifts = {}
    for band in ("B1", "B2", "B3", "B4"):
        from rsarchive.geometry.refine import match_chips

        ms = match_chips(read_reflectance(clean_product.path, meta, band), truth_on_grid(sim, meta, band))
        shifts[band] = np.mean([[m.dy, m.dx] for m in ms], axis=0)
    for band, shift in shifts.items():
        assert np.hypot(*(shift - shifts["B3"])) <= 0.2, (band, shift, shifts["B3"])
    # the product's own record says the same
    acc = meta["accuracy"]
    assert acc["geolocation"]["rmse_px"] <= 0.3 and acc["geolocation"]["count"] >= 20
    assert acc["band_to_band"]["max_rms_px"] <= 0.2
    assert set(acc["band_to_band"]["bands"]) == {"B1", "B2", "B4", "PAN"}
    assert all(fit["check_max_px"] < 0.01 for fit in acc["rpc_fit"].values())
    assert meta["degraded"] is False and meta["warnings"] == []
    # per band: absolute (against the reference orthoimage) and relative (band-to-band), RMSE and CE90 in m
    assert set(acc["bands"]) == {"B1", "B2", "B3", "B4", "PAN"}
    for band, rec in acc["bands"].items():
        absolute, relative = rec["absolute"], rec["relative"]
        assert absolute["count"] >= 10 and absolute["rmse_m"] <= 3.0 and absolute["ce90_m"] <= 4.0, (band, absolute)
        assert absolute["ce90_m"] >= 0.0 and "reference orthoimage" in absolute["method"]
        assert relative["rmse_m"] <= 2.0 and relative["ce90_m"] <= 3.0, (band, relative)
    assert acc["bands"]["B3"]["relative"]["rmse_m"] == 0.0  # the reference band of the registration
    assert acc["bands"]["B1"]["relative"]["rmse_m"] == pytest.approx(acc["band_to_band"]["bands"]["B1"]["rms_m"])


# -- attitude bias -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def biased_products(biased: tuple[Any, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sim, raw = biased
    ref = sim.path("reflectance")
    return {"not": process_product(raw, tmp_path_factory.mktemp("not"), reference=ref, options=NO_REFINE),
            "refined": process_product(raw, tmp_path_factory.mktemp("ref"), reference=ref)}


def test_attitude_bias_is_shown_when_not_refined(biased: tuple[Any, Path], biased_products: dict[str, Any]) -> None:
    sim, _ = biased
    product = biased_products["not"]
    meta = product.metadata.to_dict()
    assert meta["refinement"] == NOT_REFINED and not product.refined
    geo = meta["accuracy"]["geolocation"]
    assert 40.0 <= geo["rmse_m"] <= 65.0, geo            # ≈ 50 m of roll + ≈ 14 m of pitch
    rmse_truth, _ = geolocation_px(product.path, meta, sim)
    assert rmse_truth * 10.0 == pytest.approx(geo["rmse_m"], abs=2.0)


def test_refinement_removes_the_bias(biased: tuple[Any, Path], biased_products: dict[str, Any]) -> None:
    sim, _ = biased
    product = biased_products["refined"]
    meta = product.metadata.to_dict()
    assert meta["refinement"] == REFINED and product.refined
    assert meta["geometry"]["refinement"]["gcps"] >= 10
    assert meta["accuracy"]["before_refinement"]["rmse_m"] > 40.0
    rmse, chips = geolocation_px(product.path, meta, sim)
    assert chips >= 20 and rmse <= 0.5, f"{rmse:.3f} px after refinement"
    assert meta["accuracy"]["geolocation"]["rmse_px"] <= 0.5


# -- terrain -----------------------------------------------------------------------------------

def test_dem_orthorectification(hilly: tuple[Any, Path], tmp_path: Path) -> None:
    sim, raw = hilly
    with_dem = process_product(raw, tmp_path / "dem", dem=sim.path("dem"), options=NO_REFINE)
    rmse, chips = geolocation_px(with_dem.path, with_dem.metadata.to_dict(), sim)
    assert chips >= 15 and rmse <= 0.5, f"{rmse:.3f} px with the DEM"
    assert with_dem.metadata.to_dict()["accuracy"]["dem"]["used"] and with_dem.metadata.to_dict()["warnings"] == []
    # no reference orthoimage: the absolute accuracy is not measured, the relative one is
    per_band = with_dem.metadata.to_dict()["accuracy"]["bands"]
    assert all(rec["absolute"] is None for rec in per_band.values())
    assert per_band["B1"]["relative"]["rmse_m"] is not None and per_band["PAN"]["relative"]["ce90_m"] is not None
    assert with_dem.metadata.to_dict()["accuracy"]["reference"]["kind"] == "none"
    flat = process_product(raw, tmp_path / "flat", options=NO_REFINE)
    rmse_flat, _ = geolocation_px(flat.path, flat.metadata.to_dict(), sim)
    assert rmse_flat > 2 * rmse + 0.3, (rmse_flat, rmse)


def test_terrain_occlusion_is_flagged_behind_a_wall_and_nowhere_on_rolling_hills(hilly: tuple[Any, Path],
                                                                                  tmp_path: Path) -> None:
    """A 2.5 km high block on the hills: the ground just behind it (seen 0.46° off nadir: ≈ 20 m) gets QA
    bit 5 in every band; the hills alone hide nothing; without a DEM nothing is computed."""
    import rasterio

    from rsarchive.geometry.occlusion import dem_on_grid
    from rsarchive.geometry.ortho import OrthoGrid

    sim, raw = hilly
    with rasterio.open(sim.path("dem")) as src:
        profile, heights = src.profile, src.read(1)
    h, w = heights.shape
    heights[h // 3: 2 * h // 3, w // 3: 2 * w // 3] += 2500.0
    wall = tmp_path / "wall.tif"
    with rasterio.open(wall, "w", **profile) as dst:
        dst.write(heights, 1)
    hills = process_product(raw, tmp_path / "hills", dem=sim.path("dem"), options=NO_REFINE)
    walled = process_product(raw, tmp_path / "wall", dem=wall, options=NO_REFINE)
    flat = process_product(raw, tmp_path / "flat", options=NO_REFINE)
    assert flat.metadata.to_dict()["qa"]["terrain_occlusion"]["computed"] is False
    occluded = walled.metadata.to_dict()["qa"]["terrain_occlusion"]
    assert occluded["computed"] and set(occluded["percent_of_valid"]) == {"B1", "B2", "B3", "B4", "PAN"}
    assert all(0.0 < v < 5.0 for v in occluded["percent_of_valid"].values()), occluded
    assert set(hills.metadata.to_dict()["qa"]["terrain_occlusion"]["percent_of_valid"].values()) == {0.0}
    for qa_file, band, grid_name in (("QA.tif", 3, "ms"), ("QA_PAN.tif", 1, "pan")):
        with rasterio.open(walled.path / qa_file) as src:
            bit5 = (src.read(band) & QA_TERRAIN) != 0
            og = OrthoGrid(int(walled.metadata.to_dict()["grids"][grid_name]["epsg"]), src.transform.c, src.transform.f,
                           src.transform.a, src.width, src.height)
        block = dem_on_grid(wall, og) - dem_on_grid(sim.path("dem"), og)  # 2500 m on the block, 0 off it
        with rasterio.open(hills.path / qa_file) as src:
            assert not ((src.read(band) & QA_TERRAIN) != 0).any()
        # hidden cells are off the block's top (at its foot or on its face), within 40 m of it
        assert bit5.sum() > 10 and (block[bit5] < 2499.0).all()
        near = np.zeros_like(bit5)
        k = int(np.ceil(40.0 / og.resolution_m))
        top = block > 1.0
        for dr in range(-k, k + 1):
            for dc in range(-k, k + 1):
                near |= np.roll(np.roll(top, dr, axis=0), dc, axis=1)
        assert near[bit5].all()


def test_relief_displacement_without_dem_follows_h_tan_view_angle(hilly: tuple[Any, Path]) -> None:
    """Without a DEM a point at height h seen at incidence θ is put h·tan θ away (the theory)."""
    import rasterio
    from pyproj import Geod

    from rsarchive.geometry.ellipsoid import up_vector
    from rsarchive.geometry.rpc import RPCModel

    sim, raw = hilly
    with rasterio.open(raw / "B3.tif") as ds:
        rpc = RPCModel.from_rasterio(ds.rpcs)
    lines = np.arange(8, 256, 24)
    dets = np.arange(8, 256, 24)
    truth = sim.ground_location("B3", lines, dets)                    # with the truth DEM
    lon0, lat0 = rpc.localise(lines[:, None], dets[None, :], 0.0)   # what the product does without DEM
    _, _, dist = Geod(ellps="WGS84").inv(lon0, lat0, truth.lon, truth.lat)
    positions, directions, _ = sim.sensor_model.rays("B3", sim.line_times("B3", lines), dets)
    cos_inc = -np.sum(directions * up_vector(truth.lat, truth.lon), axis=-1)
    theory = truth.h * np.sqrt(1 - cos_inc**2) / cos_inc
    assert theory.max() > 10.0                                        # > 1 px of relief displacement
    slope = float(np.sum(dist * theory) / np.sum(theory**2))
    assert slope == pytest.approx(1.0, abs=0.03)
    assert np.corrcoef(dist.ravel(), theory.ravel())[0, 1] > 0.995
    assert np.abs(dist - theory).max() < 0.5                          # metres


def test_dem_not_covering_the_scene_uses_the_ellipsoid_and_warns(hilly: tuple[Any, Path], tmp_path: Path) -> None:
    import rasterio
    from rasterio.windows import Window

    sim, raw = hilly
    with rasterio.open(sim.path("dem")) as src:
        half = Window(0, 0, src.width // 2, src.height)
        profile = {**src.profile, "width": half.width, "transform": src.window_transform(half)}
        with rasterio.open(tmp_path / "west.tif", "w", **profile) as dst:
            dst.write(src.read(window=half))
    product = process_product(raw, tmp_path / "out", dem=tmp_path / "west.tif", options=NO_REFINE)
    meta = product.metadata.to_dict()
    dem = meta["accuracy"]["dem"]
    assert dem["used"] and 5.0 < dem["coverage_percent"] < 95.0
    assert any("ellipsoid" in w for w in meta["warnings"]) and "warning" in dem
    red = read_reflectance(product.path, meta, "B3")
    full = process_product(raw, tmp_path / "full", dem=sim.path("dem"), options=NO_REFINE)
    assert np.isfinite(red).sum() == pytest.approx(np.isfinite(read_reflectance(full.path, full.metadata.to_dict(), "B3")).sum(),
                                                   rel=0.02)  # no hole where the DEM is missing


# -- radiometry --------------------------------------------------------------------------------

def test_reflectance_equals_truth_within_one_percent(smooth: tuple[Any, Path], tmp_path: Path) -> None:
    from scipy.ndimage import binary_erosion

    sim, raw = smooth
    product = process_product(raw, tmp_path)
    meta = product.metadata.to_dict()
    for band in ("B1", "B2", "B3", "B4", "PAN"):
        grid = "pan" if band == "PAN" else "ms"
        got = read_reflectance(product.path, meta, band)
        truth = truth_on_grid(sim, meta, band, grid)
        inner = binary_erosion(np.isfinite(got), iterations=4 if grid == "ms" else 12)
        rel = got[inner] / truth[inner] - 1.0
        assert inner.sum() > 0.3 * got.size
        assert np.percentile(np.abs(rel), 99) <= 0.01, f"{band}: {np.percentile(np.abs(rel), 99):.4f}"
        assert abs(float(np.median(rel))) <= 0.002


@pytest.mark.parametrize("fraction,seed", [(0.15, 2), (0.40, 4)])
def test_cloud_cover_matches_truth(fraction: float, seed: int, tmp_path_factory: pytest.TempPathFactory,
                                   clean: tuple[Any, Path], clean_product: Any) -> None:
    from rsarchive.simulate.scene import SceneSpec
    from tests.geometry.conftest import _sim_and_raw

    # the clear scene first
    assert clean_product.metadata.to_dict()["eo:cloud_cover"] <= 1.0 and clean_product.metadata.to_dict()["cloud"]["class"] == "A"
    sim, raw = _sim_and_raw(tmp_path_factory, f"cloud{seed}", SceneSpec(cloud_fraction=fraction, seed=seed))
    product = process_product(raw, tmp_path_factory.mktemp(f"cloud{seed}-p"), options=NO_REFINE)
    meta = product.metadata.to_dict()
    # the true cover over the product's measured area (all four bands have data: the focal plane is
    # staggered, each band sees its own stretch of ground), from the simulator's truth cloud mask
    bands = [read_reflectance(product.path, meta, b) for b in ("B1", "B2", "B3", "B4")]
    measured = np.all([np.isfinite(b) for b in bands], axis=0)
    truth_clouds = truth_cloud_mask(sim, meta)
    true_cover = 100.0 * float(truth_clouds[measured].mean())
    assert abs(true_cover - 100 * fraction) < 15.0                   # the scene is what was asked for
    assert meta["eo:cloud_cover"] == pytest.approx(true_cover, abs=5.0)
    assert meta["cloud"]["class"] == cloud_class(meta["eo:cloud_cover"])
    assert meta["cloud"]["class"] == cloud_class(true_cover)
    import rasterio

    with rasterio.open(product.path / "QA.tif") as ds:
        qa = ds.read(1)
    assert 100.0 * np.count_nonzero(qa[measured] & QA_CLOUD) / measured.sum() == pytest.approx(
        meta["eo:cloud_cover"], abs=0.01)
    # the PAN cells of a cloudy multispectral cell are cloudy where the PAN has data
    with rasterio.open(product.path / "QA_PAN.tif") as ds:
        pan_qa = ds.read(1)
    f = pan_qa.shape[0] // qa.shape[0]
    cloudy = np.repeat(np.repeat((qa & QA_CLOUD) != 0, f, axis=0), f, axis=1)
    want = cloudy & ((pan_qa & QA_NODATA) == 0)
    assert want.any() and np.array_equal((pan_qa & QA_CLOUD) != 0, want)


# -- bad input ---------------------------------------------------------------------------------

def test_ancillary_gap_flags_lines_and_marks_degraded(clean: tuple[Any, Path], tmp_path: Path) -> None:
    import rasterio

    _, raw = clean
    edited = tmp_path / raw.name
    shutil.copytree(raw, edited)
    meta = json.loads((edited / "metadata.json").read_text())
    att = meta["ancillary"]["attitude"]
    start, end = np.datetime64(meta["start_utc"].rstrip("Z")), np.datetime64(meta["end_utc"].rstrip("Z"))
    mid = start + (end - start) / 2
    keep = [k for k, t in enumerate(att["time"]) if abs(np.datetime64(t.rstrip("Z")) - mid) > np.timedelta64(250, "ms")]
    assert len(keep) < len(att["time"]) - 3
    att["time"] = [att["time"][k] for k in keep]
    att["quaternion"] = [att["quaternion"][k] for k in keep]
    (edited / "metadata.json").write_text(json.dumps(meta))
    product = process_product(edited, tmp_path / "out", options=NO_REFINE)
    out = product.metadata.to_dict()
    assert out["degraded"] is True and out["accuracy"]["degraded"] is True
    assert out["degraded_lines"]["B3"] > 100 and any("degraded" in w for w in out["warnings"])
    with rasterio.open(product.path / "QA.tif") as ds:
        qa = ds.read(3)
    flagged = np.count_nonzero(qa & QA_ANCILLARY)
    assert flagged > 0.3 * np.count_nonzero((qa & QA_NODATA) == 0)


# -- files, metadata, CLI ----------------------------------------------------------------------

def test_product_files_and_metadata(clean: tuple[Any, Path], clean_product: Any) -> None:
    import rasterio
    import shapely

    sim, raw = clean
    meta = clean_product.metadata.to_dict()
    path = clean_product.path
    assert json.loads((path / "metadata.json").read_text()) == json.loads(json.dumps(meta))
    assert meta["format"] == "rsarchive-product/1" and meta["proj:code"] == "EPSG:32648"
    assert meta["lineage"]["raw_scene_id"] == raw.name and meta["lineage"]["cpf_version"] == sim.cpf.version
    for f in ["B1.tif", "B2.tif", "B3.tif", "B4.tif", "PAN.tif", "QA.tif", "QA_PAN.tif"]:
        valid, errors, _ = validate_cog(path / f)
        assert valid, (f, errors)
    for band in meta["bands"]:
        with rasterio.open(path / band["file"]) as ds:
            res = 2.5 if band["name"] == "PAN" else 10.0
            assert ds.crs.to_epsg() == 32648 and ds.res == (res, res) and ds.dtypes[0] == "uint16"
            assert ds.scales[0] == band["scale"] == 1e-4 and ds.nodata == band["nodata"] == 0
            grid = meta["grids"][band["grid"]]
            assert list(ds.transform)[:6] == grid["transform"] and [ds.height, ds.width] == grid["shape"]
    with rasterio.open(path / "thumbnail.png") as ds:
        assert 200 <= max(ds.width, ds.height) <= 512 and ds.count == 4
        thumbnail = ds.read()
    # the quicklook: the same browse image at ≤ 1 024 px (here the 10 m grid is smaller: one pixel each)
    ms_rows, ms_cols = meta["grids"]["ms"]["shape"]
    assert meta["quicklook"] == {"file": "quicklook.webp", "media_type": "image/webp", "shape": [ms_rows, ms_cols],
                                 "bands": ["red", "green", "blue", "alpha"], "stretch": meta["thumbnail"]["stretch"]}
    with rasterio.open(path / "quicklook.webp") as ds:
        assert ds.driver == "WEBP" and ds.count == 4 and [ds.height, ds.width] == [ms_rows, ms_cols]
        quicklook = ds.read()
    # where the thumbnail has one pixel per pixel of the quicklook, the lossy copy is close to it
    if list(thumbnail.shape[1:]) == [ms_rows, ms_cols]:
        assert np.array_equal(quicklook[3] > 0, thumbnail[3] > 0)
        ok = thumbnail[3] > 0
        assert np.mean(np.abs(quicklook[:3].astype(int) - thumbnail[:3])[:, ok]) < 8  # lossy (q 85) on a busy scene
    footprint = shapely.geometry.shape(meta["footprint"])
    box = shapely.box(*meta["bbox"])
    centre = shapely.Point(sim.truth["scenes"][0]["centre_lon"], sim.truth["scenes"][0]["centre_lat"])
    assert footprint.contains(centre) and footprint.area < 0.9 * box.area  # the swath is slanted: not the bbox
    assert meta["view"]["sun_elevation"] == pytest.approx(90 - sim.truth["scenes"][0]["sun_zenith_deg"], abs=0.05)
    assert meta["qa"]["bits"]["6"] == "cloud"


def test_product_does_not_depend_on_the_number_of_threads(clean: tuple[Any, Path], tmp_path: Path) -> None:
    """Warps, TOA strips (shared out to the threads) and COGs (two at a time) give the same files, overviews
    included, and the same band registration on one thread as on three."""
    import rasterio

    _, raw = clean
    one = process_product(raw, tmp_path / "one", options=replace(NO_REFINE, threads=1))
    three = process_product(raw, tmp_path / "three", options=replace(NO_REFINE, threads=3))
    files = sorted(p.name for p in one.path.glob("*.tif"))
    assert files == sorted(p.name for p in three.path.glob("*.tif")) and "PAN.tif" in files
    for name in files:
        with rasterio.open(one.path / name) as a, rasterio.open(three.path / name) as b:
            assert a.overviews(1) == b.overviews(1)
            assert a.overviews(1) or name != "PAN.tif"
            for factor in [1, *a.overviews(1)]:
                shape = (a.count, a.height // factor, a.width // factor)
                assert np.array_equal(a.read(out_shape=shape), b.read(out_shape=shape)), (name, factor)
    accuracy_one, accuracy_three = one.metadata.to_dict()["accuracy"], three.metadata.to_dict()["accuracy"]
    assert accuracy_one["band_to_band"] == accuracy_three["band_to_band"]
    assert accuracy_one["band_to_band"]["bands"]["PAN"]["count"] > 0


def test_raw_cogs_carry_rpcs_that_gdal_uses(clean: tuple[Any, Path]) -> None:
    import rasterio
    from rasterio.transform import RPCTransformer

    sim, raw = clean
    meta = json.loads((raw / "metadata.json").read_text())
    for band in ("B1", "PAN"):
        with rasterio.open(raw / f"{band}.tif") as ds:
            assert ds.rpcs is not None
            rpcs = ds.rpcs
        entry = next(b for b in meta["bands"] if b["name"] == band)
        assert entry["rpc"]["in_file"] and entry["rpc"]["check_max_px"] < 0.01
        lines = np.array([0, 100, 255 if band != "PAN" else 1000])
        dets = np.array([3, 128, 250 if band != "PAN" else 1000])
        truth = sim.ground_location(band, lines, dets, with_dem=False)
        with RPCTransformer(rpcs) as tr:
            lon, lat = tr.xy(lines, dets, zs=0.0, offset="center")  # GDAL's own RPC transformer
        gsd = 10.0 if band != "PAN" else 2.5
        err_m = np.hypot((np.asarray(lon) - np.diag(truth.lon)) * 104e3, (np.asarray(lat) - np.diag(truth.lat)) * 111e3)
        assert err_m.max() < 0.05 * gsd, err_m


def test_cli_process_product(clean: tuple[Any, Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rsarchive.cli.main import cli
    from rsarchive.errors import UsageError

    _, raw = clean
    runner = CliRunner()
    res = runner.invoke(cli, ["process", "product", str(raw), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(tmp_path / raw.name)
    meta = json.loads((tmp_path / raw.name / "metadata.json").read_text())
    assert meta["refinement"] == NOT_REFINED and meta["accuracy"]["geolocation"] is None
    res = runner.invoke(cli, ["process", "product", str(tmp_path), "--out", str(tmp_path / "x")])
    assert isinstance(res.exception, UsageError)


def test_product_metadata_is_the_model_on_disk_and_refuses_what_is_not(clean_product: Any, tmp_path: Path) -> None:
    """The stage returns a typed model; ``metadata.json`` is that model's JSON form, read back equal.
    A file that does not fit (an unknown field, a wrong type) is refused, naming the field."""
    from rsarchive.errors import UsageError
    from rsarchive.product.metadata import ProductMetadata

    on_disk = ProductMetadata.read(clean_product.path / "metadata.json")
    assert on_disk == clean_product.metadata
    assert on_disk.accuracy.geolocation is not None and on_disk.accuracy.geolocation.rmse_m is not None
    data = json.loads((clean_product.path / "metadata.json").read_text())
    assert data["grids"]["ms"]["proj:code"] == on_disk.grids["ms"].proj_code == data["proj:code"]
    for change, field in (({"cloud_score": 3}, "cloud_score"), ({"degraded": "maybe"}, "degraded"),
                          ({"bands": [{**data["bands"][0], "scale": "large"}]}, "bands.0.scale")):
        bad = tmp_path / "metadata.json"
        bad.write_text(json.dumps({**data, **change}))
        with pytest.raises(UsageError, match=field.replace(".", r"\.")):
            ProductMetadata.read(bad)
