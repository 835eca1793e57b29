"""The ingest pipeline end to end on real PostgreSQL/pgSTAC: a worker killed mid-job,
duplicate submissions with two workers, a corrupt downlink, and bit-identical
products on the local and the distributed scheduler."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rsarchive.catalog.items import QA_BITFIELDS
from rsarchive.db import connect
from rsarchive.jobs import JobQueue, Worker
from rsarchive.jobs.ingest import IngestRunner, ReceptionRecord, submit
from rsarchive.jobs.progress import run_workers
from rsarchive.settings import Settings
from rsarchive.storage import Archive, audit, collect_garbage
from rsarchive.testing import stack
from rsarchive.testing.processes import settings_env

pytestmark = pytest.mark.services
PIPELINE = "ingest-level0-small"


@pytest.fixture(scope="module")
def downlink(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rsarchive.testing import small_downlink

    result = small_downlink(tmp_path_factory.mktemp("downlink"), scenes=2, write_truth_dn=False,
                            write_truth_radiance=False)
    return Path(result.downlink)


@pytest.fixture
def settings(fresh_settings: Settings, tmp_path: Path) -> Settings:
    """Fresh databases and a private archive root (local object stores) per test."""
    root = tmp_path / "archive"
    root.mkdir()
    return fresh_settings.derive(archive_root=root)


def _items(dsn: str) -> dict[str, list[str]]:
    with connect(dsn) as conn:
        rows = conn.execute("SELECT collection, id FROM pgstac.items ORDER BY 1, 2").fetchall()
    out: dict[str, list[str]] = {}
    for collection, item in rows:
        out.setdefault(collection, []).append(item)
    return out


def _objects(settings: Settings) -> dict[str, tuple[str, int]]:
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute("SELECT key, sha256, copies FROM rsarchive.objects ORDER BY key").fetchall()
    return {k: (s, c) for k, s, c in rows}


def _assert_one_clean_set(settings: Settings, scenes: int = 2) -> None:
    internal = _items(settings.internal_database_dsn)
    assert {c: len(ids) for c, ids in internal.items()} == {
        "vnredsat1-level0": 1, "vnredsat1-raw": scenes, "vnredsat1-product": scenes}
    assert _items(settings.public_database_dsn) == internal
    archive = Archive.from_settings(settings)
    gc = collect_garbage(archive, older_than=dt.timedelta(0))
    assert gc.unrecorded_immutable == [] and gc.busy_publications == []
    stored = {info.key for prefix in ("raw/", "product/", "level0/", "catalog/")  # catalog records: one per commit
              for info in archive.primary.list(prefix)}
    assert stored == set(_objects(settings)), "objects in the store and in the objects table differ"
    report = audit(archive)
    assert report.clean, report.summary()


def _env(settings: Settings) -> dict[str, str]:
    return settings_env(settings)


def test_ingest_makes_level0_raw_product_items_and_publishes(settings: Settings, downlink: Path) -> None:
    job, created = submit(settings, downlink, ReceptionRecord(station="VNSC-HN", pass_id="p0042",
                                                              plan_ref="PLAN-2026-117"), PIPELINE)
    assert created
    again, created_again = submit(settings, downlink, None, PIPELINE)
    assert not created_again and again.id == job.id
    final = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings)).run_once()
    assert final is not None and final.state == "succeeded", final and final.error
    assert final.result is not None and len(final.result["scenes"]) == 2
    assert set(final.progress) >= {"store_level0", "decode", "split", "raw", "product", "store", "catalog", "publish"}
    objects = _objects(settings)
    level0 = [k for k in objects if k.startswith("level0/")]
    assert level0 == ["level0/vnredsat1/" + level0[0].split("/", 2)[2]] and "/p0042/" in level0[0]
    assert objects[level0[0]][1] == 2  # primary + verified copy
    _assert_one_clean_set(settings)
    query = "SELECT content->'properties' FROM pgstac.items WHERE collection = 'vnredsat1-product' LIMIT 1"
    with connect(settings.internal_database_dsn) as conn:
        props = conn.execute(query).fetchone()[0]
        # the QA assets say, band by band, which data band they describe and what their bits mean
        for collection, resolution in (("vnredsat1-raw", None), ("vnredsat1-product", 10.0)):
            assets = conn.execute("SELECT content->'assets' FROM pgstac.items WHERE collection = %s LIMIT 1",
                                  (collection,)).fetchone()[0]
            for key, names in (("qa", ["B1", "B2", "B3", "B4"]), ("qa_pan", ["PAN"])):
                bands = assets[key]["raster:bands"]
                assert [b["name"] for b in bands] == names, (collection, key)
                assert all(b["data_type"] == "uint16" and b["classification:bitfields"] == QA_BITFIELDS
                           for b in bands)
            assert assets["qa"]["raster:bands"][0].get("spatial_resolution") == resolution
    assert props["rsarchive:station"] == "VNSC-HN" and props["rsarchive:plan_ref"] == "PLAN-2026-117"
    assert props["rsarchive:acquisition_article"] == "5.1a" and props["processing:level"] == "L2A"
    assert props["rsarchive:cloud_class"] in ("A", "B", "C") and 0 <= props["eo:cloud_cover"] <= 100
    # accuracy per band: relative (band-to-band) measured; absolute not (no reference orthoimage: null, which
    # the item leaves out), and the reference kind says so
    per_band = props["rsarchive:accuracy"]["bands"]
    assert set(per_band) == {"B1", "B2", "B3", "B4", "PAN"} and props["rsarchive:accuracy"]["reference"] == "none"
    assert all(b.get("absolute_rmse_m") is None and b.get("absolute_ce90_m") is None for b in per_band.values())
    assert all(b["relative_rmse_m"] is not None and b["relative_ce90_m"] is not None for b in per_band.values())
    with connect(settings.public_database_dsn) as conn:
        public = conn.execute(query).fetchone()[0]
        published = [r[0] for r in conn.execute("SELECT pgstac.get_item(id, collection) FROM pgstac.items")]
    assert "rsarchive:plan_ref" not in public and public["processing:level"] == "L2A"
    # the pipeline states the classification: published by the ingest itself, no store href in any copy
    assert final.result["held"] == [] and len(published) == 5
    for item in published:
        assert "file://" not in json.dumps(item) and str(settings.archive_root) not in json.dumps(item)
        assert all(a["href"].startswith(settings.public_url + "/assets/") for a in item["assets"].values())


def test_corrupt_downlink_fails_with_the_decoder_message_and_keeps_level0(settings: Settings,
                                                                        tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.cadu"
    corrupt.write_bytes(os.urandom(300_000))
    job, _ = submit(settings, corrupt, None, PIPELINE)
    final = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings)).run_once()
    assert final is not None and final.state == "failed" and final.attempts == 1
    assert final.error is not None and "sync marker" in final.error
    objects = _objects(settings)
    assert [k for k in objects if not k.startswith("level0/")] == []
    (key,) = objects
    assert objects[key][1] == 2  # the law keeps level-0: primary and copy
    archive = Archive.from_settings(settings)
    assert archive.get(key, None).sha256 == job.identity
    assert _items(settings.internal_database_dsn) == {} and _items(settings.public_database_dsn) == {}
    assert not list(archive.primary.list("raw/")) and not list(archive.primary.list("product/"))


def test_level0_that_cannot_be_stored_fails_the_job_even_when_it_decodes(
        settings: Settings, downlink: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Level-0 is stored while it is decoded: the storage error is the job's error and nothing
    derived from the pass is stored or catalogued."""
    from rsarchive.errors import StorageError

    def refuse(self: Archive, key: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise StorageError(f"object store full, cannot keep {key} (injected)")

    monkeypatch.setattr(Archive, "store", refuse)
    submit(settings, downlink, None, PIPELINE)
    final = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings)).run_once()
    assert final is not None and final.state in ("queued", "failed")
    assert final.error is not None and "object store full" in final.error and "level0/" in final.error
    assert _objects(settings) == {}
    assert _items(settings.internal_database_dsn) == {} and _items(settings.public_database_dsn) == {}


