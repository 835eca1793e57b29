"""Least privilege (issue #26, part 6) against the real stack: each run-time PostgreSQL role
and S3 identity that ``services up`` made is refused what it must not do, and the
processes connect as their own identities, never as the owner or the admin."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from botocore.exceptions import ClientError

from rsarchive import identities, services
from rsarchive.catalog import init_catalogs, load_items, publish
from rsarchive.db import connect, with_database
from rsarchive.errors import ServiceError
from rsarchive.services import roles
from rsarchive.settings import Settings
from rsarchive.testing import stack
from rsarchive.testing.items import synthetic_item
from rsarchive.testing.server import serve

pytestmark = pytest.mark.services

COLLECTION = "vnredsat1-product"


@pytest.fixture(scope="module")
def catalog(service_settings: Settings) -> Iterator[tuple[Settings, str]]:
    """Fresh databases with one published item; yields the settings and the item's id."""
    settings = stack.clone_databases(service_settings)
    item = synthetic_item(7)
    init_catalogs(settings)
    with connect(settings.internal_database_dsn) as conn:
        load_items(conn, [item])
        conn.commit()
    assert publish(settings.internal_database_dsn, settings.public_database_dsn, [item["id"]]).published == [item["id"]]
    try:
        yield settings, item["id"]
    finally:
        stack.drop_databases(with_database(settings.internal_database_dsn, "postgres"),
                             [settings.internal_db, settings.public_db])


def _as(settings: Settings, role: str, database: identities.Database) -> Any:
    conn = connect(identities.role_dsn(settings, role, database), autocommit=True)
    conn.execute("SET search_path TO pgstac, public")  # as pgSTAC's functions expect
    return conn


def _refused(conn: Any, statement: str, params: tuple[Any, ...] = ()) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement, params)


def _item_writes(item_id: str) -> list[tuple[str, tuple[Any, ...]]]:
    """Every way of changing an item or a collection of pgSTAC, directly or through its functions."""
    return [
        ("UPDATE pgstac.items SET content = content || '{\"x\": 1}'::jsonb WHERE id = %s", (item_id,)),
        ("DELETE FROM pgstac.items WHERE id = %s", (item_id,)),
        ("INSERT INTO pgstac.items SELECT * FROM pgstac.items WHERE id = %s", (item_id,)),
        ("SELECT pgstac.delete_item(%s, %s)", (item_id, COLLECTION)),
        ("SELECT pgstac.upsert_items(%s::jsonb)", (json.dumps([synthetic_item(8)]),)),
        ("UPDATE pgstac.collections SET content = content || '{\"title\": \"x\"}'::jsonb", ()),
        ("DELETE FROM pgstac.collections WHERE id = %s", (COLLECTION,)),
        ("SELECT pgstac.create_collection(%s::jsonb)", (json.dumps({"id": "intruder", "type": "Collection"}),)),
    ]


def _item_unchanged(settings: Settings, item_id: str) -> None:
    for dsn in (settings.internal_database_dsn, settings.public_database_dsn):
        with connect(dsn) as conn:
            rows = conn.execute("SELECT content ? 'x' FROM pgstac.items WHERE id = %s", (item_id,)).fetchall()
            assert rows == [(False,)]
            assert conn.execute("SELECT count(*) FROM pgstac.items").fetchone()[0] == 1
            assert conn.execute("SELECT count(*) FROM pgstac.collections WHERE id = 'intruder'").fetchone()[0] == 0


def test_no_runtime_role_is_privileged_and_each_has_a_password(catalog: tuple[Settings, str]) -> None:
    settings, _ = catalog
    names = list(roles.role_names(settings).values())
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication, rolcanlogin, "
            "rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = ANY(%s) ORDER BY rolname",
            (names,)).fetchall()
        admin = conn.execute("SELECT u FROM unnest(%s::text[]) AS u WHERE pg_has_role(u, 'pgstac_admin', 'MEMBER') "
                             "OR pg_has_role(u, 'pg_write_all_data', 'MEMBER')", (names,)).fetchall()
    assert sorted(r[0] for r in rows) == sorted(names)
    assert all(r[1:] == (False, False, False, False, False, True, True) for r in rows), rows
    assert admin == []


def test_public_api_role_only_reads_the_public_catalog(catalog: tuple[Settings, str]) -> None:
    settings, item_id = catalog
    with _as(settings, settings.api_public_pg_role, "public") as conn:
        assert conn.execute("SELECT id FROM pgstac.items").fetchall() == [(item_id,)]
        for statement, params in _item_writes(item_id):
            _refused(conn, statement, params)
        _refused(conn, "DELETE FROM rsarchive.published_items")
        for cache in roles.PGSTAC_CACHES:  # pgSTAC's read role could write these; ours cannot
            _refused(conn, f"UPDATE pgstac.{cache} SET lastused = now()")
        _refused(conn, "INSERT INTO pgstac.search_wheres (_where) VALUES ('true')")
    with pytest.raises(ServiceError, match="permission denied for database"):
        _as(settings, settings.api_public_pg_role, "internal")
    _item_unchanged(settings, item_id)


