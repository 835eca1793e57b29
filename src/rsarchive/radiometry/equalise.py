"""Equalisation: level-0 DNs → at-sensor spectral radiance and the QA bitfield.

Spec §4 inverse model, per band b, detector i, line l::

    L = (DN − D_i − k·(T_l − T_ref)) / (G · r_i)

with ``T_l`` the focal-plane temperature interpolated from the housekeeping
series to the line's time.  :class:`BandEqualiser` precomputes per-detector
factors so the pixel work is **one multiply-add**::

    L = DN · a_i + b_i(T),      a_i = 1/(G r_i),   b_i(T) = −(D_i + k(T − T_ref)) · a_i

The dark shift ``k(T − T_ref)`` changes slowly (≈ 0.002 DN per second for the
reference instrument), so lines are grouped into runs whose shift stays within
``tolerance_dn`` (default 0.01 DN, a hundredth of the DN quantisation step) of
the run's value and ``b`` is computed once per run: usually one run per block.

Then, per block of lines:

- **dead detectors** (CPF ``dead``) are filled by linear interpolation between
  the nearest good detectors on each side (copied from the only neighbour at
  an edge) and flagged :data:`~rsarchive.radiometry.qa.QA_FILLED`; a filled
  pixel next to a saturated one is flagged saturated too;
- **saturated** pixels (DN ≥ CPF saturation) keep their value (a lower bound)
  and are flagged :data:`~rsarchive.radiometry.qa.QA_SATURATED`;
- **lost or unreadable lines** (level-0 line flag ≠ 0) become NaN and
  ``QA_NODATA | QA_LOST``;
- lines whose temperature was interpolated over a housekeeping gap are
  flagged :data:`~rsarchive.radiometry.qa.QA_ANCILLARY` (then ``T_ref`` is used
  where there is no housekeeping at all).

Everything is float32 NumPy on whole blocks; :func:`equalise_dask` maps it over
the line chunks of a Dask array (lazy, one chunk = one block of lines).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rsarchive.cpf import CPF, BandCalibration
from rsarchive.errors import CalibrationError
from rsarchive.radiometry.encoding import Encoding
from rsarchive.radiometry.qa import QA_ANCILLARY, QA_FILLED, QA_LOST, QA_NODATA, QA_SATURATED

log = logging.getLogger(__name__)

__all__ = ["BandEqualiser", "equalise_dask", "line_temperatures"]

_LINE_OK = 0  # rsarchive.level0.FLAG_OK (the radiometry does not import the decoder)


def line_temperatures(
    line_times: ArrayLike,
    hk_times: ArrayLike,
    hk_temperature_c: ArrayLike,
    max_missing: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Focal-plane temperature at each line time, linear between housekeeping samples.

    Returns ``(temperature_c, degraded)`` (both shaped like ``line_times``).
    ``degraded`` is True for lines interpolated across a gap of more than
    ``max_missing`` housekeeping samples, or lying outside the sampled span by
    more than one sample step (held constant there).  Without any housekeeping
    every temperature is NaN and every line degraded.  NaT line times (lost
    lines) get NaN and are not flagged.
    """
    t_lines = np.asarray(line_times, dtype="datetime64[ns]")
    t_hk = np.asarray(hk_times, dtype="datetime64[ns]").ravel()
    temps = np.asarray(hk_temperature_c, dtype=np.float64).ravel()
    if t_hk.shape != temps.shape:
        raise CalibrationError(f"housekeeping: {t_hk.size} times but {temps.size} temperatures")
    keep = ~np.isnat(t_hk) & np.isfinite(temps)
    t_hk, temps = t_hk[keep], temps[keep]
    valid_line = ~np.isnat(t_lines)
    out = np.full(t_lines.shape, np.nan)
    degraded = np.zeros(t_lines.shape, dtype=bool)
    if t_hk.size == 0:
        degraded[valid_line] = True
        return out, degraded
    order = np.argsort(t_hk, kind="stable")
    t_hk, temps = t_hk[order], temps[order]
    epoch = t_hk[0]
    x_hk = (t_hk - epoch).astype(np.int64) * 1e-9
    x = (t_lines[valid_line] - epoch).astype(np.int64) * 1e-9
    out[valid_line] = np.interp(x, x_hk, temps)
    if x_hk.size == 1:
        return out, degraded
    step = float(np.median(np.diff(x_hk)))
    i = np.clip(np.searchsorted(x_hk, x, side="right") - 1, 0, x_hk.size - 2)
    gap = (x_hk[i + 1] - x_hk[i]) > (max_missing + 1) * step * (1 + 1e-6)
    outside = (x < x_hk[0] - step) | (x > x_hk[-1] + step)
    degraded[valid_line] = gap | outside
    return out, degraded


