"""Writing Cloud-Optimised GeoTIFFs from Dask arrays, through rasterio.

A COG cannot be written window by window (its overviews and tile index come
first in the file), so writing is two steps:

1. :func:`create_tiled` opens an uncompressed tiled GeoTIFF whose tiles match
   the Dask chunks; :class:`WindowTarget` s are the targets of
   ``dask.array.store(..., compute=False)``, so the caller computes every band
   of a scene in one pass;
2. :func:`finish_cog` copies it with GDAL's COG driver (compression with a
   predictor, overviews with the band's resampling: ``average`` for
   radiance, ``mode`` for QA bitfields — never averaging those) and removes
   the temporary file.

Measured on a 7000 × 7000 uint16 image (a reference PAN scene): storing the
Dask chunks into the temporary GeoTIFF takes 0.1–0.5 s; the COG step takes
4–7 s with either GDAL's COG driver or ``rio_cogeo.cog_translate`` (no
difference beyond the noise of a shared machine; both pass
``rio_cogeo.cogeo.cog_validate``).  The COG driver is used: one library fewer
at run time, and GDAL's own overview code.

Compression: ZSTD level 1 with the horizontal predictor is the default.  On the
same PAN scene it encoded in 0.9–1.3 s against 2.3–4.5 s for DEFLATE level 6 (the
previous default), and the file was ≈ 8 % smaller (39.9 vs 43.3 MB).  ZSTD in
GeoTIFF is read by GDAL ≥ 2.3 and by the rasterio / GDAL Python wheels;
``compress="DEFLATE"`` (GDAL's level 6 unless ``level`` is given) remains
available for readers without ZSTD.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.errors import ProcessingError

log = logging.getLogger(__name__)

__all__ = ["WindowTarget", "create_tiled", "finish_cog", "validate_cog"]

DEFAULT_TILE = 512
DEFAULT_COMPRESS = "ZSTD"
DEFAULT_LEVELS = {"ZSTD": 1}
"""Compression level per codec when none is given (others: GDAL's default)."""


class WindowTarget:
    """A ``dask.array.store`` target: ``target[rows, cols] = block`` writes a window of one band."""

    def __init__(self, dataset: Any, index: int, lock: threading.Lock) -> None:
        self.dataset = dataset
        self.index = index
        self.lock = lock
        self.shape = (dataset.height, dataset.width)
        self.dtype = np.dtype(dataset.dtypes[index - 1])
        self.ndim = 2

    def __setitem__(self, key: tuple[slice, slice], value: np.ndarray) -> None:
        from rasterio.windows import Window

        rows, cols = key
        r0, r1, _ = rows.indices(self.shape[0])
        c0, c1, _ = cols.indices(self.shape[1])
        with self.lock:
            self.dataset.write(np.asarray(value, dtype=self.dtype), self.index,
                               window=Window(c0, r0, c1 - c0, r1 - r0))


def create_tiled(
    path: str | Path,
    width: int,
    height: int,
    dtype: str,
    bands: Sequence[Mapping[str, Any]],
    *,
    nodata: float | None = None,
    tile: int = DEFAULT_TILE,
    tags: Mapping[str, Any] | None = None,
) -> tuple[Any, list[WindowTarget]]:
    """Open a temporary tiled GeoTIFF (sensor geometry: no georeference) and its store targets.

    ``bands``: per band ``description``, ``scale``, ``offset``, ``units``, ``tags`` (all optional).
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    if tile % 16:
        raise ProcessingError(f"tile size must be a multiple of 16, got {tile}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        ds = rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=len(bands), dtype=dtype,
                           nodata=nodata, tiled=True, blockxsize=tile, blockysize=tile, BIGTIFF="IF_SAFER",
                           SPARSE_OK="TRUE")
    try:
        if tags:
            ds.update_tags(**{k: str(v) for k, v in tags.items()})
        for k, spec in enumerate(bands, start=1):
            if "description" in spec:
                ds.set_band_description(k, str(spec["description"]))
            if spec.get("tags"):
                ds.update_tags(k, **{key: str(v) for key, v in spec["tags"].items()})
        scales = tuple(float(s.get("scale", 1.0)) for s in bands)
        offsets = tuple(float(s.get("offset", 0.0)) for s in bands)
        if any(s != 1.0 for s in scales) or any(o != 0.0 for o in offsets):
            ds.scales = scales
            ds.offsets = offsets
        units = tuple(str(s.get("units", "")) for s in bands)
        if any(units):
            ds.units = units
    except Exception:
        ds.close()
        raise
    lock = threading.Lock()
    return ds, [WindowTarget(ds, k, lock) for k in range(1, len(bands) + 1)]


def finish_cog(
    tmp_path: str | Path,
    cog_path: str | Path,
    *,
    resampling: str,
    tile: int = DEFAULT_TILE,
    compress: str = DEFAULT_COMPRESS,
    level: int | None = None,
) -> None:
    """Copy a closed temporary GeoTIFF into a COG with GDAL's COG driver, then delete it.

    ``resampling`` is the overview resampling (``average``, ``mode``, ``nearest`` …);
    ``level`` the compression level (None: :data:`DEFAULT_LEVELS`, else GDAL's default).
    """
    import rasterio
    import rasterio.shutil
    from rasterio.errors import NotGeoreferencedWarning

    tmp, dst = Path(tmp_path), Path(cog_path)
    options = {"COMPRESS": compress.upper(), "BLOCKSIZE": str(tile), "OVERVIEW_RESAMPLING": resampling.upper(),
               "BIGTIFF": "IF_SAFER", "NUM_THREADS": "ALL_CPUS"}
    if compress.upper() in ("DEFLATE", "ZSTD", "LZW"):
        options["PREDICTOR"] = "YES"
    if level is None:
        level = DEFAULT_LEVELS.get(compress.upper())
    if level is not None:
        options["LEVEL"] = str(level)
    with warnings.catch_warnings(), rasterio.Env(GDAL_PAM_ENABLED="NO"):
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        rasterio.shutil.copy(str(tmp), str(dst), driver="COG", **options)
    tmp.unlink()


def validate_cog(path: str | Path, strict: bool = False) -> tuple[bool, list[str], list[str]]:
    """``rio_cogeo.cogeo.cog_validate``: (valid, errors, warnings).  ``strict`` turns warnings into errors."""
    from rio_cogeo.cogeo import cog_validate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        valid, errors, warns = cog_validate(str(path), strict=strict)
    return bool(valid), list(errors), list(warns)
