"""The local PostgreSQL 15 cluster (PostGIS 3 + pgSTAC) under the archive root.

``up`` creates the cluster when missing (``initdb``), starts it on
``settings.pg_host``:``pg_port`` (127.0.0.1 unless set; other hosts only from ``pg_hba_networks``; no Unix socket), creates the internal and
public databases, runs ``pypgstac migrate`` and the archive's own migrations on
both.  PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` system user (``runuser``).  Every connection must give its role's
password (scram-sha-256): the owner's and the run-time roles' passwords are in the
local credentials file (:mod:`rsarchive.credentials`).  A cluster made before that
(``trust``) is switched over by :func:`require_passwords`.  Production points the
DSNs at a managed server instead.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rsarchive.credentials import scram_verifier, write_private
from rsarchive.db import connect, redact, with_database
from rsarchive.errors import ServiceError
from rsarchive.services.process import answers, pid_alive, port_in_use, read_pid, wait_until
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

PG_VERSION = "15"
_BINARIES = ("initdb", "pg_ctl", "postgres")


@dataclass(frozen=True)
class PostgresLayout:
    data_dir: Path
    log_file: Path

    @classmethod
    def of(cls, settings: Settings) -> PostgresLayout:
        root = settings.archive_root / "postgres"
        return cls(data_dir=root / "data", log_file=root / "postgres.log")


def bindir(settings: Settings) -> Path:
    """Directory of the PostgreSQL 15 server binaries."""
    if settings.pg_bindir:
        path = Path(settings.pg_bindir)
        if all((path / b).exists() for b in _BINARIES):
            return path
        raise ServiceError(f"PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in {path} (pg_bindir)")
    candidates = [Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")]
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)
    for path in candidates:
        if all((path / b).exists() for b in _BINARIES):
            return path
    raise ServiceError(
        f"PostgreSQL {PG_VERSION} server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/{PG_VERSION}/bin "
        f"or on PATH; run `make setup` (Debian packages postgresql-{PG_VERSION}, postgresql-{PG_VERSION}-postgis-3)"
    )


def _run_as() -> list[str]:
    """Command prefix that runs the server as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError("running as root, but there is no 'postgres' system user to run PostgreSQL as") from None
    return ["runuser", "-u", "postgres", "--"]


def _owner_ids() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def _check_usable(layout: PostgresLayout) -> None:
    """Make the data directory's parent and check the server user can write there."""
    parent = layout.data_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServiceError(f"PostgreSQL data directory {parent} is not usable: {exc.strerror}") from None
    owner = _owner_ids()
    if owner is not None:
        os.chown(parent, *owner)
    probe = subprocess.run([*_run_as(), "test", "-w", str(parent), "-a", "-x", str(parent)], capture_output=True)
    if probe.returncode != 0:
        who = "the postgres user" if owner else "this user"
        raise ServiceError(
            f"PostgreSQL data directory {parent} is not usable: {who} cannot write there "
            "(check the permissions of it and its parent directories)"
        )


def _server_pid(layout: PostgresLayout) -> int | None:
    pid = read_pid(layout.data_dir / "postmaster.pid")
    return pid if pid is not None and pid_alive(pid) else None


def running(settings: Settings) -> bool:
    """True when our cluster's postmaster is alive and accepts TCP connections."""
    layout = PostgresLayout.of(settings)
    return _server_pid(layout) is not None and answers(settings.pg_port, settings.pg_host)


