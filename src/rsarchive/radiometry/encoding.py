"""uint16 encodings of physical values: ``value = count · scale + offset``.

The scale and offset written in a COG (GDAL band scale/offset) and the ones the
catalog publishes (STAC ``raster:bands``) are the numbers of one
:class:`Encoding`, so they cannot disagree.

**Radiance (raw level).**  :func:`radiance_encoding` picks per band the finest
"nice" scale (1, 2 or 5 × 10ⁿ W m⁻² sr⁻¹ µm⁻¹ per count) whose 65 535 counts
cover every radiance the CPF can produce — from DN 0 to the saturation level,
over ±``temp_margin_c`` of focal-plane temperature around ``T_ref`` — and a
whole-number negative offset so the small negative radiances of noisy dark
pixels stay representable.  For the reference CPFs that is 0.01 W m⁻² sr⁻¹ µm⁻¹
per count (±0.005 rounding, < 0.01 % of a typical land radiance).  **Count 0 is
nodata**; valid values are clipped to counts 1 … 65 535.

**Reflectance (product level).**  :data:`REFLECTANCE_ENCODING`: ρ × 10 000
(scale 1e-4, offset 0), count 0 nodata, valid values clipped to 1 … 65 535.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rsarchive.cpf import CPF, BandCalibration
from rsarchive.errors import CalibrationError

__all__ = ["Encoding", "RADIANCE_UNITS", "REFLECTANCE_ENCODING", "radiance_encoding"]

RADIANCE_UNITS = "W m-2 sr-1 um-1"
_NICE = (1.0, 2.0, 5.0)
_MAX_COUNT = 65535


@dataclass(frozen=True)
class Encoding:
    """``value = count · scale + offset``; ``nodata`` count means no value."""

    scale: float
    offset: float
    nodata: int = 0
    units: str = ""
    dtype: str = "uint16"

    @property
    def valid_range(self) -> tuple[int, int]:
        """The counts that hold values (all uint16 counts but the nodata one, which is 0 or 65535)."""
        return (1, _MAX_COUNT) if self.nodata == 0 else (0, _MAX_COUNT - 1)

    def encode(self, values: ArrayLike, out: np.ndarray | None = None, inplace: bool = False) -> np.ndarray:
        """Physical values (float; NaN = no data) → uint16 counts (rounded, clipped to the valid range).

        ``inplace=True`` lets the computation overwrite ``values`` (a float array
        the caller owns) instead of allocating a work array: five in-place passes
        and the uint16 result.
        """
        v = np.asarray(values)
        if inplace and v.dtype.kind == "f" and v.flags.writeable:
            work = v
        else:
            work = np.array(v, dtype=np.float32 if v.dtype == np.float32 else np.float64)
        inverse = 1.0 / self.scale
        work *= work.dtype.type(inverse)
        work -= work.dtype.type(self.offset * inverse)
        np.rint(work, out=work)
        lo, hi = self.valid_range
        np.clip(work, lo, hi, out=work)
        has_nan = not np.isfinite(np.add.reduce(work, axis=None))  # a cheap pass; NaN survives the sum
        if out is None:
            out = np.empty(work.shape, dtype=np.uint16)
        with np.errstate(invalid="ignore"):
            np.copyto(out, work, casting="unsafe")
        if has_nan:
            np.copyto(out, self.nodata, where=np.isnan(work), casting="unsafe")
        return out

    def decode(self, counts: ArrayLike, dtype: Any = np.float32) -> np.ndarray:
        """uint16 counts → physical values (NaN where nodata)."""
        c = np.asarray(counts)
        values = c.astype(dtype) * dtype(self.scale) + dtype(self.offset)
        values[c == self.nodata] = np.nan
        return values

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "offset": self.offset, "nodata": self.nodata, "units": self.units,
                "data_type": self.dtype}


REFLECTANCE_ENCODING = Encoding(scale=1e-4, offset=0.0, nodata=0, units="1")
"""TOA reflectance × 10 000 in uint16 (the product level's encoding)."""


def radiance_encoding(cpf: CPF, band: str | int | BandCalibration, temp_margin_c: float = 30.0) -> Encoding:
    """The uint16 radiance encoding of a CPF band (see the module docstring)."""
    cal = cpf.band(band)
    a = 1.0 / (cal.gain * cal.relative_gain)
    shift = abs(cal.dark_temp_coeff) * temp_margin_c
    lowest = float(np.min((0.0 - cal.dark - shift) * a))
    highest = float(np.max((cal.saturation - cal.dark + shift) * a))
    if not (math.isfinite(lowest) and math.isfinite(highest)):
        raise CalibrationError(f"CPF {cpf.version} band {cal.name}: radiance range is not finite")
    offset = float(math.floor(min(lowest, 0.0)))
    span = highest - offset
    for exponent in range(-4, 7):
        for mantissa in _NICE:
            scale = float(f"{mantissa:g}e{exponent}")
            if span / scale <= _MAX_COUNT - 2:
                return Encoding(scale=scale, offset=offset, nodata=0, units=RADIANCE_UNITS)
    raise CalibrationError(f"CPF {cpf.version} band {cal.name}: radiance range {lowest:g} … {highest:g} "
                           "cannot be encoded in uint16")
