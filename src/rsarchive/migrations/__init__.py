"""The application's own schema migrations: plain numbered SQL files.

``migrations/internal/NNNN_name.sql`` apply to the internal database,
``migrations/public/NNNN_name.sql`` to the public one.  Each file runs once, in
a transaction, in order; ``rsarchive.schema_migrations`` records its version and
sha256.  A migration that was applied and then edited is refused: add a new file.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from rsarchive.db import connect, redact
from rsarchive.errors import ConfigError

log = logging.getLogger(__name__)

Kind = Literal["internal", "public"]

_BOOKKEEPING = """
CREATE SCHEMA IF NOT EXISTS rsarchive;
CREATE TABLE IF NOT EXISTS rsarchive.schema_migrations (
    version    text PRIMARY KEY,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available(kind: Kind) -> list[Migration]:
    """The migrations shipped with the package for ``kind``, in order."""
    folder = resources.files("rsarchive.migrations").joinpath(kind)
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    found = [Migration(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]
    numbers = [m.version.split("_", 1)[0] for m in found]
    if len(set(numbers)) != len(numbers):
        raise ConfigError(f"duplicate migration numbers in migrations/{kind}: {sorted(numbers)}")
    return found


def apply(dsn: str, kind: Kind) -> list[str]:
    """Apply the pending migrations of ``kind``; return the versions applied now."""
    applied_now: list[str] = []
    with connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('rsarchive.migrations'))")
        conn.execute(_BOOKKEEPING)
        done = dict(conn.execute("SELECT version, sha256 FROM rsarchive.schema_migrations").fetchall())
        conn.commit()
        for migration in available(kind):
            if migration.version in done:
                if done[migration.version] != migration.sha256:
                    raise ConfigError(
                        f"migration {kind}/{migration.version} was edited after it was applied to "
                        f"{redact(dsn)}; add a new migration instead"
                    )
                continue
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('rsarchive.migrations'))")
                conn.execute(migration.sql)  # type: ignore[arg-type]
                conn.execute(
                    "INSERT INTO rsarchive.schema_migrations (version, sha256) VALUES (%s, %s)",
                    (migration.version, migration.sha256),
                )
            log.info("applied migration %s/%s", kind, migration.version)
            applied_now.append(migration.version)
    return applied_now


def applied(dsn: str) -> list[str]:
    """Versions recorded as applied in the database at ``dsn``."""
    with connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('rsarchive.schema_migrations')").fetchone()[0]
        if exists is None:
            return []
        return [row[0] for row in conn.execute("SELECT version FROM rsarchive.schema_migrations ORDER BY version")]