def test_internal_api_role_cannot_change_the_internal_catalog_but_records_requests(
        catalog: tuple[Settings, str]) -> None:
    settings, item_id = catalog
    with _as(settings, settings.api_internal_pg_role, "internal") as conn:
        assert conn.execute("SELECT id FROM pgstac.items").fetchall() == [(item_id,)]
        for statement, params in _item_writes(item_id):
            _refused(conn, statement, params)
        # what it is there for: a data request by a requester of an organisation, and its audit line
        org = conn.execute("INSERT INTO rsarchive.organisations (name) VALUES ('Sở TN&MT Hà Nội') RETURNING id").fetchone()[0]
        user = conn.execute("INSERT INTO rsarchive.users (name, role, organisation_id) VALUES ('ha', 'requester', %s) "
                            "RETURNING id", (org,)).fetchone()[0]
        request = conn.execute(
            "INSERT INTO rsarchive.data_requests (organisation_id, submitted_by, purpose, form, area, received_at, "
            "due_date) VALUES (%s, %s, 'quy hoạch', '{}', ST_GeomFromText('POINT(105.8 21.0)', 4326), now(), "
            "current_date + 15) RETURNING id", (org, user)).fetchone()[0]
        conn.execute("INSERT INTO rsarchive.audit_log (actor_id, action, request_id) VALUES (%s, 'submitted', %s)",
                     (user, request))
        # the audit trail is append-only, and the archive's own records are not the API's
        _refused(conn, "UPDATE rsarchive.audit_log SET action = 'nothing'")
        _refused(conn, "DELETE FROM rsarchive.audit_log")
        _refused(conn, "UPDATE rsarchive.objects SET size = 0")
        _refused(conn, "INSERT INTO rsarchive.jobs (kind, identity, pipeline) VALUES ('ingest', 'x', 'p')")
        _refused(conn, "DELETE FROM rsarchive.fixity_events")
        _refused(conn, "DROP TABLE rsarchive.data_requests")
    with connect(settings.internal_database_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM rsarchive.audit_log WHERE request_id = %s", (request,)).fetchone() == (1,)
    _item_unchanged(settings, item_id)


def test_internal_api_role_classifies_an_item_only_through_its_function(catalog: tuple[Settings, str]) -> None:
    settings, item_id = catalog
    classify = "SELECT rsarchive.set_item_classification(%s, %s, %s)"

    def level() -> str:
        with connect(settings.internal_database_dsn) as conn:
            item = conn.execute("SELECT pgstac.get_item(%s, %s)", (item_id, COLLECTION)).fetchone()[0]
        return str(item["properties"]["rsarchive:security_classification"])

    with _as(settings, settings.api_internal_pg_role, "internal") as conn:
        conn.execute(classify, (COLLECTION, item_id, "secret"))
        assert level() == "secret"
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not one of"):
            conn.execute(classify, (COLLECTION, item_id, "public"))
        with pytest.raises(psycopg.errors.NoDataFound, match="not found"):
            conn.execute(classify, (COLLECTION, "no-such-item", "secret"))
        conn.execute(classify, (COLLECTION, item_id, "unclassified"))
        assert level() == "unclassified"
        _refused(conn, "UPDATE pgstac.items SET content = jsonb_set(content, "
                       "'{properties,rsarchive:security_classification}', '\"secret\"') WHERE id = %s", (item_id,))
    with _as(settings, settings.worker_pg_role, "internal") as conn:
        _refused(conn, classify, (COLLECTION, item_id, "secret"))
    assert level() == "unclassified"


def test_worker_role_ingests_and_publishes_but_cannot_read_people(catalog: tuple[Settings, str]) -> None:
    settings, item_id = catalog
    other = synthetic_item(9)
    for database in ("internal", "public"):
        with _as(settings, settings.worker_pg_role, database) as conn:  # type: ignore[arg-type]
            conn.execute("SELECT pgstac.upsert_items(%s::jsonb)", (json.dumps([other]),))
            assert conn.execute("SELECT count(*) FROM pgstac.items WHERE id = %s", (other["id"],)).fetchone() == (1,)
            conn.execute("SELECT pgstac.delete_item(%s, %s)", (other["id"], COLLECTION))
    with _as(settings, settings.worker_pg_role, "internal") as conn:
        job = conn.execute("INSERT INTO rsarchive.jobs (kind, identity, pipeline) VALUES ('ingest', 'role-test', 'p') "
                           "RETURNING id").fetchone()[0]
        conn.execute("DELETE FROM rsarchive.jobs WHERE id = %s", (job,))
        for table in ("users", "api_tokens", "data_requests", "signing_keys", "audit_log"):
            _refused(conn, f"SELECT count(*) FROM rsarchive.{table}")


def test_roles_must_give_their_password(catalog: tuple[Settings, str]) -> None:
    settings, _ = catalog
    good = identities.role_dsn(settings, settings.worker_pg_role, "internal")
    wrong = good.replace(identities.role_password(settings, settings.worker_pg_role), "not-the-password")
    nothing = good.replace(":" + identities.role_password(settings, settings.worker_pg_role), "")
    owner = settings.internal_database_dsn.replace(":" + settings.local_credentials().pg_passwords[settings.pg_user], "")
    for dsn in (wrong, nothing, owner):
        assert dsn != good and dsn != settings.internal_database_dsn
        with pytest.raises(ServiceError, match="password"):
            connect(dsn)


def test_the_api_connects_as_its_roles(catalog: tuple[Settings, str]) -> None:
    from rsarchive.api import create_app

    settings, item_id = catalog
    with serve(create_app(settings)) as base:
        found = httpx.get(f"{base}/stac/search", params={"ids": item_id}).json()
        assert [f["id"] for f in found["features"]] == [item_id]
        with connect(settings.internal_database_dsn) as conn:
            sessions = set(conn.execute(
                "SELECT application_name, usename, datname FROM pg_stat_activity WHERE datname = ANY(%s) "
                "AND application_name LIKE 'rsarchive-%%-api'", ([settings.internal_db, settings.public_db],)).fetchall())
    assert sessions == {("rsarchive-public-api", settings.api_public_pg_role, settings.public_db),
                        ("rsarchive-internal-api", settings.api_internal_pg_role, settings.internal_db)}


def test_each_process_gets_its_own_identity(service_settings: Settings) -> None:
    settings = service_settings.derive(s3_endpoint_url=service_settings.seaweed_endpoint)
    creds = settings.local_credentials()
    expected = {"api": (settings.api_internal_pg_role, "api"), "worker": (settings.worker_pg_role, "worker"),
                "audit": (settings.worker_pg_role, "audit"), "gc": (settings.worker_pg_role, "worker")}
    for process, (role, identity) in expected.items():
        derived = identities.for_process(settings, process)  # type: ignore[arg-type]
        for dsn in (derived.internal_database_dsn, derived.public_database_dsn):
            assert psycopg.conninfo.conninfo_to_dict(dsn)["user"] == role
        assert (derived.s3_access_key, derived.s3_secret_key) == creds.s3_keys[identity]
        owner_password = creds.pg_passwords[settings.pg_user]
        assert derived.pg_password == "" and owner_password not in derived.internal_database_dsn + derived.public_database_dsn


# S3 ---------------------------------------------------------------------------------------------

def _client(settings: Settings, identity: str) -> Any:
    access, secret = identities.s3_keys(settings.derive(s3_endpoint_url=settings.seaweed_endpoint), identity)
    return seaweed_client(settings, access, secret)


def seaweed_client(settings: Settings, access: str, secret: str) -> Any:
    from rsarchive.services import seaweed

    return seaweed.s3_client(settings.derive(s3_access_key=access, s3_secret_key=secret), retries=1)


def _denied(call: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["Error"]["Code"] == "AccessDenied", caught.value.response


def test_s3_identities_are_refused_what_they_must_not_do(service_settings: Settings) -> None:
    settings = stack.fresh_buckets(service_settings)
    bucket = settings.primary_bucket
    worker, api, audit = (_client(settings, name) for name in ("worker", "api", "audit"))
    worker.put_object(Bucket=bucket, Key="level0/a.bin", Body=b"downlink")
    worker.put_object(Bucket=bucket, Key="staging/b.bin", Body=b"staged")
    worker.delete_object(Bucket=bucket, Key="staging/b.bin")

    assert api.get_object(Bucket=bucket, Key="level0/a.bin")["Body"].read() == b"downlink"
    assert [o["Key"] for o in api.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["level0/a.bin"]
    _denied(api.put_object, Bucket=bucket, Key="level0/a.bin", Body=b"forged")
    _denied(api.put_object, Bucket=bucket, Key="new.bin", Body=b"x")
    _denied(api.delete_object, Bucket=bucket, Key="level0/a.bin")

    assert audit.get_object(Bucket=bucket, Key="level0/a.bin")["Body"].read() == b"downlink"
    audit.put_object(Bucket=bucket, Key="level0/a.bin", Body=b"downlink")  # a repair writes the good bytes back

    for client in (worker, api, audit):  # buckets are the admin's (services up) alone
        _denied(client.create_bucket, Bucket=f"{bucket}-intruder")
    assert worker.get_object(Bucket=bucket, Key="level0/a.bin")["Body"].read() == b"downlink"


# The local credentials ---------------------------------------------------------------------------

def test_local_credentials_are_private_and_never_shown(service_settings: Settings) -> None:
    from click.testing import CliRunner

    from rsarchive.cli.main import cli

    path = service_settings.secrets_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = service_settings.local_credentials()
    secrets = list(creds.pg_passwords.values()) + [secret for _, secret in creds.s3_keys.values()]
    assert len(secrets) == 7
    env = {"RSARCHIVE_ARCHIVE_ROOT": str(service_settings.archive_root),
           "RSARCHIVE_SECRETS_FILE": str(path), "RSARCHIVE_PG_PORT": str(service_settings.pg_port),
           "RSARCHIVE_API_PUBLIC_PG_PASSWORD": "given-in-the-environment"}
    shown = CliRunner().invoke(cli, ["config", "show"], env=env, catch_exceptions=False).output
    assert "internal_database_dsn = postgresql://rsarchive:***@" in shown
    assert "api_public_pg_password = ***" in shown
    assert not [s for s in [*secrets, "given-in-the-environment"] if s in shown]


def test_a_trusting_cluster_is_made_to_require_passwords_and_a_running_seaweed_to_restart() -> None:
    """A stack made before roles existed trusted every local connection, and its SeaweedFS knew
    only the admin: ``up`` makes PostgreSQL require passwords, and asks for a restart of SeaweedFS."""
    import shutil

    from rsarchive.services import postgres

    root = stack.make_root()
    settings = stack.isolated_settings(root)
    try:
        services.up(settings)
        hba = postgres.PostgresLayout.of(settings).data_dir / "pg_hba.conf"
        text = hba.read_text()
        hba.write_text(text.replace("scram-sha-256", "trust"))
        with connect(settings.internal_database_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        no_password = settings.internal_database_dsn.replace(
            ":" + settings.local_credentials().pg_passwords[settings.pg_user], "")
        connect(no_password).close()  # trusted: anyone may claim the owner

        later = settings.derive(api_s3_access_key="rsarchive-api-new", api_s3_secret_key="a-new-secret-key")
        for _ in range(2):  # until it is restarted
            with pytest.raises(ServiceError, match="restart"):
                services.up(later)
        assert "trust" not in "".join(ln for ln in hba.read_text().splitlines() if not ln.lstrip().startswith("#"))
        with pytest.raises(ServiceError, match="password"):
            connect(no_password)
        services.down(settings, graceful=False)
        services.up(later)  # restarted: the new identity works, the old one is gone
        client = seaweed_client(later, "rsarchive-api-new", "a-new-secret-key")
        assert client.list_objects_v2(Bucket=later.primary_bucket).get("KeyCount", 0) == 0
        old = seaweed_client(later, *settings.local_credentials().s3_keys["api"])
        with pytest.raises(ClientError, match="InvalidAccessKeyId"):
            old.list_objects_v2(Bucket=later.primary_bucket)
    finally:
        try:
            services.down(settings, graceful=False)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def test_role_dsns_keep_the_server_and_drop_the_owners_password(tmp_path: Any) -> None:
    from rsarchive.settings import load_settings

    settings = load_settings().derive(
        archive_root=tmp_path, internal_dsn="postgresql://owner:owner-secret@db.example:6432/arch?sslmode=require",
        public_dsn="postgresql://owner:owner-secret@db.example:6432/pub?sslmode=require",
        worker_pg_password="w/ p@ss")
    worker = identities.for_process(settings, "worker")
    params = psycopg.conninfo.conninfo_to_dict(worker.internal_database_dsn)
    assert params == {"user": "rsarchive_worker", "password": "w/ p@ss", "host": "db.example", "port": "6432",
                      "dbname": "arch", "sslmode": "require"}
    assert "owner-secret" not in worker.internal_database_dsn + worker.public_database_dsn
    assert identities.for_process(worker, "worker").internal_database_dsn == worker.internal_database_dsn
    api = identities.for_process(settings, "api")  # no password known for the API role: none sent
    assert psycopg.conninfo.conninfo_to_dict(api.internal_database_dsn).get("password") is None
    assert api.worker_pg_password == "" and api.pg_password == ""
    # a DSN that already is the role's keeps its password (uvicorn workers get the API's DSNs)
    again = load_settings().derive(archive_root=tmp_path, internal_dsn="postgresql://rsarchive_api_internal:k@h:1/a",
                                   public_dsn="postgresql://rsarchive_api_internal:k@h:1/p")
    assert psycopg.conninfo.conninfo_to_dict(identities.for_process(again, "api").internal_database_dsn)["password"] == "k"
