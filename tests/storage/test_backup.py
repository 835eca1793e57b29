"""The databases are preserved too (issue 19, part 7): a real ingest, a data request and a
fixity audit; ``rsarchive backup``; both databases dropped; ``rsarchive catalog rebuild``
gives the same search results and object records from the stores alone; ``rsarchive
restore`` brings the requests, the request audit log and the fixity log back.  Bad input:
a damaged dump is refused before any database is touched."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rsarchive.cli.main import cli
from rsarchive.db import connect
from rsarchive.errors import ConflictError, IntegrityError, NotFoundError, UsageError
from rsarchive.settings import Settings
from rsarchive.storage.archive import Archive
from rsarchive.testing.databases import drop_and_migrate, search
from rsarchive.testing.databases import object_rows as objects
from rsarchive.testing.ingested import ingest_small_pass, s3_stores

pytestmark = [pytest.mark.services, pytest.mark.slow]


def run(settings: Settings, *args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args), obj={"settings": settings}, catch_exceptions=True)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def table(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def requests_and_logs(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    return {"requests": table(dsn, "SELECT id, status, purpose, due_date FROM rsarchive.data_requests ORDER BY id"),
            "audit_log": table(dsn, "SELECT id, request_id, action, to_status, at FROM rsarchive.audit_log ORDER BY id"),
            "fixity": table(dsn, "SELECT id, key, store, outcome, audit_run FROM rsarchive.fixity_events ORDER BY id")}


def privileges(dsn: str) -> list[tuple[Any, ...]]:
    """Owners and access privileges of every table, view and function of the pgstac and rsarchive schemas."""
    return table(dsn, "SELECT n.nspname, c.relname, c.relowner::regrole::text, c.relacl::text FROM pg_class c "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('pgstac', 'rsarchive') "
                      "AND c.relkind IN ('r', 'p', 'v', 'm') UNION ALL "
                      "SELECT n.nspname, p.oid::regprocedure::text, p.proowner::regrole::text, p.proacl::text "
                      "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                      "WHERE n.nspname IN ('pgstac', 'rsarchive') ORDER BY 1, 2")


def without(rows: list[tuple[Any, ...]], roles: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """``privileges`` rows without the grants of ``roles``."""
    def keep(acl: str | None) -> str | None:
        if acl is None:
            return None
        return ",".join(e for e in acl.strip("{}").split(",") if e.split("=")[0] not in roles)
    return [(*row[:3], keep(row[3])) for row in rows]


def test_backup_drop_rebuild_restore(fresh_settings: Settings, tmp_path: Path) -> None:
    settings = s3_stores(fresh_settings, backup_keep=5, backup_keep_days=0)
    internal, public = settings.internal_database_dsn, settings.public_database_dsn
    products = ingest_small_pass(settings, tmp_path / "pass", scenes=2)
    assert len(products) == 2

    # a data request (two audit-log entries) and a fixity audit (fixity events)
    token = run(settings, "users", "add", "chi", "--role", "requester", "--org", "Viện Địa lý").stdout.split()[0]
    rid = run(settings, "requests", "submit", "--token", token, "--bbox", "105,21,105.2,21.2", "--period",
              "2024-02-15/2024-04-30", "--purpose", "research_education", "--levels", "product",
              "--contact-email", "chi@vdl.ac.vn", "--intended-use", "Mapping of the Red River delta").stdout.split()[0]
    run(settings, "users", "add", "olga", "--role", "officer")
    run(settings, "requests", "approve", rid, "--as", "olga", "--contract", "HD-7")
    run(settings, "audit", "--all")
    kept = requests_and_logs(internal)
    assert len(kept["requests"]) == 1 and len(kept["audit_log"]) >= 2 and kept["fixity"]

    # every committed scene (and the pass's level-0 item) has its catalog record in both stores
    archive = Archive.from_settings(settings)
    record_keys = sorted(i.key for i in archive.primary.list("catalog/"))
    assert [k.split("/")[1] for k in record_keys] == ["level0", "publication", "publication"]
    assert record_keys == sorted(i.key for i in archive.copy.list("catalog/"))
    before_objects = objects(internal)
    assert {v[1] for v in before_objects.values()} == {"level0", "raw", "product", "catalog"}
    assert all(before_objects[k][4] == 2 for k in record_keys)  # recorded with their copy
    internal_items, public_items = search(internal), search(public)
    acl = {"internal": privileges(internal), "public": privileges(public)}
    public_without_time = search(public, drop_published=True)
    assert {f["id"] for f in public_items} >= set(products) and len(internal_items) == 5  # level0 + 2 raw + 2 product

    # backup: both dumps and the manifest kept with a verified copy and recorded
    made = json.loads(run(settings, "backup", "--json").stdout)
    backup_run = made["run"]
    assert [d["database"] for d in made["dumps"]] == ["public", "internal"]
    recorded = objects(internal)
    for dump in made["dumps"]:
        assert recorded[dump["key"]][1:5] == ("backup", dump["size"], dump["sha256"], 2)
        assert archive.copy.get(dump["key"], None, expected_sha256=dump["sha256"]).size == dump["size"]
    assert f"backup/{backup_run}/manifest.json" in recorded
    assert run(settings, "backup", "--list").stdout.split() == [backup_run]

    # both databases lost → rebuilt from the stores alone
    drop_and_migrate(settings)
    assert search(internal) == [] and objects(internal) == {}
    rebuilt = json.loads(run(settings, "catalog", "rebuild", "--json").stdout)
    assert rebuilt["skipped"] == {} and len(rebuilt["items_loaded"]) == 5
    assert search(internal) == internal_items
    assert search(public, drop_published=True) == public_without_time
    after = objects(internal)
    assert {k: v[:8] for k, v in after.items()} == {k: v[:8] for k, v in recorded.items()}
    for key, row in before_objects.items():
        if row[1] in ("level0", "raw", "product"):  # the data objects keep when they were stored
            assert after[key][8] == row[8], key
    assert requests_and_logs(internal) == {"requests": [], "audit_log": [], "fixity": []}  # not in the stores
    again = json.loads(run(settings, "catalog", "rebuild", "--json").stdout)  # idempotent
    assert again["objects_recorded"] == 0 and again["items_loaded"] == [] and again["items_kept"] == 5
    assert search(internal) == internal_items and objects(internal) == after

    # restore: refused over databases that hold data, and for a run that does not exist
    refused = run(settings, "restore", backup_run, ok=False)
    assert refused.exit_code != 0 and isinstance(refused.exception, ConflictError)
    assert "--force" in str(refused.exception) and settings.internal_db in str(refused.exception)
    assert isinstance(run(settings, "restore", "yesterday", ok=False).exception, UsageError)
    unknown = run(settings, "restore", "20200101T000000Z", "--force", ok=False).exception
    assert isinstance(unknown, NotFoundError) and backup_run in str(unknown)

    # a damaged dump (primary and copy) is refused before anything is touched
    dump_key = f"backup/{backup_run}/internal.dump"
    good = archive.primary.read_range(dump_key, 0, 1 << 30)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    for store in (archive.primary, archive.copy):
        store.put(dump_key, bytes(bad))
    damaged = run(settings, "restore", backup_run, "--force", ok=False).exception
    assert isinstance(damaged, IntegrityError) and dump_key in str(damaged) and "nothing was restored" in str(damaged)
    assert search(internal) == internal_items and objects(internal) == after  # unchanged

    # the copy is whole again (the primary still damaged): the restore reads the copy
    archive.copy.put(dump_key, good)
    run(settings, "restore", backup_run, "--force")
    assert requests_and_logs(internal) == kept
    assert search(internal) == internal_items and search(public) == public_items
    public_dump = f"backup/{backup_run}/public.dump"  # dumped and recorded just before the internal database
    assert objects(internal) == {**before_objects, public_dump: recorded[public_dump]}
    shown = json.loads(run(settings, "requests", "show", rid, "--json").stdout)
    # owners and privileges as dumped (pgSTAC's roles; PUBLIC kept off the classification function);
    # the run-time roles' grants are applied again as `services up` does (also on later partitions)
    runtime = (settings.worker_pg_role, settings.api_public_pg_role, settings.api_internal_pg_role)
    assert {k: without(privileges(dsn), runtime) for k, dsn in (("internal", internal), ("public", public))} == \
        {k: without(v, runtime) for k, v in acl.items()}
    assert shown["status"] == "approved" and [e["actor"] for e in shown["history"]] == ["chi", "olga"]


def test_restore_then_rebuild_adds_what_came_after(fresh_settings: Settings, tmp_path: Path) -> None:
    """The backup is older than the last scenes: restore it, then rebuild adds the scenes committed
    since (from their catalog records), and the retention keeps backup_keep runs."""
    settings = s3_stores(fresh_settings, backup_keep=1, backup_keep_days=0)
    internal = settings.internal_database_dsn
    ingest_small_pass(settings, tmp_path / "first", scenes=1, pass_id="p0001")
    first = json.loads(run(settings, "backup", "--json").stdout)["run"]
    ingest_small_pass(settings, tmp_path / "second", scenes=1, pass_id="p0002",
                      config={"date": dt.date(2026, 3, 16)})
    items_now, objects_now = search(internal), objects(internal)
    assert len(items_now) == 6

    drop_and_migrate(settings)
    run(settings, "restore", first)  # empty, freshly migrated databases: no --force needed
    assert len(search(internal)) == 3  # the first pass only
    report = json.loads(run(settings, "catalog", "rebuild", "--json").stdout)
    assert report["items_kept"] == 3 and len(report["items_loaded"]) == 3
    assert search(internal) == items_now
    rebuilt = objects(internal)
    assert {k: v[:8] for k, v in objects_now.items()}.items() <= {k: v[:8] for k, v in rebuilt.items()}.items()

    second = json.loads(run(settings, "backup", "--json").stdout)
    assert second["removed"] == [first]
    archive = Archive.from_settings(settings)
    for store in (archive.primary, archive.copy):
        assert {i.key.split("/")[1] for i in store.list("backup/")} == {second["run"]}
    assert not [k for k in objects(internal) if k.startswith(f"backup/{first}/")]

    # one database alone: the public one back from the newest backup, the internal one untouched
    public_now = search(settings.public_database_dsn)
    internal_rows = objects(internal)
    restored = run(settings, "restore", "--only", "public", "--force")
    assert f"restored public from backup {second['run']}" in restored.stdout
    assert search(settings.public_database_dsn) == public_now and objects(internal) == internal_rows
