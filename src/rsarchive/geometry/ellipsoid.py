"""The WGS84 ellipsoid: geodetic ↔ Earth-fixed (ECEF) conversions and ray intersection.

All functions are vectorised NumPy (any broadcastable shapes; vectors in the
last axis).  Heights are ellipsoidal heights in metres, angles in degrees.

* :func:`geodetic_to_ecef` — closed form.
* :func:`ecef_to_geodetic` — Heikkinen's exact closed form (sub-millimetre
  everywhere outside the Earth's centre region).
* :func:`intersect_ellipsoid` — where a ray meets the WGS84 ellipsoid raised by
  ``h``: closed form on the ellipsoid of semi-axes (a+h, b+h), then a Newton
  step along the ray onto the true geodetic height ``h`` (the two surfaces
  differ by up to ≈ h·f/2; after the step the error is below a millimetre).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "WGS84_A", "WGS84_F", "WGS84_B", "WGS84_E2",
    "geodetic_to_ecef", "ecef_to_geodetic", "up_vector", "intersect_ellipsoid",
]

WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_B = WGS84_A * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
_EP2 = WGS84_E2 / (1.0 - WGS84_E2)


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, h_m: ArrayLike = 0.0) -> np.ndarray:
    """Geodetic latitude, longitude (°) and height (m) → ECEF (..., 3) in metres."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    h = np.asarray(h_m, dtype=np.float64)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECEF (..., 3) → geodetic latitude (°), longitude (°), height (m); Heikkinen (1982)."""
    p_xyz = np.asarray(xyz, dtype=np.float64)
    x, y, z = p_xyz[..., 0], p_xyz[..., 1], p_xyz[..., 2]
    a, b, e2 = WGS84_A, WGS84_B, WGS84_E2
    p2 = x * x + y * y
    p = np.sqrt(p2)
    z2 = z * z
    f_ = 54.0 * b * b * z2
    g = p2 + (1.0 - e2) * z2 - e2 * (a * a - b * b)
    c = e2 * e2 * f_ * p2 / (g * g * g)
    s = np.cbrt(1.0 + c + np.sqrt(c * c + 2.0 * c))
    k = s + 1.0 + 1.0 / s
    pp = f_ / (3.0 * k * k * g * g)
    q = np.sqrt(1.0 + 2.0 * e2 * e2 * pp)
    r0 = -(pp * e2 * p) / (1.0 + q) + np.sqrt(
        np.maximum(0.5 * a * a * (1.0 + 1.0 / q) - pp * (1.0 - e2) * z2 / (q * (1.0 + q)) - 0.5 * pp * p2, 0.0)
    )
    t = p - e2 * r0
    u = np.sqrt(t * t + z2)
    v = np.sqrt(t * t + (1.0 - e2) * z2)
    z0 = b * b * z / (a * v)
    h = u * (1.0 - b * b / (a * v))
    lat = np.degrees(np.arctan2(z + _EP2 * z0, p))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon, h


def up_vector(lat_deg: ArrayLike, lon_deg: ArrayLike) -> np.ndarray:
    """Unit ellipsoid normal (local vertical, pointing up) in ECEF, shape (..., 3)."""
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    cos_lat = np.cos(lat)
    return np.stack(np.broadcast_arrays(cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)), axis=-1)


def intersect_ellipsoid(origin: ArrayLike, direction: ArrayLike, height_m: ArrayLike = 0.0) -> np.ndarray:
    """First point where rays meet the WGS84 ellipsoid raised by ``height_m``.

    ``origin`` (..., 3) and unit ``direction`` (..., 3) in ECEF broadcast
    together; ``height_m`` broadcasts against the ray shape (per-ray heights are
    allowed).  Rays that miss give NaN.
    """
    o = np.asarray(origin, dtype=np.float64)
    d = np.asarray(direction, dtype=np.float64)
    h = np.asarray(height_m, dtype=np.float64)
    h_rays = h[..., None]
    axes_a = WGS84_A + h_rays
    axes_b = WGS84_B + h_rays
    scale = np.concatenate(np.broadcast_arrays(axes_a, axes_a, axes_b), axis=-1)
    os_ = o / scale
    ds = d / scale
    qa = np.sum(ds * ds, axis=-1)
    qb = 2.0 * np.sum(os_ * ds, axis=-1)
    qc = np.sum(os_ * os_, axis=-1) - 1.0
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(invalid="ignore"):
        root = np.sqrt(np.where(disc >= 0.0, disc, np.nan))
        # numerically stable smaller root: t = 2c / (−b + √disc) for b < 0
        t = 2.0 * qc / (-qb + root)
        t = np.where(t > 0.0, t, np.nan)  # both roots behind the origin: the ray points away
    point = o + t[..., None] * d
    if np.any(h != 0.0):
        point = _snap_to_height(point, d, np.broadcast_to(h, t.shape))
    return point


def _snap_to_height(point: np.ndarray, d: np.ndarray, h: np.ndarray, steps: int = 2) -> np.ndarray:
    """Newton steps along the ray onto the geodetic height ``h``."""
    for _ in range(steps):
        lat, lon, hp = ecef_to_geodetic(point)
        slope = np.sum(np.broadcast_to(d, point.shape) * up_vector(lat, lon), axis=-1)  # dh/dt (< 0 looking down)
        point = point + ((h - hp) / slope)[..., None] * d
    return point
