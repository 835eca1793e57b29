"""The analysis-ready form of a foreign product's bands: one Cloud-Optimised GeoTIFF per
delivered band, pixel for pixel the delivered values (the original stays untouched).

The band is copied strip by strip (bounded memory; one band of a band-composite image)
into a tiled GeoTIFF, which the project's COG writer (:func:`rsarchive.cog.writer.finish_cog`,
GDAL's COG driver: ZSTD with the predictor, 512-pixel tiles) turns into the COG, overviews
averaged for physical bands (those with a scale) and ``nearest`` for quality and
classification bands, which must never be averaged.  (rio-cogeo's ``cog_translate`` was
tried first: it fails on JPEG 2000 sources with "Cannot invert geotransform".)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from rsarchive.errors import UsageError
from rsarchive.cog.writer import finish_cog

log = logging.getLogger(__name__)

__all__ = ["BandGrid", "write_band_cog"]

TILE = 512


@dataclass(frozen=True)
class BandGrid:
    """The map grid of a written COG (projection extension fields of its asset)."""

    code: str                                   # "EPSG:32624" (or WKT2 when the CRS has no code)
    shape: tuple[int, int]                      # rows, cols
    transform: tuple[float, float, float, float, float, float]
    data_type: str

    def as_properties(self) -> dict[str, object]:
        key = "proj:code" if self.code.startswith("EPSG:") else "proj:wkt2"
        return {key: self.code, "proj:shape": list(self.shape), "proj:transform": list(self.transform)}


def write_band_cog(source: Path, index: int, dest: Path, *, physical: bool) -> BandGrid | None:
    """Band ``index`` (from 1) of the raster ``source`` as a COG at ``dest``; None when the raster
    is not on a map grid (sensor geometry has no analysis-ready form)."""
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window

    tiled = dest.with_name(dest.stem + ".tiled.tif")
    try:
        with rasterio.open(source) as src:
            if src.crs is None or src.transform.is_identity:
                log.info("%s is not on a map grid; no COG", source.name)
                return None
            if not 1 <= index <= src.count:
                raise UsageError(f"{source.name} has {src.count} band(s); band {index} was described")
            dtype = src.dtypes[index - 1]
            with rasterio.open(tiled, "w", driver="GTiff", width=src.width, height=src.height, count=1,
                               dtype=dtype, crs=src.crs, transform=src.transform, nodata=src.nodata,
                               tiled=True, blockxsize=TILE, blockysize=TILE) as dst:
                for row in range(0, src.height, TILE):  # one strip of tiles at a time: bounded memory
                    window = Window(0, row, src.width, min(TILE, src.height - row))
                    dst.write(src.read(index, window=window), 1, window=window)
            epsg = src.crs.to_epsg()
            grid = BandGrid(code=f"EPSG:{epsg}" if epsg else src.crs.to_wkt(), shape=(src.height, src.width),
                            transform=tuple(src.transform)[:6],  # type: ignore[arg-type]
                            data_type=dtype)
        finish_cog(tiled, dest, resampling="average" if physical else "nearest", tile=TILE)
        return grid
    except RasterioIOError as exc:
        raise UsageError(f"delivered raster {source.name} cannot be read ({exc}); "
                         "the file is truncated or corrupt") from None
    finally:
        tiled.unlink(missing_ok=True)
