"""A sun-synchronous circular orbit placed over a chosen point, in the Earth-fixed frame.

Model: a circular Keplerian orbit (radius a = WGS84 a + altitude) whose node
regresses at the J2 secular rate; the inclination is the one that makes that
regression follow the mean Sun (sun-synchronous, ≈ 98.2° at 680 km).  The
inertial frame is turned into the Earth-fixed frame by the Earth rotation
angle (IERS ERA, UT1 ≈ UTC; precession, nutation and polar motion are left
out — the simulated ECEF trajectory is self-consistent, which is all the
archive needs).  Velocity is the exact time derivative of the ECEF position
(``v_ecef = R(θ)·(v_eci − ω × r_eci)``, with the nodal regression included).

:meth:`CircularOrbit.over_point` places the orbit so that, on a descending
pass, the geodetic nadir of the satellite is exactly over (lat, lon) at time
``t_c``, with the descending node at the requested mean local solar time
(10:30 by default) — ``t_c`` then follows from the date.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rsarchive.errors import UsageError
from rsarchive.geometry.ellipsoid import WGS84_A, geodetic_to_ecef, up_vector
from rsarchive.geometry.interpolation import as_datetime64, seconds_since

__all__ = ["CircularOrbit", "MU_EARTH", "J2", "EARTH_ROTATION_RATE", "earth_rotation_angle", "sso_inclination_deg"]

MU_EARTH = 3.986004418e14
J2 = 1.08262668e-3
EARTH_ROTATION_RATE = 2.0 * math.pi * 1.00273781191135448 / 86400.0
"""dθ/dt of the Earth rotation angle, rad/s (UT1)."""
SSO_NODE_RATE = 2.0 * math.pi / (365.2421897 * 86400.0)
_J2000_UNIX = 946728000.0  # 2000-01-01T12:00:00 UTC as unix seconds


def earth_rotation_angle(unix_seconds: float | np.ndarray) -> np.ndarray:
    """IERS Earth rotation angle θ (rad) for UT1 ≈ UTC given as unix seconds."""
    days = (np.asarray(unix_seconds, dtype=np.float64) - _J2000_UNIX) / 86400.0
    frac = np.mod(days, 1.0)
    return 2.0 * math.pi * np.mod(0.7790572732640 + frac + 0.00273781191135448 * days, 1.0)


def sso_inclination_deg(altitude_m: float) -> float:
    """Inclination of a circular sun-synchronous orbit at ``altitude_m`` above the equatorial radius."""
    a = WGS84_A + altitude_m
    n = math.sqrt(MU_EARTH / a**3)
    cos_i = -SSO_NODE_RATE / (1.5 * n * J2 * (WGS84_A / a) ** 2)
    if not -1.0 <= cos_i <= 1.0:
        raise UsageError(f"no sun-synchronous circular orbit at altitude {altitude_m / 1000:.0f} km")
    return math.degrees(math.acos(cos_i))


def _unix(t64: np.datetime64) -> float:
    return float(seconds_since(t64, np.datetime64("1970-01-01T00:00:00", "ns")))


@dataclass(frozen=True)
class CircularOrbit:
    """Circular orbit; angles at ``epoch`` (UTC, ISO string) in degrees."""

    epoch: str
    semi_major_axis_m: float
    inclination_deg: float
    raan_deg: float
    arg_latitude_deg: float
    raan_rate_rad_s: float

    @property
    def epoch64(self) -> np.datetime64:
        return as_datetime64(np.datetime64(self.epoch, "ns"))

    @property
    def mean_motion_rad_s(self) -> float:
        return math.sqrt(MU_EARTH / self.semi_major_axis_m**3)

    @property
    def period_s(self) -> float:
        return 2.0 * math.pi / self.mean_motion_rad_s

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["altitude_m"] = self.semi_major_axis_m - WGS84_A
        data["period_s"] = self.period_s
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CircularOrbit:
        keys = ("epoch", "semi_major_axis_m", "inclination_deg", "raan_deg", "arg_latitude_deg", "raan_rate_rad_s")
        return cls(**{k: data[k] for k in keys})

    # -- placement ---------------------------------------------------------------
    @classmethod
    def over_point(
        cls,
        lat_deg: float,
        lon_deg: float,
        date: _dt.date | None = None,
        at: _dt.datetime | np.datetime64 | None = None,
        altitude_m: float = 680_000.0,
        ltdn_hours: float = 10.5,
    ) -> CircularOrbit:
        """A descending sun-synchronous pass whose nadir is over (lat, lon).

        Give ``date`` to get the pass time from the local time of the descending
        node ``ltdn_hours``; or ``at`` to force the time over the point (the
        node's local time then follows from it).
        """
        if not -80.0 < lat_deg < 80.0:
            raise UsageError(f"target latitude {lat_deg}° out of the range a 98° orbit passes over (±80°)")
        inc = math.radians(sso_inclination_deg(altitude_m))
        a = WGS84_A + altitude_m
        n = math.sqrt(MU_EARTH / a**3)
        raan_rate = -1.5 * n * J2 * (WGS84_A / a) ** 2 * math.cos(inc)
        # satellite position whose geodetic nadir is the target: on the normal, at radius a
        surface = geodetic_to_ecef(lat_deg, lon_deg, 0.0)
        up = up_vector(lat_deg, lon_deg)
        s_n = float(surface @ up)
        h = -s_n + math.sqrt(s_n**2 - float(surface @ surface) + a * a)
        sat = surface + h * up
        lat_gc = math.asin(sat[2] / a)
        lon_sat = math.atan2(sat[1], sat[0])
        u0 = math.pi - math.asin(math.sin(lat_gc) / math.sin(inc))  # descending branch
        d_alpha = math.atan2(math.cos(inc) * math.sin(u0), math.cos(u0))  # RA from the node
        to_node_s = (math.pi - u0) / n  # time from the target to the descending node (u = π)
        if at is None:
            day = date or _dt.date(2026, 3, 15)
            # node longitude relative to the target is fixed by geometry; ERA advances meanwhile
            lon_node = lon_sat - d_alpha + math.pi - EARTH_ROTATION_RATE * to_node_s + raan_rate * to_node_s
            utc_hours = (ltdn_hours - math.degrees(lon_node) / 15.0) % 24.0
            midnight = np.datetime64(day.isoformat(), "ns")
            t_node = midnight + np.timedelta64(int(round(utc_hours * 3600e9)), "ns")
            t_c = t_node - np.timedelta64(int(round(to_node_s * 1e9)), "ns")
        else:
            t_c = as_datetime64(at)
        theta = float(earth_rotation_angle(_unix(t_c)))
        raan = lon_sat - d_alpha + theta
        return cls(
            epoch=str(np.datetime_as_string(t_c, unit="ns")),
            semi_major_axis_m=a,
            inclination_deg=math.degrees(inc),
            raan_deg=math.degrees(raan) % 360.0,
            arg_latitude_deg=math.degrees(u0),
            raan_rate_rad_s=raan_rate,
        )

    # -- state -------------------------------------------------------------------
    def state_at(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ECEF position (n, 3) and velocity (n, 3) at ``t_s`` seconds after the epoch."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        a = self.semi_major_axis_m
        n = self.mean_motion_rad_s
        inc = math.radians(self.inclination_deg)
        u = math.radians(self.arg_latitude_deg) + n * t
        raan = math.radians(self.raan_deg) + self.raan_rate_rad_s * t
        cu, su, co, so = np.cos(u), np.sin(u), np.cos(raan), np.sin(raan)
        ci, si = math.cos(inc), math.sin(inc)
        r = a * np.stack([cu * co - su * ci * so, cu * so + su * ci * co, su * si], axis=-1)
        dr_du = a * np.stack([-su * co - cu * ci * so, -su * so + cu * ci * co, cu * si], axis=-1)
        dr_draan = np.stack([-r[:, 1], r[:, 0], np.zeros_like(t)], axis=-1)
        v = n * dr_du + self.raan_rate_rad_s * dr_draan
        theta = earth_rotation_angle(_unix(self.epoch64)) + EARTH_ROTATION_RATE * t
        ct, st = np.cos(theta), np.sin(theta)
        # v_eci − ω × r_eci, ω = (0, 0, θ̇)
        vr = v - EARTH_ROTATION_RATE * np.stack([-r[:, 1], r[:, 0], np.zeros_like(t)], axis=-1)
        pos = np.stack([ct * r[:, 0] + st * r[:, 1], -st * r[:, 0] + ct * r[:, 1], r[:, 2]], axis=-1)
        vel = np.stack([ct * vr[:, 0] + st * vr[:, 1], -st * vr[:, 0] + ct * vr[:, 1], vr[:, 2]], axis=-1)
        return pos, vel

    def state(self, times: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact ECEF position and velocity at UTC ``times`` (EphemerisSource protocol)."""
        t_s = np.atleast_1d(seconds_since(times, self.epoch64))
        pos, vel = self.state_at(t_s)
        return pos, vel, np.zeros(t_s.shape, dtype=bool)
