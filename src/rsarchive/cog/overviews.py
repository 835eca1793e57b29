"""COG overview levels of 8- and 16-bit bands, as GDAL's ``BuildOverviews`` computes them, faster.

GDAL computes ``average`` levels of a band with no-data each from the
full-resolution band and ``mode`` levels each from the level before; these kernels
give the same cells, faster and without the GIL (numba, ``nogil``).
(why: docs/DECISIONS.md, Overview kernels instead of GDAL's `BuildOverviews`)

GDAL's rules (``gcore/overview.cpp``), for an overview of ``ow × oh`` cells of a
``w × h`` band (``ow = ceil(w / factor)``, :func:`overview_size`):

- cell ``j`` covers source columns ``[int(j·r + 1e-8), ceil((j+1)·r − 1e-8))``
  with ``r = w / ow`` (at least one, clipped to the band); rows alike;
- ``average`` (bands with no-data): pixels at no-data are left out; the first and
  last column count with the fraction of them inside ``[j·r, (j+1)·r)`` (1 when
  ``r`` is a whole number), rows alike, a pixel with the product of its two
  weights; the cell is ``int(Σ w·v / Σ w + 0.5)``, no-data when no pixel counts,
  no-data's neighbour (``nodata ± 1``) when the average rounds to no-data;
- ``mode``: the most frequent value (no-data left out, if any); of values tied
  for most, the one that got there first in row-major order.

The one difference, by choice: GDAL reads the band in chunks of rows (512 rows
of a PAN band) and, where a cell's window crosses a chunk's first row, counts
only the part inside the chunk, so a row of cells every 512 source rows of the
levels with fractional windows averages part of its window.  Here every cell is
its whole window; the tests compare with GDAL asked to read the band in one
chunk (``GDAL_OVR_CHUNKYSIZE``) and find every cell equal.

How: ``average`` levels whose cells are whole blocks sum integers (exact, so the
order of the sums does not matter).  Other levels sum each row of cells' rows
column by column, then the columns of each cell, in an order other than GDAL's
pixel by pixel: that can change the last bits of an average, which changes the
cell only when the average is within rounding distance of a half; such cells
(about one in a million) are computed again in GDAL's order.  ``mode``: a
uniform window is its value; the others are counted in GDAL's order.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from rsarchive.errors import ProcessingError

__all__ = ["average_overviews", "is_value", "mode_overviews", "overview_size"]

log = logging.getLogger(__name__)


def overview_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """An overview's (width, height): GDAL's, rounded up."""
    return -(-width // factor), -(-height // factor)


@njit(nogil=True, cache=True)
def _windows(n_src: int, n_dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per destination cell: first and end source index, weight of the first and of the last."""
    ratio = n_src / n_dst
    lo = np.empty(n_dst, np.int64)
    hi = np.empty(n_dst, np.int64)
    w_lo = np.empty(n_dst, np.float64)
    w_hi = np.empty(n_dst, np.float64)
    for d in range(n_dst):
        a = d * ratio
        b = (d + 1) * ratio
        i0 = int(a + 1e-8)
        i1 = int(math.ceil(b - 1e-8))
        if i0 < 0:
            i0 = 0
        if i1 == i0:
            i1 += 1
        if i1 > n_src:
            i1 = n_src
        lo[d] = i0
        hi[d] = i1
        w_lo[d] = 1.0 if i1 == i0 + 1 else 1.0 - (a - i0)
        w_hi[d] = 1.0 - (i1 - b)
    return lo, hi, w_lo, w_hi


