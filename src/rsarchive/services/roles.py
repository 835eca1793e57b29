"""The run-time PostgreSQL roles and what each may do (least privilege), made by ``services up``.

Roles are cluster-wide, so membership in pgSTAC's roles (``pgstac_read``, ``pgstac_ingest``)
holds in both databases; what keeps a role out of a database is its CONNECT privilege,
revoked from PUBLIC on both.  Table privileges are per database and listed below, table by
table; every ``up`` first revokes everything a run-time role holds in the schemas and then
grants exactly this, so the grants converge on the list.  A table that does not exist (yet)
is skipped: add new tables here with the migration that makes them.

=====================  ====================================  =====================================
role                   internal database                     public database
=====================  ====================================  =====================================
worker                 pgstac_ingest; jobs, object records,  pgstac_ingest; published_items
                       publication log
api_public             (no CONNECT)                          pgstac_read
api_internal           pgstac_read; request, audit, token    pgstac_read + writes on pgSTAC tables
                       and session tables (audit_log:        (officers withdraw and reinstate
                       insert only); classifies an item      items); published_items
                       only through set_item_classification
=====================  ====================================  =====================================
"""

from __future__ import annotations

import logging
from typing import Literal

from rsarchive.credentials import scram_verifier
from rsarchive.db import connect, redact
from rsarchive.errors import ServiceError
from rsarchive.identities import owner_dsn, role_dsn, role_password
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

Database = Literal["internal", "public"]
Kind = Literal["worker", "api_public", "api_internal"]

ALL = "SELECT, INSERT, UPDATE, DELETE"
APPEND = "SELECT, INSERT"
KEEP = "SELECT, INSERT, UPDATE"  # no DELETE

TABLES: dict[tuple[Kind, Database], dict[str, str]] = {
    ("worker", "internal"): {
        "objects": ALL, "fixity_events": APPEND, "storage_txns": ALL, "storage_txn_objects": ALL,
        "jobs": ALL, "job_events": ALL, "publications": APPEND, "originals": KEEP,
        "item_actions": APPEND, "schema_migrations": "SELECT",
        # harvests of the bodies' catalogs (rsarchive.harvest, run by the scheduler): withdrawals are item actions
        "harvest_sources": KEEP, "harvested_items": KEEP,
        "mail_outbox": APPEND,  # a failed job's notice to the operators
    },
    ("worker", "public"): {"published_items": ALL, "schema_migrations": "SELECT"},
    ("api_internal", "internal"): {
        "organisations": APPEND, "users": KEEP, "api_tokens": ALL, "data_requests": KEEP,
        "audit_log": APPEND, "deliveries": APPEND, "signing_keys": APPEND, "downloads": KEEP,
        "error_reports": KEEP, "item_actions": APPEND, "publications": APPEND,
        "web_sessions": ALL, "login_failures": ALL, "schema_migrations": "SELECT",
        "fee_payments": APPEND,  # payments of fee statements: recorded, never changed
        "complaints": KEEP, "capability_questions": KEEP, "purchase_opinions": APPEND,
        # object records, read only: /assets/ and /downloads/ find a file's key and checksum
        "objects": "SELECT",
        # read only, for /metrics (jobs by state, queue, last audit)
        "jobs": "SELECT", "fixity_events": "SELECT",
        # request notices are queued with the transition; the API may send the outbox
        "mail_outbox": KEEP, "duty_runs": "SELECT",
    },
    ("api_internal", "public"): {"published_items": ALL},
}
"""Privileges on tables of the schema ``rsarchive``, by role and database."""

FUNCTIONS: dict[tuple[Kind, Database], tuple[str, ...]] = {
    ("api_internal", "internal"): ("rsarchive.set_item_classification(text, text, text, timestamptz)",),
}
"""SECURITY DEFINER functions of the schema ``rsarchive``: one narrow capability each."""

PGSTAC_ROLE: dict[Kind, str] = {"worker": "pgstac_ingest", "api_public": "pgstac_read", "api_internal": "pgstac_read"}
PGSTAC_CACHES = ("searches", "search_wheres", "format_item_cache")
"""pgSTAC tables its read role may write (search and item caches): taken back from it."""
CONNECT: dict[Database, tuple[Kind, ...]] = {
    "internal": ("worker", "api_internal"),
    "public": ("worker", "api_public", "api_internal"),
}


