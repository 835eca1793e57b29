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
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from odc.loader._rio import LocalContext, RioDriver, RioReader, rio_env, rio_read  # odc-stac's rasterio driver
from odc.loader.types import RasterLoadParams, RasterSource

from rsarchive.errors import ProcessingError

from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["gdal_options", "register_credentials", "ArchiveRioDriver", "QaMaskedReader", "QaLink", "CREDENTIAL_KEY"]

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
_SESSIONS = threading.local()


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


def _session(name: str | None, region: str | None) -> Any:
    """A rasterio AWS session for the registered credentials ``name`` (one per thread and name),
    or None (rasterio then builds one from the environment)."""
    if not name:
        return None
    cache: dict[str, Any] = getattr(_SESSIONS, "cache", None) or {}
    _SESSIONS.cache = cache
    if name not in cache:
        with _LOCK:
            creds = _CREDENTIALS.get(name)
        if creds is None:  # a remote worker: its own AWS_* environment
            log.debug("no registered S3 credentials %r in this process; using the AWS_* environment",
                      name.split("#")[0])
            return None
        from rasterio.session import AWSSession

        cache[name] = AWSSession(aws_access_key_id=creds[0], aws_secret_access_key=creds[1], region_name=region)
    return cache[name]


QaLink = tuple[str, int, int, int]
"""For one data COG: (its QA COG href, QA band index, bits to drop, the data's nodata value)."""

_QA_CFG = RasterLoadParams(dtype="uint16", fill_value=0, resampling="nearest", use_overviews=True)


class QaMaskedReader(RioReader):
    """Reads a data band and, on the same output grid, its QA bitfield (nearest); pixels with
    any of the ``mask`` bits become nodata *before* odc-stac fuses overlapping items, so a
    fused pixel's value and its quality always come from the same scene."""

    def __init__(self, src: RasterSource, ctx: LocalContext, qa: QaLink) -> None:
        super().__init__(src, ctx)
        self._qa = qa

    def read(self, cfg: RasterLoadParams, dst_geobox: Any, *, dst: Any = None,
             selection: Any = None) -> tuple[tuple[slice, slice], Any]:
        import numpy as np

        roi, data = rio_read(self._src, cfg, dst_geobox, dst=dst, selection=selection)
        if data.size == 0:
            return roi, data
        href, band, mask, nodata = self._qa
        qroi, qa = rio_read(RasterSource(href, band=band), _QA_CFG, dst_geobox)
        if qroi != roi or qa.shape[-2:] != data.shape[-2:]:
            raise ProcessingError(f"QA band {href}#{band} is not on the grid of {self._src.uri}")
        bad = (qa & np.uint16(mask)) != 0
        if bad.any():
            data[..., bad] = nodata if cfg.fill_value is None else cfg.fill_value
        return roi, data


class ArchiveRioDriver(RioDriver):
    """odc-stac's rasterio driver with a secret-free captured environment.

    ``capture_env`` (what goes into every Dask task) is the fixed, non-secret GDAL options
    given here plus the name of the registered credentials; ``restore_env`` (run in the
    task) opens a rasterio environment with those options and the credentials it finds in
    its own process.  Data COGs named in ``qa_links`` are read QA-masked (:class:`QaMaskedReader`)."""

    def __init__(self, options: dict[str, str], credentials: str | None = None,
                 qa_links: dict[str, QaLink] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._options = dict(options)
        self._credentials = credentials
        self._qa_links = dict(qa_links or {})

    def open(self, src: RasterSource, ctx: LocalContext) -> RioReader:
        link = self._qa_links.get(src.uri)
        return QaMaskedReader(src, ctx, link) if link else RioReader(src, ctx)

    def capture_env(self) -> dict[str, Any]:
        env: dict[str, Any] = dict(self._options)
        if self._credentials:
            env[CREDENTIAL_KEY] = self._credentials
        return env

    @contextmanager
    def restore_env(self, env: dict[str, Any], load_state: Any) -> Iterator[LocalContext]:
        opts = dict(env)
        name = opts.pop(CREDENTIAL_KEY, None)
        session = _session(name, opts.get("AWS_REGION"))
        with rio_env(session, **opts):
            yield load_state.local_ctx(LocalContext)
