"""How cube reads reach the archive's COGs: GDAL options for ``/vsis3/`` on the archive's S3
endpoint, credentials kept out of Dask graphs and logs.

odc-stac's own ``configure_s3_access``/``configure_rio(aws=…)`` put the AWS credentials in
the reader environment it captures into every task of the graph (``capture_env``).  Here the
captured environment holds only non-secret GDAL options (endpoint, ``AWS_HTTPS``,
``AWS_VIRTUAL_HOSTING``, region); each process that runs a task finds the credentials itself:
in a process-local registry filled by :func:`register_credentials` (the process that called
:func:`rsarchive.cube.load`, and threads of its local scheduler), else in the standard
``AWS_*`` environment of that process (a ``distributed`` worker started with its own
credentials).  ``s3://bucket/key`` hrefs are read by rasterio as ``/vsis3/bucket/key``;
``file://`` hrefs as local paths.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from odc.loader import (  # odc-stac's rasterio driver (public API)
    RasterLoadParams,
    RasterSource,
    RioDriver,
    RioReader,
    resolve_dst_dtype,
    resolve_dst_nodata,
    resolve_src_nodata,
)

from rsarchive.errors import ProcessingError
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["gdal_options", "gdal_env", "register_credentials", "ArchiveRioDriver", "ArchiveReader", "QaWindows", "QaLink",
           "CREDENTIAL_KEY"]

CREDENTIAL_KEY = "RSARCHIVE_S3_CREDENTIALS"
"""Name of the (non-secret) option that tells a task which registered credentials to use."""

GDAL_DEFAULTS: dict[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",   # COGs have no side-car files: don't list directories
    "GDAL_HTTP_MAX_RETRY": "5",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "VSI_CACHE": "TRUE",
}

_CREDENTIALS: dict[str, tuple[str, str]] = {}
_LOCK = threading.Lock()


def gdal_options(settings: Settings) -> dict[str, str]:
    """Non-secret GDAL options to read the archive's ``s3://`` objects through ``/vsis3/``."""
    opts = dict(GDAL_DEFAULTS)
    opts["AWS_REGION"] = settings.s3_region
    if settings.s3_endpoint_url:
        url = urlparse(settings.s3_endpoint_url if "://" in settings.s3_endpoint_url
                       else f"https://{settings.s3_endpoint_url}")
        opts["AWS_S3_ENDPOINT"] = url.netloc + url.path.rstrip("/")
        opts["AWS_HTTPS"] = "NO" if url.scheme == "http" else "YES"
        opts["AWS_VIRTUAL_HOSTING"] = "FALSE"   # path-style: SeaweedFS, MinIO
    return opts


def register_credentials(settings: Settings) -> str | None:
    """Keep the settings' S3 credentials in this process; the name to find them by (or None
    when the settings have none: then GDAL uses the process's ``AWS_*`` environment)."""
    if not (settings.s3_access_key and settings.s3_secret_key):
        return None
    import hashlib

    digest = hashlib.sha256(f"{settings.s3_access_key}\0{settings.s3_secret_key}".encode()).hexdigest()[:16]
    name = f"{settings.s3_endpoint_url or 'aws'}#{digest}"  # opaque: no key material in the graph
    with _LOCK:
        _CREDENTIALS[name] = (settings.s3_access_key, settings.s3_secret_key)
    return name


def _session_args(name: str | None, region: str | None) -> dict[str, Any] | None:
    """``rasterio.session.AWSSession`` arguments for the registered credentials ``name``, or None
    (unnamed, or not registered in this process: a remote worker with its own ``AWS_*``
    environment, which rasterio then uses)."""
    if not name:
        return None
    with _LOCK:
        creds = _CREDENTIALS.get(name)
    if creds is None:
        log.debug("no registered S3 credentials %r in this process; using the AWS_* environment", name.split("#")[0])
        return None
    return {"aws_access_key_id": creds[0], "aws_secret_access_key": creds[1], "region_name": region}


@contextmanager
def gdal_env(env: dict[str, Any]) -> Iterator[None]:
    """A rasterio environment for a task: the captured (non-secret) GDAL options ``env`` plus the
    credentials registered under its :data:`CREDENTIAL_KEY` in this process, if any."""
    import rasterio
    from rasterio.session import AWSSession

    opts = dict(env)
    session = _session_args(opts.pop(CREDENTIAL_KEY, None), opts.get("AWS_REGION"))
    with rasterio.Env(session=AWSSession(**session) if session else None, **opts):
        yield


QaLink = tuple[str, int, int, int]
"""For one data COG: (its QA COG href, QA band index, bits to drop, the data's nodata value)."""

_QA_CFG = RasterLoadParams(dtype="uint16", fill_value=0, resampling="nearest", use_overviews=True)

