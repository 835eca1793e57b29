"""Orthorectification grids: the output grid of a scene and the solar geometry on it.

The products are resampled by our own kernel (:mod:`rsarchive.geometry.resample`,
cubic convolution, band and QA in one pass) onto an :class:`OrthoGrid` chosen by
:func:`scene_grid`; GDAL's warper, its reference in the tests and ``bench/ortho``, is
:func:`rsarchive.testing.gdal_reference.warp_band`.

**TOA after warping** (spec §4): ρ = π·L·d²/(ESUN·cos θs) is linear in L with a
factor that is smooth over the scene, so warping L and then multiplying by the factor
on the output grid equals warping ρ — and the factor is
computed once on the output grid (one grid for all bands of a resolution) instead of
once per sensor-geometry band.  θs is NREL SPA (:func:`rsarchive.radiometry.solar_angles`)
on a coarse grid of output nodes (every :data:`SUN_GRID_STEP` pixels) at the
acquisition time of each node (its RPC line × line period), interpolated bilinearly;
a finer grid of the same extent (PAN) shares the multispectral grid's nodes
(:meth:`SunGrid.finer`).
(why: docs/DECISIONS.md, Orthorectification: GDAL's warper as the reference, not the product's warper)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from rsarchive.errors import ProcessingError
from rsarchive.geometry.rpc import RPCModel

__all__ = ["OrthoGrid", "utm_epsg", "scene_grid", "sun_zenith_on_grid", "SUN_GRID_STEP", "SunGrid",
           "sun_zenith_nodes", "grid_nodes"]


SUN_GRID_STEP = 32


def utm_epsg(lat_deg: float, lon_deg: float) -> int:
    """EPSG code of the WGS84 UTM zone containing (lat, lon) (Vietnam: 32648 west of 108° E, else 32649)."""
    zone = int((lon_deg + 180.0) // 6.0) % 60 + 1
    return (32600 if lat_deg >= 0 else 32700) + zone


@dataclass(frozen=True)
class OrthoGrid:
    """A north-up grid: EPSG, upper-left corner, pixel size, shape."""

    epsg: int
    left: float
    top: float
    resolution_m: float
    width: int
    height: int

    @property
    def transform(self) -> Any:
        from rasterio.transform import Affine

        return Affine(self.resolution_m, 0.0, self.left, 0.0, -self.resolution_m, self.top)

    @property
    def crs(self) -> str:
        return f"EPSG:{self.epsg}"

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.left, self.top - self.height * self.resolution_m, self.left + self.width * self.resolution_m,
                self.top)

    def with_resolution(self, resolution_m: float) -> OrthoGrid:
        """The same extent at another pixel size (the extent must be a multiple of it)."""
        w = self.width * self.resolution_m / resolution_m
        h = self.height * self.resolution_m / resolution_m
        if abs(w - round(w)) > 1e-6 or abs(h - round(h)) > 1e-6:
            raise ProcessingError(f"grid of {self.resolution_m} m cannot be divided into {resolution_m} m pixels")
        return OrthoGrid(self.epsg, self.left, self.top, resolution_m, int(round(w)), int(round(h)))

    def xy(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates of pixel centres (fractional rows/cols allowed)."""
        return (self.left + (np.asarray(cols) + 0.5) * self.resolution_m,
                self.top - (np.asarray(rows) + 0.5) * self.resolution_m)

    def to_dict(self) -> dict[str, Any]:
        t = self.transform
        return {"proj:code": self.crs, "epsg": self.epsg, "shape": [self.height, self.width],
                "transform": [t.a, t.b, t.c, t.d, t.e, t.f], "resolution_m": self.resolution_m,
                "bbox": list(self.bounds)}


