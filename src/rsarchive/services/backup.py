"""Backups of the two databases as archive objects (issue 19, part 7; Decision 81, Art. 6).

``backup`` dumps both databases with the ``pg_dump`` of the PostgreSQL 15 installation
(custom format, every schema and table: a table added by a later migration is in the dump
without being named here) and keeps each dump like any archive object: primary store,
verified copy, sha256, a record in ``rsarchive.objects`` (form ``backup``).  A manifest,
``backup/<run>/manifest.json``, lists the dumps with their sizes and sha256, so a restore
needs nothing from the databases it replaces.  Then the retention (``backup_keep``,
``backup_keep_days``) removes old runs, dumps and records alike.

Consistency.  Each dump is one snapshot of its database (``pg_dump`` runs in one
repeatable-read transaction).  The two databases cannot share a snapshot, so the order
decides what a pair can disagree on: the **public** database is dumped first, then the
internal one.  Every item reaches the public database after it is committed in the
internal one, so a restored pair never has a public item that its internal catalog lacks
(an item committed between the two dumps is internal only: ``catalog rebuild`` publishes
it).  What can still differ -- an item withdrawn or classified upward between the two
dumps -- is settled by ``restore``: after loading both, every public copy the restored
internal catalog does not allow (unknown, classified, held, withdrawn) is removed.  The
manifest records each dump's start and end and the server's WAL position at each end.

``restore`` reads the manifest, downloads every dump and verifies its size and sha256
(primary first, the copy when the primary is missing or damaged) **before** touching a
database; a database that holds data is replaced only with ``force``.  Each database is
dropped, created and loaded (``pg_restore`` into ``psql``) in a single transaction, with its
owners and privileges as dumped (pgSTAC's roles, the revoked ``PUBLIC`` rights of the
classification function): the roles are cluster-wide, so ``services up`` must have made them
on a new server first.  The run-time roles' grants are then applied again, as ``services up``
does.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from rsarchive.catalog.rebuild import reconcile_public
from rsarchive.db import connect, redact, with_database
from rsarchive.errors import (
    ConflictError,
    IntegrityError,
    NotFoundError,
    ServiceError,
    StorageError,
    UsageError,
)
from rsarchive.services import roles
from rsarchive.services.postgres import PG_VERSION
from rsarchive.settings import Settings
from rsarchive.storage.archive import Archive
from rsarchive.storage.keys import Form, backup_key

log = logging.getLogger(__name__)

__all__ = [
    "BackupReport",
    "DumpEntry",
    "Manifest",
    "RestoreReport",
    "apply_retention",
    "backup",
    "list_runs",
    "restore",
]

Database = Literal["public", "internal"]
ORDER: tuple[Database, ...] = ("public", "internal")
"""Dump order (see the module's documentation): public first."""
MANIFEST = "manifest.json"
FORMAT = "rsarchive-backup/1"
_RUN = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


class DumpEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database: Database
    name: str
    key: str
    size: int
    sha256: str
    started_at: dt.datetime
    finished_at: dt.datetime
    wal_lsn: str
    """The server's WAL position when the dump ended (both databases share one server)."""


class Manifest(BaseModel):
    """``backup/<run>/manifest.json``."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["rsarchive-backup/1"] = FORMAT
    run: str
    created_at: dt.datetime
    pg_dump: str
    order: list[Database]
    dumps: list[DumpEntry]


@dataclass
class BackupReport:
    run: str
    dumps: list[DumpEntry]
    removed_runs: list[str] = field(default_factory=list)


@dataclass
class RestoreReport:
    run: str
    databases: list[str]
    public_copies_removed: list[str] = field(default_factory=list)


# -- the PostgreSQL client programs -------------------------------------------------------------
def client_program(settings: Settings, name: str) -> Path:
    """``pg_dump``/``pg_restore`` of PostgreSQL 15: ``pg_bindir``, /usr/lib/postgresql/15/bin, PATH."""
    candidates = [Path(settings.pg_bindir)] if settings.pg_bindir else []
    candidates.append(Path(f"/usr/lib/postgresql/{PG_VERSION}/bin"))
    for folder in candidates:
        if (folder / name).is_file():
            return folder / name
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ServiceError(f"{name} of PostgreSQL {PG_VERSION} not found in {', '.join(map(str, candidates))} "
                       f"or on PATH (Debian package postgresql-client-{PG_VERSION})")


def _client_args(dsn: str) -> tuple[str, dict[str, str]]:
    """A conninfo without the password (which goes to the environment: never on a command line)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**params), env  # type: ignore[arg-type]


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        detail = "; ".join(lines[:3]) or f"exit status {result.returncode}"
        raise ServiceError(f"{what} failed: {redact(detail)}")