class BandEqualiser:
    """The per-detector factors of one CPF band, and the block operations.

    Build it once per band (``BandEqualiser(cpf, "B1")``); :meth:`radiance` and
    :meth:`quality` then work on any block of lines (lines × detectors uint16).
    """

    def __init__(self, cpf: CPF, band: str | int | BandCalibration, tolerance_dn: float = 0.01) -> None:
        cal = cpf.band(band)
        self.cpf_version = cpf.version
        self.band = cal
        self.name = cal.name
        self.detectors = cal.detectors
        self.t_ref_c = cpf.t_ref_c
        self.temp_coeff = cal.dark_temp_coeff
        self.saturation = cal.saturation
        self.tolerance_dn = float(tolerance_dn)
        for label, values in (("dark", cal.dark), ("relative_gain", cal.relative_gain)):
            if not np.all(np.isfinite(values)):
                raise CalibrationError(f"CPF {cpf.version} band {cal.name}: non-finite {label} values")
        if not (np.isfinite(cal.gain) and cal.gain > 0 and np.all(cal.relative_gain > 0)):
            raise CalibrationError(f"CPF {cpf.version} band {cal.name}: gains must be finite and > 0")
        a = 1.0 / (cal.gain * cal.relative_gain)                      # float64 (D,)
        self.inverse_gain = a.astype(np.float32)
        self._dark_times_a = cal.dark * a                             # float64 (D,)
        self._a64 = a
        dead = np.asarray(cal.dead, dtype=np.int64)
        self.dead = dead
        good = np.flatnonzero(~cal.dead_mask)
        self.all_dead = good.size == 0
        if dead.size and not self.all_dead:
            pos = np.searchsorted(good, dead)
            left = good[np.clip(pos - 1, 0, good.size - 1)]
            right = good[np.clip(pos, 0, good.size - 1)]
            left = np.where(pos == 0, right, left)           # no good detector on the left: copy the right one
            right = np.where(pos == good.size, left, right)  # … and symmetrically
            span = (right - left).astype(np.float64)
            weight = np.divide(dead - left, span, out=np.zeros(dead.size), where=span > 0)
            self._left, self._right = left, right
            self._w_right = weight.astype(np.float32)
            self._w_left = (1.0 - weight).astype(np.float32)
        else:
            self._left = self._right = np.zeros(0, dtype=np.int64)
            self._w_left = self._w_right = np.zeros(0, dtype=np.float32)

        import hashlib

        digest = hashlib.sha256()
        for part in (self.inverse_gain, self._dark_times_a, self.dead, np.array([self.temp_coeff, self.t_ref_c,
                                                                                   self.saturation, tolerance_dn])):
            digest.update(np.ascontiguousarray(part).tobytes())
        self._token = f"{cpf.version}:{cal.name}:{digest.hexdigest()[:16]}"

    def __dask_tokenize__(self) -> str:
        """A deterministic Dask token: the same factors give the same graph keys."""
        return self._token

    # -- factors ---------------------------------------------------------------------
    def offset(self, temperature_c: float | None = None) -> np.ndarray:
        """``b_i(T)`` (float32, D): the radiance of DN 0 at temperature ``T`` (None/NaN: T_ref)."""
        shift = self._shift(temperature_c)
        return (-(self._dark_times_a + shift * self._a64)).astype(np.float32)

    def _shift(self, temperature_c: float | None) -> float:
        if temperature_c is None or not np.isfinite(temperature_c):
            return 0.0
        return float(self.temp_coeff * (temperature_c - self.t_ref_c))

    def _runs(self, temperature_c: np.ndarray | None, n: int) -> list[tuple[int, int, float]]:
        """(start, stop, dark shift in DN) runs of lines whose shift varies by ≤ 2·tolerance."""
        if temperature_c is None:
            return [(0, n, 0.0)]
        t = np.asarray(temperature_c, dtype=np.float64).reshape(-1)
        if t.size != n:
            raise CalibrationError(f"band {self.name}: {t.size} line temperatures for {n} lines")
        shift = self.temp_coeff * (np.where(np.isfinite(t), t, self.t_ref_c) - self.t_ref_c)
        runs = []
        start = 0
        while start < n:
            seg = shift[start:]
            spread = np.maximum.accumulate(seg) - np.minimum.accumulate(seg)
            over = np.flatnonzero(spread > 2.0 * self.tolerance_dn)
            stop = start + (int(over[0]) if over.size else seg.size)
            values = shift[start:stop]
            runs.append((start, stop, 0.5 * float(values.min() + values.max())))
            start = stop
        return runs

    def _check(self, dns: np.ndarray) -> None:
        if dns.ndim != 2 or dns.shape[1] != self.detectors:
            raise CalibrationError(f"CPF {self.cpf_version} band {self.name} has {self.detectors} detectors, "
                                   f"the level-0 lines have {dns.shape[-1] if dns.ndim else 0} pixels")

    # -- block operations ------------------------------------------------------------
    def radiance(
        self,
        dns: np.ndarray,
        temperature_c: ArrayLike | None = None,
        flags: ArrayLike | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """At-sensor radiance (float32, W m⁻² sr⁻¹ µm⁻¹) of a block of DNs (lines × detectors).

        ``temperature_c`` (lines,) focal-plane temperatures (None/NaN: T_ref);
        ``flags`` (lines,) level-0 line flags (≠ 0: lost → NaN).  Dead
        detectors are filled from their neighbours.
        """
        dns = np.asarray(dns)
        self._check(dns)
        n = dns.shape[0]
        if out is None:
            out = np.empty(dns.shape, dtype=np.float32)
        a = self.inverse_gain
        temps = None if temperature_c is None else np.asarray(temperature_c, dtype=np.float64)
        for start, stop, shift in self._runs(temps, n):
            b = (-(self._dark_times_a + shift * self._a64)).astype(np.float32)
            block = out[start:stop]
            np.multiply(dns[start:stop], a, out=block)
            np.add(block, b, out=block)
        if self.all_dead:
            out[...] = np.nan
        elif self.dead.size:
            out[:, self.dead] = out[:, self._left] * self._w_left + out[:, self._right] * self._w_right
        if flags is not None:
            lost = np.asarray(flags).reshape(-1) != _LINE_OK
            if lost.any():
                out[lost] = np.nan
        return out

    def quality(
        self,
        dns: np.ndarray,
        flags: ArrayLike | None = None,
        degraded: ArrayLike | None = None,
    ) -> np.ndarray:
        """The QA bitfield (uint16, lines × detectors) of a block (see :mod:`rsarchive.radiometry.qa`)."""
        dns = np.asarray(dns)
        self._check(dns)
        qa = np.greater_equal(dns, self.saturation).view(np.uint8).astype(np.uint16)
        qa <<= 3  # QA_SATURATED
        if self.all_dead:
            qa[...] = QA_NODATA | QA_FILLED
        elif self.dead.size:
            neighbours = (qa[:, self._left] | qa[:, self._right]) & QA_SATURATED
            qa[:, self.dead] = neighbours | QA_FILLED
        if degraded is not None:
            bad = np.asarray(degraded, dtype=bool).reshape(-1)
            if bad.any():
                qa[bad] |= QA_ANCILLARY
        if flags is not None:
            lost = np.asarray(flags).reshape(-1) != _LINE_OK
            if lost.any():
                qa[lost] = QA_NODATA | QA_LOST
        return qa


def equalise_dask(
    equaliser: BandEqualiser,
    dns: Any,
    temperature_c: ArrayLike | None = None,
    flags: ArrayLike | None = None,
    degraded: ArrayLike | None = None,
    encoding: Encoding | None = None,
) -> tuple[Any, Any]:
    """Lazy radiance (float32) and QA (uint16) Dask arrays of a (lines × detectors) DN array.

    With ``encoding`` the first array is the radiance already encoded in uint16
    counts (:meth:`Encoding.encode`, fused in the same task: the float block is
    encoded in place, never kept).

    ``dns`` is a Dask array (or anything :func:`dask.array.asarray` takes); it
    is rechunked to whole lines (the dead-detector fill needs the neighbours).
    The per-line vectors are NumPy (small) and follow the line chunks.  Nothing
    is computed here.
    """
    import dask.array as da

    dns = da.asarray(dns)
    if dns.ndim != 2 or dns.shape[1] != equaliser.detectors:
        raise CalibrationError(f"CPF {equaliser.cpf_version} band {equaliser.name} has {equaliser.detectors} "
                               f"detectors, the level-0 lines have {dns.shape[-1] if dns.ndim else 0} pixels")
    if len(dns.chunks[1]) != 1:
        dns = dns.rechunk({1: -1})
    n = dns.shape[0]

    def per_line(values: ArrayLike | None, fill: Any, dtype: Any) -> Any:
        array = np.full(n, fill, dtype=dtype) if values is None else np.asarray(values, dtype=dtype).reshape(-1)
        if array.size != n:
            raise CalibrationError(f"band {equaliser.name}: {array.size} per-line values for {n} lines")
        return da.from_array(array[:, None], chunks=(dns.chunks[0], (1,)))

    temps = per_line(temperature_c, np.nan, np.float64)
    line_flags = per_line(flags, _LINE_OK, np.uint8)
    bad = per_line(degraded, False, bool)

    if encoding is None:
        radiance = da.map_blocks(_radiance_block, dns, temps, line_flags, equaliser=equaliser, dtype=np.float32,
                                 token=f"radiance-{equaliser.name}")
    else:
        radiance = da.map_blocks(_counts_block, dns, temps, line_flags, equaliser=equaliser, encoding=encoding,
                                 dtype=np.uint16, token=f"radiance-counts-{equaliser.name}")
    qa = da.map_blocks(_quality_block, dns, line_flags, bad, equaliser=equaliser, dtype=np.uint16,
                       token=f"qa-{equaliser.name}")
    return radiance, qa


def _radiance_block(dns: np.ndarray, temps: np.ndarray, flags: np.ndarray, equaliser: BandEqualiser) -> np.ndarray:
    return equaliser.radiance(dns, temps[:, 0], flags[:, 0])


def _counts_block(dns: np.ndarray, temps: np.ndarray, flags: np.ndarray, equaliser: BandEqualiser,
                  encoding: Encoding) -> np.ndarray:
    return encoding.encode(equaliser.radiance(dns, temps[:, 0], flags[:, 0]), inplace=True)


def _quality_block(dns: np.ndarray, flags: np.ndarray, degraded: np.ndarray, equaliser: BandEqualiser) -> np.ndarray:
    return equaliser.quality(dns, flags[:, 0], degraded[:, 0])
