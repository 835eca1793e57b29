"""Top-of-atmosphere reflectance (spec §4), for the product level.

    ρ = π · L · d² / (ESUN_b · cos θ_s)

with L the at-sensor spectral radiance (W m⁻² sr⁻¹ µm⁻¹), d the Earth–Sun
distance (AU, :func:`rsarchive.radiometry.earth_sun_distance`), ESUN_b the CPF's
band solar irradiance (W m⁻² µm⁻¹) and θ_s the geometric solar zenith at the
pixel and time (:func:`rsarchive.radiometry.solar_angles` /
:func:`~rsarchive.radiometry.solar_angle_grid`).  Where the Sun is at or below
``max_zenith_deg`` (default 90°: below the horizon) the reflectance is NaN.

:func:`encode_reflectance` stores ρ × 10 000 in uint16 with
:data:`~rsarchive.radiometry.encoding.REFLECTANCE_ENCODING` (scale 1e-4,
offset 0, nodata 0) — record ``REFLECTANCE_ENCODING.to_dict()`` with the file.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from rsarchive.errors import UsageError
from rsarchive.radiometry.encoding import REFLECTANCE_ENCODING, Encoding

__all__ = ["encode_reflectance", "toa_reflectance"]


def toa_reflectance(
    radiance: ArrayLike,
    esun: float,
    sun_zenith_deg: ArrayLike,
    distance_au: ArrayLike = 1.0,
    max_zenith_deg: float = 90.0,
) -> np.ndarray:
    """TOA reflectance (float32; NaN where the radiance is NaN or the Sun too low).

    All arguments broadcast (e.g. radiance (L, D), zenith (L, D) or (L, 1),
    distance scalar or (L, 1)).  Works on NumPy blocks; use it inside
    ``dask.array.map_blocks`` for Dask arrays.
    """
    if not (math.isfinite(esun) and esun > 0):
        raise UsageError(f"ESUN must be a positive number (W m-2 um-1), got {esun!r}")
    rad = np.asarray(radiance, dtype=np.float32)
    cos_sz = np.cos(np.radians(np.asarray(sun_zenith_deg, dtype=np.float64)))
    d = np.asarray(distance_au, dtype=np.float64)
    factor = (math.pi * d * d / esun) / cos_sz
    factor = np.where(np.asarray(sun_zenith_deg) < max_zenith_deg, factor, np.nan).astype(np.float32)
    return np.multiply(rad, factor, dtype=np.float32)


def encode_reflectance(reflectance: ArrayLike, encoding: Encoding = REFLECTANCE_ENCODING) -> np.ndarray:
    """ρ → uint16 counts (ρ × 10 000 by default; NaN → nodata 0; clipped to 1 … 65 535)."""
    return encoding.encode(np.asarray(reflectance, dtype=np.float32))