def _dsn(settings: Settings, database: Database) -> str:
    return settings.internal_database_dsn if database == "internal" else settings.public_database_dsn


def _name(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(dsn).get("dbname") or "")


# -- backup ---------------------------------------------------------------------------------------
def _run_name(archive: Archive, now: dt.datetime) -> str:
    base = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    taken = {info.key.split("/")[1] for info in archive.primary.list(f"backup/{base}")}
    run, n = base, 1
    while run in taken:
        n += 1
        run = f"{base}-{n}"
    return run


def backup(settings: Settings, *, archive: Archive | None = None, now: dt.datetime | None = None) -> BackupReport:
    """Dump both databases (public first), keep the dumps and their manifest as archive objects
    (primary + verified copy + record), then apply the retention."""
    archive = archive or Archive.from_settings(settings)
    pg_dump = client_program(settings, "pg_dump")
    version = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True, check=False).stdout.strip()
    run = _run_name(archive, now or dt.datetime.now(dt.timezone.utc))
    work = settings.archive_root / "work"
    work.mkdir(parents=True, exist_ok=True)
    entries: list[DumpEntry] = []
    with tempfile.TemporaryDirectory(prefix=f"backup-{run}-", dir=work) as tmp:
        for database in ORDER:
            dsn = _dsn(settings, database)
            path = Path(tmp) / f"{database}.dump"
            conninfo, env = _client_args(dsn)
            started = dt.datetime.now(dt.timezone.utc)
            _run([str(pg_dump), "--format=custom", "--no-password", f"--file={path}", f"--dbname={conninfo}"], env,
                 f"pg_dump of the {database} database ({redact(dsn)})")
            with connect(dsn, autocommit=True) as conn:
                lsn = str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])
            finished = dt.datetime.now(dt.timezone.utc)
            record = archive.store(backup_key(run, f"{database}.dump"), path)
            entries.append(DumpEntry(database=database, name=_name(dsn), key=record.key, size=record.size,
                                     sha256=record.sha256, started_at=started, finished_at=finished, wal_lsn=lsn))
            log.info("%s database dumped: %s (%d bytes, sha256 %s)", database, record.key, record.size, record.sha256)
    manifest = Manifest(run=run, created_at=dt.datetime.now(dt.timezone.utc), pg_dump=version, order=list(ORDER),
                        dumps=entries)
    archive.store(backup_key(run, MANIFEST), manifest.model_dump_json(indent=1).encode())
    removed = apply_retention(settings, archive)
    return BackupReport(run, entries, removed)


# -- runs and retention ---------------------------------------------------------------------------
def list_runs(archive: Archive) -> list[str]:
    """The backup runs in the stores (primary and copy), oldest first."""
    prefix = Form.BACKUP.value + "/"
    runs = {info.key.split("/")[1] for store in (archive.primary, archive.copy) for info in store.list(prefix)}
    return sorted(r for r in runs if _RUN.match(r))