def scene_grid(images: list[tuple[RPCModel, int, int]], resolution_m: float, height_m: float = 0.0,
               epsg: int | None = None, align_m: float | None = None) -> OrthoGrid:
    """The UTM grid covering every image ``(rpc, lines, samples)`` (border at ``height_m``).

    The zone is the one of the scene centre unless ``epsg`` is given; the extent is
    snapped outward to multiples of ``align_m`` (default: the resolution).
    """
    from pyproj import Transformer

    lons, lats = [], []
    for rpc, lines, samples in images:
        n = 33
        t = np.linspace(0.0, 1.0, n)
        rows = np.concatenate([t * (lines - 1), np.full(n, lines - 1.0), (1 - t) * (lines - 1), np.zeros(n)])
        cols = np.concatenate([np.zeros(n), t * (samples - 1), np.full(n, samples - 1.0), (1 - t) * (samples - 1)])
        # pixel edges, not centres: push the border half a pixel outward
        rows = rows + np.where(rows <= 0, -0.5, np.where(rows >= lines - 1, 0.5, 0.0))
        cols = cols + np.where(cols <= 0, -0.5, np.where(cols >= samples - 1, 0.5, 0.0))
        lon, lat = rpc.localise(rows, cols, height_m)
        lons.append(lon)
        lats.append(lat)
    lon = np.concatenate(lons)
    lat = np.concatenate(lats)
    if epsg is None:
        epsg = utm_epsg(float(np.mean(lat)), float(np.mean(lon)))
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    align = align_m or resolution_m
    left = math.floor(np.min(x) / align) * align
    right = math.ceil(np.max(x) / align) * align
    bottom = math.floor(np.min(y) / align) * align
    top = math.ceil(np.max(y) / align) * align
    return OrthoGrid(epsg, left, top, resolution_m, int(round((right - left) / resolution_m)),
                     int(round((top - bottom) / resolution_m)))


@dataclass(frozen=True)
class SunGrid:
    """Solar zenith (°) on a coarse grid of output nodes, interpolated row strip by row strip.

    The full-resolution field (a float64 grid the size of the band) is never held: callers
    ask for the rows they are working on.  Interpolation is ``np.interp`` along the rows
    then along the columns (bilinear).  Read-only once made: its methods may be called from
    several threads (the cached column tables are the same whichever thread makes them).
    (why: docs/DECISIONS.md, Memory over a long ingest pass)
    """

    rows: np.ndarray
    cols: np.ndarray
    zenith: np.ndarray
    times: np.ndarray
    width: int

    @cached_property
    def _columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per output column: left node index, right node index, node spacing, offset from the left
        node, and the columns at or past the last node (computed once per grid, not per strip)."""
        c = np.arange(self.width, dtype=np.float64)
        cols = self.cols
        j = np.clip(np.searchsorted(cols, c, side="right") - 1, 0, cols.size - 2)
        return j, j + 1, cols[j + 1] - cols[j], c - cols[j], c >= cols[-1]

    def zenith_rows(self, r0: int, r1: int) -> np.ndarray:
        """Zenith (°, float64) of rows ``r0 … r1 - 1`` at every column."""
        r = np.arange(r0, r1, dtype=np.float64)
        along = np.stack([np.interp(r, self.rows, self.zenith[:, k]) for k in range(self.zenith.shape[1])],
                         axis=1)
        if self.cols.size == 1:
            return np.repeat(along, self.width, axis=1)
        j0, j1, spacing, offset, last = self._columns
        # (a1 - a0) / spacing * offset + a0, in place (the same operations in the same order as the
        # textbook form, so the same bits, without its four full-strip temporaries)
        left = along[:, j0]
        out = along[:, j1]
        out -= left
        out /= spacing
        out *= offset
        out += left
        out[:, last] = along[:, -1:]
        return out

    def finer(self, factor: int, width: int) -> SunGrid:
        """The same nodes on a grid ``factor`` times finer over the same extent (``width`` columns).

        A node at pixel ``(r, c)`` of this grid is at ``((r + ½)·factor − ½, (c + ½)·factor − ½)`` of
        the finer one: the PAN grid takes the multispectral grid's nodes (the same ground spacing,
        320 m at 10 m / 32 px) instead of 16× as many solar positions.  Rows and columns of the finer
        grid past the last node hold its value, as :meth:`cos_rows` does at the edges.
        """
        def scale(nodes: np.ndarray) -> np.ndarray:
            return (nodes + 0.5) * factor - 0.5

        return SunGrid(scale(self.rows), scale(self.cols), self.zenith, self.times, width)

    @cached_property
    def _cos_nodes(self) -> np.ndarray:
        return np.cos(np.radians(self.zenith))

    @cached_property
    def _column_weights(self) -> np.ndarray:
        """Per output column, the weight of the right node (float32; 1 at and past the last node)."""
        _, _, spacing, offset, last = self._columns
        weights = (offset / spacing).astype(np.float32)
        weights[last] = 1.0
        return weights

    def cos_parts(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """cos θs of rows ``r0 … r1 - 1`` at the node columns (float32, rows × nodes) and, per output
        column, its left and right node and the right one's weight (float32): :meth:`cos_rows` is
        ``left + (right − left) · weight`` in float32, which a compiled pass can do per pixel instead of
        holding the field (``rsarchive.radiometry.toa.toa_encode_rows``)."""
        r = np.arange(r0, r1, dtype=np.float64)
        nodes = self._cos_nodes
        if self.rows.size == 1:
            along = np.repeat(nodes[:1], r.size, axis=0)
        else:
            i = np.clip(np.searchsorted(self.rows, r, side="right") - 1, 0, self.rows.size - 2)
            f = np.clip((r - self.rows[i]) / (self.rows[i + 1] - self.rows[i]), 0.0, 1.0)[:, None]
            along = nodes[i] * (1.0 - f) + nodes[i + 1] * f
        if self.cols.size == 1:  # left = right: every column is the one node's value
            j = np.zeros(self.width, dtype=np.int64)
            return along.astype(np.float32), j, j, np.ones(self.width, dtype=np.float32)
        j0, j1, _, _, _ = self._columns
        return along.astype(np.float32), j0, j1, self._column_weights

    def cos_rows(self, r0: int, r1: int) -> np.ndarray:
        """cos(zenith) (float32) of rows ``r0 … r1 - 1``: cos θs is computed at the nodes (float64) and
        interpolated bilinearly, the columns in float32.  cos θs is as smooth as θs: on a reference PAN
        grid the result is within 7e-8 (relative, the float32 rounding) of ``cos(zenith_rows)``, which
        it replaces at 6.5× the speed (3.15 → 0.48 s per PAN band): no float64 passes and no cosine
        per pixel."""
        along32, j0, j1, weights = self.cos_parts(r0, r1)
        # np.take, not along32[:, j]: that gives a column-major result (strided passes, then a copy)
        left = np.take(along32, j0, axis=1)
        out = np.take(along32, j1, axis=1)
        out -= left
        out *= weights
        out += left
        return out


def grid_nodes(grid: OrthoGrid, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every ``step``-th row and column of ``grid`` plus its last (float64), and the longitude and
    latitude (°, WGS84) of the pixel centres at their crossings (rows × columns)."""
    from pyproj import Transformer

    rows = np.unique(np.concatenate([np.arange(0, grid.height, step), [grid.height - 1]])).astype(np.float64)
    cols = np.unique(np.concatenate([np.arange(0, grid.width, step), [grid.width - 1]])).astype(np.float64)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    x, y = grid.xy(rr, cc)
    lon, lat = Transformer.from_crs(grid.epsg, 4326, always_xy=True).transform(x, y)
    return rows, cols, np.asarray(lon), np.asarray(lat)


