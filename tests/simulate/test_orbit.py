"""The simulated orbit and attitude: altitude, sun-synchronism, placement, local time, nadir pointing."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from rsarchive.errors import UsageError
from rsarchive.geometry.ellipsoid import ecef_to_geodetic
from rsarchive.geometry.rotation import quaternion_to_matrix
from rsarchive.simulate.attitude import Jitter, NadirAttitude, nadir_frame
from rsarchive.simulate.downlink import _ltdn
from rsarchive.simulate.orbit import EARTH_ROTATION_RATE, CircularOrbit, earth_rotation_angle, sso_inclination_deg

NS = np.timedelta64(1, "ns")


@pytest.fixture(scope="module")
def orbit() -> CircularOrbit:
    return CircularOrbit.over_point(21.03, 105.85, date=dt.date(2026, 3, 15))


def test_altitude_and_sun_synchronous_inclination(orbit: CircularOrbit) -> None:
    t = np.arange(0.0, orbit.period_s, 30.0)
    pos, vel = orbit.state_at(t)
    _, _, h = ecef_to_geodetic(pos)
    assert 675e3 < h.min() and h.max() < 705e3  # 680 km above the equatorial radius, more over the poles
    assert orbit.inclination_deg == pytest.approx(98.1, abs=0.15)
    # the nodal regression equals the mean Sun's motion: 360° per tropical year
    assert orbit.raan_rate_rad_s * 365.2422 * 86400 == pytest.approx(2 * math.pi, rel=1e-6)
    assert 5900 < orbit.period_s < 5920  # ≈ 98.5 min
    assert sso_inclination_deg(800e3) > sso_inclination_deg(600e3)


def test_passes_over_the_configured_point_descending(orbit: CircularOrbit) -> None:
    pos, vel = orbit.state_at(np.array([-1.0, 0.0, 1.0]))
    lat, lon, _ = ecef_to_geodetic(pos)
    assert lat[1] == pytest.approx(21.03, abs=1e-9) and lon[1] == pytest.approx(105.85, abs=1e-9)
    assert lat[2] < lat[1] < lat[0]  # descending
    # other targets: central Vietnam, and an explicit time
    other = CircularOrbit.over_point(16.05, 108.2, at=np.datetime64("2026-06-01T03:20:00"))
    p, _ = other.state_at(np.array([0.0]))
    la, lo, _ = ecef_to_geodetic(p)
    assert (la[0], lo[0]) == (pytest.approx(16.05, abs=1e-9), pytest.approx(108.2, abs=1e-9))
    assert other.epoch.startswith("2026-06-01T03:20:00")


def test_local_time_of_the_descending_node(orbit: CircularOrbit) -> None:
    assert _ltdn(orbit) == pytest.approx(10.5, abs=1 / 60)  # within a minute of 10:30
    # and the pass over Hanoi is in the late morning, local mean time
    epoch = orbit.epoch64
    hours = (epoch - epoch.astype("datetime64[D]")) / np.timedelta64(1, "h")
    assert 10.0 < (hours + 105.85 / 15) % 24 < 11.0
    later = CircularOrbit.over_point(21.03, 105.85, date=dt.date(2026, 3, 15), ltdn_hours=13.5)
    assert _ltdn(later) == pytest.approx(13.5, abs=1 / 60)


def test_velocity_is_the_time_derivative_of_position(orbit: CircularOrbit) -> None:
    t = np.array([-100.0, 0.0, 250.0])
    h = 1e-3
    p_plus, _ = orbit.state_at(t + h)
    p_minus, _ = orbit.state_at(t - h)
    _, vel = orbit.state_at(t)
    assert np.abs((p_plus - p_minus) / (2 * h) - vel).max() < 1e-3
    # Earth-fixed speed of a 680 km orbit, slowed/turned by the Earth's rotation
    assert 7400 < np.linalg.norm(vel, axis=1).min() < 7700


def test_earth_rotation_angle() -> None:
    # ERA at J2000.0 (2000-01-01T12:00 UT1) is 0.7790572732640 turns
    assert earth_rotation_angle(946728000.0) == pytest.approx(2 * math.pi * 0.7790572732640)
    a, b = earth_rotation_angle(np.array([1.7e9, 1.7e9 + 60.0]))
    assert ((b - a) % (2 * math.pi)) == pytest.approx(EARTH_ROTATION_RATE * 60.0)


def test_nadir_attitude_axes(orbit: CircularOrbit) -> None:
    t = np.array([0.0, 3.0])
    pos, vel = orbit.state_at(t)
    m = nadir_frame(pos, vel)
    assert np.allclose(m @ np.swapaxes(m, 1, 2), np.eye(3)) and np.allclose(np.linalg.det(m), 1.0)
    x, y, z = m[..., 0], m[..., 1], m[..., 2]
    assert np.allclose(np.sum(x * vel, axis=1) / np.linalg.norm(vel, axis=1), 1.0, atol=1e-3)  # +X ≈ velocity
    assert np.all(np.sum(z * pos, axis=1) < -0.99 * np.linalg.norm(pos, axis=1))  # +Z ≈ down
    assert np.allclose(np.cross(z, x), y)
    att = NadirAttitude(orbit)
    q = att.quaternion_at(t)
    assert np.allclose(quaternion_to_matrix(q), m, atol=1e-12)


def test_bias_and_jitter(orbit: CircularOrbit) -> None:
    jitter = (Jitter("pitch", 2e-6, 5.0), Jitter("roll", 1e-6, 0.5, 0.3))
    att = NadirAttitude(orbit, bias_rad=(7.35e-5, 0.0, 0.0), jitter=jitter)
    roll, pitch, yaw = att.angles_at(np.array([0.0, 0.05, 1.0]))
    assert pitch == pytest.approx([0.0, 2e-6, 0.0], abs=1e-12)
    assert roll[0] == pytest.approx(7.35e-5 + 1e-6 * math.sin(0.3))
    assert np.all(yaw == 0.0)
    data = att.to_dict()
    again = NadirAttitude.from_dict(orbit, data)
    assert again == att
    with pytest.raises(UsageError, match="axis"):
        Jitter("spin", 1e-6, 1.0)
    with pytest.raises(UsageError, match="small angles"):
        NadirAttitude(orbit, bias_rad=(0.5, 0.0, 0.0))


def test_orbit_round_trips_through_its_dict(orbit: CircularOrbit) -> None:
    again = CircularOrbit.from_dict(orbit.to_dict())
    assert again == orbit
    assert np.array_equal(again.state_at(np.array([5.0]))[0], orbit.state_at(np.array([5.0]))[0])


def test_bad_target() -> None:
    with pytest.raises(UsageError, match="latitude"):
        CircularOrbit.over_point(85.0, 0.0)


def test_a_roll_bias_of_50_m_moves_the_ground_50_m_across_track(orbit: CircularOrbit) -> None:
    from pyproj import Geod

    from rsarchive.cpf import load_cpf
    from rsarchive.geometry.sensor import SensorModel

    cpf = load_cpf("vnredsat1-small")
    t = orbit.epoch64 + np.array([0, 10**9]) * NS
    plain = SensorModel(cpf, orbit, NadirAttitude(orbit)).locate("PAN", t, np.array([0.0, 511.5, 1023.0]))
    biased = SensorModel(cpf, orbit, NadirAttitude(orbit, bias_rad=(50.0 / 680e3, 0.0, 0.0))).locate(
        "PAN", t, np.array([0.0, 511.5, 1023.0]))
    geod = Geod(ellps="WGS84")
    shift = geod.inv(plain.lon.ravel(), plain.lat.ravel(), biased.lon.ravel(), biased.lat.ravel())[2]
    assert np.allclose(shift, 50.0 * 683 / 680, rtol=0.01)  # H ≈ 683 km above the ellipsoid at 21° N
    # across track: along the detector line
    along_line = geod.inv(plain.lon[0, 0], plain.lat[0, 0], plain.lon[0, 2], plain.lat[0, 2])[0]
    direction = geod.inv(plain.lon[0, 1], plain.lat[0, 1], biased.lon[0, 1], biased.lat[0, 1])[0]
    difference = (direction - along_line) % 180.0
    assert min(difference, 180.0 - difference) < 1.0
