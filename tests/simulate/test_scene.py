"""Truth scenes: clouds with a known cover, a DEM under the scene, any GeoTIFF as input, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Geod
from rasterio.transform import Affine

from rsarchive.errors import UsageError
from rsarchive.geometry.dem import RasterSampler
from rsarchive.radiometry import earth_sun_distance, solar_angle_grid
from rsarchive.simulate.scene import SceneSpec, spectral_matrix
from rsarchive.testing import small_downlink

pytest.importorskip("rsarchive.level0.writer")
GEOD = Geod(ellps="WGS84")


def _reflectance_from_radiance(result, band_name: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    band = result.cpf.band(band_name)
    radiance = result.truth_array("radiance", band_name).astype(float)
    lines = np.arange(radiance.shape[0])
    g = result.ground_location(band_name, lines)
    times = result.line_times(band_name, lines)
    zen, _ = solar_angle_grid(times, g.lat, g.lon, g.h)
    d = earth_sun_distance(times)[:, None]
    rho = math.pi * radiance * d**2 / (band.esun * np.cos(np.radians(zen)))
    return rho[:, ~band.dead_mask]


def test_cloud_cover_is_known(tmp_path: Path) -> None:
    result = small_downlink(tmp_path, scene=SceneSpec(cloud_fraction=0.4), config={"seed": 3})
    truth = result.truth
    scene = truth["scenes"][0]
    assert 0.0 < scene["cloud_fraction"] < 1.0 and truth["files"]["clouds"] == "truth_clouds.tif"
    # clouds are bright: per band, the recorded fraction is the fraction of bright pixels in its image
    # (bands look fore/aft, so on a 2.5 km test scene each band sees a different part of the clouds)
    for name in ("B1", "B2", "B3", "B4"):
        rho = _reflectance_from_radiance(result, name)
        assert abs((rho > 0.5).mean() - scene["bands"][name]["cloud_fraction"]) < 0.01, name
    assert scene["cloud_fraction"] == pytest.approx(np.mean([scene["bands"][n]["cloud_fraction"] for n in ("B1", "B2", "B3", "B4")]))
    # and white: NIR/red ≈ 1 where the same ground is cloudy in both (B3 and B4 look 0.6 mrad apart)
    with rasterio.open(result.path("reflectance")) as ds, rasterio.open(result.path("clouds")) as cl:
        refl, cloudy = ds.read([3, 4]).astype(float), cl.read(1) == 1
    assert np.allclose(refl[1][cloudy] / refl[0][cloudy], 1.0, atol=0.05)
    with rasterio.open(result.path("clouds")) as ds:
        mask = ds.read(1, masked=True)
        transform, crs = ds.transform, ds.crs
    assert set(np.unique(mask.compressed())) <= {0, 1}
    # the threshold was set on the footprint: inside it, 40 % of the ground is cloudy
    import shapely
    from pyproj import Transformer

    to_crs = Transformer.from_crs(4326, crs, always_xy=True)
    footprint = shapely.transform(shapely.geometry.shape(truth["footprint"]),
                                  lambda xy: np.column_stack(to_crs.transform(xy[:, 0], xy[:, 1])))
    rows, cols = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    x = transform.c + (cols + 0.5) * transform.a
    y = transform.f + (rows + 0.5) * transform.e
    inside = shapely.contains_xy(footprint, x, y)
    assert abs(mask.data[inside].mean() - 0.4) < 0.02


def test_dem_under_the_scene(tmp_path: Path) -> None:
    result = small_downlink(tmp_path, scene=SceneSpec(dem=True, dem_max_height_m=1500.0), write_truth_radiance=False)
    assert result.truth["files"]["dem"] == "truth_dem.tif"
    lines, det = np.array([0, 128, 255]), np.array([0, 64, 128, 192, 255])
    g = result.ground_location("B2", lines, det)
    with RasterSampler(result.path("dem")) as dem:
        assert np.allclose(g.h, dem(g.lat, g.lon), atol=0.05)  # on the terrain
    assert g.h.max() > 50.0
    flat = result.ground_location("B2", lines, det, with_dem=False)
    shift = GEOD.inv(flat.lon, flat.lat, g.lon, g.lat)[2]
    band = result.cpf.band("B2")
    across = (det - (band.detectors - 1) / 2) * band.pitch_m / result.cpf.focal_length_m
    incidence = np.hypot(across, band.along_track_rad) * (6378e3 + 683e3) / 6378e3  # view angle on a curved Earth
    assert np.allclose(shift, g.h * incidence[None, :], rtol=0.05, atol=0.01)  # relief displacement h·tan(i)


def test_any_geotiff_is_a_truth_scene(tmp_path: Path) -> None:
    # a 4-band uint16 (reflectance × 10 000) GeoTIFF in geographic coordinates, constant per band
    values = np.array([0.05, 0.08, 0.06, 0.35])
    path = tmp_path / "input.tif"
    with rasterio.open(path, "w", driver="GTiff", width=400, height=400, count=4, dtype="uint16", crs="EPSG:4326",
                       transform=Affine(0.001, 0, 105.7, 0, -0.001, 21.2)) as ds:
        ds.write((np.ones((4, 400, 400)) * values[:, None, None] * 10000).astype("uint16"))
    result = small_downlink(tmp_path / "sim", scene=SceneSpec(kind="geotiff", path=str(path)))
    with rasterio.open(result.path("reflectance")) as ds:
        truth = ds.read(masked=True).astype(float) * 1e-4
    expected = spectral_matrix(result.cpf, np.array([0.485, 0.56, 0.66, 0.83])) @ values
    assert np.allclose([truth[k].mean() for k in range(5)], expected, atol=1e-4)
    assert np.allclose(_reflectance_from_radiance(result, "B4"), 0.35, rtol=1e-3)
    # a GeoTIFF that does not cover the swath is refused up front
    small = tmp_path / "small.tif"
    with rasterio.open(small, "w", driver="GTiff", width=10, height=10, count=4, dtype="uint16", crs="EPSG:4326",
                       transform=Affine(0.001, 0, 105.84, 0, -0.001, 21.04)) as ds:
        ds.write(np.full((4, 10, 10), 1000, dtype="uint16"))
    with pytest.raises(UsageError, match="does not cover the swath"):
        small_downlink(tmp_path / "sim2", scene=SceneSpec(kind="geotiff", path=str(small)))


def test_cli_simulate_downlink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rsarchive.cli.main import main

    out = tmp_path / "cli.cadu"
    main(["simulate", "downlink", "--out", str(out), "--cpf", "vnredsat1-small", "--seed", "5", "--uniform",
          "--dropped-frames", "1", "--attitude-bias-m", "50", "--start", "2026-04-01"])
    truth = json.loads((tmp_path / "cli.cadu.truth" / "truth.json").read_text())
    assert out.stat().st_size == truth["downlink"]["bytes"]
    assert truth["impairments_requested"] == {"dropped_frames": 1} and len(truth["writer_report"]["dropped_frames"]) == 1
    assert truth["attitude"]["bias_rad"]["roll"] == pytest.approx(50 / 680e3)
    assert truth["start_utc"].startswith("2026-04-01T03:") and truth["scene"]["kind"] == "uniform"
    assert "wrote" in capsys.readouterr().out

    for argv, message in [
        (["--scenes", "0"], "--scenes must be ≥ 1"),
        (["--uniform", "--smooth"], "at most one of"),
        (["--start", "yesterday"], "not an ISO 8601"),
        (["--cpf", "nope"], "CPF 'nope' not found"),
        (["--jitter-rad", "1e-6"], "go together"),
        (["--cloud-fraction", "2"], "cloud fraction"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["simulate", "downlink", "--out", str(tmp_path / "bad.cadu"), "--cpf", "vnredsat1-small", *argv])
        assert exit_info.value.code != 0
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
