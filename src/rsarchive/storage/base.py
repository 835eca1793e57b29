"""The :class:`ObjectStore` protocol both backends implement, what it returns,
and the small helpers they share.  Opening a store from a URL is
:func:`rsarchive.storage.factory.open_store`; nothing here imports a backend."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from rsarchive.errors import ConflictError, UsageError
from rsarchive.storage.keys import IMMUTABLE_FORMS, form_of

__all__ = ["ObjectInfo", "ObjectStore", "Source", "open_source", "refuse_if_immutable"]

Source = Path | str | BinaryIO | bytes
"""What ``put`` accepts: a file path, a readable binary stream, or (small) bytes."""


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object as a store reports it.  ``sha256`` is None when the store
    cannot say without reading the bytes (e.g. a local file without its xattr)."""

    key: str
    size: int
    sha256: str | None = None
    modified: dt.datetime | None = None
    store: str = ""


@runtime_checkable
class ObjectStore(Protocol):
    """A flat key → bytes store: a local directory or an S3 bucket.

    Every write computes the sha256 while streaming and is atomic (a reader sees
    the whole new object or the old one, never a part).  Keys follow
    :mod:`rsarchive.storage.keys`; keys of an immutable form (``level0``,
    ``original`` and, in the copy store, their copies) are never overwritten or
    deleted: a different re-put raises :class:`ConflictError`, an identical one is
    a no-op.  Only the fixity repair passes ``repair=True`` with the recorded
    sha256 to replace damaged bytes by verified ones.
    """

    url: str

    def put(self, key: str, source: Source, *, expected_sha256: str | None = None,
            repair: bool = False) -> ObjectInfo:
        """Store ``source`` under ``key``; return its size and sha256.  With
        ``expected_sha256``, bytes that hash differently are refused
        (:class:`IntegrityError`) and nothing is stored."""
        ...

    def get(self, key: str, dest: Path | str | BinaryIO | None, *, expected_sha256: str | None = None,
            expected_size: int | None = None) -> ObjectInfo:
        """Stream the object to a file path (written atomically, only when verified),
        to a binary stream, or nowhere (``None``: just re-hash it).  Returns the
        sha256 computed while reading; a mismatch raises :class:`IntegrityError`."""
        ...

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from offset ``start`` (fewer at the end of the object)."""
        ...

    def head(self, key: str) -> ObjectInfo:
        """Size, modification time and (when the store keeps it) sha256; :class:`NotFoundError` if absent."""
        ...

    def exists(self, key: str) -> bool:
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""
        ...

    def delete(self, key: str) -> bool:
        """Remove an object of a mutable form; True when it existed.  Immutable forms: :class:`ConflictError`."""
        ...

    def promote(self, staging: str, key: str, *, expected_sha256: str, expected_size: int) -> ObjectInfo:
        """Move a staged object to its final key (rename or server-side copy), verified."""
        ...

    def cleanup_partials(self, older_than: dt.timedelta) -> int:
        """Remove interrupted writes (temp files, incomplete multipart uploads) older than ``older_than``."""
        ...


def refuse_if_immutable(key: str, action: str, store: str) -> None:
    """Raise :class:`ConflictError` when ``key`` belongs to an immutable form."""
    form = form_of(key)
    if form in IMMUTABLE_FORMS:
        raise ConflictError(f"refusing to {action} {key!r} in {store}: {form.value} objects are immutable")


@contextmanager
def open_source(source: Source) -> Iterator[BinaryIO]:
    """A readable binary stream for any :data:`Source` (files opened and closed here)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(bytes(source))
    elif isinstance(source, (str, Path)):
        path = Path(source)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise UsageError(f"cannot store {path}: no such file") from None
        with handle:
            yield handle
    elif hasattr(source, "read"):
        yield source
    else:
        raise UsageError(f"cannot store a {type(source).__name__}: give a path, a binary stream or bytes")
