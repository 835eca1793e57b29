"""Start, stop and report the local services: PostgreSQL (PostGIS + pgSTAC,
two databases) and SeaweedFS (S3).

``up`` is idempotent and records in ``<archive_root>/run/services.json`` what
it started itself; ``down`` stops only those.  Databases given by explicit DSNs
(``RSARCHIVE_INTERNAL_DSN``/``RSARCHIVE_PUBLIC_DSN``) are migrated, not started.
``up`` also makes the run-time identities (:mod:`rsarchive.identities`): it generates
their passwords and keys once into the local credentials file (mode 0600), creates the
PostgreSQL roles with their grants (:mod:`rsarchive.services.roles`) and gives SeaweedFS
the S3 identities.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import rsarchive
from rsarchive import credentials
from rsarchive.credentials import LocalCredentials
from rsarchive.db import connect, redact, with_database
from rsarchive.errors import RsArchiveError, ServiceError
from rsarchive.identities import S3_IDENTITIES, runtime_roles, server_address
from rsarchive.services import postgres, roles, seaweed
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["ServiceStatus", "up", "down", "status"]


@dataclass(frozen=True)
class ServiceStatus:
    """One line of ``rsarchive services status``."""

    name: str
    address: str
    answers: bool
    started_here: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _state_file(settings: Settings) -> Path:
    return settings.archive_root / "run" / "services.json"


def _load_state(settings: Settings) -> dict[str, bool]:
    try:
        data = json.loads(_state_file(settings).read_text())
    except (OSError, ValueError):
        return {}
    return {k: bool(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_state(settings: Settings, state: dict[str, bool]) -> None:
    path = _state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


def manages_postgres(settings: Settings) -> bool:
    """True when the databases live in the local cluster that ``up`` runs."""
    return not (settings.internal_dsn or settings.public_dsn)


def _prepare_root(settings: Settings) -> None:
    try:
        settings.archive_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServiceError(f"archive root {settings.archive_root} is not usable: {exc.strerror}") from None
    if not settings.archive_root.is_dir():
        raise ServiceError(f"archive root {settings.archive_root} is not a directory")


def ensure_credentials(settings: Settings) -> LocalCredentials:
    """Generate what is missing in the local credentials file (once; never logged): the owner's
    password of the local cluster, a password per run-time role and a key pair per S3 identity,
    except those given by settings.  The file records the server address they are for."""
    path = settings.secrets_path
    creds = credentials.load(path)
    before = creds.to_json()
    # (not from internal_database_dsn: it would be computed, and kept, before its password exists)
    explicit = settings.internal_dsn or settings.public_dsn
    creds.pg_address = server_address(explicit) if explicit else f"{settings.pg_host}:{settings.pg_port}"
    wanted = [name for name, setting in runtime_roles(settings).items() if not getattr(settings, setting)]
    if manages_postgres(settings) and not settings.pg_password:
        wanted.insert(0, settings.pg_user)
    for name in wanted:
        creds.pg_passwords.setdefault(name, credentials.new_password())
    creds.s3_endpoint = settings.seaweed_endpoint
    for identity in S3_IDENTITIES:
        if not (getattr(settings, f"{identity}_s3_access_key") and getattr(settings, f"{identity}_s3_secret_key")):
            creds.s3_keys.setdefault(identity, credentials.new_key_pair(identity))
    if creds.to_json() != before:
        credentials.save(path, creds)
        log.info("local credentials written to %s (mode 0600)", path)
    return creds


SERVICES = ("postgres", "seaweedfs")


def up(settings: Settings, only: str | None = None) -> list[ServiceStatus]:
    """Bring every service up (a no-op for what already runs) and return their status; ``only``
    ("postgres" or "seaweedfs"): that one alone, as on a host that runs only it."""
    if only is not None and only not in SERVICES:
        raise ServiceError(f"unknown service {only!r} (one of {', '.join(SERVICES)})")
    _prepare_root(settings)
    creds = ensure_credentials(settings)
    settings = settings.derive()  # DSNs computed now, with the owner's password
    state = _load_state(settings)
    if only != "seaweedfs":
        _up_postgres(settings, creds, state)
    if only != "postgres":
        if seaweed.start(settings):
            state["seaweedfs"] = True
            _save_state(settings, state)
        for bucket in (settings.primary_bucket, settings.copy_bucket):
            seaweed.ensure_bucket(settings, bucket)
    if only == "seaweedfs":
        return []
    with connect(settings.internal_database_dsn) as conn:
        conn.execute(
            "INSERT INTO rsarchive.service_events (event, version, detail) VALUES ('up', %s, %s)",
            (rsarchive.__version__, json.dumps({k: v for k, v in state.items()})),
        )
    return status(settings) if only is None else []


def _up_postgres(settings: Settings, creds: LocalCredentials, state: dict[str, bool]) -> None:
    if manages_postgres(settings):
        password = settings.pg_password or creds.pg_passwords[settings.pg_user]
        if postgres.start(settings, password):
            state["postgres"] = True
            _save_state(settings, state)
        postgres.require_passwords(settings, password)
        admin = with_database(settings.internal_database_dsn, "postgres")
        postgres.ensure_database(admin, settings.internal_db)
        postgres.ensure_database(admin, settings.public_db)
    postgres.migrate(settings.internal_database_dsn, "internal")
    postgres.migrate(settings.public_database_dsn, "public")
    roles.ensure(settings)


def down(settings: Settings, *, graceful: bool = True) -> list[str]:
    """Stop what ``up`` started (and nothing else); return the names stopped.
    ``graceful=False`` kills SeaweedFS at once (throw-away test stacks)."""
    state = _load_state(settings)
    stopped = []
    if state.get("seaweedfs"):
        seaweed.stop(settings, graceful=graceful)
        stopped.append("seaweedfs")
        state.pop("seaweedfs")
        _save_state(settings, state)
    if state.get("postgres"):
        postgres.stop(settings)
        stopped.append("postgresql")
        state.pop("postgres")
        _save_state(settings, state)
    return stopped


def _database_status(dsn: str, label: str, started: bool) -> ServiceStatus:
    address = redact(dsn)
    try:
        version = postgres.pgstac_version(dsn)
        from rsarchive import migrations

        applied = migrations.applied(dsn)
    except RsArchiveError as exc:
        return ServiceStatus(label, address, False, started, str(exc).split(": ", 1)[-1])
    detail = f"pgSTAC {version or 'missing'}, {len(applied)} archive migration(s)"
    return ServiceStatus(label, address, version is not None, started, detail)


def status(settings: Settings) -> list[ServiceStatus]:
    """The state of each service: its address and whether it answers."""
    state = _load_state(settings)
    result = [
        _database_status(settings.internal_database_dsn, "postgresql internal", state.get("postgres", False)),
        _database_status(settings.public_database_dsn, "postgresql public", state.get("postgres", False)),
    ]
    endpoint = settings.seaweed_endpoint
    if seaweed.ready(settings):
        try:
            names = {b["Name"] for b in seaweed.s3_client(settings, retries=1).list_buckets().get("Buckets", [])}
        except Exception as exc:  # noqa: BLE001
            names, detail = set(), f"bucket listing failed: {exc}"
        wanted = [settings.primary_bucket, settings.copy_bucket]
        missing = [b for b in wanted if b not in names]
        detail = f"buckets {', '.join(wanted)}" + (f" (missing: {', '.join(missing)})" if missing else "")
        result.append(ServiceStatus("seaweedfs s3", endpoint, not missing, state.get("seaweedfs", False), detail))
    else:
        result.append(ServiceStatus("seaweedfs s3", endpoint, False, state.get("seaweedfs", False), "not answering"))
    return result