@njit(nogil=True, cache=True)
def _cell_gdal_order(src: np.ndarray, nodata: int, c0: int, c1: int, wl: float, wr: float,
                     r0: int, r1: int, wb: float, wt: float) -> tuple[float, float, int]:
    """One cell's weighted sum, weight and count, pixel by pixel in GDAL's order."""
    total = 0.0
    weight = 0.0
    count = 0
    for r in range(r0, r1):
        line_t = 0.0
        line_w = 0.0
        v = src[r, c0]
        if v != nodata:
            count += 1
            line_w = wl
            line_t = float(v) * wl
        if c0 < c1 - 1:
            for c in range(c0 + 1, c1 - 1):
                v = src[r, c]
                if v != nodata:
                    count += 1
                    line_w += 1.0
                    line_t += float(v)
            v = src[r, c1 - 1]
            if v != nodata:
                count += 1
                line_w += wr
                line_t += float(v) * wr
        wy = wb if r == r0 else (wt if r + 1 == r1 else 1.0)
        total += line_t * wy
        weight += line_w * wy
    return total, weight, count


@njit(nogil=True, cache=True, inline="always")
def _column_sums(src: np.ndarray, nodata: int, r0: int, r1: int, sums: np.ndarray, counts: np.ndarray) -> None:
    """Sum and count of the pixels with data in rows ``r0 … r1 − 1``, column by column."""
    sums[:] = 0
    counts[:] = 0
    for r in range(r0, r1):
        row = src[r]
        for c in range(sums.shape[0]):
            v = np.int64(row[c])
            m = np.int64(v != nodata)
            sums[c] += v * m
            counts[c] += m


@njit(nogil=True, cache=True)
def _whole_blocks(src: np.ndarray, nodata: int, replacement: int, fx: int, fy: int, out: np.ndarray) -> None:
    """A level whose cells are whole ``fx × fy`` blocks: every weight is 1 and the sums exact integers
    (so the cells are GDAL's whatever the order of the sums)."""
    oh, ow = out.shape
    w = ow * fx
    sums = np.zeros(w, np.int64)
    counts = np.zeros(w, np.int64)
    for d in range(oh):
        _column_sums(src, nodata, d * fy, d * fy + fy, sums, counts)
        for j in range(ow):
            if fx == 2:
                t = sums[2 * j] + sums[2 * j + 1]
                n = counts[2 * j] + counts[2 * j + 1]
            else:
                t = 0
                n = 0
                for c in range(j * fx, j * fx + fx):
                    t += sums[c]
                    n += counts[c]
            if n == 0:
                out[d, j] = nodata
            else:
                value = int(float(t) / float(n) + 0.5)
                out[d, j] = replacement if value == nodata else value


