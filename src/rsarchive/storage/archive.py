"""The archive's storage as the law asks for it: a primary store, an independent
copy store and the objects table, with the rules of each form.

``Archive.store`` keeps a ``level0`` or ``original`` object in the primary store,
writes its copy from the primary (which reads the primary back and verifies it),
reads the copy back and verifies it, and only then records the object with
``copies = 2``.  A crash at any point leaves either nothing recorded (and a re-run
finishes the job: identical re-puts are no-ops) or the complete record.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from rsarchive.db import connect
from rsarchive.errors import IntegrityError, NotFoundError, RsArchiveError, StorageError, UsageError
from rsarchive.storage import records
from rsarchive.storage.base import ObjectInfo, ObjectStore, Source
from rsarchive.storage.factory import open_store
from rsarchive.storage.inflight import InFlight
from rsarchive.storage.keys import COPIED_FORMS, Form, form_of
from rsarchive.storage.publication import Publication
from rsarchive.storage.records import ObjectRecord

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["Archive", "transfer"]


def transfer(source: ObjectStore, key: str, target: ObjectStore, *, expected_sha256: str,
             expected_size: int | None = None, repair: bool = False) -> ObjectInfo:
    """Stream ``key`` from one store to another through a pipe (bounded memory), verified at
    both ends: the read against ``expected_sha256`` and the write refusing other bytes."""
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            source.get(key, writer, expected_sha256=expected_sha256, expected_size=expected_size)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            failure.append(exc)
        finally:
            try:
                writer.close()
            except OSError:
                pass

    thread = threading.Thread(target=pump, name=f"transfer {key}", daemon=True)
    thread.start()
    try:
        info = target.put(key, reader, expected_sha256=expected_sha256, repair=repair)
    except BaseException:
        reader.close()
        thread.join()
        # The reading side failing on its own (the source store down, refusing, or answering short)
        # cut the stream short: that is the cause, and the write's complaint about the bytes it got
        # (a conflict with the object already there, a wrong checksum) only its consequence.  A
        # broken pipe means the write failed first and the reader could not go on.
        if failure and _caused_by_source(failure[0]):
            raise failure[0] from None
        raise
    reader.close()
    thread.join()
    if failure:
        raise failure[0]
    return info


def _caused_by_source(exc: BaseException) -> bool:
    """True when a transfer's reading side failed by itself, not because the writing side closed the pipe."""
    if isinstance(exc, BrokenPipeError):
        return False
    return isinstance(exc, RsArchiveError) or not isinstance(exc, OSError)


class Archive:
    """Primary store + copy store + the objects table in the internal database."""

    def __init__(self, primary: ObjectStore, copy: ObjectStore, dsn: str) -> None:
        if primary.url == copy.url:
            raise UsageError(f"the copy store must be independent of the primary store (both are {primary.url})")
        self.primary = primary
        self.copy = copy
        self.dsn = dsn

    @classmethod
    def from_settings(cls, settings: Settings) -> Archive:
        """The archive of ``settings``: ``primary_store``, ``copy_store``, the internal database."""
        return cls(open_store(settings.primary_store, settings),
                   open_store(settings.copy_store, settings, role="copy"),
                   settings.internal_database_dsn)

    def __repr__(self) -> str:
        return f"Archive(primary={self.primary.url!r}, copy={self.copy.url!r})"

    def connect(self, **kwargs: Any) -> Any:
        """A connection to the internal database (psycopg)."""
        return connect(self.dsn, **kwargs)

    # -- storing --------------------------------------------------------------------
    def store(self, key: str, source: Source, *, expected_sha256: str | None = None,
              conn: Any = None) -> ObjectRecord:
        """Keep ``source`` under ``key`` and record it; for the copied forms (``level0``, ``original``,
        ``catalog``, ``backup``) also the verified copy.  Idempotent: storing the same bytes again
        returns the same record; other bytes for an immutable key raise :class:`ConflictError`.
        With ``conn`` the record joins the caller's transaction (durable when the caller commits)."""
        form = form_of(key)
        if form in (Form.STAGING, Form.COPY):
            raise UsageError(f"{key!r}: staging keys are written by publications, copies by the archive itself")
        with InFlight(self.connect):  # storage gc leaves this write alone until it is recorded
            primary = self.primary.put(key, source, expected_sha256=expected_sha256)
            assert primary.sha256 is not None
            copies, copy_url = 1, None
            if form in COPIED_FORMS:
                transfer(self.primary, key, self.copy, expected_sha256=primary.sha256, expected_size=primary.size)
                verified = self.copy.get(key, None, expected_sha256=primary.sha256, expected_size=primary.size)
                log.debug("copy of %s verified in %s (sha256 %s)", key, self.copy.url, verified.sha256)
                copies, copy_url = 2, self.copy.url
            if conn is not None:
                record = records.upsert(conn, key, form, primary.size, primary.sha256, copies, self.primary.url,
                                        copy_url)
            else:
                with self.connect() as own:
                    record = records.upsert(own, key, form, primary.size, primary.sha256, copies,
                                            self.primary.url, copy_url)
        log.info("stored %s (%d bytes, sha256 %s, %d cop%s)", key, record.size, record.sha256, copies,
                 "y" if copies == 1 else "ies")
        return record

    def publication(self, txn_id: str | None = None) -> Publication:
        """A new (or, with the same ``txn_id``, resumed) atomic publication of raw/product objects."""
        return Publication(self.primary, self.connect, txn_id)

    # -- reading --------------------------------------------------------------------
    def record(self, key: str) -> ObjectRecord:
        """The stored record of ``key`` (:class:`NotFoundError` when not stored)."""
        with self.connect() as conn:
            return records.fetch(conn, key)

    def read_unrecorded(self, key: str) -> bytes:
        """A small object read without its record (the database may be lost: catalog records, backup
        manifests), verified against the checksum its store kept when it was written; from the
        primary or, when that is missing or damaged, the copy."""
        problems, absent = [], 0
        for store in (self.primary, self.copy):
            try:
                info = store.head(key)
                buffer = io.BytesIO()
                store.get(key, buffer, expected_sha256=info.sha256, expected_size=info.size)
                return buffer.getvalue()
            except NotFoundError as exc:
                absent += 1
                problems.append(f"{store.url}: {exc}")
            except IntegrityError as exc:
                problems.append(f"{store.url}: {exc}")
        if absent == len(problems):
            raise NotFoundError(f"{key!r} is in neither store ({self.primary.url}, {self.copy.url})")
        raise IntegrityError(f"{key!r} is damaged or missing in both stores: {'; '.join(problems)}")

    def get(self, key: str, dest: Path | str | BinaryIO | None) -> ObjectInfo:
        """Read a stored object, verified against its record; when the primary is missing or
        damaged and a copy exists, read the copy instead (the audit repairs the primary)."""
        record = self.record(key)
        try:
            return self.primary.get(key, dest, expected_sha256=record.sha256, expected_size=record.size)
        except (IntegrityError, NotFoundError) as exc:
            if record.copies < 2 or not isinstance(dest, (str, Path, type(None))):
                raise
            log.warning("primary of %s unusable (%s); reading the copy", key, exc)
        try:
            return self.copy.get(key, dest, expected_sha256=record.sha256, expected_size=record.size)
        except (IntegrityError, NotFoundError) as exc:
            raise StorageError(f"{key!r}: neither the primary nor the copy is intact ({exc})") from None