def sun_zenith_nodes(grid: OrthoGrid, rpc: RPCModel, first_line_utc: np.datetime64, line_period_s: float,
                     height_m: Any = 0.0, step: int = SUN_GRID_STEP) -> SunGrid:
    """Solar zenith (NREL SPA) on every ``step``-th node of ``grid`` (plus the last row/column).

    The time of a node is the instant its RPC line was seen: the line's stamp (start of integration,
    ``first_line_utc + line·period``) plus half a line period (mid-integration).
    """
    from rsarchive.radiometry.solar import solar_angles

    rows, cols, lon, lat = grid_nodes(grid, step)
    line, _ = rpc.project(lon, lat, 0.0)
    times = np.datetime64(first_line_utc, "ns") + np.rint((line + 0.5) * line_period_s * 1e9).astype(np.int64) * np.timedelta64(1, "ns")
    zen, _ = solar_angles(times, lat, lon, height_m if np.ndim(height_m) == 0 else 0.0)
    return SunGrid(rows, cols, np.asarray(zen, dtype=np.float64), times, grid.width)


def sun_zenith_on_grid(grid: OrthoGrid, rpc: RPCModel, first_line_utc: np.datetime64, line_period_s: float,
                       height_m: Any = 0.0, step: int = SUN_GRID_STEP) -> tuple[np.ndarray, np.ndarray]:
    """Solar zenith (°) at every pixel of ``grid`` (coarse exact grid, bilinear) and the node times.

    Holds the whole field in memory: the product uses :func:`sun_zenith_nodes` strip by strip.
    """
    sun = sun_zenith_nodes(grid, rpc, first_line_utc, line_period_s, height_m, step)
    return sun.zenith_rows(0, grid.height), sun.times
