"""The local-directory backend (the embedded default).

Writes go to ``<root>/.partial/<random>``, are hashed while streamed, flushed
with ``fsync`` and only then appear under their key by an atomic ``link`` (keys
of immutable forms: fails if the key exists, so nothing is ever replaced) or
``rename`` (mutable forms, repair).  The sha256 is also kept in the file's
extended attribute ``user.rsarchive.sha256`` when the file system allows it.
Immutable objects are made read-only (0444).
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rsarchive.diskspace import disk_full, out_of_space
from rsarchive.errors import RsArchiveError, ConflictError, IntegrityError, NotFoundError, StorageError, UsageError
from rsarchive.storage.base import ObjectInfo, Source, open_source, refuse_if_immutable
from rsarchive.storage.checksum import CHUNK, HashingWriter, check_sha256, sha256_file
from rsarchive.storage.keys import IMMUTABLE_FORMS, check_key, form_of

log = logging.getLogger(__name__)

__all__ = ["LocalStore"]

_XATTR = "user.rsarchive.sha256"
_PARTIAL = ".partial"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime(stat: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc)


class LocalStore:
    """An :class:`~rsarchive.storage.base.ObjectStore` in a directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = self.root.as_uri()
        try:
            (self.root / _PARTIAL).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"object store directory {self.root} is not usable: {exc.strerror}") from None

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _failed(self, doing: str, key: str, exc: OSError) -> StorageError:
        """The error for an ``OSError`` while ``doing`` ``key``: a full filesystem names this store."""
        if out_of_space(exc):
            return disk_full(self.root, f"kho lưu trữ {self.url} (khi ghi {key!r})",
                             f"the store {self.url} (writing {key!r})")
        return StorageError(f"cannot {doing} {key!r} in {self.root}: {exc.strerror or exc}")

    # -- helpers ----------------------------------------------------------
    def path(self, key: str) -> Path:
        """The file that holds ``key``."""
        return self.root / check_key(key)

    def _sha_xattr(self, path: Path) -> str | None:
        try:
            return os.getxattr(path, _XATTR).decode()
        except OSError:
            return None

    def _info(self, key: str, path: Path, sha256: str | None = None) -> ObjectInfo:
        stat = path.stat()
        return ObjectInfo(key, stat.st_size, sha256 or self._sha_xattr(path), _mtime(stat), self.url)

    def _write_temp(self, source: Source) -> tuple[Path, HashingWriter]:
        temp = self.root / _PARTIAL / secrets.token_hex(12)
        try:
            with open_source(source) as stream, open(temp, "wb") as out:
                writer = HashingWriter(out)
                while block := stream.read(CHUNK):
                    writer.write(block)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp, writer

    # -- protocol ---------------------------------------------------------
    def put(self, key: str, source: Source, *, expected_sha256: str | None = None,
            repair: bool = False) -> ObjectInfo:
        final = self.path(key)
        immutable = form_of(key) in IMMUTABLE_FORMS
        if repair and expected_sha256 is None:
            raise UsageError(f"repairing {key!r} needs the recorded sha256")
        if expected_sha256 is not None:
            expected_sha256 = check_sha256(expected_sha256)
        try:
            temp, writer = self._write_temp(source)
        except RsArchiveError:
            raise
        except OSError as exc:
            raise self._failed("write", key, exc) from None
        try:
            sha = writer.hexdigest()
            if expected_sha256 is not None and sha != expected_sha256:
                raise IntegrityError(f"bytes for {key!r} hash to {sha}, expected {expected_sha256}; nothing stored")
            try:
                os.setxattr(temp, _XATTR, sha.encode())
            except OSError:
                pass  # file system without user xattrs: the database record is the reference
            final.parent.mkdir(parents=True, exist_ok=True)
            if immutable:
                temp.chmod(0o444)
            if immutable and not repair:
                try:
                    os.link(temp, final)
                except FileExistsError:
                    existing, _ = sha256_file(final)
                    if existing != sha:
                        raise ConflictError(
                            f"{key!r} already exists in {self.url} with different content (sha256 {existing}, "
                            f"new {sha}); {form_of(key).value} objects are immutable"
                        ) from None
                    log.debug("identical re-put of %s: nothing to do", key)
                    return self._info(key, final, sha)
            else:
                os.replace(temp, final)
            _fsync_dir(final.parent)
        except RsArchiveError:
            raise
        except OSError as exc:
            raise self._failed("store", key, exc) from None
        finally:
            temp.unlink(missing_ok=True)
        return self._info(key, final, sha)

    def get(self, key: str, dest: Path | str | BinaryIO | None, *, expected_sha256: str | None = None,
            expected_size: int | None = None) -> ObjectInfo:
        path = self.path(key)
        where = f"{key!r} in {self.url}"
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise NotFoundError(f"no object {key!r} in {self.url}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {where}: {exc.strerror}") from None
        with handle:
            if isinstance(dest, (str, Path)):
                dest = Path(dest)
                temp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
                try:
                    with open(temp, "wb") as out:
                        writer = HashingWriter(out)
                        while block := handle.read(CHUNK):
                            writer.write(block)
                    writer.verify(expected_sha256, expected_size, where)
                    os.replace(temp, dest)
                finally:
                    temp.unlink(missing_ok=True)
            else:
                writer = HashingWriter(dest)
                while block := handle.read(CHUNK):
                    writer.write(block)
                writer.verify(expected_sha256, expected_size, where)
            stat = os.fstat(handle.fileno())
        return ObjectInfo(key, writer.size, writer.hexdigest(), _mtime(stat), self.url)

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if start < 0 or length < 0:
            raise UsageError(f"range start {start} and length {length} must be ≥ 0")
        try:
            with open(self.path(key), "rb") as fh:
                fh.seek(start)
                return fh.read(length)
        except FileNotFoundError:
            raise NotFoundError(f"no object {key!r} in {self.url}") from None

    def head(self, key: str) -> ObjectInfo:
        path = self.path(key)
        try:
            return self._info(key, path)
        except FileNotFoundError:
            raise NotFoundError(f"no object {key!r} in {self.url}") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            if rel == ".":
                dirnames[:] = [d for d in dirnames if d != _PARTIAL]
                rel = ""
            for name in filenames:
                key = f"{rel}/{name}" if rel else name
                if key.startswith(prefix):
                    keys.append(key)
        for key in sorted(keys):
            try:
                yield self._info(key, self.root / key)
            except FileNotFoundError:
                continue

    def delete(self, key: str) -> bool:
        refuse_if_immutable(key, "delete", self.url)
        path = self.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        self._prune(path.parent)
        return True

    def _prune(self, directory: Path) -> None:
        """Remove empty directories up to (not including) the root."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    return
                raise
            directory = directory.parent

    def promote(self, staging: str, key: str, *, expected_sha256: str, expected_size: int) -> ObjectInfo:
        refuse_if_immutable(key, "publish over", self.url)
        source, final = self.path(staging), self.path(key)
        try:
            stat = source.stat()
        except FileNotFoundError:
            raise NotFoundError(f"staged object {staging!r} is missing from {self.url}") from None
        if stat.st_size != expected_size:
            raise IntegrityError(f"staged {staging!r} has {stat.st_size} bytes, expected {expected_size}")
        recorded = self._sha_xattr(source)
        if recorded is not None and recorded != expected_sha256:
            raise IntegrityError(f"staged {staging!r} has sha256 {recorded}, expected {expected_sha256}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, final)
            _fsync_dir(final.parent)
        except OSError as exc:
            raise self._failed("publish", key, exc) from None
        self._prune(source.parent)
        return self._info(key, final, expected_sha256)

    def cleanup_partials(self, older_than: dt.timedelta) -> int:
        cutoff = dt.datetime.now(dt.timezone.utc) - older_than
        removed = 0
        for entry in (self.root / _PARTIAL).iterdir():
            try:
                if _mtime(entry.stat()) <= cutoff:
                    if entry.is_dir():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
