"""gc that never races (issue 19, part 4), on both backends: ``gc --older-than 0`` and a skewed clock
(the writer's timestamps set far into the past) leave a publication being staged and an upload being
written alone; once their writers are gone (a killed process included), gc removes the leftovers."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import threading
import time
from pathlib import Path


from rsarchive.storage import Archive, collect_garbage, level0_key, product_key
from rsarchive.storage.local import LocalStore
from rsarchive.storage.s3 import S3Store

from .conftest import SMALL_PART

T = dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.timezone.utc)
LONG_AGO = time.time() - 30 * 86400


def _age(archive: Archive, txn: str | None = None) -> None:
    """Skew: every partial and staging file (local) and the publication's row look a month old."""
    store = archive.primary
    if isinstance(store, LocalStore):
        for path in [*store.root.rglob("*")]:
            if path.is_file():
                os.utime(path, (LONG_AGO, LONG_AGO))
    if txn is not None:
        with archive.connect() as conn:
            conn.execute("UPDATE rsarchive.storage_txns SET created_at = now() - interval '30 days' "
                         "WHERE txn_id = %s", (txn,))
            conn.commit()


def _partials(archive: Archive) -> int:
    store = archive.primary
    if isinstance(store, LocalStore):
        return len(list((store.root / ".partial").iterdir()))
    assert isinstance(store, S3Store)
    reply = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
    return len(reply.get("Uploads", []))


def test_gc_leaves_a_publication_being_staged_alone(archive: Archive) -> None:
    keys = [product_key("vnredsat1", T, "S1", f"B{n}.tif") for n in (1, 2)]
    pub = archive.publication("in-flight")
    pub.put(keys[0], b"staged while gc runs")
    _age(archive, "in-flight")
    report = collect_garbage(archive, dt.timedelta(0))
    assert report.busy_publications == ["in-flight"]
    assert report.staging_removed == [] and report.publications_abandoned == []
    assert report.writes_in_flight  # the publication writes: no orphan or partial is judged meanwhile
    pub.put(keys[1], b"and staged after it")
    assert sorted(r.key for r in pub.commit()) == sorted(keys)
    after = collect_garbage(archive, dt.timedelta(0))
    assert after.busy_publications == [] and not after.writes_in_flight and after.orphans_removed == []
    assert sorted(i.key for i in archive.primary.list()) == sorted(keys)


def _crash_while_staging(archive: Archive, key: str) -> None:
    archive.publication("crashed").put(key, b"staged by a process that died")
    os._exit(0)  # no abandon, no clean-up: as a SIGKILL would leave it


def test_gc_removes_what_a_dead_writer_left_whatever_its_age(archive: Archive) -> None:
    key = product_key("vnredsat1", T, "S2", "B1.tif")
    child = multiprocessing.get_context("fork").Process(target=_crash_while_staging, args=(archive, key))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert collect_garbage(archive, dt.timedelta(hours=1)).staging_removed == []  # young: kept
    report = collect_garbage(archive, dt.timedelta(0))
    assert report.staging_removed == [f"staging/crashed/{key}"] and report.publications_abandoned == ["crashed"]
    assert list(archive.primary.list()) == []


def test_gc_does_not_break_an_upload_in_flight(archive: Archive) -> None:
    """A level-0 store whose source arrives slowly (a pipe): its temp file or multipart upload exists,
    made to look a month old; gc --older-than 0 leaves it, the store completes, and gc then finds nothing."""
    key = level0_key("vnredsat1", T, "P9", "pass.cadu")
    body = os.urandom(SMALL_PART + 300_000)
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    result: list[object] = []

    def store() -> None:
        try:
            result.append(archive.store(key, reader))
        except Exception as exc:  # noqa: BLE001 - asserted below
            result.append(exc)

    thread = threading.Thread(target=store)
    thread.start()
    writer.write(body[:SMALL_PART + 1000])
    writer.flush()
    deadline = time.monotonic() + 30
    while _partials(archive) == 0:
        assert time.monotonic() < deadline, "the upload never started"
        time.sleep(0.05)
    _age(archive)
    report = collect_garbage(archive, dt.timedelta(0))
    assert report.writes_in_flight and report.partials_removed == 0
    assert _partials(archive) == 1
    writer.write(body[SMALL_PART + 1000:])
    writer.close()
    thread.join(60)
    reader.close()
    assert len(result) == 1 and not isinstance(result[0], Exception), result
    assert archive.record(key).size == len(body)
    assert archive.get(key, None).sha256 == archive.record(key).sha256
    done = collect_garbage(archive, dt.timedelta(0))
    assert not done.writes_in_flight and done.partials_removed == 0 and _partials(archive) == 0


def test_gc_cleans_interrupted_writes_once_no_write_is_in_flight(archive: Archive, tmp_path: Path) -> None:
    """The age threshold still applies on top of the lock: a partial left by a dead writer is removed by
    gc --older-than 0, and kept by a gc with a threshold longer than its age."""
    store = archive.primary
    if isinstance(store, LocalStore):
        (store.root / ".partial" / "dead-writer").write_bytes(b"half")
    else:
        assert isinstance(store, S3Store)
        store.client.create_multipart_upload(Bucket=store.bucket, Key=store.prefix + "raw/x/dead.tif")
    assert collect_garbage(archive, dt.timedelta(hours=1)).partials_removed == 0
    assert collect_garbage(archive, dt.timedelta(0)).partials_removed == 1
    assert _partials(archive) == 0
