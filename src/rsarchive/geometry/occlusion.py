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
from rsarchive.geometry.image_coordinates import NODE_STEP, ImageCoordinates
from rsarchive.geometry.ortho import OrthoGrid
from rsarchive.geometry.rpc import RPCModel

__all__ = ["NODE_STEP", "TOLERANCE_PX", "ImageCoordinates", "dem_on_grid", "terrain_occlusion", "walk"]

log = logging.getLogger(__name__)

TOLERANCE_PX = 0.05
"""How far (image pixels) behind the terrain already passed a point must project to count as hidden."""


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
