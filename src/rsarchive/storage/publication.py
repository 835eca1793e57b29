"""Atomic publication of ``raw`` and ``product`` objects.

1. Each object is written under ``staging/<txn-id>/<key>``, verified (size and
   sha256 as the store reports them) and listed in ``rsarchive.storage_txn_objects``.
2. ``commit`` locks the publication's row, moves every staged object to its final
   key (rename or server-side copy, verified), then — in **one** database
   transaction — records the objects, marks the publication committed and runs
   the caller's ``on_commit(conn, records)`` (the catalog inserts its items there).

From its start to its commit (or abandon) a publication holds its in-flight lock
(:class:`~rsarchive.storage.inflight.InFlight`): ``storage gc`` never deletes its
staging objects meanwhile, whatever their age.

Nothing is visible to the catalog before step 2's transaction commits.  A crash
before it leaves staging objects (removed by ``rsarchive storage gc``) and maybe
unrecorded final objects (orphans, also removed by gc); running the same
publication again (same ``txn_id``) re-stages what is missing, skips what is
already in place and commits; a committed publication re-run is a no-op.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rsarchive.errors import ConflictError, IntegrityError, NotFoundError, UsageError
from rsarchive.storage import records
from rsarchive.storage.base import ObjectStore, Source, open_source
from rsarchive.storage.checksum import sha256_stream
from rsarchive.storage.inflight import InFlight
from rsarchive.storage.keys import Form, form_of, staging_key
from rsarchive.storage.records import ObjectRecord

log = logging.getLogger(__name__)

__all__ = ["Connect", "Publication", "StagedObject", "OnCommit"]

OnCommit = Callable[[Any, list[ObjectRecord]], None]
"""``on_commit(conn, records)``: runs inside the publication's database transaction."""

Connect = Callable[..., Any]
"""``connect(autocommit=False)``: a new connection (psycopg, a context manager) to the
database that holds the objects table and the publications."""

_PUBLISHABLE = (Form.RAW, Form.PRODUCT)


@dataclass(frozen=True)
class StagedObject:
    key: str
    staging_key: str
    size: int
    sha256: str


