"""Bilinear sampling of a georeferenced raster (a DEM, a truth scene) at geodetic points.

:class:`RasterSampler` opens a GeoTIFF (any CRS), converts the query
latitudes/longitudes into the raster's CRS with pyproj, reads only the window
that covers the points (the last window is kept, so repeated queries over the
same area — the DEM iteration of the sensor model — read once) and
interpolates bilinearly between pixel centres.  Points outside the raster or on
nodata give NaN.  Used as the ``height`` callable of
:meth:`rsarchive.geometry.sensor.SensorModel.locate` and by the simulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.errors import UsageError

__all__ = ["RasterSampler", "bilinear"]


def bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """Sample ``image`` (B, H, W) at fractional pixel-centre coordinates → (B, *rows.shape) float64.

    Row/col 0.0 is the centre of the first pixel.  Within half a pixel of the
    border the edge value is extended; further out (or at NaN coordinates) the
    result is NaN, and so is any point next to a ``nodata`` pixel (NaN pixels
    of float images propagate by themselves).
    """
    bands, height, width = image.shape
    r = np.asarray(rows, dtype=np.float64)
    c = np.asarray(cols, dtype=np.float64)
    inside = (r >= -0.5) & (r <= height - 0.5) & (c >= -0.5) & (c <= width - 0.5)  # False for NaN
    all_inside = bool(inside.all())
    if not all_inside:
        r = np.where(inside, r, 0.0)
        c = np.where(inside, c, 0.0)
    r = np.clip(r, 0.0, height - 1.0)
    c = np.clip(c, 0.0, width - 1.0)
    r0 = np.minimum(r.astype(np.intp), max(height - 2, 0))  # r ≥ 0: truncation is floor
    c0 = np.minimum(c.astype(np.intp), max(width - 2, 0))
    fr = r - r0
    fc = c - c0
    i00 = r0 * width + c0
    step_r = width if height > 1 else 0
    step_c = 1 if width > 1 else 0
    out = np.empty((bands,) + r.shape, dtype=np.float64)
    for b in range(bands):
        flat = image[b].reshape(-1)
        corners = (flat[i00], flat[i00 + step_c], flat[i00 + step_r], flat[i00 + step_r + step_c])
        v00, v01, v10, v11 = (v.astype(np.float64) for v in corners)
        top = v00 + (v01 - v00) * fc
        bottom = v10 + (v11 - v10) * fc
        out[b] = top + (bottom - top) * fr
        if nodata is not None:
            bad = (corners[0] == nodata) | (corners[1] == nodata) | (corners[2] == nodata) | (corners[3] == nodata)
            out[b][bad] = np.nan
    if not all_inside:
        out[:, ~inside] = np.nan
    return out


class RasterSampler:
    """Sample bands of a GeoTIFF at (lat, lon); callable as a DEM ``height(lat, lon)``.

    ``bands``: 1-based band indexes to read (default: band 1 for a DEM).
    ``__call__`` returns an array shaped like ``lat`` for one band, or
    (bands, *lat.shape) when several bands are requested via :meth:`sample`.
    """

    def __init__(self, path: str | Path, bands: list[int] | None = None, margin_px: int = 2,
                 prefetch_px: int = 256) -> None:
        import rasterio
        from pyproj import Transformer

        self.path = Path(path)
        try:
            self._ds = rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as exc:
            raise UsageError(f"cannot open raster {self.path}: {exc}") from None
        if self._ds.crs is None:
            raise UsageError(f"raster {self.path} has no CRS (a georeferenced GeoTIFF is needed)")
        self.bands = bands or [1]
        self.margin_px = margin_px
        self.prefetch_px = prefetch_px
        self._to_raster = Transformer.from_crs("EPSG:4326", self._ds.crs, always_xy=True)
        self._inverse = ~self._ds.transform
        self._nodata = self._ds.nodata
        self._cache: tuple[tuple[int, int, int, int], np.ndarray, bool] | None = None

    @property
    def dataset(self) -> Any:
        return self._ds

    def close(self) -> None:
        self._ds.close()

    def __enter__(self) -> RasterSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def crs(self) -> Any:
        return self._ds.crs

    def pixel_coords(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) pixel-centre coordinates of geodetic points."""
        x, y = self._to_raster.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        return self._xy_to_pixel(np.asarray(x), np.asarray(y))

    def _xy_to_pixel(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = self._inverse
        col = a.a * x + a.b * y + a.c - 0.5
        row = a.d * x + a.e * y + a.f - 0.5
        return row, col

    def sample(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """All requested bands at geodetic points → (bands, *lat.shape), NaN outside/nodata."""
        row, col = self.pixel_coords(np.asarray(lat, dtype=np.float64), lon)
        return self._sample_pixels(row, col)

    def sample_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """All requested bands at points given in the raster's own CRS."""
        row, col = self._xy_to_pixel(np.asarray(x, np.float64), np.asarray(y, np.float64))
        return self._sample_pixels(row, col)

    def _sample_pixels(self, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        from rasterio.windows import Window

        r_lo, r_hi, c_lo, c_hi = row.min(), row.max(), col.min(), col.max()
        if not np.isfinite([r_lo, r_hi, c_lo, c_hi]).all():
            finite = np.isfinite(row) & np.isfinite(col)
            if not finite.any():
                return np.full((len(self.bands),) + row.shape, np.nan)
            r_lo, r_hi, c_lo, c_hi = row[finite].min(), row[finite].max(), col[finite].min(), col[finite].max()
        m = self.margin_px
        r0 = max(int(np.floor(r_lo)) - m, 0)
        c0 = max(int(np.floor(c_lo)) - m, 0)
        r1 = min(int(np.ceil(r_hi)) + m + 1, self._ds.height)
        c1 = min(int(np.ceil(c_hi)) + m + 1, self._ds.width)
        if r1 <= r0 or c1 <= c0:
            return np.full((len(self.bands),) + row.shape, np.nan)
        cached = self._cache
        if cached is not None and cached[0][0] <= r0 and cached[0][1] <= c0 and cached[0][2] >= r1 and cached[0][3] >= c1:
            (wr0, wc0, _, _), data, has_nodata = cached
        else:
            # read a little more than needed: successive queries (blocks of lines) reuse the window
            p = self.prefetch_px
            wr0, wc0 = max(r0 - p, 0), max(c0 - p, 0)
            wr1, wc1 = min(r1 + p, self._ds.height), min(c1 + p, self._ds.width)
            data = self._ds.read(self.bands, window=Window(wc0, wr0, wc1 - wc0, wr1 - wr0))
            if data.dtype.kind == "f":
                if self._nodata is not None and not np.isnan(self._nodata):
                    data[data == self._nodata] = np.nan
                has_nodata = False  # NaN propagates through the interpolation by itself
            else:
                has_nodata = self._nodata is not None and bool(np.any(data == self._nodata))
            self._cache = ((wr0, wc0, wr1, wc1), data, has_nodata)
        out = bilinear(data, row - wr0, col - wc0, self._nodata if has_nodata else None)
        # points outside the whole raster (not just the window) → NaN
        outside = (row < -0.5) | (row > self._ds.height - 0.5) | (col < -0.5) | (col > self._ds.width - 0.5)
        if outside.any():
            out[:, outside] = np.nan
        return out

    def __call__(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """The first requested band at the points (NaN outside): the DEM callable."""
        return self.sample(lat, lon)[0]