def _run_time(run: str) -> dt.datetime:
    return dt.datetime.strptime(run[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def apply_retention(settings: Settings, archive: Archive, *, now: dt.datetime | None = None) -> list[str]:
    """Remove the runs that are neither among the newest ``backup_keep`` nor younger than
    ``backup_keep_days`` days: their objects in both stores and their records."""
    runs = list_runs(archive)
    keep = set(runs[-settings.backup_keep:])
    if settings.backup_keep_days:
        limit = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=settings.backup_keep_days)
        keep |= {r for r in runs if _run_time(r) >= limit}
    removed = [r for r in runs if r not in keep]
    for run in removed:
        prefix = f"backup/{run}/"
        keys = {info.key for store in (archive.primary, archive.copy) for info in store.list(prefix)}
        with archive.connect() as conn:
            conn.execute("DELETE FROM rsarchive.objects WHERE key = ANY(%s)", (sorted(keys),))
            conn.commit()
        for key in sorted(keys):
            archive.primary.delete(key)
            archive.copy.delete(key)
        log.info("backup %s removed (retention: keep %d, %d days)", run, settings.backup_keep,
                 settings.backup_keep_days)
    return removed


# -- restore --------------------------------------------------------------------------------------
def read_manifest(archive: Archive, run: str) -> Manifest:
    """The manifest of ``run`` (primary, else the copy)."""
    if not _RUN.match(run):
        raise UsageError(f"{run!r} is not a backup run (yyyymmddThhmmssZ, as `rsarchive backup --list` shows)")
    try:
        return Manifest.model_validate_json(archive.read_unrecorded(backup_key(run, MANIFEST)))
    except NotFoundError:
        runs = list_runs(archive)
        raise NotFoundError(f"no backup {run!r} in the stores; backups: {', '.join(runs) or 'none'}") from None
    except IntegrityError as exc:
        raise StorageError(f"the manifest of backup {run} is unusable: {exc}") from None
    except ValidationError as exc:
        raise StorageError(f"backup/{run}/{MANIFEST} is not a backup manifest ({exc.errors()[0]['msg']})") from None


def _fetch(archive: Archive, entry: DumpEntry, dest: Path) -> None:
    """``entry``'s dump to ``dest``, verified against the manifest (primary, else the copy)."""
    problems = []
    for store in (archive.primary, archive.copy):
        try:
            store.get(entry.key, dest, expected_sha256=entry.sha256, expected_size=entry.size)
            return
        except (NotFoundError, IntegrityError) as exc:
            problems.append(f"{store.url}: {exc}")
    raise IntegrityError(f"dump {entry.key} does not match its manifest (sha256 {entry.sha256}, {entry.size} bytes) "
                         f"in either store: {'; '.join(problems)}; nothing was restored")


def holds_data(dsn: str) -> bool:
    """True when the database exists and holds catalog items or collections, or any row in a
    table of the ``rsarchive`` schema other than its migration log (a freshly migrated
    database holds none)."""
    from psycopg import sql

    try:
        conn = connect(dsn, autocommit=True)
    except ServiceError:
        if _exists(dsn):
            raise
        return False
    with conn:
        for table in ("pgstac.items", "pgstac.collections"):
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is not None:
                schema, name = table.split(".")
                if conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
                        sql.Identifier(schema), sql.Identifier(name))).fetchone()[0]:
                    return True
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'rsarchive' AND tablename <> 'schema_migrations'")]
        for name in tables:
            if conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM rsarchive.{})").format(
                    sql.Identifier(name))).fetchone()[0]:
                return True
    return False


