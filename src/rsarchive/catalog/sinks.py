"""Where the static catalog export goes: a local directory or an S3 bucket (under a
prefix), behind one small interface, :class:`CatalogSink`.

A sink maps relative paths (``a/b.json``) to bytes.  Every write is atomic on its own
(a reader sees the old or the new file, never a part): a rename in a directory, one
PUT in a bucket.  The order of writes that keeps the whole catalog consistent is the
exporter's business (:mod:`rsarchive.catalog.export`).

The S3 sink reuses the archive's storage layer: :func:`rsarchive.storage.open_store`
builds the boto3 client from the settings (endpoint, region, credentials, the
checksum mode SeaweedFS needs) and its request wrapper supplies the retries and the
translation of failures into :class:`~rsarchive.errors.StorageError` (missing
bucket, refused credentials) or :class:`~rsarchive.errors.ServiceError`
(unreachable endpoint).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from rsarchive.errors import NotFoundError, StorageError, UsageError

if TYPE_CHECKING:
    from rsarchive.settings import Settings
    from rsarchive.storage.s3 import S3Store

log = logging.getLogger(__name__)

__all__ = ["CatalogSink", "DirectorySink", "S3Sink", "content_type", "md5_hex", "open_sink"]

_CONTENT_TYPES = {
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".html": "text/html; charset=utf-8",
}
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TEMP = re.compile(r"(^|/)\.[^/]+\.[0-9a-f]{8}\.tmp$")
"""Interrupted writes of :class:`DirectorySink` (``.<name>.<random>.tmp``)."""


def content_type(path: str) -> str:
    """The media type of a catalog file by its extension (``application/octet-stream`` if unknown)."""
    return _CONTENT_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")


def md5_hex(data: bytes) -> str:
    """The MD5 of ``data``: what S3 reports as the ETag of a single-part object (used to skip
    unchanged files, not for integrity)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def is_temp(path: str) -> bool:
    """True for a temporary file a :class:`DirectorySink` left behind when interrupted."""
    return bool(_TEMP.search(path))


def _check_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"catalog path {path!r} must be relative, with no empty, '.' or '..' segments")
    return path


