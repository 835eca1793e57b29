"""The objects table and the fixity log in the internal database
(``rsarchive.objects``, ``rsarchive.fixity_events``; migration 0010)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rsarchive.errors import IntegrityError, NotFoundError
from rsarchive.storage.checksum import multihash
from rsarchive.storage.keys import Form

__all__ = ["ObjectRecord", "upsert", "fetch", "fetch_many", "select", "log_event", "mark_checked"]


@dataclass(frozen=True)
class ObjectRecord:
    """One row of ``rsarchive.objects``: an object the archive counts as stored."""

    key: str
    form: Form
    size: int
    sha256: str
    stored_at: dt.datetime
    copies: int
    primary_store: str
    copy_store: str | None = None
    publication: str | None = None
    last_checked_at: dt.datetime | None = None
    last_status: str | None = None

    @property
    def checksum(self) -> str:
        """The STAC ``file:checksum`` (sha2-256 multihash, hex)."""
        return multihash(self.sha256)

    def file_fields(self) -> dict[str, Any]:
        """The STAC file extension fields of an asset holding this object."""
        return {"file:checksum": self.checksum, "file:size": self.size}


_COLUMNS = ("key, form, size, sha256, stored_at, copies, primary_store, copy_store, publication, "
            "last_checked_at, last_status")


def _record(row: tuple[Any, ...]) -> ObjectRecord:
    return ObjectRecord(row[0], Form(row[1]), *row[2:])


def upsert(conn: Any, key: str, form: Form, size: int, sha256: str, copies: int, primary_store: str,
           copy_store: str | None = None, publication: str | None = None) -> ObjectRecord:
    """Record ``key`` as stored (idempotent: an identical row is left as it is).

    A different sha256 or size for an existing ``level0``/``original`` key is refused by
    the table's trigger; here it becomes :class:`IntegrityError` before reaching it."""
    existing = conn.execute(f"SELECT {_COLUMNS} FROM rsarchive.objects WHERE key = %s FOR UPDATE", (key,)).fetchone()
    if existing is not None:
        old = _record(existing)
        if (old.sha256, old.size) == (sha256, size) and old.copies == copies:
            return old
        if old.form in (Form.LEVEL0, Form.ORIGINAL) and (old.sha256, old.size) != (sha256, size):
            raise IntegrityError(f"{key!r} is recorded with sha256 {old.sha256} ({old.size} bytes); "
                                 f"refusing to record {sha256} ({size} bytes) for an immutable object")
    row = conn.execute(
        f"""INSERT INTO rsarchive.objects (key, form, size, sha256, copies, primary_store, copy_store, publication)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (key) DO UPDATE SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256,
                copies = EXCLUDED.copies, primary_store = EXCLUDED.primary_store,
                copy_store = EXCLUDED.copy_store, publication = EXCLUDED.publication, stored_at = now(),
                last_checked_at = NULL, last_status = NULL
            RETURNING {_COLUMNS}""",
        (key, form.value, size, sha256, copies, primary_store, copy_store, publication),
    ).fetchone()
    return _record(row)


def fetch(conn: Any, key: str) -> ObjectRecord:
    row = conn.execute(f"SELECT {_COLUMNS} FROM rsarchive.objects WHERE key = %s", (key,)).fetchone()
    if row is None:
        raise NotFoundError(f"no object {key!r} is recorded as stored")
    return _record(row)


def fetch_many(conn: Any, keys: Iterable[str]) -> dict[str, ObjectRecord]:
    """The records of those ``keys`` that are recorded as stored (one query), by key."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = conn.execute(f"SELECT {_COLUMNS} FROM rsarchive.objects WHERE key = ANY(%s)", (wanted,)).fetchall()
    return {row[0]: _record(row) for row in rows}


def select(conn: Any, *, forms: Iterable[Form] | None = None, sample: int | None = None,
           prefix: str = "") -> list[ObjectRecord]:
    """Records to audit: all (in key order), or ``sample`` of them, least recently checked first
    (never-checked first, ties broken at random), optionally only some forms or a key prefix."""
    where, params = ["key LIKE %s"], [prefix.replace("%", r"\%").replace("_", r"\_") + "%"]
    if forms is not None:
        where.append("form = ANY(%s)")
        params.append([f.value for f in forms])
    sql = f"SELECT {_COLUMNS} FROM rsarchive.objects WHERE {' AND '.join(where)}"
    if sample is not None:
        sql += " ORDER BY last_checked_at NULLS FIRST, random() LIMIT %s"
        params.append(sample)
    else:
        sql += " ORDER BY key"
    return [_record(r) for r in conn.execute(sql, params).fetchall()]


def keys(conn: Any, prefix: str = "") -> set[str]:
    """Every recorded key under ``prefix``."""
    pattern = prefix.replace("%", r"\%").replace("_", r"\_") + "%"
    return {r[0] for r in conn.execute("SELECT key FROM rsarchive.objects WHERE key LIKE %s", (pattern,))}


def log_event(conn: Any, run: str, key: str, store: str, action: str, outcome: str, expected: str,
              found_sha256: str | None = None, found_size: int | None = None, detail: str = "") -> None:
    """Append one check or repair to ``rsarchive.fixity_events``."""
    conn.execute(
        """INSERT INTO rsarchive.fixity_events
               (key, store, action, outcome, expected_sha256, found_sha256, found_size, detail, audit_run)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (key, store, action, outcome, expected, found_sha256, found_size, detail, run),
    )


def mark_checked(conn: Any, key: str, status: str) -> None:
    conn.execute("UPDATE rsarchive.objects SET last_checked_at = now(), last_status = %s WHERE key = %s",
                 (status, key))
