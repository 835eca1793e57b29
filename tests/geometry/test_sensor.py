"""The direct location model: ellipsoid maths, interpolation, ground points, DEM intersection."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod, Transformer

from rsarchive.cpf import load_cpf
from rsarchive.errors import ProcessingError
from rsarchive.geometry.ellipsoid import ecef_to_geodetic, geodetic_to_ecef, intersect_ellipsoid, up_vector
from rsarchive.geometry.interpolation import HermiteEphemeris, SlerpAttitude
from rsarchive.geometry.rotation import matrix_to_quaternion, quaternion_to_matrix, small_angle_matrix
from rsarchive.geometry.sensor import SensorModel
from rsarchive.simulate.attitude import NadirAttitude
from rsarchive.simulate.orbit import CircularOrbit

GEOD = Geod(ellps="WGS84")
NS = np.timedelta64(1, "ns")


@pytest.fixture(scope="module")
def orbit() -> CircularOrbit:
    return CircularOrbit.over_point(21.03, 105.85)


@pytest.fixture(scope="module")
def exact(orbit: CircularOrbit) -> SensorModel:
    cpf = load_cpf("vnredsat1")
    return SensorModel(cpf, orbit, NadirAttitude(orbit))


def _times(orbit: CircularOrbit, seconds: np.ndarray) -> np.ndarray:
    return orbit.epoch64 + np.rint(np.asarray(seconds) * 1e9).astype(np.int64) * NS


def test_geodetic_ecef_round_trip_matches_pyproj() -> None:
    rng = np.random.default_rng(1)
    lat, lon, h = rng.uniform(-89.9, 89.9, 5000), rng.uniform(-180, 180, 5000), rng.uniform(-400, 900e3, 5000)
    xyz = geodetic_to_ecef(lat, lon, h)
    x, y, z = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True).transform(lon, lat, h)
    assert np.abs(xyz - np.stack([x, y, z], -1)).max() < 1e-6
    lat2, lon2, h2 = ecef_to_geodetic(xyz)
    assert np.abs(lat2 - lat).max() < 1e-10 and np.abs(lon2 - lon).max() < 1e-10 and np.abs(h2 - h).max() < 1e-6


@pytest.mark.parametrize("height", [0.0, 850.0, 3000.0])
def test_ray_meets_the_raised_ellipsoid_at_the_right_point(height: float) -> None:
    target = geodetic_to_ecef(21.2, 105.7, height)
    sat = geodetic_to_ecef(21.0, 105.9, 680e3)
    d = (target - sat) / np.linalg.norm(target - sat)
    hit = intersect_ellipsoid(sat, d, height)
    assert np.linalg.norm(hit - target) < 1e-3
    # a ray pointing away from the Earth misses
    assert np.all(np.isnan(intersect_ellipsoid(sat, up_vector(21.0, 105.9), 0.0)))


def test_quaternion_matrix_round_trip() -> None:
    rng = np.random.default_rng(2)
    q = rng.normal(size=(1000, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 0] < 0] *= -1
    assert np.allclose(matrix_to_quaternion(quaternion_to_matrix(q)), q, atol=1e-12)
    m = small_angle_matrix(0.01, -0.02, 0.03)
    assert np.allclose(m @ m.T, np.eye(3))
    # roll rotates about X: Y goes toward Z
    assert np.allclose(small_angle_matrix(math.pi / 2, 0, 0) @ [0, 1, 0], [0, 0, 1])


def test_nadir_detector_lands_at_the_sub_satellite_point(orbit: CircularOrbit) -> None:
    cpf = load_cpf("vnredsat1")
    # no boresight misalignment for this check: use a copy with zero angles
    data = cpf.to_dict()
    data["boresight_rad"] = [0.0, 0.0, 0.0]
    from rsarchive.cpf import parse_cpf

    model = SensorModel(parse_cpf(data), orbit, NadirAttitude(orbit))
    half = np.timedelta64(int(round(cpf.band("PAN").line_period_s * 0.5e9)), "ns")
    seen = _times(orbit, np.array([-3.0, 0.0, 4.0]))
    stamps = seen - half  # spec §3: the stamp is the start of integration, the line is seen half a period later
    g = model.locate("PAN", stamps, np.array([(7000 - 1) / 2]))  # PAN has no along-track angle
    pos, _, _ = orbit.state(seen)
    lat, lon, _ = ecef_to_geodetic(pos)
    assert np.abs(g.lat[:, 0] - lat).max() < 1e-8 and np.abs(g.lon[:, 0] - lon).max() < 1e-8
    assert g.lat[1, 0] == pytest.approx(21.03, abs=1e-8) and g.lon[1, 0] == pytest.approx(105.85, abs=1e-8)
    assert not g.degraded.any() and g.off_dem is None
    at = model.locate_at("PAN", seen, np.array([(7000 - 1) / 2]))  # the instant itself, no shift
    assert np.array_equal(at.lat, g.lat) and np.array_equal(at.lon, g.lon)
    # at the stamp the satellite is ≈ 1.25 m (half a PAN line) behind where the line is seen
    early = model.locate_at("PAN", stamps, np.array([(7000 - 1) / 2]))
    assert GEOD.inv(early.lon[:, 0], early.lat[:, 0], g.lon[:, 0], g.lat[:, 0])[2] == pytest.approx(1.25, rel=0.05)


def test_swath_width_is_detectors_times_gsd(exact: SensorModel, orbit: CircularOrbit) -> None:
    band = exact.cpf.band("B3")
    g = exact.locate(band, _times(orbit, np.array([0.0])), np.array([-0.5, band.detectors - 0.5]))
    _, _, width = GEOD.inv(g.lon[0, 0], g.lat[0, 0], g.lon[0, 1], g.lat[0, 1])
    # 1750 × 10 m at 680 km; the satellite is ≈ 683 km above the ellipsoid at 21° N
    assert width == pytest.approx(17_500, rel=0.01)
    all_det = exact.locate(band, _times(orbit, np.array([0.0])))
    steps = GEOD.inv(all_det.lon[0, :-1], all_det.lat[0, :-1], all_det.lon[0, 1:], all_det.lat[0, 1:])[2]
    assert steps.min() == pytest.approx(10.0, rel=0.01) and steps.max() == pytest.approx(10.0, rel=0.01)
    # consecutive lines are one GSD apart along track (square pixels)
    lines = exact.locate(band, _times(orbit, np.array([0.0, band.line_period_s])), np.array([875.0]))
    assert GEOD.inv(lines.lon[0, 0], lines.lat[0, 0], lines.lon[1, 0], lines.lat[1, 0])[2] == pytest.approx(10.0, rel=0.02)


def test_bands_look_fore_and_aft(exact: SensorModel, orbit: CircularOrbit) -> None:
    t = _times(orbit, np.array([0.0]))
    b1 = exact.locate("B1", t, np.array([874.5]))
    b4 = exact.locate("B4", t, np.array([874.5]))
    # ±0.0009 rad from ≈ 683 km: ≈ 1.23 km apart along track at the same time
    assert GEOD.inv(b1.lon[0, 0], b1.lat[0, 0], b4.lon[0, 0], b4.lat[0, 0])[2] == pytest.approx(1230, rel=0.02)


def test_hermite_and_slerp_are_exact_at_samples_and_accurate_between(orbit: CircularOrbit) -> None:
    attitude = NadirAttitude(orbit, bias_rad=(7e-5, -3e-5, 1e-5))
    eph_t = _times(orbit, np.arange(-10.0, 11.0, 1.0))
    att_t = _times(orbit, np.arange(-10.0, 10.05, 0.1))
    pos, vel, _ = orbit.state(eph_t)
    quat, _ = attitude.quaternion(att_t)
    eph = HermiteEphemeris(eph_t, pos, vel)
    att = SlerpAttitude(att_t, quat)
    p_at, v_at, bad = eph.state(eph_t)
    assert np.abs(p_at - pos).max() < 1e-6 and np.abs(v_at - vel).max() < 1e-9 and not bad.any()
    q_at, _ = att.quaternion(att_t)
    assert np.abs(q_at - quat).max() < 1e-12
    between = _times(orbit, np.linspace(-9.5, 9.5, 401))
    p_true, v_true, _ = orbit.state(between)
    p_int, v_int, _ = eph.state(between)
    assert np.linalg.norm(p_int - p_true, axis=1).max() < 1e-3  # mm from 1 Hz samples
    assert np.linalg.norm(v_int - v_true, axis=1).max() < 1e-3
    q_true, _ = attitude.quaternion(between)
    q_int, _ = att.quaternion(between)
    sign = np.sign(np.sum(q_true * q_int, axis=1))[:, None]
    angle = 4 * np.arcsin(np.linalg.norm(q_true - sign * q_int, axis=1) / 2)  # rotation angle between them
    assert angle.max() < 1e-8  # rad: ≈ 7 mm on the ground
    # and the velocity really is the derivative of the position
    h = 0.01
    p1, _, _ = orbit.state(_times(orbit, np.array([-h])))
    p2, v0, _ = orbit.state(_times(orbit, np.array([h])))
    assert np.allclose((p2 - p1) / (2 * h), orbit.state(_times(orbit, np.array([0.0])))[1], atol=1e-3)


def test_interpolated_model_matches_the_exact_one_and_flags_gaps(exact: SensorModel, orbit: CircularOrbit) -> None:
    eph_s = np.arange(-10.0, 11.0, 1.0)
    att_s = np.round(np.arange(-10.0, 10.05, 0.1), 6)
    keep = ~((att_s > 2.05) & (att_s < 2.45))  # 3 attitude samples missing: 2.1, 2.2, 2.3 (2.4 present)
    keep &= ~((att_s > 5.05) & (att_s < 5.25))  # 2 missing: allowed
    pos, vel, _ = orbit.state(_times(orbit, eph_s))
    quat, _ = exact.attitude.quaternion(_times(orbit, att_s[keep]))
    model = SensorModel.from_samples(exact.cpf, _times(orbit, eph_s), pos, vel, _times(orbit, att_s[keep]), quat)
    lines = np.array([0.0, 0.55, 2.25, 5.15, 9.9, 10.5])
    g_int = model.locate("B2", _times(orbit, lines), np.array([0, 875, 1749]))
    g_ref = exact.locate("B2", _times(orbit, lines), np.array([0, 875, 1749]))
    ok = ~g_int.degraded
    dist = GEOD.inv(g_int.lon[ok], g_int.lat[ok], g_ref.lon[ok], g_ref.lat[ok])[2]
    assert dist.max() < 0.01  # metres, nadir attitude without jitter
    assert g_int.degraded.tolist() == [False, False, True, False, False, True]  # gap of 3, outside the span


def test_dem_intersection(exact: SensorModel, orbit: CircularOrbit) -> None:
    t = _times(orbit, np.linspace(-1, 1, 5))
    det = np.array([0, 400, 875, 1300, 1749])
    flat = exact.locate("B1", t, det, height=500.0)
    assert np.abs(flat.h - 500.0).max() < 1e-3
    # the point found at h lies on the ray: moving it back to the satellite is the look direction
    positions, dirs, _ = exact.rays("B1", t, det)
    p = geodetic_to_ecef(flat.lat, flat.lon, flat.h) - positions[:, None, :]
    assert np.abs(np.cross(p / np.linalg.norm(p, axis=-1, keepdims=True), dirs)).max() < 1e-9

    def hills(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return 600.0 + 400.0 * np.sin(np.radians(lat) * 3000.0) * np.cos(np.radians(lon) * 2500.0)

    g = exact.locate("B1", t, det, height=hills, tol_m=1e-4)
    assert np.abs(g.h - hills(g.lat, g.lon)).max() < 1e-3  # converged: on the terrain
    assert not g.off_dem.any()
    # the terrain displaces points away from nadir by ≈ h · tan(view angle) relative to the ellipsoid
    zero = exact.locate("B1", t, det, height=0.0)
    shift = GEOD.inv(zero.lon, zero.lat, g.lon, g.lat)[2]
    view = np.abs((det - 874.5) * exact.cpf.band("B1").pitch_m / exact.cpf.focal_length_m)
    # incidence at the ground = view angle × (R + H)/R on a curved Earth (H ≈ 683 km)
    expected = g.h * np.hypot(view, math.tan(0.0009))[None, :] * (6378e3 + 683e3) / 6378e3
    assert np.allclose(shift, expected, rtol=0.05, atol=0.05)

    def partial(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return np.where(lon > 105.85, 300.0, np.nan)

    g = exact.locate("B1", t, det, height=partial)
    assert g.off_dem.any() and not g.off_dem.all()
    assert np.allclose(g.h[g.off_dem], 0.0) and np.allclose(g.h[~g.off_dem], 300.0, atol=1e-3)


def test_too_few_samples_is_a_processing_error(exact: SensorModel, orbit: CircularOrbit) -> None:
    t = _times(orbit, np.array([0.0]))
    with pytest.raises(ProcessingError, match="at least 2 samples"):
        HermiteEphemeris(t, np.zeros((1, 3)), np.zeros((1, 3)))
    with pytest.raises(ProcessingError, match="unit length"):
        SlerpAttitude(_times(orbit, np.array([0.0, 1.0])), np.ones((2, 4)))