class CatalogSink(Protocol):
    """A directory or bucket prefix that receives a static catalog."""

    url: str

    def existing(self) -> dict[str, str | None]:
        """Every file already there: relative path → MD5 hex when known (else None).  Also the
        pre-flight check: a missing bucket or an unreachable endpoint fails here."""
        ...

    def read_bytes(self, path: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        ...

    def write_bytes(self, path: str, data: bytes, content_type: str) -> None:
        """Write one file atomically (replacing any old one)."""
        ...

    def delete(self, path: str) -> None:
        """Remove one file (no error when already gone)."""
        ...

    def sync(self) -> None:
        """Make everything written so far durable before the next write (a barrier)."""
        ...


class DirectorySink:
    """A local directory (created when needed).  Files are written to a temporary name
    beside the target and renamed over it; :meth:`sync` flushes them to disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def __repr__(self) -> str:
        return f"DirectorySink({self.url!r})"

    def _path(self, path: str) -> Path:
        return self.root / _check_path(path)

    def existing(self) -> dict[str, str | None]:
        if not self.root.exists():
            return {}
        if not self.root.is_dir():
            raise UsageError(f"export target {self.root} exists and is not a directory")
        found: dict[str, str | None] = {}
        try:
            for folder, _dirs, files in os.walk(self.root):
                for name in files:
                    full = Path(folder) / name
                    rel = full.relative_to(self.root).as_posix()
                    found[rel] = md5_hex(full.read_bytes()) if name.endswith((".json", ".html")) else None
        except OSError as exc:
            raise StorageError(f"cannot read export target {self.root}: {exc.strerror or exc}") from None
        return found

    def read_bytes(self, path: str) -> bytes | None:
        try:
            return self._path(path).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {self._path(path)}: {exc.strerror or exc}") from None

    def write_bytes(self, path: str, data: bytes, content_type: str) -> None:
        target = self._path(path)
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(data)
            os.replace(temp, target)
        except OSError as exc:
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                pass
            raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from None

    def delete(self, path: str) -> None:
        target = self._path(path)
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot remove {target}: {exc.strerror or exc}") from None
        folder = target.parent
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
            folder = folder.parent

    def sync(self) -> None:
        os.sync()


class S3Sink:
    """A bucket, optionally under a prefix, through the archive's :class:`~rsarchive.storage.s3.S3Store`
    client (endpoint, credentials, retries and error messages)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.bucket = store.bucket
        self.prefix = store.prefix  # "" or "a/b/"
        self.url = store.url if store.url.endswith("/") else store.url + "/"

    def __repr__(self) -> str:
        return f"S3Sink({self.url!r}, endpoint={self.store.endpoint!r})"

    def _request(self, what: str, path: str, func: Any, /, **kwargs: Any) -> Any:
        # The store's request wrapper: retries with backoff; NoSuchBucket, refused credentials
        # and unreachable endpoints become one StorageError / ServiceError naming the bucket.
        return self.store._call(what, path, func, **kwargs)

    def existing(self) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        while True:
            page = self._request("listing", self.url, self.store.client.list_objects_v2, **args)
            for item in page.get("Contents", []):
                etag = str(item.get("ETag", "")).strip('"').lower()
                found[item["Key"][len(self.prefix):]] = etag if re.fullmatch(r"[0-9a-f]{32}", etag) else None
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return found
            args["ContinuationToken"] = page["NextContinuationToken"]

    def read_bytes(self, path: str) -> bytes | None:
        def fetch() -> bytes:
            body = self.store.client.get_object(Bucket=self.bucket, Key=self.prefix + _check_path(path))["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

        try:
            return bytes(self._request("reading", path, fetch))
        except NotFoundError:
            return None

    def write_bytes(self, path: str, data: bytes, content_type: str) -> None:
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        self._request("writing", path, self.store.client.put_object, Bucket=self.bucket,
                      Key=self.prefix + _check_path(path), Body=data, ContentType=content_type, ContentMD5=md5)

    def delete(self, path: str) -> None:
        self._request("deleting", path, self.store.client.delete_object, Bucket=self.bucket,
                      Key=self.prefix + _check_path(path))

    def sync(self) -> None:
        """Nothing to do: a PUT is durable when it returns."""


def open_sink(target: str, settings: Settings | None = None) -> CatalogSink:
    """The sink for an export target: ``DIR``, ``file:///DIR`` or ``s3://BUCKET[/PREFIX/]``
    (endpoint, region and credentials of ``s3://`` from ``settings``, as for the archive's stores)."""
    if not target or not target.strip():
        raise UsageError("export target is empty: give a directory, file:///DIR or s3://BUCKET[/PREFIX]")
    parsed = urlparse(target)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file"):
        if scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise UsageError(f"export target {target!r}: a file:// URL must name a local path (file:///DIR), "
                             f"not host {parsed.netloc!r}")
        path = Path(parsed.path if scheme == "file" else target).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise UsageError(f"export target {path} exists and is not a directory")
        return DirectorySink(path)
    if scheme == "s3":
        bucket, prefix = parsed.netloc, parsed.path.strip("/")
        if not bucket:
            raise UsageError(f"export target {target!r} names no bucket: expected s3://BUCKET[/PREFIX]")
        if not _BUCKET.match(bucket) or ".." in bucket:
            raise UsageError(f"export target {target!r}: {bucket!r} is not a valid bucket name (3–63 lower-case "
                             "letters, digits, '.' and '-')")
        if parsed.query or parsed.fragment:
            raise UsageError(f"export target {target!r}: an s3:// URL takes no query or fragment")
        if prefix:
            for part in prefix.split("/"):
                if part in ("", ".", ".."):
                    raise UsageError(f"export target {target!r}: prefix {prefix!r} has an empty, '.' or '..' segment")
        if settings is None:
            raise UsageError(f"exporting to {target} needs settings (S3 endpoint, region, credentials)")
        from rsarchive.storage.factory import open_store
        from rsarchive.storage.s3 import S3Store

        store = open_store(f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}", settings)
        assert isinstance(store, S3Store)
        return S3Sink(store)
    raise UsageError(f"export target {target!r}: unsupported scheme {parsed.scheme!r}; give a directory, "
                     "file:///DIR or s3://BUCKET[/PREFIX]")

