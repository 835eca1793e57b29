"""Writes in flight, as PostgreSQL advisory locks that ``storage gc`` tries before it deletes.

Age alone cannot tell a staging object or an interrupted upload from one being
written right now: ``gc --older-than 0`` would take it, and so would a gc whose
clock runs ahead of the writer's.  So writers say so, with locks held by a
database session for as long as they write (they end with the process, so a
killed writer never keeps its leftovers alive):

* every write to the stores (:meth:`Archive.store`, a publication while it
  stages and commits) holds the **writes** lock in shared mode; gc removes
  interrupted writes (temp files, incomplete multipart uploads) only when it gets
  the lock exclusively, i.e. when no write is in flight;
* a publication holds its own **publication** lock (shared: two runs of one
  publication may overlap) from its start to its commit or abandon; gc leaves a publication's staging objects alone while it cannot
  take that lock, whatever their age (and holds the lock while it deletes them,
  so the publication cannot resume meanwhile).

The locks live in the internal database (two-key advisory locks, class
``hashtext('rsarchive.storage')``), beside the publications' rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["InFlight", "try_publication", "try_writes"]

_CLASS = "hashtext('rsarchive.storage')"
_WRITES = "writes"


def _key(name: str) -> str:
    return f"publication:{name}"


class InFlight:
    """Holds the shared writes lock (and, with ``publication``, that publication's lock) on a session of
    its own until :meth:`release` (or the end of the process)."""

    def __init__(self, connect: Callable[..., Any], publication: str | None = None) -> None:
        self._conn = connect(autocommit=True)
        try:
            if publication is not None:  # waits while a gc is deleting this publication's staging objects
                self._conn.execute(f"SELECT pg_advisory_lock_shared({_CLASS}, hashtext(%s))", (_key(publication),))
            self._conn.execute(f"SELECT pg_advisory_lock_shared({_CLASS}, hashtext(%s))", (_WRITES,))
        except BaseException:
            self._conn.close()
            raise

    def release(self) -> None:
        if not self._conn.closed:
            self._conn.close()  # the session's advisory locks go with it

    def __enter__(self) -> InFlight:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def try_writes(conn: Any) -> bool:
    """In ``conn``'s transaction: True when no write is in flight (the writes lock, held until it ends)."""
    return bool(conn.execute(f"SELECT pg_try_advisory_xact_lock({_CLASS}, hashtext(%s))", (_WRITES,)).fetchone()[0])


def try_publication(conn: Any, txn_id: str) -> bool:
    """In ``conn``'s transaction: True when no process holds publication ``txn_id`` (its lock, held until
    the transaction ends)."""
    return bool(conn.execute(f"SELECT pg_try_advisory_xact_lock({_CLASS}, hashtext(%s))",
                             (_key(txn_id),)).fetchone()[0])
