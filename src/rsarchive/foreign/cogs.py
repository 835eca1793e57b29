"""The analysis-ready form of a foreign product's bands: one Cloud-Optimised GeoTIFF per
delivered band, pixel for pixel the delivered values (the original stays untouched).

Written with rio-cogeo's ``cog_translate`` (window by window: bounded memory; one band of
a band-composite image through ``indexes``), ZSTD with the predictor, 512-pixel tiles,
overviews averaged for physical bands (those with a scale) and ``nearest`` for
quality/classification bands, which must never be averaged.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from rsarchive.errors import UsageError

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
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            warnings.filterwarnings("ignore", "Non-standard compression schema")  # ZSTD: GDAL ≥ 2.3 reads it
            with rasterio.open(source) as src:
                if src.crs is None or src.transform.is_identity:
                    log.info("%s is not on a map grid; no COG", source.name)
                    return None
                if not 1 <= index <= src.count:
                    raise UsageError(f"{source.name} has {src.count} band(s); band {index} was described")
                profile = cog_profiles.get("zstd")
                profile.update(blockxsize=TILE, blockysize=TILE, predictor=2)
                cog_translate(src, str(dest), profile, indexes=[index], nodata=src.nodata,
                              overview_resampling="average" if physical else "nearest",
                              in_memory=False, quiet=True, use_cog_driver=False)
                code = src.crs.to_string() if src.crs.to_epsg() else src.crs.to_wkt()
                epsg = src.crs.to_epsg()
                return BandGrid(code=f"EPSG:{epsg}" if epsg else code, shape=(src.height, src.width),
                                transform=tuple(src.transform)[:6],  # type: ignore[arg-type]
                                data_type=src.dtypes[index - 1])
    except RasterioIOError as exc:
        raise UsageError(f"delivered raster {source.name} cannot be read ({exc}); "
                         "the file is truncated or corrupt") from None
