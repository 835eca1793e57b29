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

:func:`toa_encode_rows` is the product's per-strip step on the output grid: the
reflectance from warped radiance and cos θs (interpolated per pixel from the sun
grid's nodes, or a given field), the QA's no-data bit both ways, the encoding
and (PAN) block means for band registration, in one compiled pass (numba,
without the GIL: strips may run on several threads).  Its float32 operations are
NumPy's, in NumPy's order, so the reflectance and the counts are the same to the
bit as the NumPy expressions (tested).
(why: docs/DECISIONS.md, Product stage CPU: the compiled TOA pass and the cloud flags)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from rsarchive.errors import UsageError
from rsarchive.radiometry.encoding import REFLECTANCE_ENCODING, Encoding

__all__ = ["encode_reflectance", "toa_encode_rows", "toa_reflectance"]


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


@njit(nogil=True, cache=True)
def _toa_encode(rho: np.ndarray, qa: np.ndarray, along: np.ndarray, left: np.ndarray, right: np.ndarray,
                weight: np.ndarray, interpolate: bool, factor: np.float32, qa_nodata: np.uint16,
                inverse: np.float32, shift: np.float32, lo: np.float32, hi: np.float32, nodata: np.uint16,
                out: np.ndarray, sums: np.ndarray, fine: int) -> None:  # pragma: no cover - compiled
    nan = np.float32(np.nan)
    blocks = sums.shape[0] > 0
    block_of = np.arange(rho.shape[1]) // fine  # each column's block
    for i in range(rho.shape[0]):
        bi = i // fine
        for j in range(rho.shape[1]):
            a = along[i, left[j]]
            # float32, in NumPy's order (SunGrid.cos_rows); a given field's value as it is, even when it
            # is not finite
            cos = (along[i, right[j]] - a) * weight[j] + a if interpolate else a
            r = rho[i, j] * factor
            r = r / cos
            q = qa[i, j]
            if q & qa_nodata:
                r = nan
            rho[i, j] = r
            if blocks:
                sums[bi, block_of[j]] += r
            if not np.isfinite(r):
                qa[i, j] = q | qa_nodata
                out[i, j] = nodata
                continue
            c = np.rint(r * inverse - shift)
            if c < lo:
                c = lo
            elif c > hi:
                c = hi
            out[i, j] = np.uint16(c)


def toa_encode_rows(radiance: np.ndarray, qa: np.ndarray, cos_zenith: np.ndarray | tuple[np.ndarray, ...],
                    factor: float, out: np.ndarray, encoding: Encoding = REFLECTANCE_ENCODING, qa_nodata: int = 1,
                    block_mean: np.ndarray | None = None, fine: int = 1) -> None:
    """Rows of a band on its output grid, in place: ``radiance`` (float32) becomes ρ = radiance · ``factor`` /
    ``cos_zenith`` (``factor`` = π d² / ESUN), NaN where ``qa`` has ``qa_nodata``; ``qa`` gets ``qa_nodata``
    where ρ is not finite; ``out`` (uint16) gets the counts of ``encoding`` (its nodata where ρ is NaN).
    ``cos_zenith``: the field (float32, the rows' shape), or its parts as
    :meth:`~rsarchive.geometry.ortho.SunGrid.cos_parts` gives them (interpolated per pixel, the same bits
    as the field from :meth:`~rsarchive.geometry.ortho.SunGrid.cos_rows`, without making it).
    ``block_mean``: also the mean ρ of each ``fine`` × ``fine`` block (NaN where one pixel has none); the
    rows must be whole blocks.  The same results as NumPy's passes (:func:`toa_reflectance` per pixel and
    :meth:`Encoding.encode`), but that an infinite ρ is no data here (NumPy's encoding clipped it)."""
    shape = radiance.shape
    if radiance.dtype != np.float32 or qa.dtype != np.uint16 or out.dtype != np.uint16:
        raise UsageError("toa_encode_rows takes float32 radiance, uint16 QA and uint16 counts")
    if isinstance(cos_zenith, tuple):
        along, left, right, weight = cos_zenith
        along = np.ascontiguousarray(along, dtype=np.float32)
        if along.shape[0] != shape[0] or left.shape != (shape[1],) or right.shape != (shape[1],) \
                or weight.shape != (shape[1],) or weight.dtype != np.float32:
            raise UsageError(f"cos θs parts {along.shape}, {left.shape}, {right.shape}, {weight.shape} do not fit "
                             f"rows {shape}")
    else:
        if cos_zenith.shape != shape:
            raise UsageError(f"radiance {shape}, QA {qa.shape}, cos θs {cos_zenith.shape} and counts {out.shape} "
                             "differ")
        # the field as parts: each column its own node (not interpolated)
        along = np.ascontiguousarray(cos_zenith, dtype=np.float32)
        left = right = np.arange(shape[1])
        weight = np.zeros(shape[1], dtype=np.float32)
    if qa.shape != shape or out.shape != shape:
        raise UsageError(f"radiance {shape}, QA {qa.shape} and counts {out.shape} differ")
    sums = np.zeros((0, 0))
    if block_mean is not None:
        if shape[0] % fine or shape[1] % fine or block_mean.shape != (shape[0] // fine, shape[1] // fine):
            raise UsageError(f"rows {shape} are not whole {fine} × {fine} blocks of {block_mean.shape}")
        sums = np.zeros(block_mean.shape)
    inverse = np.float32(1.0 / encoding.scale)
    lo, hi = encoding.valid_range
    _toa_encode(radiance, qa, along, np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64), weight,
                isinstance(cos_zenith, tuple), np.float32(factor), np.uint16(qa_nodata), inverse,
                np.float32(encoding.offset * (1.0 / encoding.scale)), np.float32(lo), np.float32(hi),
                np.uint16(encoding.nodata), out, sums, int(fine))
    if block_mean is not None:
        np.divide(sums, fine * fine, out=block_mean)
