"""Terrain occlusion (QA bit 5): ground the sensor could not see, hidden behind higher terrain.

Orthorectification with a DEM gives every cell of the output grid the image pixel its
ground point projects to.  Where terrain hides a point (behind a ridge, a cliff facing
away from the sensor) the ray through that image pixel stopped on the terrain in front,
so the warp fills the hidden cell with the *front* terrain's radiance a second time.
Those cells are flagged, not removed.

**Test.**  The image coordinate ``a`` (sample across track, line along track) of a ground
point at height ``h`` is ``a₀(x, y) + h·p(x, y)``, with ``p = ∂a/∂h`` the parallax of the
view.  Walking over the ground in the direction in which ``a`` grows for flat terrain,
with the view leaning that way (``p > 0``), visible points keep ``a`` growing (however
steep a slope facing the sensor, only slower); a point whose ``a`` falls below the
largest ``a`` already passed on the same image line is behind something that projects
past it: occluded.  Where the view leans the other way (``p < 0``: a swath seen around
nadir leans both ways) the walk goes backwards.  Both image axes are walked, so roll
(across track) and pitch (along track) views are covered.

The walks follow the ground direction along which the *other* image coordinate is
constant (the image line or column through the point), taken at the grid's centre
and followed as a digital line (row offsets rounded per column step).  Image
coordinates are the RPC's at the nodes of a coarse grid (every :data:`NODE_STEP`
cells, at two heights), interpolated bilinearly over the grid and linearly in
height (≪ 0.01 px here: the tests compare with the RPC itself).  A point is occluded
when it falls more than :data:`TOLERANCE_PX` behind.  Heights are the DEM warped
bilinearly onto the output grid, 0 m where it has none (as the warp).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from rsarchive.errors import ProcessingError
from rsarchive.geometry.ortho import OrthoGrid, grid_nodes
from rsarchive.geometry.rpc import RPCModel

__all__ = ["NODE_STEP", "TOLERANCE_PX", "ImageCoordinates", "dem_on_grid", "terrain_occlusion", "walk"]

log = logging.getLogger(__name__)

NODE_STEP = 16
"""Output cells between the nodes where the RPC is evaluated."""
TOLERANCE_PX = 0.05
"""How far (image pixels) behind the terrain already passed a point must project to count as hidden."""
_BLOCK = 256
"""Grid lines interpolated at once (bounds the temporaries)."""


def _lerp(nodes: np.ndarray, node_cols: np.ndarray, length: int, offset: bool = False) -> np.ndarray:
    """Lines of node values (n, nodes) interpolated linearly onto columns 0 … length - 1 (float32), as
    ``np.interp``.  The nodes are evenly spaced but for the last, which is the last column.  With
    ``offset`` the values (image coordinates of up to 10⁴ px) are interpolated as differences from
    each line's first node and the first node is added back: ≈ 0.001 px."""
    if len(node_cols) == 1:  # a grid one cell wide
        return np.repeat(nodes[:, :1], length, axis=1).astype(np.float32)
    step = int(node_cols[1] - node_cols[0])
    regular = len(node_cols) - 1 if node_cols[-1] - node_cols[-2] == step else len(node_cols) - 2
    lines = nodes.shape[0]
    out = np.empty((lines, length), dtype=np.float32)
    t = (np.arange(step, dtype=np.float32) / np.float32(step))[None, None, :]
    start = nodes[:, :1] if offset else 0.0
    rel = (nodes - start).astype(np.float32)
    if regular > 0:
        a = rel[:, :regular, None]
        out[:, :regular * step] = (a + (rel[:, 1:regular + 1, None] - a) * t).reshape(lines, regular * step)
    c0 = regular * step
    if c0 < length:  # the last, shorter interval (or the last node alone)
        span = max(float(node_cols[-1] - node_cols[regular]), 1.0)
        u = (np.arange(c0, length, dtype=np.float32) - np.float32(c0)) / np.float32(span)
        last = rel[:, regular:regular + 1]
        after = rel[:, min(regular + 1, rel.shape[1] - 1)][:, None]
        out[:, c0:] = last + (after - last) * u[None, :]
    if offset:
        out += np.asarray(start, dtype=np.float32)
    return out