class Publication:
    """A set of raw/product objects published together, or not at all.

    Objects are staged in and promoted within ``primary``; ``connect`` opens connections
    to the database of the objects table.  Use as a context manager; leaving the block
    without :meth:`commit` (or with an exception) abandons the staged objects::

        with archive.publication(txn_id=f"{scene}-{run}") as pub:
            pub.put(product_key(...), path)
            pub.commit(on_commit=lambda conn, recs: catalog.insert(conn, item))
    """

    def __init__(self, primary: ObjectStore, connect: Connect, txn_id: str | None = None) -> None:
        self.primary = primary
        self.connect = connect
        self.txn_id = txn_id or secrets.token_hex(8)
        staging_key(self.txn_id, "product/x/x")  # validates the id as a key segment
        self._inflight = InFlight(connect, publication=self.txn_id)
        with connect(autocommit=True) as conn:
            conn.execute("INSERT INTO rsarchive.storage_txns (txn_id, state) VALUES (%s, 'staging') "
                         "ON CONFLICT (txn_id) DO NOTHING", (self.txn_id,))
            conn.execute("UPDATE rsarchive.storage_txns SET state = 'staging' "
                         "WHERE txn_id = %s AND state = 'abandoned'", (self.txn_id,))
            self.state: str = conn.execute("SELECT state FROM rsarchive.storage_txns WHERE txn_id = %s",
                                           (self.txn_id,)).fetchone()[0]
        if self.committed:
            self._inflight.release()

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.state == "staging":
            self.abandon()
        self._inflight.release()

    @property
    def committed(self) -> bool:
        return self.state == "committed"

    def _staged(self, conn: Any) -> dict[str, StagedObject]:
        rows = conn.execute("SELECT key, staging_key, size, sha256 FROM rsarchive.storage_txn_objects "
                            "WHERE txn_id = %s ORDER BY key", (self.txn_id,)).fetchall()
        return {r[0]: StagedObject(*r) for r in rows}

    def put(self, key: str, source: Source) -> StagedObject:
        """Stage one object (verified).  Already staged with the same bytes: nothing is sent again."""
        form = form_of(key)
        if form not in _PUBLISHABLE:
            raise UsageError(f"{key!r}: only raw and product objects are published; {form.value} goes "
                             "through Archive.store")
        primary = self.primary
        staged_key = staging_key(self.txn_id, key)
        with self.connect(autocommit=True) as conn:
            before = self._staged(conn).get(key)
            if self.committed:
                with open_source(source) as stream:
                    sha, size = sha256_stream(stream)
                record = records.fetch(conn, key)
                if (record.sha256, record.size) != (sha, size):
                    raise ConflictError(f"publication {self.txn_id} is committed with other bytes for {key!r}")
                return StagedObject(key, staged_key, size, sha)
            if before is not None:
                info = None
                try:
                    info = primary.head(staged_key)
                except NotFoundError:
                    pass
                if info is not None and info.size == before.size and info.sha256 in (None, before.sha256):
                    with open_source(source) as stream:
                        if sha256_stream(stream) == (before.sha256, before.size):
                            return before
            info = primary.put(staged_key, source)
            assert info.sha256 is not None
            check = primary.head(staged_key)
            if check.size != info.size or check.sha256 not in (None, info.sha256):
                raise IntegrityError(f"staged {staged_key!r} reads back as {check.size} bytes, sha256 "
                                     f"{check.sha256}; wrote {info.size} bytes, sha256 {info.sha256}")
            staged = StagedObject(key, staged_key, info.size, info.sha256)
            conn.execute(
                """INSERT INTO rsarchive.storage_txn_objects (txn_id, key, staging_key, size, sha256)
                   VALUES (%s, %s, %s, %s, %s) ON CONFLICT (txn_id, key) DO UPDATE
                   SET staging_key = EXCLUDED.staging_key, size = EXCLUDED.size, sha256 = EXCLUDED.sha256""",
                (self.txn_id, key, staged_key, info.size, info.sha256),
            )
        return staged

    def commit(self, on_commit: OnCommit | None = None, *, conn: Any = None) -> list[ObjectRecord]:
        """Publish everything staged, atomically with ``on_commit``'s database work.

        With ``conn`` the work joins the caller's connection (a savepoint when it is
        inside a transaction: then it is durable only when the caller commits)."""
        if conn is None:
            with self.connect() as own:
                done = self._commit(own, on_commit)
        else:
            done = self._commit(conn, on_commit)  # the caller's open transaction keeps the row locked
        self._inflight.release()
        return done

    def _commit(self, conn: Any, on_commit: OnCommit | None) -> list[ObjectRecord]:
        primary = self.primary
        with conn.transaction():
            state = conn.execute("SELECT state FROM rsarchive.storage_txns WHERE txn_id = %s FOR UPDATE",
                                 (self.txn_id,)).fetchone()[0]
            staged = self._staged(conn)
            if state == "committed":
                self.state = state
                return [records.fetch(conn, key) for key in staged]
            if not staged:
                raise UsageError(f"publication {self.txn_id} has nothing staged to commit")
            for item in staged.values():
                if primary.exists(item.staging_key):
                    primary.promote(item.staging_key, item.key, expected_sha256=item.sha256, expected_size=item.size)
                    continue
                # Promoted by an earlier, interrupted commit?  Then the final object must be these bytes.
                try:
                    final = primary.head(item.key)
                except NotFoundError:
                    raise IntegrityError(f"publication {self.txn_id}: {item.staging_key!r} is gone and {item.key!r} "
                                         "is not in place; stage it again") from None
                sha = final.sha256 or primary.get(item.key, None).sha256
                if (final.size, sha) != (item.size, item.sha256):
                    raise IntegrityError(f"publication {self.txn_id}: staged {item.staging_key!r} is gone and "
                                         f"{item.key!r} holds other bytes; stage it again")
            done = [records.upsert(conn, item.key, form_of(item.key), item.size, item.sha256, 1, primary.url,
                                   publication=self.txn_id) for item in staged.values()]
            conn.execute("UPDATE rsarchive.storage_txns SET state = 'committed', committed_at = now() "
                         "WHERE txn_id = %s", (self.txn_id,))
            if on_commit is not None:
                on_commit(conn, done)
        self.state = "committed"
        log.info("published %d object(s) in publication %s", len(done), self.txn_id)
        return done

    def abandon(self) -> int:
        """Delete the staged objects and mark the publication abandoned; return how many were deleted."""
        primary = self.primary
        removed = 0
        with self.connect() as conn, conn.transaction():
            row = conn.execute("SELECT state FROM rsarchive.storage_txns WHERE txn_id = %s FOR UPDATE",
                               (self.txn_id,)).fetchone()
            if row is None or row[0] == "committed":
                return 0
            for info in list(primary.list(f"staging/{self.txn_id}/")):
                removed += primary.delete(info.key)
            conn.execute("UPDATE rsarchive.storage_txns SET state = 'abandoned' WHERE txn_id = %s", (self.txn_id,))
        self.state = "abandoned"
        self._inflight.release()
        return removed
