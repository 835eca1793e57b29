"""Who connects as whom: the run-time identities of each process (least privilege).

=============  ==============================  ===========================================
process        PostgreSQL role                 S3 identity
=============  ==============================  ===========================================
owner          ``pg_user``: migrations         admin keys (``s3_access_key``): creating
               (``services up``), operators'   buckets in ``services up``
               commands
API            ``api_public_pg_role`` for the  ``api``: Read, List
               public STAC API;
               ``api_internal_pg_role`` for
               everything else
worker         ``worker_pg_role``              ``worker``: Read, Write, List, Tagging
audit, gc      ``worker_pg_role``              ``audit`` (audit: Read, Write to repair,
                                               List, Tagging); gc: ``worker``
=============  ==============================  ===========================================

A role's DSN is the owner's DSN of the same database with the role's name and password
(setting, else the local credentials file of that server).  :func:`for_process` gives a
process settings whose DSNs and S3 keys are its own, so the code below it needs no change.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["Process", "S3_IDENTITIES", "api_public_dsn", "for_process", "role_dsn", "role_password", "s3_keys"]

Process = Literal["api", "worker", "audit", "gc"]
Database = Literal["internal", "public"]

S3_IDENTITIES: dict[str, list[str]] = {
    "worker": ["Read", "Write", "List", "Tagging"],
    "api": ["Read", "List"],
    "audit": ["Read", "Write", "List", "Tagging"],
}
"""Each S3 identity and the SeaweedFS actions it is allowed (on every bucket)."""

_PG_ROLE_OF: dict[str, str] = {"api": "api_internal_pg_role", "worker": "worker_pg_role",
                               "audit": "worker_pg_role", "gc": "worker_pg_role"}
_S3_IDENTITY_OF: dict[str, str] = {"api": "api", "worker": "worker", "audit": "audit", "gc": "worker"}


def runtime_roles(settings: Settings) -> dict[str, str]:
    """Role name → its password setting name, for the three run-time roles."""
    return {settings.worker_pg_role: "worker_pg_password", settings.api_public_pg_role: "api_public_pg_password",
            settings.api_internal_pg_role: "api_internal_pg_password"}


def owner_dsn(settings: Settings, database: Database) -> str:
    """The owner's DSN of ``database`` (migrations, grants)."""
    return settings.internal_database_dsn if database == "internal" else settings.public_database_dsn


def server_address(dsn: str) -> str:
    """``host:port`` of the server a DSN names (what the local credentials are tied to)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    return f"{params.get('host', '')}:{params.get('port') or 5432}"


def role_password(settings: Settings, role: str, database: Database = "internal") -> str:
    """The password of a run-time ``role``: its setting, else the local credentials of the
    server the owner's DSN names; empty when neither knows it (libpq may still find one)."""
    setting = runtime_roles(settings).get(role)
    explicit = str(getattr(settings, setting)) if setting else ""
    if explicit:
        return explicit
    return settings.local_credentials().password(role, server_address(owner_dsn(settings, database)))


def role_dsn(settings: Settings, role: str, database: Database) -> str:
    """The owner's DSN of ``database`` with ``role`` and its password instead of the owner."""
    from urllib.parse import quote, urlencode

    from psycopg.conninfo import conninfo_to_dict

    params: dict[str, Any] = conninfo_to_dict(owner_dsn(settings, database))
    user, given = params.pop("user", None), params.pop("password", "")
    given = given if user == role else ""  # the DSN is already the role's: its password is the role's
    password = role_password(settings, role, database) or given
    auth = f"{quote(role, safe='')}:{quote(password, safe='')}" if password else quote(role, safe="")
    host, port, dbname = params.pop("host", ""), params.pop("port", ""), params.pop("dbname", "")
    if "/" in str(host) or "," in str(host):  # a socket directory or several hosts: a query parameter
        params["host"], host = host, ""
    netloc = f"{auth}@{host}" + (f":{port}" if port else "")
    query = f"?{urlencode(params)}" if params else ""
    return f"postgresql://{netloc}/{quote(str(dbname), safe='')}{query}"  # a URL: asyncpg reads no key=value DSNs


def api_public_dsn(settings: Settings) -> str:
    """The public STAC API's DSN: its read-only role on the public database."""
    return role_dsn(settings, settings.api_public_pg_role, "public")


def s3_keys(settings: Settings, identity: str) -> tuple[str, str]:
    """The S3 key pair of ``identity``: its settings, else the local credentials of the
    configured endpoint, else the shared ``s3_access_key`` pair (logged: no separation)."""
    access = str(getattr(settings, f"{identity}_s3_access_key"))
    secret = str(getattr(settings, f"{identity}_s3_secret_key"))
    if access and secret:
        return access, secret
    local = settings.local_credentials().keys(identity, settings.s3_endpoint_url)
    if local is not None:
        return local
    if settings.s3_access_key and (settings.primary_store.startswith("s3://") or settings.copy_store.startswith("s3://")):
        log.warning("no S3 keys for the %s identity (RSARCHIVE_%s_S3_ACCESS_KEY): using the shared s3_access_key",
                    identity, identity.upper())
    return settings.s3_access_key, settings.s3_secret_key


def for_process(settings: Settings, process: Process) -> Settings:
    """Settings for a run-time ``process``: its role's DSNs instead of the owner's and its
    S3 identity's keys instead of the admin's (the API's public STAC pool: :func:`api_public_dsn`)."""
    role = str(getattr(settings, _PG_ROLE_OF[process]))
    access, secret = s3_keys(settings, _S3_IDENTITY_OF[process])
    others = {setting: "" for name, setting in runtime_roles(settings).items() if name != role}
    return settings.derive(
        internal_dsn=role_dsn(settings, role, "internal"), public_dsn=role_dsn(settings, role, "public"),
        s3_access_key=access, s3_secret_key=secret, pg_password="", **others,
    )