QA_CACHE_BYTES = 256 * 2**20
"""Most QA windows (bytes) one cube keeps for the other bands of the same scene."""


class QaWindows:
    """QA windows read once for all the bands of a scene that need them.

    The archive's multispectral QA COG holds one bitfield per band, pixel-interleaved: GDAL
    decompresses all four to return one.  The first band read of a chunk reads every QA
    band the cube needs in that window (one decompression) and keeps them here until the
    other bands have taken theirs (``uses`` reads per window), within ``budget`` bytes
    (least recently used dropped first: a dropped window is simply read again).  Threads
    asking for a window being read wait for it instead of reading it too."""

    def __init__(self, bands: dict[str, tuple[int, ...]], uses: dict[str, int], budget: int = QA_CACHE_BYTES) -> None:
        self.bands = dict(bands)   # QA href → the QA bands to read (1-based, sorted)
        self.uses = dict(uses)     # QA href → band reads per window
        self.budget = budget
        self._lock = threading.Lock()
        self._held: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()  # key → (array, reads left)
        self._reading: dict[tuple[Any, ...], threading.Event] = {}
        self._bytes = 0

    def __getstate__(self) -> dict[str, Any]:  # in a task graph: the plan only, no windows or locks
        return {"bands": self.bands, "uses": self.uses, "budget": self.budget}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["bands"], state["uses"], state["budget"])  # type: ignore[misc]

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def read(self, ds: Any, href: str, band: int, window: tuple[tuple[int, int], tuple[int, int]]) -> Any:
        """QA band ``band`` of ``href`` (open as ``ds``) in ``window`` (``((row0, row1), (col0, col1))``)."""
        wanted = self.bands.get(href, ())
        if band not in wanted or self.uses.get(href, 0) < 2:
            return ds.read(band, window=window)
        key = (href, tuple(tuple(int(v) for v in span) for span in window))  # ((row0, row1), (col0, col1))
        for _ in range(2):
            with self._lock:
                found = self._take(key)
                if found is not None:
                    return found[wanted.index(band)]
                event = self._reading.get(key)
                if event is None:
                    self._reading[key] = event = threading.Event()
                    break
            event.wait()  # another thread is reading it
        else:
            return ds.read(band, window=window)
        try:
            stack = ds.read(list(wanted), window=window)
            with self._lock:
                self._keep(key, stack, self.uses[href] - 1)
        finally:
            with self._lock:
                self._reading.pop(key, None)
            event.set()
        return stack[wanted.index(band)]

    def _take(self, key: tuple[Any, ...]) -> Any:
        held = self._held.get(key)
        if held is None:
            return None
        stack, left = held
        if left <= 1:
            del self._held[key]
            self._bytes -= stack.nbytes
        else:
            self._held[key] = (stack, left - 1)
            self._held.move_to_end(key)
        return stack

    def _keep(self, key: tuple[Any, ...], stack: Any, left: int) -> None:
        if left <= 0 or stack.nbytes > self.budget:
            return
        while self._held and self._bytes + stack.nbytes > self.budget:
            _, (old, _) = self._held.popitem(last=False)
            self._bytes -= old.nbytes
        self._held[key] = (stack, left)
        self._bytes += stack.nbytes


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return bool(a == b or (math.isnan(a) and math.isnan(b)))


