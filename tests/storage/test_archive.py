"""Copies, records, atomic publication, gc and the fixity audit — on both backends."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from rsarchive.errors import ConflictError, IntegrityError, UsageError
from rsarchive.settings import Settings
from rsarchive.storage import Archive, audit, collect_garbage, level0_key, original_key, product_key
from rsarchive.storage.gc import parse_duration

from .conftest import SMALL_PART, flip_byte, overwrite_behind_back, remove_behind_back

T = dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.timezone.utc)
L0 = level0_key("vnredsat1", T, "P0001", "pass.cadu")
ORIG = original_key("airbus", T, "PO-1", "IMG.JP2")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rows(archive: Archive, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with archive.connect() as conn:
        return conn.execute(sql, params).fetchall()


def test_level0_is_stored_with_a_verified_copy_and_recorded(archive: Archive, tmp_path: Path) -> None:
    data = os.urandom(SMALL_PART + 4096)  # multipart on S3
    src = tmp_path / "pass.cadu"
    src.write_bytes(data)
    record = archive.store(L0, src)
    assert (record.size, record.sha256, record.copies) == (len(data), sha(data), 2)
    assert record.copy_store == archive.copy.url
    assert record.file_fields() == {"file:checksum": "1220" + sha(data), "file:size": len(data)}
    assert archive.copy.get(L0, None).sha256 == sha(data)
    assert archive.store(L0, src) == record  # re-run: nothing changes
    with pytest.raises(ConflictError):
        archive.store(L0, b"different")
    product = archive.store(product_key("vnredsat1", T, "S1", "B1.tif"), b"cog")
    assert product.copies == 1 and not archive.copy.exists(product.key)
    assert rows(archive, "SELECT key, copies FROM rsarchive.objects ORDER BY key") == [(L0, 2), (product.key, 1)]


def test_get_falls_back_to_the_copy(archive: Archive, tmp_path: Path) -> None:
    archive.store(ORIG, b"foreign product")
    remove_behind_back(archive.primary, ORIG)
    assert archive.get(ORIG, tmp_path / "o").sha256 == sha(b"foreign product")
    assert (tmp_path / "o").read_bytes() == b"foreign product"


def test_the_database_refuses_to_forget_or_change_a_level0_record(archive: Archive) -> None:
    import psycopg

    archive.store(L0, b"x")
    with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
        rows(archive, "DELETE FROM rsarchive.objects WHERE key = %s RETURNING key", L0)
    with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
        rows(archive, "UPDATE rsarchive.objects SET sha256 = repeat('0', 64) WHERE key = %s RETURNING key", L0)


def test_publication_commits_objects_and_catalog_work_in_one_transaction(archive: Archive) -> None:
    keys = [product_key("vnredsat1", T, "S7", f"B{i}.tif") for i in range(3)]
    with archive.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.fake_items (id text PRIMARY KEY, assets int)")
        conn.execute("TRUNCATE public.fake_items")

    def failing(conn: Any, recs: list[Any]) -> None:
        conn.execute("INSERT INTO public.fake_items VALUES ('S7', %s)", (len(recs),))
        raise RuntimeError("catalog insert failed")

    pub = archive.publication("scene-S7-run1")
    for i, key in enumerate(keys):
        pub.put(key, f"band {i}".encode())
    assert all(archive.primary.exists(f"staging/scene-S7-run1/{k}") for k in keys)
    with pytest.raises(RuntimeError):
        pub.commit(on_commit=failing)
    # Nothing published: no records, no catalog row.
    assert rows(archive, "SELECT count(*) FROM rsarchive.objects") == [(0,)]
    assert rows(archive, "SELECT count(*) FROM public.fake_items") == [(0,)]
    # Re-run of the same publication finishes the job (objects already moved are recognised).
    again = archive.publication("scene-S7-run1")
    done = again.commit(on_commit=lambda conn, recs: conn.execute(
        "INSERT INTO public.fake_items VALUES ('S7', %s)", (len(recs),)))
    assert sorted(r.key for r in done) == sorted(keys)
    assert rows(archive, "SELECT id, assets FROM public.fake_items") == [("S7", 3)]
    assert [i.key for i in archive.primary.list("staging/")] == []
    for i, key in enumerate(keys):
        assert archive.primary.get(key, None).sha256 == sha(f"band {i}".encode())
    # A committed publication run again is a no-op; other bytes are refused.
    third = archive.publication("scene-S7-run1")
    assert third.committed
    third.put(keys[0], b"band 0")
    assert sorted(r.key for r in third.commit()) == sorted(keys)
    with pytest.raises(ConflictError):
        third.put(keys[0], b"changed")
    with pytest.raises(UsageError):
        archive.publication("x").put(L0, b"level0 is not published")


def test_abandoned_publication_leaves_nothing(archive: Archive) -> None:
    key = product_key("vnredsat1", T, "S8", "B1.tif")
    with archive.publication() as pub:
        pub.put(key, b"never published")
    assert list(archive.primary.list()) == []
    assert rows(archive, "SELECT state FROM rsarchive.storage_txns") == [("abandoned",)]


def test_gc_removes_staging_leftovers_and_orphans_but_keeps_level0(archive: Archive) -> None:
    pub = archive.publication("crashed")
    pub.put(product_key("vnredsat1", T, "S9", "B1.tif"), b"staged, never committed")
    del pub  # its writer is gone (gc leaves a live publication alone: tests/storage/test_inflight.py)
    orphan = product_key("vnredsat1", T, "S9", "orphan.tif")
    archive.primary.put(orphan, b"moved, never recorded")
    archive.primary.put(L0, b"stored, never recorded")
    kept = archive.store(product_key("vnredsat1", T, "S9", "kept.tif"), b"recorded")

    young = collect_garbage(archive, dt.timedelta(hours=1))
    assert young.staging_removed == [] and young.orphans_removed == []
    report = collect_garbage(archive, dt.timedelta(0))
    assert report.staging_removed == [f"staging/crashed/{product_key('vnredsat1', T, 'S9', 'B1.tif')}"]
    assert report.orphans_removed == [orphan]
    assert report.publications_abandoned == ["crashed"]
    assert report.unrecorded_immutable == [f"{archive.primary.url}: {L0}"]
    assert sorted(i.key for i in archive.primary.list()) == sorted([L0, kept.key])


def test_parse_duration() -> None:
    assert parse_duration("90s") == dt.timedelta(seconds=90)
    assert parse_duration("24h") == dt.timedelta(hours=24)
    assert parse_duration("7d") == dt.timedelta(days=7)
    assert parse_duration("0") == dt.timedelta(0)
    with pytest.raises(UsageError):
        parse_duration("soon")


@pytest.mark.parametrize("damage", ["flip", "missing", "truncate"])
@pytest.mark.parametrize("where", ["primary", "copy"])
def test_audit_finds_damage_and_repairs_it_bit_exact(archive: Archive, damage: str, where: str) -> None:
    data = os.urandom(200_000)
    archive.store(L0, data)
    archive.store(ORIG, b"untouched")
    store = archive.primary if where == "primary" else archive.copy
    if damage == "flip":
        flip_byte(store, L0, 12345)
    elif damage == "missing":
        remove_behind_back(store, L0)
    else:
        overwrite_behind_back(store, L0, data[:1000])

    found = audit(archive)
    assert not found.clean
    assert [(o.key, o.status) for o in found.objects] == [(L0, "damaged"), (ORIG, "ok")]
    assert getattr(found.objects[0], where) == ("missing" if damage == "missing" else "damaged")

    fixed = audit(archive, repair=True)
    assert fixed.clean and [o.status for o in fixed.objects] == ["repaired", "ok"]
    for replica in (archive.primary, archive.copy):
        out: Any = __import__("io").BytesIO()
        replica.get(L0, out)
        assert out.getvalue() == data  # bit-exact
    assert audit(archive).clean
    events = rows(archive, "SELECT store, action, outcome FROM rsarchive.fixity_events WHERE key = %s "
                  "ORDER BY id", L0)
    bad = "missing" if damage == "missing" else "damaged"
    other = "copy" if where == "primary" else "primary"
    first_run = sorted([(where, "check", bad), (other, "check", "ok")])
    assert sorted(events[:2]) == first_run
    assert (where, "repair", "repaired") in events


def test_both_replicas_damaged_is_reported_and_fails(archive: Archive) -> None:
    archive.store(L0, b"precious downlink")
    flip_byte(archive.primary, L0, 0)
    remove_behind_back(archive.copy, L0)
    report = audit(archive, repair=True)
    assert not report.clean
    assert [o.status for o in report.objects] == ["unrepairable"]
    assert rows(archive, "SELECT last_status FROM rsarchive.objects") == [("unrepairable",)]
    assert ("primary", "repair", "failed") in rows(
        archive, "SELECT store, action, outcome FROM rsarchive.fixity_events")


def test_audit_sample_and_form(archive: Archive) -> None:
    for i in range(4):
        archive.store(product_key("vnredsat1", T, f"S{i}", "B1.tif"), f"p{i}".encode())
    archive.store(L0, b"l0")
    assert [o.key for o in audit(archive, forms=["level0"]).objects] == [L0]
    first = {o.key for o in audit(archive, sample=2).objects}
    second = {o.key for o in audit(archive, sample=2).objects}
    assert len(first) == len(second) == 2 and not first & second  # least recently checked first
    copies = audit(archive, forms=["copy"]).objects
    assert [(o.key, o.primary, o.copy) for o in copies] == [(L0, "ok", "ok")]


def test_store_refuses_bytes_that_differ_from_the_expected_checksum(archive: Archive) -> None:
    with pytest.raises(IntegrityError):
        archive.store(L0, b"abc", expected_sha256=sha(b"abd"))
    assert rows(archive, "SELECT count(*) FROM rsarchive.objects") == [(0,)]
    assert list(archive.primary.list()) == [] and list(archive.copy.list()) == []


@pytest.mark.parametrize("backend", ["s3"])  # the CLI is the same over both; subprocesses are slow
def test_cli_audit_exit_codes(settings: Settings, archive: Archive) -> None:
    import subprocess
    import sys

    archive.store(L0, b"downlink")
    env = {**os.environ, "RSARCHIVE_STORE_URL": settings.primary_store, "RSARCHIVE_COPY_STORE_URL": settings.copy_store,
           "RSARCHIVE_S3_ENDPOINT_URL": settings.s3_endpoint_url, "RSARCHIVE_S3_ACCESS_KEY": settings.s3_access_key,
           "RSARCHIVE_S3_SECRET_KEY": settings.s3_secret_key,
           "RSARCHIVE_INTERNAL_DSN": settings.internal_database_dsn,
           "RSARCHIVE_SECRETS_FILE": str(settings.secrets_path)}  # the audit's own role and S3 identity

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rsarchive", *args], capture_output=True, text=True,
                              env=env, timeout=120)

    flip_byte(archive.primary, L0, 2)
    found = run("audit", "--all")
    assert found.returncode == 9 and "damaged and not repaired" in found.stderr and "Traceback" not in found.stderr
    assert run("audit", "--repair", "--form", "level0").returncode == 0
    flip_byte(archive.primary, L0, 2)
    flip_byte(archive.copy, L0, 3)
    both = run("audit", "--repair")
    assert both.returncode == 9 and "unrepairable" in both.stdout
    gc = run("storage", "gc", "--older-than", "0")
    assert gc.returncode == 0 and "removed 0 staging" in gc.stdout


def test_a_transfer_cut_short_by_its_source_names_the_source(tmp_path: Path) -> None:
    """The source failing mid-stream (here: its file shorter than recorded) is the error a transfer
    reports, not the target's complaint about the short stream (a conflict with the object already
    there): an audit or a retry must see a read failure, never 'different content'."""
    from rsarchive.storage.archive import transfer
    from rsarchive.storage.local import LocalStore

    source, target = LocalStore(tmp_path / "a"), LocalStore(tmp_path / "b")
    key = level0_key("vnredsat1", dt.datetime(2026, 12, 8, 1, 0, tzinfo=dt.timezone.utc), "p1", "pass.cadu")
    data = os.urandom(3 << 20)
    sha = hashlib.sha256(data).hexdigest()
    for store in (source, target):
        store.put(key, _bytes_file(tmp_path, data), expected_sha256=sha)
    with open(source.path(key), "r+b") as handle:  # the source's bytes cut short behind its back
        handle.truncate(1 << 20)
    with pytest.raises(IntegrityError, match="file:///.*/a"):
        transfer(source, key, target, expected_sha256=sha, expected_size=len(data))
    assert target.get(key, None).sha256 == sha  # the target's object untouched


def _bytes_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"payload-{hashlib.sha256(data).hexdigest()[:8]}"
    path.write_bytes(data)
    return path
