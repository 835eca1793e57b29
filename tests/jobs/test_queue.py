"""The job queue on a real PostgreSQL: idempotent submission, SKIP LOCKED claims,
leases and heartbeats, retries with backoff, cancel and retry."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from rsarchive.db import connect
from rsarchive.errors import ConflictError, DecodeError, NotFoundError, ServiceError
from rsarchive.jobs import JobContext, JobQueue, Worker
from rsarchive.settings import Settings

pytestmark = pytest.mark.services


@pytest.fixture
def queue(fresh_settings: Settings) -> JobQueue:
    return JobQueue(fresh_settings.internal_database_dsn, backoff_seconds=0.2)


def test_same_identity_is_one_job(queue: JobQueue) -> None:
    first, created = queue.enqueue("ingest", "a" * 64, "ingest-level0", {"path": "/data/pass1.cadu"})
    again, created_again = queue.enqueue("ingest", "a" * 64, "ingest-level0", {"path": "/elsewhere/copy.cadu"})
    assert created and not created_again
    assert again.id == first.id and again.input == {"path": "/data/pass1.cadu"}
    assert [j.id for j in queue.list()] == [first.id]


def test_concurrent_claims_never_share_a_job(queue: JobQueue) -> None:
    ids = {queue.enqueue("ingest", f"{i:064d}", "p", {})[0].id for i in range(12)}
    claimed: list[int] = []
    lock = threading.Lock()

    def grab(name: str) -> None:
        while (job := queue.claim(name, 30)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_expired_lease_is_taken_over_and_the_old_owner_cannot_finish(queue: JobQueue) -> None:
    job, _ = queue.enqueue("ingest", "b" * 64, "p", {})
    first = queue.claim("worker-1", lease_seconds=0.3)
    assert first is not None and first.id == job.id
    assert queue.claim("worker-2", lease_seconds=30) is None  # lease still valid
    time.sleep(0.5)
    second = queue.claim("worker-2", lease_seconds=30)
    assert second is not None and second.id == job.id and second.attempts == 2
    assert not queue.heartbeat(job.id, "worker-1", 30)
    assert not queue.complete(job.id, "worker-1", {"by": "worker-1"})
    assert queue.complete(job.id, "worker-2", {"by": "worker-2"})
    done = queue.get(job.id)
    assert done.state == "succeeded" and done.result == {"by": "worker-2"}


def test_transient_failures_retry_with_backoff_then_fail(queue: JobQueue) -> None:
    job, _ = queue.enqueue("ingest", "c" * 64, "p", {}, max_attempts=2)
    calls: list[int] = []

    def flaky(context: JobContext) -> dict[str, Any]:
        calls.append(context.job.attempts)
        raise ServiceError("S3 endpoint http://127.0.0.1:1 not reachable")

    worker = Worker(queue, flaky, name="w", lease_seconds=10)
    assert worker.run_once().state == "queued"  # type: ignore[union-attr]
    requeued = queue.get(job.id)
    assert requeued.run_after > requeued.updated_at - __import__("datetime").timedelta(seconds=1)
    assert worker.run_once() is None  # backoff: not due yet
    time.sleep(0.5)
    final = worker.run_once()
    assert final is not None and final.state == "failed" and "not reachable" in (final.error or "")
    assert calls == [1, 2]
    events = [e["event"] for e in queue.events(job.id)]
    assert events == ["queued", "claimed", "retry", "claimed", "failed"]


def test_permanent_failure_fails_at_once_with_the_message(queue: JobQueue) -> None:
    job, _ = queue.enqueue("ingest", "d" * 64, "p", {}, max_attempts=5)

    def corrupt(context: JobContext) -> dict[str, Any]:
        context.stage("decode")
        raise DecodeError("pass.cadu: no attached sync marker 1ACFFC1D found in the first 4096 bytes")

    final = Worker(queue, corrupt, lease_seconds=10).run_once()
    assert final is not None and final.state == "failed" and final.attempts == 1
    assert final.error is not None and "no attached sync marker" in final.error
    assert final.stage == "decode"


def test_progress_heartbeat_and_result(queue: JobQueue) -> None:
    job, _ = queue.enqueue("ingest", "e" * 64, "p", {})
    seen: list[tuple[str, int, int]] = []

    def work(context: JobContext) -> dict[str, Any]:
        context.stage("decode")
        for i in range(3):
            time.sleep(0.25)  # longer than the lease: only heartbeats keep it
            context.progress("decode", i + 1, 3)
        return {"items": 3}

    final = Worker(queue, work, lease_seconds=0.4, heartbeat_seconds=0.1).run_once(
        on_progress=lambda s, d, t: seen.append((s, d, t)))
    assert final is not None and final.state == "succeeded" and final.result == {"items": 3}
    assert final.progress == {"decode": {"done": 3, "total": 3}}
    assert seen[-1] == ("decode", 3, 3)


def test_cancel_stops_a_running_job_and_retry_requeues(queue: JobQueue) -> None:
    job, _ = queue.enqueue("ingest", "f" * 64, "p", {})
    started = threading.Event()

    def slow(context: JobContext) -> dict[str, Any]:
        started.set()
        for _ in range(100):
            time.sleep(0.05)
            context.progress("raw", 0, 1)
        return {}

    worker = Worker(queue, slow, lease_seconds=5, heartbeat_seconds=0.1)
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(worker.run_once()))
    thread.start()
    assert started.wait(10)
    queue.cancel(job.id)
    thread.join(20)
    assert result and result[0].state == "cancelled"
    with pytest.raises(ConflictError):
        queue.cancel(job.id)
    requeued = queue.retry(job.id)
    assert requeued.state == "queued" and requeued.attempts == 0
    with pytest.raises(ConflictError):
        queue.retry(job.id)
    with pytest.raises(NotFoundError):
        queue.get(999999)


def test_queue_tables_exist_after_migration(fresh_settings: Settings) -> None:
    with connect(fresh_settings.internal_database_dsn) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM rsarchive.schema_migrations ORDER BY 1")]
    assert "0030_jobs" in versions


def test_progress_within_a_stage_is_written_at_most_every_interval(queue: JobQueue) -> None:
    job, _ = queue.enqueue("ingest", "9" * 64, "p", {})
    writes: list[tuple[str, int, int]] = []
    report = queue.report_progress

    def counting(job_id: int, worker: str, stage: str, done: int, total: int) -> bool:
        writes.append((stage, done, total))
        return report(job_id, worker, stage, done, total)

    queue.report_progress = counting  # type: ignore[method-assign]
    seen: list[tuple[str, int, int]] = []

    def work(context: JobContext) -> dict[str, Any]:
        context.stage("decode")
        for i in range(1, 2001):  # a decoder's blocks, much faster than the interval
            context.progress("decode", i, 2000)
        return {}

    try:
        final = Worker(queue, work).run_once(on_progress=lambda s, d, t: seen.append((s, d, t)))
    finally:
        del queue.report_progress
    assert final is not None and final.state == "succeeded"
    assert len(seen) == 2001  # the progress bar sees every step
    decode = [w for w in writes if w[0] == "decode"]
    assert decode[0] == ("decode", 0, 1) and decode[-1] == ("decode", 2000, 2000) and len(decode) < 20, decode
    assert final.progress == {"decode": {"done": 2000, "total": 2000}}
