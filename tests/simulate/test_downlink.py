"""The simulator end to end: what it writes, the truth it records, and the forward model it obeys."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Geod

from rsarchive.errors import UsageError
from rsarchive.geometry.dem import RasterSampler
from rsarchive.radiometry import earth_sun_distance, solar_angles
from rsarchive.simulate.downlink import SimulationConfig, SimulationResult, simulate_downlink
from rsarchive.simulate.radiometer import forward_model
from rsarchive.simulate.scene import SceneSpec
from rsarchive.testing import small_downlink

level0 = pytest.importorskip("rsarchive.level0")
GEOD = Geod(ellps="WGS84")


def test_clean_pass_writes_a_downlink_and_its_truth(clean_pass: SimulationResult) -> None:
    truth = clean_pass.truth
    assert clean_pass.downlink.stat().st_size == truth["downlink"]["bytes"] > 1_000_000
    assert truth["cpf"]["version"] == "VNR1-SMALL-2026.1" and truth["profile"] == "vnredsat1"
    assert {b: truth["bands"][b]["lines"] for b in truth["bands"]} == {"B1": 256, "B2": 256, "B3": 256, "B4": 256, "PAN": 1024}
    report = truth["writer_report"]
    assert report["lines_per_band"] == {"B1": 256, "B2": 256, "B3": 256, "B4": 256, "PAN": 1024}
    assert report["bit_errors"] == [] and report["dropped_frames"] == []
    # ancillary covers the imagery with ≥ 2 s either side, at 1 Hz / 10 Hz / 1 Hz
    anc = truth["ancillary"]
    start, end = np.datetime64(truth["start_utc"][:-1]), np.datetime64(truth["end_utc"][:-1])
    assert np.datetime64(anc["ephemeris"]["first_utc"][:-1]) <= start - np.timedelta64(2, "s")
    assert np.datetime64(anc["attitude"]["last_utc"][:-1]) >= end + np.timedelta64(2, "s")
    assert anc["attitude"]["count"] == pytest.approx(10 * anc["ephemeris"]["count"], abs=10)
    on_disk = json.loads((clean_pass.truth_dir / "truth.json").read_text())
    assert on_disk["scenes"] == truth["scenes"] and SimulationResult.load(clean_pass.truth_dir).truth == on_disk
    # the scene is centred on Hanoi by default; mid-morning sun
    scene = truth["scenes"][0]
    assert GEOD.inv(scene["centre_lon"], scene["centre_lat"], 105.85, 21.03)[2] < 100
    assert 20 < scene["sun_zenith_deg"] < 50 and abs(truth["orbit"]["ltdn_hours"] - 10.5) < 1 / 60


def test_decoded_dns_equal_the_truth_and_the_forward_model(clean_pass: SimulationResult) -> None:
    data = level0.decode(clean_pass.downlink)
    cpf = clean_pass.cpf
    temperature = json.loads(json.dumps(clean_pass.truth["temperature"]))
    for band in cpf.bands:
        decoded = data.bands[band.name]
        expected = clean_pass.truth_array("dn", band.name)
        assert np.array_equal(decoded.dns, expected), band.name
        # the forward model, recomputed from the truth radiance and the temperature profile
        radiance = clean_pass.truth_array("radiance", band.name).astype(np.float64)
        t_rel = np.arange(len(expected)) * band.line_period_s
        temp = (temperature["start_c"] + temperature["drift_c_per_s"] * t_rel
                + temperature["amplitude_c"] * np.sin(2 * math.pi * t_rel / temperature["period_s"]))
        recomputed = forward_model(cpf, band, radiance, temp)
        # radiance is stored as float32: a DN may differ by one where G·r·L sits on a .5 boundary
        assert np.mean(recomputed == expected) > 0.999 and np.abs(recomputed.astype(int) - expected).max() <= 1
        assert np.all(expected[:, list(band.dead)] == 0)
        # line times: start + counter × period, to the CUC resolution
        times = clean_pass.line_times(band.name, decoded.counters)
        assert np.abs((decoded.times - times) / np.timedelta64(1, "ns")).max() < 2e4
    # ancillary decoded = exact orbit at the packet times
    anc = data.ancillary
    pos, _, _ = clean_pass.orbit.state(anc.ephemeris_times)
    assert np.abs(anc.positions_m - pos).max() < 0.2  # CUC rounding × 7.5 km/s
    assert len(anc.focal_plane_temp_c) == clean_pass.truth["ancillary"]["housekeeping"]["count"]


def test_radiance_follows_the_toa_formula(clean_pass: SimulationResult) -> None:
    """Truth radiance = ρ · ESUN · cos θs / (π d²), checked at a few pixels, with ρ the mean over the
    ground the line sweeps during its integration (``integration_samples`` instants spread over the line
    period: spec §3, the stamp is the start of the integration)."""
    cpf = clean_pass.cpf
    band = cpf.band("B4")
    lines = np.array([3, 128, 250])
    detectors = np.array([1, 100, 254])
    stamps = clean_pass.line_times(band.name, lines)
    n_sub = clean_pass.truth["integration_samples"]
    assert n_sub == 3
    rho = np.zeros((len(lines), len(detectors)))
    with RasterSampler(clean_pass.path("reflectance"), bands=[band.id + 1]) as sampler:
        for k in range(n_sub):
            instants = stamps + np.timedelta64(int(round((k + 0.5) / n_sub * band.line_period_s * 1e9)), "ns")
            g = clean_pass.sensor_model.locate_at(band, instants, detectors)
            rho += sampler.sample(g.lat, g.lon)[0] * clean_pass.truth["reflectance_scale"] / n_sub
    g = clean_pass.ground_location(band.name, lines, detectors)  # mid-integration
    times = stamps + np.timedelta64(int(round(band.line_period_s * 0.5e9)), "ns")
    zen, _ = solar_angles(times[:, None], g.lat, g.lon)
    d = earth_sun_distance(times)[:, None]
    expected = rho * band.esun * np.cos(np.radians(zen)) / (math.pi * d * d)
    radiance = clean_pass.truth_array("radiance", band.name)[np.ix_(lines, detectors)]
    # sub-millimetre differences (detector interpolation) on a sharp field edge of the 5 m truth: ≤ 1e-3
    assert np.allclose(radiance, expected, rtol=1e-3)
    assert np.median(np.abs(radiance / expected - 1)) < 1e-5


def test_truth_raster_is_georeferenced_reflectance(clean_pass: SimulationResult) -> None:
    with rasterio.open(clean_pass.path("reflectance")) as ds:
        assert ds.crs.to_epsg() == 32648 and ds.res == (5.0, 5.0)
        assert ds.descriptions == ("B1", "B2", "B3", "B4", "PAN") and ds.scales[0] == pytest.approx(1e-4)
        data = ds.read(masked=True)
    refl = data.astype(float) * 1e-4
    # vegetation: NIR well above red on most of the procedural landscape
    assert np.ma.median(refl[3] / refl[2]) > 3
    assert 0.0 < refl.min() and refl.max() < 1.0


def test_impairments_are_passed_to_the_writer_and_recorded(tmp_path: Path) -> None:
    result = small_downlink(tmp_path, bit_errors=2, dropped_frames=1, duplicated_packets=3, leading_garbage=100,
                            write_truth_radiance=False)
    truth = result.truth
    assert truth["impairments_requested"] == {"bit_errors": 2, "dropped_frames": 1, "duplicated_packets": 3,
                                              "leading_garbage": 100}
    report = truth["writer_report"]
    assert len(report["bit_errors"]) == 2 and len(report["dropped_frames"]) == 1
    assert len(report["duplicated_packets"]) == 3 and report["leading_garbage"] == 100
    # what the truth says was injected is what the decoder finds
    quality = level0.decode(result.downlink).quality.to_dict()
    expected = report["expected"]
    assert quality["frames_bad_fecf"] == expected["frames_bad_fecf"] == 2
    assert quality["frames_lost"] == sum(expected["frames_lost_per_vc"].values()) == 1
    assert quality["leading_bytes_skipped"] == 100


def test_uniform_scene_shows_the_cpf_striping(tmp_path: Path) -> None:
    result = small_downlink(tmp_path, scene=SceneSpec(kind="uniform"), write_truth_radiance=False)
    band = result.cpf.band("B3")
    dn = result.truth_array("dn", "B3").astype(float)
    alive = ~band.dead_mask
    columns = dn.mean(axis=0)[alive]
    # column means vary like G·r_i·L + D_i: a few percent, as in the CPF
    rel = columns.std() / columns.mean()
    assert 0.01 < rel < 0.06
    predicted = band.gain * band.relative_gain[alive] * 0 + band.relative_gain[alive]
    assert np.corrcoef(columns - band.dark[alive], predicted)[0, 1] > 0.99


def test_exact_ground_location_and_bands_registration(clean_pass: SimulationResult) -> None:
    # the same ground point seen by B1 and B4 at different lines (fore/aft look)
    g1 = clean_pass.ground_location("B1", [100], [128])
    lines = np.arange(0, 256)
    g4 = clean_pass.ground_location("B4", lines, [128])
    dist = GEOD.inv(np.full(256, g1.lon[0, 0]), np.full(256, g1.lat[0, 0]), g4.lon[:, 0], g4.lat[:, 0])[2]
    best = int(np.argmin(dist))
    assert dist[best] < 10 and abs(best - 100) > 100  # ±0.0009 rad ≈ 123 lines apart


def test_geometry_interpolation_across_detectors_is_exact_to_a_millimetre(clean_pass: SimulationResult) -> None:
    from rsarchive.simulate.downlink import GEOMETRY_STEP, _interp_detectors

    model = clean_pass.sensor_model
    times = clean_pass.line_times("PAN", np.array([0, 500, 1023]))
    exact = model.locate("PAN", times)
    nodes = np.unique(np.concatenate([np.arange(0, 1024, GEOMETRY_STEP), [1023]]))
    coarse = model.locate("PAN", times, nodes)
    lat = _interp_detectors(coarse.lat, nodes, 1024)
    lon = _interp_detectors(coarse.lon, nodes, 1024)
    err = GEOD.inv(lon.ravel(), lat.ravel(), exact.lon.ravel(), exact.lat.ravel())[2]
    assert err.max() < 1e-3


def test_bad_parameters_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="scenes"):
        simulate_downlink(SimulationConfig(scenes=0, cpf="vnredsat1-small"), tmp_path / "a.cadu", tmp_path / "t")
    with pytest.raises(UsageError, match="unknown impairment"):
        simulate_downlink(SimulationConfig(cpf="vnredsat1-small", impairments={"gremlins": 1}), tmp_path / "a.cadu",
                          tmp_path / "t")
    with pytest.raises(UsageError, match="cloud fraction"):
        SceneSpec(cloud_fraction=1.5)
    for samples in (0, 17, 2.5):
        with pytest.raises(UsageError, match="integration samples"):
            simulate_downlink(SimulationConfig(cpf="vnredsat1-small", integration_samples=samples),  # type: ignore[arg-type]
                              tmp_path / "a.cadu", tmp_path / "t")
    with pytest.raises(UsageError, match="does not exist"):
        simulate_downlink(SimulationConfig(cpf="vnredsat1-small", scene=SceneSpec(kind="geotiff", path="/nope.tif")),
                          tmp_path / "a.cadu", tmp_path / "t")