def _exists(dsn: str) -> bool:
    with connect(with_database(dsn, "postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (_name(dsn),)).fetchone() is not None


def _recreate(dsn: str) -> None:
    from psycopg import sql

    name = _name(dsn)
    with connect(with_database(dsn, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def restore(settings: Settings, run: str | None = None, *, force: bool = False,
            databases: Iterable[Database] = ORDER, archive: Archive | None = None) -> RestoreReport:
    """Bring both databases (or ``databases``) back from backup ``run`` (default: the newest)."""
    archive = archive or Archive.from_settings(settings)
    wanted = [d for d in ORDER if d in set(databases)]
    if not wanted:
        raise UsageError("name a database to restore: internal, public")
    if run is None:
        runs = list_runs(archive)
        if not runs:
            raise NotFoundError(f"no backup in the stores ({archive.primary.url}, {archive.copy.url}); "
                                "make one with `rsarchive backup`")
        run = runs[-1]
    manifest = read_manifest(archive, run)
    entries = {e.database: e for e in manifest.dumps}
    missing = [d for d in wanted if d not in entries]
    if missing:
        raise StorageError(f"backup {run} has no dump of the {', '.join(missing)} database")
    client_program(settings, "pg_restore")  # before anything is downloaded
    client_program(settings, "psql")
    work = settings.archive_root / "work"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"restore-{run}-", dir=work) as tmp:
        paths = {}
        for database in wanted:  # every dump verified before any database is touched
            paths[database] = Path(tmp) / f"{database}.dump"
            _fetch(archive, entries[database], paths[database])
        busy = [f"{d} ({_name(_dsn(settings, d))})" for d in wanted if holds_data(_dsn(settings, d))]
        if busy and not force:
            raise ConflictError(f"the {' and '.join(busy)} database{'s hold' if len(busy) > 1 else ' holds'} data; "
                                "restoring replaces it: give --force to replace it")
        for database in wanted:
            dsn = _dsn(settings, database)
            _recreate(dsn)
            _load(settings, dsn, paths[database],
                  f"pg_restore of {entries[database].key} into the {database} database ({redact(dsn)})")
            log.info("%s database restored from %s", database, entries[database].key)
    _grant(settings, wanted)
    # one database or both: the public copies the internal catalog does not allow go
    removed = reconcile_public(settings.internal_database_dsn, settings.public_database_dsn,
                               public_url=settings.public_url)
    return RestoreReport(run, wanted, removed)


_RESET_PATH = b"SELECT pg_catalog.set_config('search_path', '', false);"
_PGSTAC_PATH = b"SELECT pg_catalog.set_config('search_path', 'pgstac, public', false);"


def _load(settings: Settings, dsn: str, dump: Path, what: str) -> None:
    """``pg_restore`` the dump as SQL into ``psql`` (one transaction, stopping at the first error).

    pg_dump empties the ``search_path`` for the whole script, and some pgSTAC functions call
    PostGIS and pgSTAC functions unqualified while indexes and constraints are rebuilt: that one
    line is given pgSTAC's path instead (every object the script creates is named with its schema,
    so where things go does not change)."""
    conninfo, env = _client_args(dsn)
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        reader = subprocess.Popen([str(client_program(settings, "pg_restore")), "--file=-", str(dump)],
                                  stdout=subprocess.PIPE, stderr=restore_err)
        writer = subprocess.Popen([str(client_program(settings, "psql")), "--no-password", "--no-psqlrc", "--quiet",
                                   "--single-transaction", "--set=ON_ERROR_STOP=1", f"--dbname={conninfo}"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env)
        assert reader.stdout is not None and writer.stdin is not None
        try:
            for line in reader.stdout:
                if line.rstrip(b"\n") == _RESET_PATH:
                    line = _PGSTAC_PATH + b"\n"
                writer.stdin.write(line)
            writer.stdin.close()
        except BrokenPipeError:  # psql stopped at an error: its message says which
            reader.kill()
        reader.wait()
        writer.wait()
        for proc, err in ((writer, psql_err), (reader, restore_err)):  # psql's error first: it stopped the load
            if proc.returncode != 0:
                err.seek(0)
                lines = [ln for ln in err.read().decode(errors="replace").splitlines() if ln.strip()]
                raise ServiceError(f"{what} failed: {redact('; '.join(lines[:3]) or f'exit status {proc.returncode}')}")


def _grant(settings: Settings, databases: list[Database]) -> None:
    """The run-time roles' privileges, as ``services up`` grants them (a new CONNECT grant: a
    database's own privileges are not in its dump)."""
    for database in databases:
        try:
            roles.grant(settings, database)
        except ServiceError as exc:
            log.warning("grants of the %s database not applied (%s): run `rsarchive services up`", database, exc)