def _initdb(settings: Settings, layout: PostgresLayout, password: str) -> None:
    log.info("creating PostgreSQL cluster in %s", layout.data_dir)
    layout.data_dir.mkdir(mode=0o700)
    owner = _owner_ids()
    if owner is not None:
        os.chown(layout.data_dir, *owner)
    pwfile = layout.data_dir.parent / ".initdb-password"
    write_private(pwfile, password + "\n")
    if owner is not None:
        os.chown(pwfile, *owner)
    try:
        result = subprocess.run(
            [*_run_as(), str(bindir(settings) / "initdb"), "-D", str(layout.data_dir), "-U", settings.pg_user,
             "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C.UTF-8"],
            capture_output=True, text=True,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        shutil.rmtree(layout.data_dir, ignore_errors=True)
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ServiceError(f"initdb failed in {layout.data_dir}: {detail[-1] if detail else result.returncode}")


def start(settings: Settings, password: str) -> bool:
    """Start the cluster if needed (a new one with ``password`` for the owner); True when this call started it."""
    layout = PostgresLayout.of(settings)
    if running(settings):
        log.info("PostgreSQL already running on %s:%d", settings.pg_host, settings.pg_port)
        return False
    if port_in_use(settings.pg_port, settings.pg_host):
        raise ServiceError(
            f"port {settings.pg_port} on {settings.pg_host} is already in use by another process; "
            "PostgreSQL cannot listen there (set RSARCHIVE_PG_PORT to a free port)"
        )
    bindir(settings)
    _check_usable(layout)
    if not (layout.data_dir / "PG_VERSION").exists():
        if layout.data_dir.exists() and any(layout.data_dir.iterdir()):
            raise ServiceError(f"PostgreSQL data directory {layout.data_dir} is not empty and holds no cluster")
        if layout.data_dir.exists():
            layout.data_dir.rmdir()
        _initdb(settings, layout, password)
    _allow_networks(layout, settings.pg_hba_networks)
    owner = _owner_ids()
    layout.log_file.touch()
    if owner is not None:
        os.chown(layout.log_file, *owner)
    options = (
        f"-p {settings.pg_port} -c listen_addresses={settings.pg_host} -c unix_socket_directories='' "
        "-c max_connections=200 -c shared_buffers=256MB -c fsync=on"
    )
    result = subprocess.run(
        [*_run_as(), str(bindir(settings) / "pg_ctl"), "start", "-D", str(layout.data_dir), "-l", str(layout.log_file),
         "-o", options, "-w", "-t", "60"],
        capture_output=True, text=True, start_new_session=True,
    )
    if result.returncode != 0:
        tail = layout.log_file.read_text(errors="replace").strip().splitlines()[-1:] if layout.log_file.exists() else []
        raise ServiceError(f"PostgreSQL did not start (see {layout.log_file}{': ' + tail[0] if tail else ''})")
    wait_until(lambda: answers(settings.pg_port, settings.pg_host), 30, "PostgreSQL", log_file=layout.log_file)
    log.info("PostgreSQL started on %s:%d", settings.pg_host, settings.pg_port)
    return True


def _allow_networks(layout: PostgresLayout, networks: list[str]) -> None:
    """Let clients of ``networks`` (CIDR) connect with a password: one ``host`` line each in pg_hba.conf."""
    import ipaddress

    hba = layout.data_dir / "pg_hba.conf"
    lines = hba.read_text().splitlines(keepends=True)
    wanted = []
    for network in networks:
        try:
            cidr = str(ipaddress.ip_network(network, strict=False))
        except ValueError:
            raise ServiceError(f"pg_hba_networks: {network!r} is not a network (CIDR, e.g. 10.0.5.0/24)") from None
        line = f"host all all {cidr} scram-sha-256\n"
        if line not in lines:
            wanted.append(line)
    if wanted:
        with open(hba, "a") as handle:  # in place: keeps the file's owner (postgres)
            handle.writelines(wanted)
        log.info("PostgreSQL accepts password connections from %s", ", ".join(networks))


def stop(settings: Settings) -> None:
    """Stop the cluster (fast shutdown)."""
    layout = PostgresLayout.of(settings)
    if _server_pid(layout) is None:
        return
    result = subprocess.run(
        [*_run_as(), str(bindir(settings) / "pg_ctl"), "stop", "-D", str(layout.data_dir), "-m", "fast", "-w", "-t", "60"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise ServiceError(f"PostgreSQL did not stop: {result.stderr.strip() or result.stdout.strip()}")
    log.info("PostgreSQL stopped")


def require_passwords(settings: Settings, password: str) -> bool:
    """Make a cluster that trusts local connections (made before passwords) require them:
    set the owner's password (as a SCRAM verifier), turn ``trust`` into ``scram-sha-256`` in
    pg_hba.conf and reload.  True when it changed something."""
    from psycopg import sql

    hba = PostgresLayout.of(settings).data_dir / "pg_hba.conf"
    lines = hba.read_text().splitlines(keepends=True)
    trusting = [i for i, line in enumerate(lines) if not line.lstrip().startswith("#") and " trust" in line]
    if not trusting:
        return False
    with connect(with_database(settings.internal_database_dsn, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(settings.pg_user), sql.Literal(scram_verifier(password))))
        for i in trusting:
            lines[i] = lines[i].replace(" trust", " scram-sha-256")
        with open(hba, "w") as handle:  # in place: keeps the file's owner (postgres)
            handle.writelines(lines)
        conn.execute("SELECT pg_reload_conf()")
    log.info("PostgreSQL cluster now requires passwords (scram-sha-256)")
    return True


def ensure_database(admin_dsn: str, name: str) -> bool:
    """Create database ``name`` when it does not exist; True when created."""
    with connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        from psycopg import sql

        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        log.info("created database %s", name)
        return True


def migrate(dsn: str, kind: str) -> None:
    """PostGIS, pgSTAC (``pypgstac migrate``) and the archive's own migrations on one database."""
    from pypgstac.db import PgstacDB
    from pypgstac.migrate import Migrate

    from rsarchive import migrations

    with connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    try:
        with PgstacDB(dsn=dsn) as db:
            version = Migrate(db).run_migration()
    except Exception as exc:  # pypgstac raises plain exceptions
        raise ServiceError(f"pypgstac migrate failed on {redact(dsn)}: {exc}") from None
    log.info("pgSTAC %s on %s", version, redact(dsn))
    migrations.apply(dsn, kind)  # type: ignore[arg-type]


def pgstac_version(dsn: str) -> str | None:
    """The pgSTAC version installed in a database, or None."""
    with connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('pgstac.migrations')").fetchone()[0]
        if exists is None:
            return None
        row = conn.execute("SELECT version FROM pgstac.migrations ORDER BY datetime DESC LIMIT 1").fetchone()
        return row[0] if row else None