@njit(nogil=True, cache=True)
def _average_level(src: np.ndarray, nodata: int, replacement: int, out: np.ndarray) -> int:
    """One overview level of any size into ``out``; returns how many cells were computed again in GDAL's
    order.  Each row of cells first sums its rows column by column (the first and last with their
    weights), then each cell sums its columns (the first and last with theirs)."""
    h, w = src.shape
    oh, ow = out.shape
    xlo, xhi, xwl, xwr = _windows(w, ow)
    ylo, yhi, ywb, ywt = _windows(h, oh)
    fx = w // ow if w % ow == 0 else 0  # whole columns per cell, 0 where cells have fractional columns
    # how far an inexactly computed average can be from GDAL's: 4 · pixels · ε · 65535, with a margin
    near = 1e-9 + 1e-10 * (w / ow + 2.0) * (h / oh + 2.0)
    inner_sums = np.zeros(w, np.int64)
    inner_counts = np.zeros(w, np.int64)
    col_t = np.zeros(w, np.float64)
    col_w = np.zeros(w, np.float64)
    col_n = np.zeros(w, np.int64)
    again = 0
    for d in range(oh):
        r0 = ylo[d]
        r1 = yhi[d]
        wb = ywb[d]
        wt = ywt[d] if r1 - r0 >= 2 else 0.0
        _column_sums(src, nodata, r0 + 1, r1 - 1, inner_sums, inner_counts)  # the rows of weight 1
        first = src[r0]
        last = src[r1 - 1]
        if r1 - r0 >= 2:
            for c in range(w):
                v0 = np.int64(first[c])
                m0 = np.int64(v0 != nodata)
                v1 = np.int64(last[c])
                m1 = np.int64(v1 != nodata)
                col_t[c] = (float(v0 * m0) * wb + float(inner_sums[c])) + float(v1 * m1) * wt
                col_w[c] = (float(m0) * wb + float(inner_counts[c])) + float(m1) * wt
                col_n[c] = m0 + inner_counts[c] + m1
        else:
            for c in range(w):
                v0 = np.int64(first[c])
                m0 = np.int64(v0 != nodata)
                col_t[c] = float(v0 * m0) * wb
                col_w[c] = float(m0) * wb
                col_n[c] = m0
        y_exact = wb == 1.0 and (wt == 1.0 or r1 - r0 == 1)
        for j in range(ow):
            c0 = xlo[j]
            c1 = xhi[j]
            wl = xwl[j]
            wr = xwr[j]
            if fx == 2:
                total = col_t[c0] + col_t[c0 + 1]
                weight = col_w[c0] + col_w[c0 + 1]
                count = col_n[c0] + col_n[c0 + 1]
            elif fx:
                total = 0.0
                weight = 0.0
                count = 0
                for c in range(c0, c1):
                    total += col_t[c]
                    weight += col_w[c]
                    count += col_n[c]
            else:
                total = col_t[c0] * wl
                weight = col_w[c0] * wl
                count = col_n[c0]
                if c1 - c0 >= 2:
                    for c in range(c0 + 1, c1 - 1):
                        total += col_t[c]
                        weight += col_w[c]
                        count += col_n[c]
                    total += col_t[c1 - 1] * wr
                    weight += col_w[c1 - 1] * wr
                    count += col_n[c1 - 1]
            if count == 0:
                out[d, j] = nodata
                continue
            x = total / weight + 0.5
            if not (y_exact and fx):  # fractional weights: is it near a half?
                f = x - math.floor(x)
                if f < near or f > 1.0 - near:
                    again += 1
                    total, weight, _ = _cell_gdal_order(src, nodata, c0, c1, wl, wr, r0, r1, wb, ywt[d])
                    x = total / weight + 0.5
            value = int(x)
            out[d, j] = replacement if value == nodata else value
    return again


@njit(nogil=True, cache=True)
def _mode_window(src: np.ndarray, has_nodata: bool, nodata: int, c0: int, c1: int, r0: int, r1: int,
                 values: np.ndarray, counts: np.ndarray) -> int:
    """GDAL's mode of a window: its values in scan order, each counted; the leader changes only when
    a value's count passes the leader's (so of values tied for most, the first to get there wins)."""
    distinct = 0
    leader = 0
    for r in range(r0, r1):
        for c in range(c0, c1):
            v = src[r, c]
            if has_nodata and v == nodata:
                continue
            i = 0
            while i < distinct:
                if values[i] == v:
                    counts[i] += 1
                    if counts[i] > counts[leader]:
                        leader = i
                    break
                i += 1
            if i == distinct:
                values[distinct] = v
                counts[distinct] = 1
                distinct += 1
    if distinct == 0:
        return nodata if has_nodata else 0
    return values[leader]


@njit(nogil=True, cache=True)
def _mode_level(src: np.ndarray, has_nodata: bool, nodata: int, out: np.ndarray) -> int:
    """One ``mode`` overview level into ``out``; returns the cells that needed a count (not uniform)."""
    h, w = src.shape
    oh, ow = out.shape
    xlo, xhi, _, _ = _windows(w, ow)
    ylo, yhi, _, _ = _windows(h, oh)
    size = (int(math.ceil(w / ow)) + 2) * (int(math.ceil(h / oh)) + 2)
    values = np.empty(size, src.dtype)
    counts = np.empty(size, np.int64)
    same = np.empty(w, np.bool_)  # the column is one value down the cell's rows
    counted = 0
    for d in range(oh):
        r0 = ylo[d]
        r1 = yhi[d]
        first = src[r0]
        same[:] = True
        for r in range(r0 + 1, r1):
            row = src[r]
            for c in range(w):
                same[c] &= row[c] == first[c]
        for j in range(ow):
            c0 = xlo[j]
            c1 = xhi[j]
            v = first[c0]
            uniform = True
            for c in range(c0, c1):
                if not same[c] or first[c] != v:
                    uniform = False
                    break
            if uniform:
                out[d, j] = v  # (all no-data: no-data, as GDAL)
            else:
                counted += 1
                out[d, j] = _mode_window(src, has_nodata, nodata, c0, c1, r0, r1, values, counts)
    return counted


