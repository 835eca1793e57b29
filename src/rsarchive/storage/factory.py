"""Opening a store from its URL: :func:`open_store` picks the backend
(:class:`~rsarchive.storage.local.LocalStore` or :class:`~rsarchive.storage.s3.S3Store`).

Kept apart from :mod:`rsarchive.storage.base` so that the protocol the backends
implement does not import the backends."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rsarchive.errors import ConfigError, UsageError
from rsarchive.storage.base import ObjectStore
from rsarchive.storage.local import LocalStore
from rsarchive.storage.s3 import S3Store

if TYPE_CHECKING:
    from rsarchive.settings import Settings

__all__ = ["open_store"]


def open_store(url: str, settings: Settings | None = None, *, role: str = "primary") -> ObjectStore:
    """The store at ``url``: ``file:///dir`` → :class:`LocalStore`, ``s3://bucket[/prefix]`` →
    :class:`S3Store` (endpoint, region and credentials from ``settings``; ``role="copy"`` uses
    ``settings.copy_endpoint``: ``copy_s3_endpoint_url``, else the copy's local SeaweedFS when set)."""
    if url.startswith("file://"):
        return LocalStore(Path(url.removeprefix("file://")))
    if url.startswith("s3://"):
        if settings is None:
            raise UsageError(f"opening {url} needs settings (endpoint, region, credentials)")
        endpoint = settings.copy_endpoint if role == "copy" else settings.s3_endpoint_url
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3Store(bucket, prefix=prefix, endpoint_url=endpoint or None, region=settings.s3_region,
                       access_key=settings.s3_access_key or None, secret_key=settings.s3_secret_key or None,
                       concurrency=settings.io_threads,  # the io share of the thread budget
                       part_size=settings.s3_part_size_mib << 20, attempts=settings.s3_attempts,
                       connect_timeout=settings.s3_connect_timeout_s, read_timeout=settings.s3_read_timeout_s)
    raise ConfigError(f"store URL {url!r} must start with file:// or s3://")
