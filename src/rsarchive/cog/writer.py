"""Writing Cloud-Optimised GeoTIFFs from Dask arrays, through rasterio.

A COG cannot be written window by window (its overviews and tile index come
first in the file), so writing is two steps:

1. :func:`create_tiled` opens a dataset to fill: in memory (``path=None``, the
   default in the pipeline: NumPy arrays and their metadata,
   :class:`~rsarchive.cog.capi.ArrayDataset`) or an uncompressed tiled
   GeoTIFF.  :class:`WindowTarget` s are the targets of
   ``dask.array.store(..., compute=False)``, so the caller computes every band
   of a scene in one pass;
2. :func:`finish_cog` builds the overviews with the band's resampling
   (``average`` for radiance, ``mode`` for QA bitfields — never averaging
   those) and writes the COG with GDAL's COG driver (compression with a
   predictor).

In memory, the arrays are wrapped in a GDAL in-memory dataset through GDAL's C
API (:mod:`rsarchive.cog.capi`: the GIL is released, where rasterio's
``build_overviews`` held it), the overviews are made in it (GDAL's cells:
``average`` every level from the full-resolution image, ``mode`` each from the
level before, sizes rounded up; computed by :mod:`rsarchive.cog.overviews`) and
the COG driver uses them (``OVERVIEWS=FORCE_USE_EXISTING``) at the
levels it would have chosen by itself (:func:`overview_factors`).  From a file,
the COG driver builds them through a temporary overview file, each level from
the one before, sizes rounded down.  Full resolution and the first overview are
the same; coarser levels differ by rounding (at most 1 count where both have
data, tested) and by a row or column where a size is odd.  The memory path holds the
bands once more while they are written; :func:`write_cog` with ``release=True`` takes
the caller's arrays instead of copying them.

Both pass ``rio_cogeo.cogeo.cog_validate``.  Compression: ZSTD level 1 with the
horizontal predictor is the default (:data:`DEFAULT_COMPRESS`, :data:`DEFAULT_LEVELS`);
ZSTD in GeoTIFF is read by GDAL ≥ 2.3 and by the rasterio / GDAL Python wheels, and
``compress="DEFLATE"`` (GDAL's level 6 unless ``level`` is given) remains available for
readers without ZSTD.  The :class:`WindowTarget` s of one dataset share a lock, so
``dask.array.store`` may write them from several threads.
(why: docs/DECISIONS.md, COG writing: overviews made in memory, GDAL's COG driver, ZSTD level 1)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.cog.capi import ArrayDataset
from rsarchive.errors import ProcessingError
from rsarchive.threads import ThreadBudget

log = logging.getLogger(__name__)

__all__ = ["WindowTarget", "create_tiled", "finish_cog", "overview_factors", "write_cog"]

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
    path: str | Path | None,
    width: int,
    height: int,
    dtype: str,
    bands: Sequence[Mapping[str, Any]],
    *,
    nodata: float | None = None,
    tile: int = DEFAULT_TILE,
    tags: Mapping[str, Any] | None = None,
    crs: Any = None,
    transform: Any = None,
) -> tuple[Any, list[WindowTarget]]:
    """Open a dataset to be filled and turned into a COG by :func:`finish_cog`, and its store targets.

    ``path``: None for an in-memory dataset, else a temporary tiled GeoTIFF (uncompressed).
    ``bands``: per band ``description``, ``scale``, ``offset``, ``units``, ``tags`` (all optional).
    Without ``crs`` and ``transform`` the dataset is in sensor geometry (no georeference).
    """
    import rasterio

    if tile % 16:
        raise ProcessingError(f"tile size must be a multiple of 16, got {tile}")
    lock = threading.Lock()
    if path is None:
        arrays = ArrayDataset(width, height, dtype, bands, nodata=nodata, tags=tags, crs=crs, transform=transform)
        return arrays, [WindowTarget(arrays, k, lock) for k in range(1, len(bands) + 1)]
    georef = {k: v for k, v in (("crs", crs), ("transform", transform)) if v is not None}
    target, options = str(path), {"driver": "GTiff", "tiled": True, "blockxsize": tile, "blockysize": tile,
                                  "BIGTIFF": "IF_SAFER", "SPARSE_OK": "TRUE"}
    ds = rasterio.open(target, "w", width=width, height=height, count=len(bands), dtype=dtype, nodata=nodata,
                       **georef, **options)
    try:
        _describe(ds, bands, tags)
    except Exception:
        ds.close()
        raise
    return ds, [WindowTarget(ds, k, lock) for k in range(1, len(bands) + 1)]


def _describe(ds: Any, bands: Sequence[Mapping[str, Any]], tags: Mapping[str, Any] | None) -> None:
    """Dataset and band metadata: tags, descriptions, scales and offsets, units."""
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


def overview_factors(width: int, height: int, tile: int = DEFAULT_TILE) -> list[int]:
    """The overview levels GDAL's COG driver makes by itself: halve until both sides fit in a tile.

    (``size // factor > tile`` on either side adds a level; checked against the driver in the tests.)
    """
    factors: list[int] = []
    factor = 1
    while width // factor > tile or height // factor > tile:
        factor *= 2
        factors.append(factor)
    return factors


def finish_cog(
    source: str | Path | Any,
    cog_path: str | Path,
    *,
    resampling: str,
    tile: int = DEFAULT_TILE,
    compress: str = DEFAULT_COMPRESS,
    level: int | None = None,
    threads: int | None = None,
) -> None:
    """Write the COG of a dataset filled through :func:`create_tiled`.

    ``source``: the open in-memory dataset (its overviews are built here; the caller closes it) or
    the path of the closed temporary GeoTIFF (deleted afterwards).  ``resampling`` is the overview
    resampling (``average``, ``mode``, ``nearest`` …); ``level`` the compression level (None:
    :data:`DEFAULT_LEVELS`, else GDAL's default); ``threads`` GDAL's encoding threads (the caller's
    :class:`~rsarchive.threads.ThreadBudget`; None: every core).
    """
    import rasterio
    import rasterio.shutil
    from rasterio.enums import Resampling

    options = {"COMPRESS": compress.upper(), "BLOCKSIZE": str(tile), "OVERVIEW_RESAMPLING": resampling.upper(),
               "BIGTIFF": "IF_SAFER",
               "NUM_THREADS": str(threads or ThreadBudget.of_machine().cpu)}
    if compress.upper() in ("DEFLATE", "ZSTD", "LZW"):
        options["PREDICTOR"] = "YES"
    if level is None:
        level = DEFAULT_LEVELS.get(compress.upper())
    if level is not None:
        options["LEVEL"] = str(level)
    in_memory = not isinstance(source, (str, Path))
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):
        if in_memory:
            if resampling.lower() not in Resampling.__members__:
                raise ProcessingError(f"unknown overview resampling {resampling!r}")
            factors = overview_factors(source.width, source.height, tile)
            options["OVERVIEWS"] = "FORCE_USE_EXISTING" if factors else "NONE"
            source.write_cog(cog_path, overviews=factors, resampling=resampling, options=options)
        else:
            rasterio.shutil.copy(str(source), str(cog_path), driver="COG", **options)
            Path(source).unlink()


def write_cog(path: str | Path, bands: list[np.ndarray], *, crs: Any, transform: Any, nodata: float | None,
              overview_resampling: str, descriptions: list[str] | None = None,
              scale: float | None = None, offset: float | None = None, units: str | None = None,
              tags: dict[str, Any] | None = None, band_tags: list[dict[str, Any]] | None = None,
              tile: int = 512, compress: str | None = None, release: bool = False, threads: int | None = None
              ) -> None:
    """Write georeferenced arrays (``crs``, affine ``transform``) as a COG: an in-memory dataset with its
    overviews, then GDAL's COG driver.

    ``release``: the arrays are handed over (taken out of ``bands``, not copied) and freed once the COG
    is written (the product's peak memory).
    """
    specs: list[dict[str, Any]] = []
    for k in range(len(bands)):
        spec: dict[str, Any] = {}
        if descriptions:
            spec["description"] = descriptions[k]
        if band_tags:
            spec["tags"] = band_tags[k]
        if scale is not None:
            spec.update(scale=scale, offset=offset or 0.0)
        if units:
            spec["units"] = units
        specs.append(spec)
    count, dtype = len(bands), str(bands[0].dtype)
    height, width = bands[0].shape
    ds, _ = create_tiled(None, width, height, dtype, specs, nodata=nodata, tile=tile, tags=tags, crs=crs,
                         transform=transform)
    with ds:
        for k in range(1, count + 1):
            if release:  # handed over: no copy
                ds.adopt(bands.pop(0), k)
            else:
                ds.write(bands[k - 1], k)
        finish_cog(ds, Path(path), resampling=overview_resampling, tile=tile, compress=compress or DEFAULT_COMPRESS,
                   threads=threads)
