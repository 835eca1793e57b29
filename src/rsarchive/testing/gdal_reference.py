"""GDAL's own algorithms, the references our kernels are tested and benchmarked against.

Not used by the archive's processing: the tests and ``bench/`` compare
:mod:`rsarchive.geometry.resample` with GDAL's warper (:func:`warp_band`, driven by the
band's RPC, with the DEM through GDAL's ``RPC_DEM`` transformer option), the overview
kernels of :mod:`rsarchive.cog.overviews` with GDAL's ``BuildOverviews``
(:func:`gdal_overviews`), and check COGs with rio-cogeo (:func:`validate_cog`).

The warps use the plain 4 × 4 cubic convolution (:data:`KERNEL_OPTIONS`: GDAL's
``XSCALE = YSCALE = 1``); left to itself GDAL widens the kernel where a source pixel is a
little smaller than an output pixel.  ``bench/ortho``'s ``gdalwarp`` runs with the same
options.  (why: docs/DECISIONS.md, Orthorectification: GDAL's warper as the reference, not the
product's warper)
"""

from __future__ import annotations

import ctypes
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.cog.capi import GDAL_TYPES, check, library, mem_dataset
from rsarchive.geometry.ortho import OrthoGrid
from rsarchive.geometry.rpc import RPCModel

__all__ = ["KERNEL_OPTIONS", "gdal_overviews", "rpc_vrt", "validate_cog", "warp_band", "warp_options"]

KERNEL_OPTIONS = {"XSCALE": 1, "YSCALE": 1}
"""GDAL warp options of the reference warps (see the module docstring)."""


def warp_options(dem: str | Path | None = None) -> dict[str, Any]:
    """GDAL transformer options of our warps (also given to ``gdalwarp -to`` by the benchmark)."""
    if dem is None:
        return {"RPC_HEIGHT": 0}
    return {"RPC_DEM": str(dem), "RPC_DEM_MISSING_VALUE": 0, "RPC_DEMINTERPOLATION": "bilinear"}


def warp_band(source: Any, rpc: RPCModel, grid: OrthoGrid, *, resampling: str = "cubic",
              dem: str | Path | None = None, src_nodata: float | None = 0, dtype: str = "float32",
              dst_nodata: float | None = None, threads: int = 1, mem_limit_mb: int = 256,
              band: int = 1) -> np.ndarray:
    """Warp band ``band`` of ``source`` (a path or an open dataset) onto ``grid`` with the RPC.

    Float output: NaN where there is no data.  Integer output: ``dst_nodata``.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    if dst_nodata is None and np.dtype(dtype).kind == "f":
        dst_nodata = float("nan")
    out = np.empty((grid.height, grid.width), dtype=dtype)
    path = Path(source if isinstance(source, (str, Path)) else source.name)
    # GDAL's transformer takes the RPC of a *dataset* from its metadata (rasterio's ``rpcs=`` is only
    # used for arrays), so the file is wrapped in a VRT carrying our model: lazy, no copy.
    with rasterio.open(path) as src:
        vrt = rpc_vrt(path, src.width, src.height, src.dtypes[band - 1], band, rpc, src_nodata)
    with rasterio.open(vrt) as ds:
        reproject(rasterio.band(ds, 1), out, src_nodata=src_nodata, dst_transform=grid.transform,
                  dst_crs=grid.crs, dst_nodata=dst_nodata, resampling=Resampling[resampling],
                  num_threads=threads, warp_mem_limit=mem_limit_mb, **KERNEL_OPTIONS, **warp_options(dem))
    return out


_GDAL_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32", "int32": "Int32",
               "float32": "Float32", "float64": "Float64"}


def rpc_vrt(path: str | Path, width: int, height: int, dtype: str, band: int, rpc: RPCModel,
            nodata: float | None = None) -> str:
    """VRT XML of one band of ``path`` with ``rpc`` as its RPC metadata (for GDAL's warper)."""
    from xml.sax.saxutils import escape

    items = "".join(f'<MDI key="{k}">{escape(v)}</MDI>' for k, v in rpc.to_gdal().items())
    nd = f"<NoDataValue>{nodata}</NoDataValue>" if nodata is not None else ""
    return (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><Metadata domain="RPC">{items}</Metadata>'
            f'<VRTRasterBand dataType="{_GDAL_TYPES[str(dtype)]}" band="1">{nd}<SimpleSource>'
            f'<SourceFilename relativeToVRT="0">{escape(str(Path(path).resolve()))}</SourceFilename>'
            f"<SourceBand>{band}</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>")


def gdal_overviews(band: np.ndarray, nodata: float | None, factors: Sequence[int], resampling: str, *,
                   chunk_rows: int | None = None) -> tuple[list[np.ndarray], float]:
    """GDAL's own ``BuildOverviews`` of ``band`` in memory, the reference of :mod:`rsarchive.cog.overviews`
    (its tests, ``bench/overviews``): the levels read back, largest first, and the CPU seconds (this
    thread's) that ``BuildOverviews`` took.  ``chunk_rows``: ``GDAL_OVR_CHUNKYSIZE``, the rows GDAL reads
    at once (None: GDAL's choice)."""
    import rasterio

    lib = library()
    data = [np.ascontiguousarray(band)]
    gdt = GDAL_TYPES[data[0].dtype.name]
    with rasterio.Env(**({"GDAL_OVR_CHUNKYSIZE": str(chunk_rows)} if chunk_rows else {})):
        lib.CPLErrorReset()
        mem = mem_dataset(lib, data)
        try:
            handle = lib.GDALGetRasterBand(mem, 1)
            if nodata is not None:
                check(lib.GDALSetRasterNoDataValue(handle, float(nodata)) == 0, "setting nodata")
            levels = (ctypes.c_int * len(factors))(*factors)
            start = time.thread_time()
            check(lib.GDALBuildOverviews(mem, resampling.upper().encode(), len(factors), levels, 0, None, None,
                                          None) == 0, f"building {resampling} overviews")
            seconds = time.thread_time() - start
            out = []
            for i in range(lib.GDALGetOverviewCount(handle)):
                ovr = lib.GDALGetOverview(handle, i)
                w, h = lib.GDALGetRasterBandXSize(ovr), lib.GDALGetRasterBandYSize(ovr)
                level = np.empty((h, w), data[0].dtype)
                check(lib.GDALRasterIO(ovr, 0, 0, 0, w, h, level.ctypes.data, w, h, gdt, 0, 0) == 0,
                       "reading an overview")
                out.append(level)
        finally:
            lib.GDALClose(mem)
    return sorted(out, key=lambda a: -a.size), seconds


def validate_cog(path: str | Path, strict: bool = False) -> tuple[bool, list[str], list[str]]:
    """``rio_cogeo.cogeo.cog_validate``: (valid, errors, warnings).  ``strict`` turns warnings into errors."""
    from rio_cogeo.cogeo import cog_validate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        valid, errors, warns = cog_validate(str(path), strict=strict)
    return bool(valid), list(errors), list(warns)