class ImageCoordinates:
    """Image (line, sample) of the cells of ``grid`` at any height, from the RPC at coarse nodes.

    ``a(row, col, h) = A(row, col) + h·P(row, col)`` with ``A`` (the coordinate at 0 m) and
    ``P`` (the parallax, pixels per metre) bilinear between the nodes.
    """

    def __init__(self, grid: OrthoGrid, rpc: RPCModel, height_range: tuple[float, float],
                 step: int = NODE_STEP) -> None:
        lo, hi = height_range
        if not hi > lo:
            raise ProcessingError(f"height range {height_range} is empty")
        self.grid = grid
        self.rows, self.cols, lon, lat = grid_nodes(grid, step)
        line_lo, samp_lo = rpc.project(lon, lat, lo)
        line_hi, samp_hi = rpc.project(lon, lat, hi)
        self.nodes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for axis, (at_lo, at_hi) in (("line", (line_lo, line_hi)), ("samp", (samp_lo, samp_hi))):
            parallax = (at_hi - at_lo) / (hi - lo)
            self.nodes[axis] = (at_lo - lo * parallax, parallax)

    def field(self, axis: str, heights: np.ndarray, transposed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Image ``axis`` coordinate of every cell at ``heights`` (float32: ≪ 0.01 px at 10⁴ px) and
        where the view leans towards growing coordinates (parallax > 0); (W, H) if ``transposed``."""
        base, parallax = self.nodes[axis]
        node_rows, node_cols = self.rows, self.cols
        if transposed:
            base, parallax, node_rows, node_cols, heights = base.T, parallax.T, node_cols, node_rows, heights.T
        count, length = heights.shape
        # the node fields interpolated along the other axis first: (count, node columns)
        at = np.arange(count, dtype=np.float64)
        down_b = np.stack([np.interp(at, node_rows, base[:, j]) for j in range(len(node_cols))], axis=1)
        down_p = np.stack([np.interp(at, node_rows, parallax[:, j]) for j in range(len(node_cols))], axis=1)
        # then along the lines, in blocks of lines
        value = np.empty((count, length), dtype=np.float32)
        ahead = np.empty((count, length), dtype=bool)
        for i in range(0, count, _BLOCK):
            rows = slice(i, min(count, i + _BLOCK))
            p = _lerp(down_p[rows].astype(np.float32), node_cols, length)
            np.greater(p, 0.0, out=ahead[rows])
            p *= heights[rows]
            p += _lerp(down_b[rows], node_cols, length, offset=True)
            value[rows] = p
        return value, ahead

    def walk_direction(self, axis: str) -> tuple[float, float]:
        """Unit (d_row, d_col) on the grid along which the other image coordinate is constant and
        ``axis`` grows (for flat terrain), at the grid's centre."""
        other = "samp" if axis == "line" else "line"
        i, j = len(self.rows) // 2, len(self.cols) // 2
        i0, j0 = max(i - 1, 0), max(j - 1, 0)
        dr = (self.rows[i] - self.rows[i0]) or 1.0
        dc = (self.cols[j] - self.cols[j0]) or 1.0

        def gradient(field: np.ndarray) -> np.ndarray:
            return np.array([(field[i, j] - field[i0, j]) / dr, (field[i, j] - field[i, j0]) / dc])

        g_other = gradient(self.nodes[other][0])
        d = np.array([-g_other[1], g_other[0]])  # perpendicular to the other coordinate's gradient
        if d @ gradient(self.nodes[axis][0]) < 0:
            d = -d
        norm = float(np.hypot(d[0], d[1]))
        if norm == 0.0:
            raise ProcessingError("the RPC does not map the grid onto the image (degenerate at the centre)")
        return float(d[0] / norm), float(d[1] / norm)


def walk(values: np.ndarray, judged: np.ndarray, slope: float, forward: bool, hidden: np.ndarray,
         tolerance: float = TOLERANCE_PX) -> None:
    """One walk of the module docstring over the rows of ``values`` (one grid line each, taken in
    order when ``forward``, else in reverse); the walks move ``slope`` cells sideways per step
    (|slope| ≤ 1, rounded per step).  Cells not ``judged`` are not flagged (they still hide what
    follows them); hidden cells are set in ``hidden`` (the shape of ``values``).
    """
    count, length = values.shape
    best = np.full(length, -np.inf, dtype=values.dtype)
    spare = np.empty_like(best)
    behind = np.empty(length, dtype=bool)
    previous = 0
    for k, i in enumerate(range(count) if forward else range(count - 1, -1, -1)):
        offset = int(round(k * slope))
        shift, previous = offset - previous, offset
        if shift:  # each walk moved sideways by one cell: its maximum goes with it
            spare.fill(-np.inf)
            if shift > 0:
                spare[shift:] = best[:-shift]
            else:
                spare[:shift] = best[-shift:]
            best, spare = spare, best
        np.less(values[i], best - tolerance, out=behind)
        behind &= judged[i]
        hidden[i] |= behind
        np.maximum(best, values[i], out=best)


def dem_on_grid(dem: str | Any, grid: OrthoGrid, missing_m: float = 0.0) -> np.ndarray:
    """The DEM warped bilinearly onto ``grid`` (float32, metres), ``missing_m`` where it has no data."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    out = np.full((grid.height, grid.width), np.nan, dtype=np.float32)
    with rasterio.open(dem) as src:
        reproject(rasterio.band(src, 1), out, dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan,
                  resampling=Resampling.bilinear)
    out[~np.isfinite(out)] = missing_m
    return out


def terrain_occlusion(grid: OrthoGrid, rpc: RPCModel, heights: np.ndarray, *, step: int = NODE_STEP,
                      tolerance: float = TOLERANCE_PX) -> np.ndarray:
    """Cells of ``grid`` hidden from the sensor by terrain (bool, the grid's shape).

    ``heights``: terrain height of every cell (m, the grid's shape: what the warp used).
    """
    if heights.shape != (grid.height, grid.width):
        raise ProcessingError(f"heights {heights.shape} do not match the grid {(grid.height, grid.width)}")
    lo, hi = float(np.min(heights)), float(np.max(heights))
    hidden = np.zeros(heights.shape, dtype=bool)
    if not hi - lo >= 1.0:  # flat: nothing hides anything
        return hidden
    coords = ImageCoordinates(grid, rpc, (lo, hi), step)
    for axis in ("samp", "line"):
        d_row, d_col = coords.walk_direction(axis)
        by_columns = abs(d_col) >= abs(d_row)  # walk column after column (else row after row)
        major, minor = (d_col, d_row) if by_columns else (d_row, d_col)
        value, ahead = coords.field(axis, heights, transposed=by_columns)  # one walk step per row
        found = np.zeros(value.shape, dtype=bool)
        # views leaning along the walk direction (parallax > 0): walk it
        walk(value, ahead, minor / abs(major), major > 0, found, tolerance)
        # views leaning against it: walk backwards, on the negated coordinate
        np.negative(value, out=value)
        np.logical_not(ahead, out=ahead)
        walk(value, ahead, -minor / abs(major), major < 0, found, tolerance)
        hidden |= found.T if by_columns else found
        del value, ahead, found
    log.debug("terrain occlusion: %d of %d cells", int(hidden.sum()), hidden.size)
    return hidden
