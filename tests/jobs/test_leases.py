"""Leases that mean something (issue 19, part 3), on a real PostgreSQL and real worker processes:
expired leases count against ``max_attempts`` (a poison job ends ``failed``), a worker that lost
its lease commits nothing (the claim's fencing token is checked inside the commit transaction),
heartbeat failures of any kind end the run cleanly, runs never share a work directory, and a
foreground ``rsarchive ingest --wait`` takes over its own job when the lease of the run before it
expired."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rsarchive.db import connect
from rsarchive.errors import StorageError
from rsarchive.jobs import JobContext, JobQueue, LeaseLost, Worker
from rsarchive.jobs.ingest import submit
from rsarchive.jobs.workdir import run_directory
from rsarchive.settings import Settings
from rsarchive.storage import Archive, product_key

from .test_ingest import PIPELINE, _assert_one_clean_set, _env, downlink, settings  # noqa: F401 - fixtures

pytestmark = pytest.mark.services


@pytest.fixture
def queue(fresh_settings: Settings) -> JobQueue:
    return JobQueue(fresh_settings.internal_database_dsn, backoff_seconds=0.2)


def test_expired_leases_count_against_max_attempts(queue: JobQueue) -> None:
    job, _ = queue.enqueue("ingest", "d" * 64, "p", {}, max_attempts=2)
    for attempt, worker in ((1, "w1"), (2, "w2")):
        claimed = queue.claim(worker, lease_seconds=0.2)
        assert claimed is not None and claimed.attempts == attempt
        queue.report_progress(job.id, worker, "raw", 1, 2)
        time.sleep(0.3)  # the worker dies: its lease expires
    assert queue.claim("w3", lease_seconds=30) is None  # no third attempt
    failed = queue.get(job.id)
    assert failed.state == "failed" and failed.lease_owner is None and failed.finished_at is not None
    assert failed.error == "gave up after 2 attempts; the last worker's lease expired (worker w2, stage raw)"
    assert [e["event"] for e in queue.events(job.id)][-1] == "failed"
    queue.retry(job.id)  # the officer's retry gives a fresh budget
    assert queue.claim("w4", lease_seconds=30).attempts == 1  # type: ignore[union-attr]


def test_a_worker_that_lost_its_lease_commits_nothing(settings: Settings, tmp_path: Path) -> None:
    """The old owner's publication commit is refused inside its transaction: nothing promoted, recorded
    or catalogued; while a run's commit transaction is open, no other worker can claim the job."""
    queue = JobQueue(settings.internal_database_dsn)
    job, _ = queue.enqueue("ingest", "e" * 64, "p", {})
    first = queue.claim("old", lease_seconds=0.2)
    assert first is not None
    old = JobContext(first, queue, "old")
    time.sleep(0.3)
    second = queue.claim("new", lease_seconds=30)
    assert second is not None and second.attempts == 2
    archive = Archive.from_settings(settings)
    source = tmp_path / "B1.tif"
    source.write_bytes(os.urandom(5000))
    key = product_key("vnredsat1", dt.date(2026, 3, 1), "S1", "B1.tif")
    publication = archive.publication("fenced-scene")
    publication.put(key, source)
    with pytest.raises(LeaseLost, match="lost its lease"):
        with old.fenced() as conn:
            publication.commit(on_commit=lambda c, recs: c.execute("CREATE TABLE public.fence_probe (x int)"),
                               conn=conn)
    assert old.lease_lost.is_set()
    with connect(settings.internal_database_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM rsarchive.objects").fetchone()[0] == 0
        assert conn.execute("SELECT state FROM rsarchive.storage_txns").fetchone()[0] == "staging"
        assert conn.execute("SELECT to_regclass('public.fence_probe')").fetchone()[0] is None
    assert not archive.primary.exists(key)
    # the new owner commits; while its fenced transaction is open, an expired lease cannot be taken
    new = JobContext(second, queue, "new")
    with connect(settings.internal_database_dsn) as conn:
        conn.execute("UPDATE rsarchive.jobs SET lease_expires = now() - interval '1 s' WHERE id = %s", (job.id,))
        conn.commit()
    with new.fenced() as conn:
        publication.commit(conn=conn)
        assert queue.claim("third", lease_seconds=30) is None
    assert archive.record(key).size == 5000 and archive.primary.exists(key)
    assert queue.claim("third", lease_seconds=30) is not None  # after it, the expired lease is claimable


def test_any_heartbeat_failure_ends_the_run_cleanly(queue: JobQueue) -> None:
    """A real database error on the heartbeat (not a ServiceError: a trigger refuses the lease update):
    the run stops at its next stage boundary, commits nothing more, and the job goes back to the queue."""
    job, _ = queue.enqueue("ingest", "f" * 64, "p", {})
    with connect(queue.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.steps (n int PRIMARY KEY)")
        conn.execute("""CREATE FUNCTION public.no_heartbeat() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN
                          IF NEW.heartbeat_at IS DISTINCT FROM OLD.heartbeat_at AND OLD.attempts > 0
                             AND OLD.state = 'running' AND OLD.lease_owner = NEW.lease_owner THEN
                            RAISE EXCEPTION 'heartbeat refused (test fault)';
                          END IF;
                          RETURN NEW;
                        END $$""")
    committed: list[int] = []

    def runner(context: JobContext) -> dict[str, Any]:
        for n in range(200):
            context.stage("step")
            if n == 3:  # from now on every heartbeat fails
                with connect(queue.dsn, autocommit=True) as conn:
                    conn.execute("CREATE TRIGGER no_heartbeat BEFORE UPDATE ON rsarchive.jobs "
                                 "FOR EACH ROW EXECUTE FUNCTION public.no_heartbeat()")
            time.sleep(0.05)
            with context.fenced() as conn:
                conn.execute("INSERT INTO public.steps VALUES (%s)", (n,))
            committed.append(n)
        return {"steps": len(committed)}

    worker = Worker(queue, runner, name="w", lease_seconds=2, heartbeat_seconds=0.2)
    final = worker.run_once()
    assert final is not None and final.state == "queued"  # given back at once, not left to expire
    assert final.error is not None and "heartbeat failed" in final.error and "test fault" in final.error
    with connect(queue.dsn) as conn:
        steps = [r[0] for r in conn.execute("SELECT n FROM public.steps ORDER BY n")]
    # stopped within a few steps of the fault (a step is ≥ 50 ms, a heartbeat every 200 ms); before, the
    # heartbeat thread died silently and the run went on to the end
    assert steps == committed and 4 <= len(steps) < 4 + 40


def _die_in_work_dir(root: Path) -> None:
    with run_directory(root, 7, 1) as work:
        (work / "half-written.tif").write_bytes(b"x" * 1000)
        os.kill(os.getpid(), signal.SIGKILL)


def test_runs_never_share_a_work_directory_and_dead_runs_are_swept(tmp_path: Path) -> None:
    root = tmp_path / "work"
    process = multiprocessing.get_context("fork").Process(target=_die_in_work_dir, args=(root,))
    process.start()
    process.join(30)
    assert process.exitcode == -signal.SIGKILL
    assert (root / "job-7-1" / "half-written.tif").exists()  # what SIGKILL leaves
    (root / "job-9").mkdir()  # a directory of the earlier naming
    with run_directory(root, 7, 2) as second:
        assert not (root / "job-7-1").exists() and not (root / "job-9").exists()
        with run_directory(root, 7, 3) as third:  # a worker that took the job over meanwhile
            assert second != third and second.is_dir() and third.is_dir()
            with run_directory(root, 8, 1):
                assert second.is_dir() and third.is_dir()  # live runs are never swept
        with pytest.raises(StorageError, match="in use by another run"):
            with run_directory(root, 7, 2):
                pass
    assert sorted(p.name for p in root.iterdir()) == []


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_poison_job_fails_at_max_attempts(settings: Settings, downlink: Path) -> None:  # noqa: F811
    """A worker process SIGKILLed after every claim (as a downlink that crashes its worker would):
    the job ends failed at max_attempts with the reason, instead of being retried forever."""
    job, _ = submit(settings, downlink, None, PIPELINE)
    queue = JobQueue(settings.internal_database_dsn)
    assert job.max_attempts == 3
    env = _env(settings) | {"RSARCHIVE_JOB_LEASE_SECONDS": "5"}
    command = [sys.executable, "-m", "rsarchive", "-q", "worker", "--once"]
    for attempt in range(1, job.max_attempts + 1):
        if attempt > 1:  # the lease of the killed worker expires
            _wait_for(lambda: _expired(settings, job.id), 15, "the lease to expire")
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(lambda: queue.get(job.id).attempts == attempt, 60, f"claim {attempt}")
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        assert queue.get(job.id).state == "running"
    _wait_for(lambda: _expired(settings, job.id), 15, "the last lease to expire")
    done = subprocess.run(command, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    failed = queue.get(job.id)
    assert failed.state == "failed" and failed.attempts == 3
    assert failed.error is not None and failed.error.startswith("gave up after 3 attempts; the last worker's lease "
                                                                "expired")
    assert [e["event"] for e in queue.events(job.id)].count("claimed") == 3


def _expired(settings: Settings, job_id: int) -> bool:
    with connect(settings.internal_database_dsn) as conn:
        return bool(conn.execute("SELECT lease_expires < now() FROM rsarchive.jobs WHERE id = %s",
                                 (job_id,)).fetchone()[0])


@pytest.mark.slow
def test_ingest_wait_takes_over_its_own_job_after_the_lease_expired(settings: Settings,  # noqa: F811
                                                                    downlink: Path) -> None:
    """The operator's case: the foreground `rsarchive ingest FILE --wait` dies mid-job; running the same
    command again finishes the job (before: it waited forever for a worker)."""
    env = _env(settings) | {"RSARCHIVE_JOB_LEASE_SECONDS": "5"}
    command = [sys.executable, "-m", "rsarchive", "-q", "ingest", str(downlink), "--pipeline", PIPELINE, "--wait"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    queue = JobQueue(settings.internal_database_dsn)
    try:
        _wait_for(lambda: bool(queue.list()) and queue.list()[0].stage in ("raw", "product", "store"), 120,
                  "the raw stage")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    job = queue.list()[0]
    assert job.state == "running" and job.attempts == 1
    again = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr.decode()
    final = queue.get(job.id)
    assert final.state == "succeeded" and final.attempts == 2
    _assert_one_clean_set(settings)