def role_names(settings: Settings) -> dict[Kind, str]:
    return {"worker": settings.worker_pg_role, "api_public": settings.api_public_pg_role,
            "api_internal": settings.api_internal_pg_role}


def ensure(settings: Settings) -> None:
    """Create or update the run-time roles (login, no superuser, their passwords) and grant
    each exactly its privileges in both databases.  Runs as the owner, after the migrations."""
    from psycopg import sql

    names = role_names(settings)
    try:
        with connect(settings.internal_database_dsn, autocommit=True) as conn:
            for kind, name in names.items():
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
                verb = "ALTER" if exists else "CREATE"
                statement = sql.SQL(verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                                    "NOBYPASSRLS INHERIT").format(sql.Identifier(name))
                password = role_password(settings, name)
                if password:  # only the verifier is sent, never the password
                    statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(scram_verifier(password)))
                conn.execute(statement)
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(PGSTAC_ROLE[kind]), sql.Identifier(name)))
                if not exists:
                    log.info("created PostgreSQL role %s", name)
    except Exception as exc:
        if isinstance(exc, ServiceError):
            raise
        raise ServiceError(f"cannot create the run-time roles on {redact(settings.internal_database_dsn)} "
                           f"(the owner needs CREATEROLE): {type(exc).__name__}") from None
    for database in ("internal", "public"):
        grant(settings, database)  # type: ignore[arg-type]


def grant(settings: Settings, database: Database) -> None:
    """Database-level and table-level grants of the run-time roles in one database."""
    from psycopg import sql

    names = role_names(settings)
    dsn = owner_dsn(settings, database)
    with connect(dsn) as conn:
        dbname = conn.info.dbname
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(dbname)))
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'rsarchive'").fetchall()}
        # pgSTAC lets its read role write its search caches; both APIs search read-only
        # (pgstac.readonly), so nothing that reads may write anything here.
        caches = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'pgstac' AND tablename = ANY(%s)",
            (list(PGSTAC_CACHES),)).fetchall()]
        for cache in caches:
            conn.execute(sql.SQL("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON pgstac.{} FROM pgstac_read").format(
                sql.Identifier(cache)))
        for kind, name in names.items():
            role = sql.Identifier(name)
            allowed = kind in CONNECT[database]
            conn.execute(sql.SQL("{} CONNECT ON DATABASE {} {} {}").format(
                sql.SQL("GRANT" if allowed else "REVOKE"), sql.Identifier(dbname),
                sql.SQL("TO" if allowed else "FROM"), role))
            for schema in ("rsarchive", "pgstac"):
                conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(sql.Identifier(schema), role))
            conn.execute(sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgstac FROM {}").format(role))
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA rsarchive FROM {}").format(role))
            granted = TABLES.get((kind, database), {})
            if granted:
                conn.execute(sql.SQL("GRANT USAGE ON SCHEMA rsarchive TO {}").format(role))
                conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA rsarchive TO {}").format(role))
            for table, privileges in granted.items():
                if table in tables:
                    conn.execute(sql.SQL("GRANT {} ON rsarchive.{} TO {}").format(
                        sql.SQL(privileges), sql.Identifier(table), role))
            conn.execute(sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA rsarchive FROM {}").format(role))
            for function in FUNCTIONS.get((kind, database), ()):
                if conn.execute("SELECT to_regprocedure(%s)", (function,)).fetchone()[0] is not None:
                    conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(function), role))
            if kind == "api_internal" and database == "public":
                # Officers withdraw items from the public catalog and reinstate them (requests.reports).
                conn.execute(sql.SQL("GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pgstac TO {}").format(role))
                conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA pgstac TO {}").format(role))
                conn.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgstac TO {}").format(role))
        conn.commit()
    log.info("granted the run-time roles their privileges on %s", redact(dsn))


def dsns(settings: Settings) -> dict[str, str]:
    """``role@database`` → DSN of every run-time connection (for tests and ``services status``)."""
    names = role_names(settings)
    return {f"{names[kind]}@{database}": role_dsn(settings, names[kind], database)
            for database in ("internal", "public") for kind in CONNECT[database]}  # type: ignore[index]
