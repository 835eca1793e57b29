"""Solar geometry against the NREL SPA reference case, Earth–Sun distance, the coarse grid."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rsarchive.errors import UsageError
from rsarchive.radiometry import earth_sun_distance, solar_angle_grid, solar_angles

# NREL SPA reference: 2003-10-17 12:30:30 local time, UTC−7, ΔT 67 s
SPA_UTC = dt.datetime(2003, 10, 17, 19, 30, 30)
SPA_SITE = dict(lat_deg=39.742476, lon_deg=-105.1786, height_m=1830.14)


def test_nrel_spa_reference_case() -> None:
    zenith, azimuth = solar_angles(SPA_UTC, delta_t=67.0, **SPA_SITE)
    # geometric zenith (no refraction): SPA's 50.11162° minus its 820 mbar refraction
    assert zenith == pytest.approx(50.12795, abs=0.01)
    assert azimuth == pytest.approx(194.34024, abs=0.01)
    # and it really is geometric: far from the refracted value at this precision
    assert abs(zenith - 50.11162) > 0.01


def test_time_zone_aware_and_numpy_times_agree() -> None:
    aware = dt.datetime(2003, 10, 17, 12, 30, 30, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    z1, a1 = solar_angles(aware, delta_t=67.0, **SPA_SITE)
    z2, a2 = solar_angles(np.datetime64("2003-10-17T19:30:30"), delta_t=67.0, **SPA_SITE)
    assert z1 == pytest.approx(50.12795, abs=0.01) and z1 == z2 and a1 == a2
    # default ΔT (pvlib's estimate, ≈ 64 s in 2003) changes the answer by far less than 0.01°
    z3, _ = solar_angles(SPA_UTC, **SPA_SITE)
    assert z3 == pytest.approx(z1, abs=1e-3)


def test_broadcasting_times_against_positions() -> None:
    times = np.datetime64("2026-03-15T03:30:00") + np.arange(3) * np.timedelta64(10, "m")
    lat = np.linspace(20.0, 22.0, 4)
    lon = np.full(4, 105.8)
    zen, azi = solar_angles(times[:, None], lat[None, :], lon[None, :])
    assert zen.shape == azi.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            z, a = solar_angles(times[i], lat[j], lon[j])
            assert zen[i, j] == pytest.approx(float(z), abs=1e-10) and azi[i, j] == pytest.approx(float(a), abs=1e-10)
    # Hanoi, mid-March, 10:30–10:50 local: sun climbing in the south-east
    assert np.all(np.diff(zen, axis=0) < 0) and np.all((azi > 90) & (azi < 180))


def test_earth_sun_distance_perihelion_and_aphelion() -> None:
    days = np.arange("2026-01-01", "2027-01-01", dtype="datetime64[D]").astype("datetime64[ns]")
    d = earth_sun_distance(days)
    assert d.min() == pytest.approx(0.98329, abs=2e-4) and d.max() == pytest.approx(1.01671, abs=2e-4)
    perihelion = days[np.argmin(d)].astype("datetime64[D]")
    aphelion = days[np.argmax(d)].astype("datetime64[D]")
    assert np.datetime64("2026-01-01") <= perihelion <= np.datetime64("2026-01-05")
    assert np.datetime64("2026-07-03") <= aphelion <= np.datetime64("2026-07-08")


def test_coarse_grid_interpolation_error_is_tiny() -> None:
    lines, detectors = 300, 700
    times = np.datetime64("2026-03-15T03:39:00") + (np.arange(lines) * 1.47e6).astype("timedelta64[ns]")
    # a 10 m pixel grid on a slanted ground track near Hanoi
    lat = 21.0 - np.arange(lines)[:, None] * 9e-5 + np.arange(detectors)[None, :] * 2e-5
    lon = 105.8 - np.arange(lines)[:, None] * 2e-5 - np.arange(detectors)[None, :] * 9.4e-5
    exact_z, exact_a = solar_angles(times[:, None], lat, lon, 15.0)
    grid_z, grid_a = solar_angle_grid(times, lat, lon, 15.0, step=32)
    assert grid_z.shape == (lines, detectors)
    assert np.abs(grid_z - exact_z).max() < 1e-5  # documented bound (degrees)
    assert np.abs(grid_a - exact_a).max() < 1e-5
    # nodes are exact
    assert np.array_equal(grid_z[::32, ::32], exact_z[::32, ::32])


def test_bad_inputs() -> None:
    with pytest.raises(UsageError, match="UTC times"):
        solar_angles(np.array([1.0, 2.0]), 21.0, 105.0)
    with pytest.raises(UsageError, match="latitude"):
        solar_angles(SPA_UTC, 95.0, 105.0)
    with pytest.raises(UsageError, match="step"):
        solar_angle_grid(np.array([SPA_UTC], dtype="datetime64[ns]"), np.zeros((1, 2)), np.zeros((1, 2)), step=0)