def mode_overviews(band: np.ndarray, nodata: float | None, sizes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """The ``mode`` overviews of ``band`` (2-D unsigned integers) of ``sizes``, as GDAL's
    ``BuildOverviews`` computes them (``nodata``: None, or pixels left out).  Runs without the GIL.

    As GDAL, each level is the mode of the next larger one (cascaded).  A uniform cell is its value;
    any other is counted in GDAL's order, with its tie rule."""
    band, value = _checked(band, nodata, sizes, "mode")
    out: dict[tuple[int, int], np.ndarray] = {}
    source = band
    for ow, oh in sorted(set(sizes), key=lambda s: -s[0] * s[1]):  # each from the next larger, as GDAL
        level = np.empty((oh, ow), band.dtype)
        counted = _mode_level(source, value is not None, 0 if value is None else value, level)
        log.debug("mode overview %d × %d: %d cells counted", ow, oh, counted)
        out[(ow, oh)] = source = level
    return [out[tuple(s)] for s in sizes]


def _checked(band: np.ndarray, nodata: float | None, sizes: Sequence[tuple[int, int]],
             what: str) -> tuple[np.ndarray, int | None]:
    """The band (C-contiguous) and its no-data as an integer, after checking both and the sizes."""
    if band.ndim != 2 or band.dtype not in (np.uint8, np.uint16):
        raise ProcessingError(f"{what} overviews: a 2-D uint8 or uint16 band is needed, not {band.dtype} "
                              f"{band.shape}")
    h, w = band.shape
    if any(not (1 <= ow <= w and 1 <= oh <= h) for ow, oh in sizes):
        raise ProcessingError(f"{what} overviews: sizes {list(sizes)} do not fit a {w} × {h} band")
    if nodata is None:
        return np.ascontiguousarray(band), None
    if not is_value(nodata, band.dtype):
        raise ProcessingError(f"{what} overviews: no-data {nodata} is not a {band.dtype} value")
    return np.ascontiguousarray(band), int(nodata)


def is_value(number: float, dtype: np.dtype) -> bool:
    """Whether ``number`` is a value of the integer type ``dtype`` (a no-data these kernels can take)."""
    info = np.iinfo(dtype)
    return float(number).is_integer() and info.min <= number <= info.max


def average_overviews(band: np.ndarray, nodata: float, sizes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """The ``average`` overviews of ``band`` (2-D unsigned integers) of ``sizes`` ((width, height) each,
    as GDAL made the overview bands: :func:`overview_size`), as GDAL's ``BuildOverviews`` computes them
    for a band with no-data ``nodata``.  Runs without the GIL."""
    band, value = _checked(band, nodata, sizes, "average")
    if value is None:
        raise ProcessingError("average overviews: computed here only for a band with no-data")
    nodata = value
    info = np.iinfo(band.dtype)
    h, w = band.shape
    replacement = nodata - 1 if nodata == info.max else nodata + 1  # GDALGetNoDataReplacementValue
    results = []
    for ow, oh in sizes:
        out = np.empty((oh, ow), band.dtype)
        if w % ow == 0 and h % oh == 0:
            _whole_blocks(band, nodata, replacement, w // ow, h // oh, out)
            results.append(out)
            continue
        again = _average_level(band, nodata, replacement, out)
        if again:
            log.debug("average overview %d × %d: %d cells near a half computed in GDAL's order", ow, oh, again)
        results.append(out)
    return results