def test_two_workers_two_submissions_one_set_of_products(settings: Settings, downlink: Path,
                                                        tmp_path: Path) -> None:
    copy = tmp_path / "same-bytes-elsewhere.cadu"
    shutil.copyfile(downlink, copy)
    first, created = submit(settings, downlink, None, PIPELINE)
    second, created_second = submit(settings, copy, None, PIPELINE)
    assert created and not created_second and first.id == second.id
    run_workers(settings, concurrency=2, once=True, lease_seconds=30)
    jobs = JobQueue(settings.internal_database_dsn).list()
    assert [(j.id, j.state) for j in jobs] == [(first.id, "succeeded")]
    _assert_one_clean_set(settings)


def test_a_store_failure_in_the_publishing_thread_fails_the_job_and_the_retry_finishes(
        settings: Settings, downlink: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenes are stored in a thread behind the product: the second scene's upload fails half-way
    (the third of its files); the job records that error, the first scene stays whole and published,
    nothing of the second is visible, and the next attempt finishes the pass."""
    from rsarchive.errors import StorageError
    from rsarchive.storage.publication import Publication

    real_put = Publication.put
    calls: list[str] = []

    def failing_put(self: Publication, key: str, source):  # type: ignore[no-untyped-def]
        if self.txn_id.endswith("-001"):
            calls.append(key)
            if len(calls) == 3:
                raise StorageError("object store refused the upload (injected)")
        return real_put(self, key, source)

    monkeypatch.setattr(Publication, "put", failing_put)
    job, _ = submit(settings, downlink, None, PIPELINE)
    queue = JobQueue(settings.internal_database_dsn)
    failed = Worker(queue, IngestRunner(settings)).run_once()
    assert failed is not None and failed.id == job.id and failed.state in ("queued", "failed")
    assert failed.error is not None and "injected" in failed.error
    internal = _items(settings.internal_database_dsn)
    assert {c: len(ids) for c, ids in internal.items()} == {"vnredsat1-raw": 1, "vnredsat1-product": 1}
    assert _items(settings.public_database_dsn) == internal   # the first scene: whole and published
    stored = [k.split("/")[-2] for k in _objects(settings) if not k.startswith(("level0/", "catalog/"))]
    assert stored and all("_000" in scene for scene in stored)
    records = [k for k in _objects(settings) if k.startswith("catalog/")]  # the first scene's catalog record only
    assert len(records) == 1 and records[0].endswith("-000.json")
    monkeypatch.setattr(Publication, "put", real_put)
    if failed.state == "failed":   # a permanent error: the officer's retry
        queue.retry(job.id)
    with connect(settings.internal_database_dsn) as conn:   # no waiting out the backoff
        conn.execute("UPDATE rsarchive.jobs SET run_after = now() WHERE id = %s", (job.id,))
    final = Worker(queue, IngestRunner(settings)).run_once()
    assert final is not None and final.id == job.id and final.state == "succeeded", final and final.error
    _assert_one_clean_set(settings)


@pytest.mark.slow
def test_worker_killed_mid_job_is_finished_by_another(settings: Settings, downlink: Path) -> None:
    job, _ = submit(settings, downlink, None, PIPELINE)
    queue = JobQueue(settings.internal_database_dsn)
    child = subprocess.Popen([sys.executable, "-m", "rsarchive", "-q", "worker", "--once", "--lease", "5"],
                             env=_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # kill it once the first scene is stored
            current = queue.get(job.id)
            if (current.progress.get("store", {}).get("done", 0) >= 3 or current.stage in ("catalog", "publish")):
                break
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    killed = queue.get(job.id)
    assert killed.state == "running" and killed.lease_owner is not None
    assert Worker(queue, IngestRunner(settings), lease_seconds=30).run_once() is None  # lease still held
    time.sleep(5.5)
    final = Worker(queue, IngestRunner(settings), lease_seconds=30).run_once()
    assert final is not None and final.id == job.id and final.state == "succeeded" and final.attempts == 2
    _assert_one_clean_set(settings)


@pytest.mark.slow
def test_products_are_bit_identical_on_the_local_and_distributed_schedulers(
        service_settings: Settings, settings: Settings, downlink: Path, tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    other_root = tmp_path / "archive-distributed"
    other_root.mkdir()
    other = stack.clone_databases(service_settings).derive(archive_root=other_root)
    submit(settings, downlink, None, PIPELINE)
    submit(other, downlink, None, PIPELINE)
    local = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings)).run_once()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        remote = Worker(JobQueue(other.internal_database_dsn), IngestRunner(other, scheduler=client)).run_once()
    assert local is not None and remote is not None
    assert local.state == remote.state == "succeeded", (local.error, remote.error)

    def imagery(s: Settings) -> dict[str, str]:
        return {k: sha for k, (sha, _) in _objects(s).items() if k.endswith((".tif", ".png", ".cadu"))}

    mine, theirs = imagery(settings), imagery(other)
    assert len(mine) > 20 and mine == theirs