class ArchiveReader:
    """Reads one band of one COG onto a chunk's grid, optionally QA-masked.

    Pixels with any of the QA ``mask`` bits become nodata *before* odc-stac fuses
    overlapping items, so a fused pixel's value and its quality always come from the same
    scene.  When the chunk's grid is the COG's own grid (same CRS and resolution, pixel
    aligned: a cube at the products' native resolution), the window is read straight into
    the output and its QA window with it (:class:`QaWindows`); anything else (reprojection,
    resampling, overviews, band subsets) goes through odc-stac's rasterio reader."""

    def __init__(self, src: RasterSource, ctx: Any, qa: QaLink | None = None, windows: QaWindows | None = None) -> None:
        self._src = src
        self._ctx = ctx
        self._qa = qa
        self._windows = windows

    def read(self, cfg: RasterLoadParams, dst_geobox: Any, *, dst: Any = None,
             selection: Any = None) -> tuple[tuple[slice, slice], Any]:
        import rasterio.errors

        if dst is None and selection is None and isinstance(self._src.band, int):
            try:
                done = self._read_direct(cfg, dst_geobox)
            except rasterio.errors.RasterioError:  # odc-stac's reader reports it (fail_on_error)
                done = None
            if done is not None:
                return done
        roi, data = RioReader(self._src, self._ctx).read(cfg, dst_geobox, dst=dst, selection=selection)
        if self._qa is None or data.size == 0:
            return roi, data
        href, band, _, _ = self._qa
        qroi, qa = RioReader(RasterSource(href, band=band), self._ctx).read(_QA_CFG, dst_geobox)
        if qroi != roi or qa.shape[-2:] != data.shape[-2:]:
            raise ProcessingError(f"QA band {href}#{band} is not on the grid of {self._src.uri}")
        self._apply_mask(cfg, data, qa)
        return roi, data

    def _apply_mask(self, cfg: RasterLoadParams, data: Any, qa: Any) -> None:
        import numpy as np

        _, _, mask, nodata = self._qa  # type: ignore[misc]
        bad = np.bitwise_and(qa, np.uint16(mask)) != 0
        fill = nodata if cfg.fill_value is None else cfg.fill_value
        np.copyto(data, data.dtype.type(fill), where=bad if data.ndim == bad.ndim else bad[None])

    def _read_direct(self, cfg: RasterLoadParams, dst_geobox: Any) -> tuple[tuple[slice, slice], Any] | None:
        """The no-reprojection case, or None when it does not apply."""
        import numpy as np
        import rasterio
        from odc.geo.converters import rio_geobox
        from odc.geo.overlap import compute_reproject_roi
        from odc.geo.roi import roi_is_empty, roi_shape, w_

        band = int(self._src.band)
        with rasterio.open(self._src.uri, "r", sharing=False) as ds:
            rr = compute_reproject_roi(rio_geobox(ds), dst_geobox, ttol=0.9 if cfg.nearest else 0.05)
            if not (rr.paste_ok and rr.read_shrink == 1) or not 1 <= band <= ds.count:
                return None
            dtype = resolve_dst_dtype(ds.dtypes[band - 1], cfg)
            src_nodata = resolve_src_nodata(ds.nodatavals[band - 1], cfg)
            dst_nodata = resolve_dst_nodata(dtype, cfg, src_nodata)
            if not _same(src_nodata, dst_nodata):
                return None
            roi = rr.roi_dst
            out = np.empty(roi_shape(roi), dtype=dtype)
            if roi_is_empty(roi):
                return roi, out
            if roi_is_empty(rr.roi_src):
                if dst_nodata is not None:
                    out.fill(dst_nodata)
                return roi, out
            window = w_[rr.roi_src]
            ds.read(band, out=out, window=window)
            transform, shape = ds.transform, ds.shape
        if self._qa is not None:
            href, qband, _, _ = self._qa
            with rasterio.open(href, "r", sharing=False) as qds:
                if qds.transform != transform or qds.shape != shape or not 1 <= qband <= qds.count:
                    return None
                qa = (self._windows.read(qds, href, qband, window) if self._windows is not None
                      else qds.read(qband, window=window))
            self._apply_mask(cfg, out, qa)
        return roi, out


class ArchiveRioDriver(RioDriver):
    """odc-stac's rasterio driver with a secret-free captured environment and QA-masked reads.

    ``capture_env`` (what goes into every Dask task) is the fixed, non-secret GDAL options
    given here plus the name of the registered credentials; ``restore_env`` (run in the
    task) opens a rasterio environment with those options and the credentials it finds in
    its own process.  Data COGs named in ``qa_links`` are read QA-masked
    (:class:`ArchiveReader`), each QA window read once for all bands (:class:`QaWindows`)."""

    def __init__(self, options: dict[str, str], credentials: str | None = None,
                 qa_links: dict[str, QaLink] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._options = dict(options)
        self._credentials = credentials
        self._qa_links = dict(qa_links or {})
        bands: dict[str, set[int]] = {}
        uses: dict[str, int] = {}
        for href, band, _, _ in self._qa_links.values():
            bands.setdefault(href, set()).add(band)
            uses[href] = uses.get(href, 0) + 1
        self._windows = QaWindows({h: tuple(sorted(b)) for h, b in bands.items()}, uses)

    def open(self, src: RasterSource, ctx: Any) -> ArchiveReader:  # type: ignore[override]
        return ArchiveReader(src, ctx, self._qa_links.get(src.uri), self._windows)

    def capture_env(self) -> dict[str, Any]:
        env: dict[str, Any] = dict(self._options)
        if self._credentials:
            env[CREDENTIAL_KEY] = self._credentials
        return env

    @contextmanager
    def restore_env(self, env: dict[str, Any], load_state: Any) -> Iterator[Any]:
        opts = dict(env)
        session = _session_args(opts.pop(CREDENTIAL_KEY, None), opts.get("AWS_REGION"))
        if session:
            opts["_aws"] = session  # RioDriver's own form of an AWS session; never captured in the graph
        with super().restore_env(opts, load_state) as ctx:
            yield ctx
