"""A COG from NumPy arrays through GDAL's C API (ctypes), so that Python threads keep running meanwhile.

rasterio's ``build_overviews`` holds Python's GIL while GDAL computes the overviews;
ctypes releases it for the length of each foreign call, so other Python threads of the
process run while a COG is made here.
(why: docs/DECISIONS.md, COG overviews through GDAL's C API: Python threads keep running)

The arrays are wrapped, not copied, in a GDAL ``MEM`` dataset (``DATAPOINTER``),
its overviews are made in place and the COG driver copies it.  The overviews
(``average`` of bands with no-data, ``mode``, of 8- and 16-bit bands) are
computed by :mod:`rsarchive.cog.overviews` (GDAL's cells) and written into the
overview bands GDAL creates; any other kind by ``GDALBuildOverviews``.  The files are those rasterio's in-memory dataset
with GDAL's overviews gave (tested, byte for byte).  The library is the very libgdal
rasterio loaded (found in the process's memory map), so drivers and
configuration (``rasterio.Env``) are shared.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.cog.overviews import average_overviews, is_value, mode_overviews, overview_size
from rsarchive.errors import ProcessingError

__all__ = ["GDAL_TYPES", "ArrayDataset", "BandSpec", "check", "library", "mem_dataset", "write_cog_arrays"]


GDAL_TYPES = {"uint8": 1, "uint16": 2, "int16": 3, "uint32": 4, "int32": 5, "float32": 6, "float64": 7}
_lib: Any = None
_lib_lock = threading.Lock()


@dataclass
class BandSpec:
    """What a band of the COG carries besides its pixels."""

    description: str | None = None
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None
    units: str | None = None
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    """Metadata items by domain ("" is the default domain)."""


def library() -> Any:
    """rasterio's libgdal, with the signatures used here."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        import rasterio  # noqa: F401  (loads the library)

        path = next((line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                     if "libgdal" in line.rsplit("/", 1)[-1] and line.split()[-1].startswith("/")), None)
        if path is None:
            raise ProcessingError("rasterio's GDAL library was not found in this process")
        lib = ctypes.CDLL(path)
        vp, cp, ci, cd = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_double
        pp = ctypes.POINTER(ctypes.c_char_p)
        for name, res, args in (
                ("GDALGetDriverByName", vp, [cp]),
                ("GDALCreate", vp, [vp, cp, ci, ci, ci, ci, pp]),
                ("GDALAddBand", ci, [vp, ci, pp]),
                ("GDALGetRasterBand", vp, [vp, ci]),
                ("GDALSetGeoTransform", ci, [vp, ctypes.POINTER(cd)]),
                ("GDALSetProjection", ci, [vp, cp]),
                ("GDALSetRasterNoDataValue", ci, [vp, cd]),
                ("GDALSetRasterScale", ci, [vp, cd]),
                ("GDALSetRasterOffset", ci, [vp, cd]),
                ("GDALSetRasterUnitType", ci, [vp, cp]),
                ("GDALSetDescription", None, [vp, cp]),
                ("GDALSetMetadataItem", ci, [vp, cp, cp, cp]),
                ("GDALBuildOverviews", ci, [vp, cp, ci, ctypes.POINTER(ci), ci, ctypes.POINTER(ci), vp, vp]),
                ("GDALGetOverview", vp, [vp, ci]),
                ("GDALGetOverviewCount", ci, [vp]),
                ("GDALGetRasterBandXSize", ci, [vp]),
                ("GDALGetRasterBandYSize", ci, [vp]),
                ("GDALRasterIO", ci, [vp, ci, ci, ci, ci, ci, vp, ci, ci, ci, ci, ci]),
                ("GDALCreateCopy", vp, [vp, cp, vp, ci, pp, vp, vp]),
                ("GDALClose", None, [vp]),
                ("CPLGetLastErrorMsg", cp, []),
                ("CPLErrorReset", None, [])):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        _lib = lib
        return lib


def _strings(items: Sequence[str]) -> Any:
    array = (ctypes.c_char_p * (len(items) + 1))(*[s.encode() for s in items], None)
    return ctypes.cast(array, ctypes.POINTER(ctypes.c_char_p))


def check(ok: bool, what: str) -> None:
    if not ok:
        message = (library().CPLGetLastErrorMsg() or b"").decode(errors="replace")
        raise ProcessingError(f"GDAL: {what} failed{': ' + message if message else ''}")


def _metadata(lib: Any, obj: Any, items: Mapping[str, Mapping[str, str]]) -> None:
    for domain, values in items.items():
        for key, value in values.items():
            check(lib.GDALSetMetadataItem(obj, key.encode(), str(value).encode(), domain.encode() or None) == 0,
                   f"metadata {key}")


