"""Orthorectification kernels: a sensor-geometry image resampled onto an output grid.

For every output cell the image coordinate of its ground point comes from
:class:`~rsarchive.geometry.image_coordinates.ImageCoordinates` (the RPC at coarse
nodes, bilinear in between, plus height × parallax with a DEM), and the
image is sampled there.  One pass gives the band *and* its QA bitfield (nearest
neighbour, from the same coordinates).

The kernels follow GDAL's warper (the reference: ``tests/geometry/test_resample.py``
compares the two) in everything but the transformer:

- pixel centres at integer image coordinates (the RPC's convention); a cell whose
  coordinate falls outside the image, or whose containing pixel is ``nodata``,
  gets no data (NaN; QA ``qa_fill``);
- ``cubic``: Keys' cubic convolution (a = −0.5) on the 4 × 4 pixels around the
  point, as GDAL's with ``XSCALE = YSCALE = 1``; taps outside the image or at
  ``nodata`` are left out and the weights of the rest renormalised (as GDAL: not
  when their sum is within 1e-5 of 1; no data when it is below 1e-6);
  ``bilinear`` likewise on 2 × 2; ``nearest``: the containing pixel;
- arithmetic in double precision, the result rounded once to float32.

Our coordinates are within 0.001 px of the RPC (tested); GDAL's transformer puts
the cells slightly elsewhere, so the two differ a little where the image has sharp
edges.  The tests check agreement with GDAL's warper on a simulated scene.
:func:`resample` holds no shared state: calls may run in parallel, and its own
threads give the same result as one.
(why: docs/DECISIONS.md, Resampling: our own kernel, not GDAL's warper, for the products)
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from rsarchive.errors import ProcessingError
from rsarchive.geometry.image_coordinates import ImageCoordinates
from rsarchive.geometry.ortho import OrthoGrid

__all__ = ["KINDS", "resample"]

log = logging.getLogger(__name__)

KINDS = {"nearest": 0, "bilinear": 1, "cubic": 2}
"""Resampling kernels and their codes in the compiled kernel."""
_ROWS_PER_TASK = 64
"""Output rows per task: small enough to share the rows out evenly between threads."""


@njit(inline="always")
def _keys(t: float) -> float:
    """Keys' cubic convolution kernel, a = −0.5 (GDAL's ``cubic``)."""
    t = abs(t)
    if t < 1.0:
        return (1.5 * t - 2.5) * t * t + 1.0
    if t < 2.0:
        return ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0
    return 0.0


@njit(inline="always")
def _at_row(field: np.ndarray, k0: int, k1: int, t: float, out: np.ndarray) -> None:
    for c in range(field.shape[1]):
        out[c] = field[k0, c] + (field[k1, c] - field[k0, c]) * t


@njit(nogil=True, cache=True)
def _resample_rows(image: np.ndarray, nodata: float, has_nodata: bool, kind: int,
                   node_rows: np.ndarray, node_cols: np.ndarray, line_a: np.ndarray, line_p: np.ndarray,
                   samp_a: np.ndarray, samp_p: np.ndarray, heights: np.ndarray, has_heights: bool,
                   qa: np.ndarray, has_qa: bool, qa_fill: int, r0: int, r1: int,
                   out: np.ndarray, qa_out: np.ndarray, scale: np.float32, offset: np.float32,
                   rescale: bool) -> None:  # pragma: no cover - compiled
    """Output rows ``r0`` … ``r1 - 1`` into ``out`` / ``qa_out`` (their row 0 is grid row ``r0``)."""
    h, w = image.shape
    n_rows, n_cols = node_rows.shape[0], node_cols.shape[0]
    width = out.shape[1]
    la = np.empty(n_cols)
    lp = np.empty(n_cols)
    sa = np.empty(n_cols)
    sp = np.empty(n_cols)
    wy = np.empty(4)
    wx = np.empty(4)
    # each column's node interval and position in it: the same for every row
    col_m = np.empty(width, np.int64)
    col_u = np.empty(width)
    m = 0
    for j in range(width):
        while m < n_cols - 2 and node_cols[m + 1] <= j:
            m += 1
        m1 = min(m + 1, n_cols - 1)
        col_m[j] = m
        col_u[j] = (j - node_cols[m]) / (node_cols[m1] - node_cols[m]) if m1 > m else 0.0
    k = 0
    for i in range(r0, r1):
        while k < n_rows - 2 and node_rows[k + 1] <= i:
            k += 1
        k1 = min(k + 1, n_rows - 1)
        t = (i - node_rows[k]) / (node_rows[k1] - node_rows[k]) if k1 > k else 0.0
        _at_row(line_a, k, k1, t, la)
        _at_row(samp_a, k, k1, t, sa)
        if has_heights:
            _at_row(line_p, k, k1, t, lp)
            _at_row(samp_p, k, k1, t, sp)
        o = i - r0
        for j in range(width):
            m = col_m[j]
            m1 = min(m + 1, n_cols - 1)
            u = col_u[j]
            line = la[m] + (la[m1] - la[m]) * u
            samp = sa[m] + (sa[m1] - sa[m]) * u
            if has_heights:
                z = heights[i, j]
                line += z * (lp[m] + (lp[m1] - lp[m]) * u)
                samp += z * (sp[m] + (sp[m1] - sp[m]) * u)
            # the containing pixel (pixel centres at integers)
            if not (line >= -0.5 and line < h - 0.5 and samp >= -0.5 and samp < w - 0.5):
                out[o, j] = np.nan
                if has_qa:
                    qa_out[o, j] = qa_fill
                continue
            ci = int(math.floor(line + 0.5))
            cj = int(math.floor(samp + 0.5))
            if has_qa:
                qa_out[o, j] = qa[ci, cj]
            centre = image[ci, cj]
            if has_nodata and centre == nodata:
                out[o, j] = np.nan
                continue
            if kind == 0:
                out[o, j] = centre
                continue
            fi = math.floor(line)
            fj = math.floor(samp)
            dy = line - fi
            dx = samp - fj
            i0 = int(fi)
            j0 = int(fj)
            if kind == 2:
                wy[0], wy[1], wy[2], wy[3] = _keys(1.0 + dy), _keys(dy), _keys(1.0 - dy), _keys(2.0 - dy)
                wx[0], wx[1], wx[2], wx[3] = _keys(1.0 + dx), _keys(dx), _keys(1.0 - dx), _keys(2.0 - dx)
                if 1 <= i0 < h - 2 and 1 <= j0 < w - 2:
                    # all 16 taps inside the image: no bounds to check, and when none is no-data the
                    # sum below is the general one's, term for term (the same value to the bit)
                    acc = 0.0
                    clean = True
                    for a in range(4):
                        ii = i0 - 1 + a
                        v0, v1, v2, v3 = image[ii, j0 - 1], image[ii, j0], image[ii, j0 + 1], image[ii, j0 + 2]
                        if has_nodata and (v0 == nodata or v1 == nodata or v2 == nodata or v3 == nodata):
                            clean = False
                            break
                        acc += wy[a] * (wx[0] * v0 + wx[1] * v1 + wx[2] * v2 + wx[3] * v3)
                    if clean:
                        out[o, j] = acc
                        continue
                first, taps = -1, 4
            else:
                wy[0], wy[1] = 1.0 - dy, dy
                wx[0], wx[1] = 1.0 - dx, dx
                first, taps = 0, 2
            acc = 0.0
            weight = 0.0
            for a in range(taps):
                ii = i0 + first + a
                if ii < 0 or ii >= h:
                    continue
                row_acc = 0.0
                row_weight = 0.0
                for b in range(taps):
                    jj = j0 + first + b
                    if jj < 0 or jj >= w:
                        continue
                    v = image[ii, jj]
                    if has_nodata and v == nodata:
                        continue
                    row_acc += wx[b] * v
                    row_weight += wx[b]
                acc += wy[a] * row_acc
                weight += wy[a] * row_weight
            if abs(weight) < 1e-6:
                out[o, j] = np.nan
            elif abs(weight - 1.0) > 1e-5:
                out[o, j] = acc / weight
            else:
                out[o, j] = acc
        if rescale:  # the row while it is in cache, in float32 as NumPy would
            for j in range(width):
                out[o, j] = out[o, j] * scale + offset


def resample(image: np.ndarray, coords: ImageCoordinates, *, kind: str = "cubic", nodata: float | None = 0,
             heights: np.ndarray | None = None, qa: np.ndarray | None = None, qa_fill: int = 1,
             threads: int = 1, scale: float = 1.0, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray | None]:
    """``image`` (sensor geometry) on ``coords.grid``: float32, NaN without data; and, when ``qa`` (the
    image's QA bitfield, its shape) is given, the QA by nearest neighbour (``qa_fill`` outside the image).
    ``scale``, ``offset``: the result is ``value · scale + offset`` (float32, e.g. counts → radiance).

    ``heights``: terrain height of every output cell (m, the grid's shape), for coordinates built
    with a height range; ``None``: the ellipsoid.  The rows are shared out to ``threads`` threads
    (numba releases the GIL); the result does not depend on their number.
    """
    grid: OrthoGrid = coords.grid
    if kind not in KINDS:
        raise ProcessingError(f"unknown resampling {kind!r}: expected one of {', '.join(KINDS)}")
    if image.ndim != 2 or image.size == 0:
        raise ProcessingError(f"image to resample must be a non-empty 2-D array, not shape {image.shape}")
    if qa is not None and qa.shape != image.shape:
        raise ProcessingError(f"QA {qa.shape} does not match the image {image.shape}")
    shape = (grid.height, grid.width)
    if heights is not None and heights.shape != shape:
        raise ProcessingError(f"heights {heights.shape} do not match the grid {shape}")
    line_a, line_p = coords.nodes["line"]
    samp_a, samp_p = coords.nodes["samp"]
    if heights is not None and not (np.any(line_p) or np.any(samp_p)):
        raise ProcessingError("heights given but the image coordinates were built without a height range")
    out = np.empty(shape, dtype=np.float32)
    qa_out = np.empty(shape if qa is not None else (1, 1), dtype=np.uint16)
    f64 = [np.ascontiguousarray(a, dtype=np.float64) for a in (coords.rows, coords.cols, line_a, line_p, samp_a, samp_p)]
    z = np.ascontiguousarray(heights, dtype=np.float32) if heights is not None else np.zeros((1, 1), np.float32)
    q = np.ascontiguousarray(qa, dtype=np.uint16) if qa is not None else np.zeros((1, 1), np.uint16)
    src = np.ascontiguousarray(image)
    fill = float(nodata) if nodata is not None else 0.0
    rescale = np.float32(scale) != 1 or np.float32(offset) != 0

    def rows(r0: int) -> None:
        r1 = min(grid.height, r0 + _ROWS_PER_TASK)
        _resample_rows(src, fill, nodata is not None, KINDS[kind], *f64, z, heights is not None, q, qa is not None,
                       int(qa_fill), r0, r1, out[r0:r1], qa_out[r0:r1] if qa is not None else qa_out,
                       np.float32(scale), np.float32(offset), rescale)

    starts = range(0, grid.height, _ROWS_PER_TASK)
    if threads <= 1:
        for r0 in starts:
            rows(r0)
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="resample") as pool:
            for _ in pool.map(rows, starts):
                pass
    log.debug("resampled %s → %d × %d (%s)", image.shape, grid.height, grid.width, kind)
    return out, (qa_out if qa is not None else None)