def write_cog_arrays(path: str | Path, arrays: Sequence[np.ndarray], bands: Sequence[BandSpec], *,
                     overviews: Sequence[int], resampling: str, options: Mapping[str, str],
                     transform: Sequence[float] | None = None, crs_wkt: str | None = None,
                     metadata: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Write ``arrays`` (2-D, one per band, same shape and dtype) as the COG ``path``.

    ``overviews``: the factors built in place with ``resampling`` before the copy (the COG driver then
    uses them: ``OVERVIEWS=FORCE_USE_EXISTING`` belongs in ``options`` when there are any);
    ``transform``: GDAL's six geotransform numbers; ``metadata``: dataset items by domain (RPC …).
    """
    if not arrays or len(arrays) != len(bands):
        raise ProcessingError(f"{len(arrays)} arrays for {len(bands)} band descriptions")
    shape, dtype = arrays[0].shape, np.dtype(arrays[0].dtype)
    if any(a.shape != shape or a.dtype != dtype or a.ndim != 2 for a in arrays):
        raise ProcessingError("the bands of a COG must be 2-D arrays of one shape and type")
    if dtype.name not in GDAL_TYPES:
        raise ProcessingError(f"no GDAL type for {dtype.name}")
    lib = library()
    data = [np.ascontiguousarray(a) for a in arrays]  # kept alive until the dataset is closed
    lib.CPLErrorReset()
    mem = mem_dataset(lib, data)
    try:
        if transform is not None:
            check(lib.GDALSetGeoTransform(mem, (ctypes.c_double * 6)(*transform)) == 0, "setting the geotransform")
        if crs_wkt:
            check(lib.GDALSetProjection(mem, crs_wkt.encode()) == 0, "setting the CRS")
        _metadata(lib, mem, metadata or {})
        for k, spec in enumerate(bands, start=1):
            band = lib.GDALGetRasterBand(mem, k)
            if spec.nodata is not None:
                check(lib.GDALSetRasterNoDataValue(band, float(spec.nodata)) == 0, "setting nodata")
            if spec.scale is not None:
                lib.GDALSetRasterScale(band, float(spec.scale))
            if spec.offset is not None:
                lib.GDALSetRasterOffset(band, float(spec.offset))
            if spec.units:
                lib.GDALSetRasterUnitType(band, spec.units.encode())
            if spec.description:
                lib.GDALSetDescription(band, spec.description.encode())
            _metadata(lib, band, spec.metadata)
        if overviews:
            _build_overviews(lib, mem, data, bands, overviews, resampling)
        out = lib.GDALCreateCopy(lib.GDALGetDriverByName(b"COG"), str(path).encode(), mem, 0,
                                 _strings([f"{k}={v}" for k, v in options.items()]), None, None)
        check(bool(out), f"writing the COG {path}")
        lib.GDALClose(out)
    finally:
        lib.GDALClose(mem)


def mem_dataset(lib: Any, data: Sequence[np.ndarray]) -> Any:
    """A GDAL ``MEM`` dataset whose bands are ``data`` (C-contiguous 2-D arrays of one shape and type),
    wrapped, not copied: the arrays must outlive it."""
    height, width = data[0].shape
    gdt = GDAL_TYPES[data[0].dtype.name]
    mem = lib.GDALCreate(lib.GDALGetDriverByName(b"MEM"), b"", width, height, 0, gdt, None)
    check(bool(mem), "creating an in-memory dataset")
    try:
        for a in data:
            pointer = [f"DATAPOINTER={a.ctypes.data}", f"PIXELOFFSET={a.itemsize}", f"LINEOFFSET={a.strides[0]}"]
            check(lib.GDALAddBand(mem, gdt, _strings(pointer)) == 0, "adding a band")
    except BaseException:
        lib.GDALClose(mem)
        raise
    return mem


def _build_overviews(lib: Any, mem: Any, data: Sequence[np.ndarray], bands: Sequence[BandSpec],
                     factors: Sequence[int], resampling: str) -> None:
    """The overviews of the in-memory dataset ``mem``: ``average`` (bands with no-data) and ``mode`` of
    8- and 16-bit bands computed by :mod:`rsarchive.cog.overviews` (GDAL's pixels, one read of the
    band) into the overview bands GDAL creates; anything else by GDAL."""
    levels = (ctypes.c_int * len(factors))(*factors)
    kind = resampling.lower()
    dtype = data[0].dtype
    ours = (dtype in (np.uint8, np.uint16) and all(f >= 2 for f in factors)
            and all(b.nodata is None or is_value(b.nodata, dtype) for b in bands)
            and (kind == "mode" or (kind == "average" and all(b.nodata is not None for b in bands))))
    if ours:
        height, width = data[0].shape
        sizes = [overview_size(width, height, f) for f in factors]
        # GDAL leaves an overview one pixel wide or high unfilled (seen with 3.10): such levels are its own
        ours = all(w >= 2 and h >= 2 for w, h in sizes)
    if not ours:
        check(lib.GDALBuildOverviews(mem, resampling.upper().encode(), len(factors), levels, 0, None, None,
                                      None) == 0, f"building {resampling} overviews")
        return
    check(lib.GDALBuildOverviews(mem, b"NONE", len(factors), levels, 0, None, None, None) == 0,
           "creating the overview bands")
    gdt = GDAL_TYPES[data[0].dtype.name]
    for k, (array, spec) in enumerate(zip(data, bands, strict=True), start=1):
        band = lib.GDALGetRasterBand(mem, k)
        targets = [lib.GDALGetOverview(band, i) for i in range(lib.GDALGetOverviewCount(band))]
        shapes = [(lib.GDALGetRasterBandXSize(t), lib.GDALGetRasterBandYSize(t)) for t in targets]
        if sorted(shapes) != sorted(set(sizes)):
            raise ProcessingError(f"GDAL made overviews of {shapes}, expected {sizes}")
        if kind == "average":
            assert spec.nodata is not None
            levels_data = average_overviews(array, spec.nodata, shapes)
        else:
            levels_data = mode_overviews(array, spec.nodata, shapes)
        for target, (w, h), level in zip(targets, shapes, levels_data, strict=True):
            check(lib.GDALRasterIO(target, 1, 0, 0, w, h, level.ctypes.data, w, h, gdt, 0, 0) == 0,
                   "writing an overview")


class ArrayDataset:
    """An in-memory band set to be written as a COG: NumPy arrays (filled by :meth:`write`, window by
    window or whole) and the metadata GDAL's COG driver copies (as a rasterio in-memory dataset would
    hold them)."""

    def __init__(self, width: int, height: int, dtype: str, bands: Sequence[Mapping[str, Any]], *,
                 nodata: float | None = None, tags: Mapping[str, Any] | None = None, crs: Any = None,
                 transform: Any = None) -> None:
        self.width, self.height, self.count = width, height, len(bands)
        self.dtypes = (str(np.dtype(dtype)),) * self.count
        self._dtype = np.dtype(dtype)
        self._arrays: list[np.ndarray | None] = [None] * len(bands)  # allocated when first written
        self.bands: list[BandSpec] = []
        rescaled = any(float(b.get("scale", 1.0)) != 1.0 or float(b.get("offset", 0.0)) != 0.0 for b in bands)
        for b in bands:
            self.bands.append(BandSpec(
                description=str(b["description"]) if "description" in b else None, nodata=nodata,
                scale=float(b.get("scale", 1.0)) if rescaled else None,
                offset=float(b.get("offset", 0.0)) if rescaled else None, units=str(b.get("units", "")) or None,
                metadata={"": {k: str(v) for k, v in b["tags"].items()}} if b.get("tags") else {}))
        self.metadata: dict[str, dict[str, str]] = {"": {k: str(v) for k, v in tags.items()}} if tags else {}
        self.crs_wkt: str | None = None
        self.transform: tuple[float, ...] | None = None
        if crs is not None:
            from rasterio.crs import CRS

            self.crs_wkt = CRS.from_user_input(crs).to_wkt()
        if transform is not None:
            self.transform = tuple(transform.to_gdal())
        self.closed = False

    @property
    def rpcs(self) -> None:  # pragma: no cover - write-only, as set by the raw level
        raise AttributeError("rpcs is write-only on an ArrayDataset")

    @rpcs.setter
    def rpcs(self, value: Any) -> None:
        """A rasterio ``RPC``: written as GDAL's RPC metadata domain."""
        self.metadata["RPC"] = {k: str(v) for k, v in value.to_gdal().items()}

    @property
    def arrays(self) -> list[np.ndarray]:
        """The bands (zeros where nothing was written)."""
        return [self._band(k) for k in range(1, self.count + 1)]

    def _band(self, index: int) -> np.ndarray:
        band = self._arrays[index - 1]
        if band is None:
            band = self._arrays[index - 1] = np.zeros((self.height, self.width), dtype=self._dtype)
        return band

    def write(self, array: np.ndarray, index: int, window: Any = None) -> None:
        """Band ``index`` (1-based), whole or in a rasterio ``Window``."""
        if self.closed:
            raise ProcessingError("writing to a closed in-memory dataset")
        if window is None:
            self._band(index)[...] = array
        else:
            r0, c0 = int(window.row_off), int(window.col_off)
            self._band(index)[r0:r0 + int(window.height), c0:c0 + int(window.width)] = array

    def adopt(self, array: np.ndarray, index: int) -> None:
        """Band ``index`` (1-based) is ``array`` itself, not a copy: the caller hands it over."""
        if self.closed:
            raise ProcessingError("writing to a closed in-memory dataset")
        if array.shape != (self.height, self.width) or array.dtype != self._dtype:
            raise ProcessingError(f"band {index}: {array.dtype} {array.shape} for a {self._dtype} "
                                  f"{(self.height, self.width)} dataset")
        self._arrays[index - 1] = np.ascontiguousarray(array)

    def write_cog(self, path: str | Path, *, overviews: Sequence[int], resampling: str,
                  options: Mapping[str, str]) -> None:
        if self.closed:
            raise ProcessingError("writing a COG from a closed in-memory dataset")
        write_cog_arrays(path, self.arrays, self.bands, overviews=overviews, resampling=resampling,
                         options=options, transform=self.transform, crs_wkt=self.crs_wkt, metadata=self.metadata)

    def close(self) -> None:
        """Free the bands."""
        self._arrays = [None] * self.count
        self.closed = True

    def __enter__(self) -> ArrayDataset:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
