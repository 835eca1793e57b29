"""Workers: claim jobs, run their pipeline, keep the lease alive, retry transient failures.

The heartbeat thread renews the lease; when it cannot (the database is unreachable
for longer than the lease can last, or any other error), it marks the lease lost and
ends: the run stops at its next stage boundary or progress report
(:class:`LeaseLost`), and its commits, each fenced by the claim's token
(:meth:`JobContext.fenced`), refuse to go through.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from rsarchive.db import connect

from rsarchive.errors import (
    CalibrationError,
    CatalogError,
    ConfigError,
    DecodeError,
    DiskFullError,
    IntegrityError,
    ProcessingError,
    RsArchiveError,
    ServiceError,
    StorageError,
    UsageError,
)
from rsarchive.jobs.queue import Job, JobQueue, LeaseLost

log = logging.getLogger(__name__)

PERMANENT = (DecodeError, CalibrationError, UsageError, ConfigError, CatalogError, ProcessingError, IntegrityError)
"""Errors that another attempt cannot fix: the job fails at once with the message."""
TRANSIENT = (ServiceError, StorageError, ConnectionError, TimeoutError, psycopg.OperationalError)
"""Errors another attempt may not meet: back to the queue (psycopg's OperationalError: the database
went away in the middle of a statement, e.g. restarted; a refused connection is a ServiceError)."""


@dataclass
class JobContext:
    """What a running pipeline sees of its job: progress reporting and the lease."""

    job: Job
    queue: JobQueue
    worker: str
    lease_lost: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[str, int, int], None] | None = None
    report_interval_s: float = 0.5
    """Progress within a stage is written to the queue at most this often (the last step always)."""
    lost_reason: str = ""
    _seen: set[str] = field(default_factory=set)
    _reported: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str) -> None:
        """Enter a stage (again: stages like raw/product repeat per scene; progress is kept)."""
        self.ensure_lease()
        if not self.queue.stage_started(self.job.id, self.worker, name, self.job.attempts):
            self.lose("another worker holds the job now, or it was cancelled")
            self.ensure_lease()
        if name not in self._seen:
            self._seen.add(name)
            self.progress(name, 0, 1)

    def progress(self, stage: str, done: int, total: int) -> None:
        """Report progress; the queue gets it at most every ``report_interval_s`` per stage, and always
        its start and end (a decoder reports every block: a database round trip each was ~2 s a pass)."""
        self.ensure_lease()
        now = time.monotonic()
        last = self._reported.get(stage)
        if last is None or done <= 0 or done >= total or now - last >= self.report_interval_s:
            self._reported[stage] = now
            if not self.queue.report_progress(self.job.id, self.worker, stage, done, total):
                self.lose("another worker holds the job now, or it was cancelled")
                self.ensure_lease()
        if self.on_progress is not None:
            self.on_progress(stage, done, total)

    def lose(self, reason: str) -> None:
        """Mark the lease lost: the run stops at its next stage boundary and commits nothing."""
        if not self.lease_lost.is_set():
            self.lost_reason = reason
            self.lease_lost.set()

    def ensure_lease(self) -> None:
        if self.lease_lost.is_set():
            why = f" ({self.lost_reason})" if self.lost_reason else ""
            raise LeaseLost(f"job {self.job.id}: lease lost by worker {self.worker}{why}")

    @contextmanager
    def fenced(self) -> Iterator[Any]:
        """A transaction on the queue's database that commits only while this run still holds its job:
        the claim's token (worker, attempt) is checked first and the job's row stays locked against a
        new claim until the transaction ends.  Every commit of a run's work joins one of these."""
        self.ensure_lease()
        with connect(self.queue.dsn) as conn, conn.transaction():
            try:
                self.queue.fence(conn, self.job.id, self.worker, self.job.attempts)
            except LeaseLost:
                self.lose("another worker holds the job now, or it was cancelled")
                raise
            yield conn


Runner = Callable[[JobContext], dict[str, Any]]


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims jobs from the queue and runs them with ``runner`` (the pipeline)."""

    def __init__(self, queue: JobQueue, runner: Runner, *, name: str | None = None, lease_seconds: float = 60.0,
                 heartbeat_seconds: float | None = None, kinds: tuple[str, ...] = ("ingest",)) -> None:
        self.queue = queue
        self.runner = runner
        self.name = name or default_worker_name()
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds or max(lease_seconds / 4, 0.5)
        self.kinds = kinds
        self.waiting: DiskFullError | None = None
        """Why the last job :meth:`run_once` ran went back to the queue to wait for space (None: it did not)."""

    def run_once(self, on_progress: Callable[[str, int, int], None] | None = None,
                 job_id: int | None = None) -> Job | None:
        """Claim and run one job (with ``job_id``, only that one); return it as it ended (None when
        there was nothing to claim)."""
        job = self.queue.claim(self.name, self.lease_seconds, self.kinds, job_id=job_id)
        if job is None:
            return None
        context = JobContext(job, self.queue, self.name, on_progress=on_progress)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, context, stop), daemon=True,
                                name=f"heartbeat-{job.id}")
        beat.start()
        self.waiting = None
        try:
            result = self.runner(context)
        except LeaseLost as exc:
            log.warning("%s", exc)
            self._give_back(job, str(exc))
        except DiskFullError as exc:  # a wait, not a failure: the job is run again once space is freed
            log.error("job %d waits for space: %s", job.id, exc)
            if self.queue.fail(job.id, self.name, str(exc), transient=True, counts=False) is not None:
                self.waiting = exc
        except PERMANENT as exc:
            log.error("job %d failed: %s", job.id, exc)
            self.queue.fail(job.id, self.name, str(exc), transient=False)
        except TRANSIENT as exc:
            log.warning("job %d: transient failure, will retry: %s", job.id, exc)
            self.queue.fail(job.id, self.name, str(exc), transient=True)
        except RsArchiveError as exc:
            log.error("job %d failed: %s", job.id, exc)
            self.queue.fail(job.id, self.name, str(exc), transient=False)
        except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen condition: retry within the budget
            log.error("job %d: unexpected error: %s\n%s", job.id, exc, traceback.format_exc())
            self.queue.fail(job.id, self.name, f"unexpected {type(exc).__name__}: {exc}", transient=True)
        else:
            if not self.queue.complete(job.id, self.name, result):
                log.warning("job %d finished, but its lease was lost; the result was not recorded", job.id)
        finally:
            stop.set()
            beat.join()
        return self.queue.get(job.id)

    def _give_back(self, job: Job, reason: str) -> None:
        """After a lost lease: when this worker still holds the job (its heartbeat failed but the lease
        survived), put it back in the queue now rather than when the lease expires."""
        try:
            self.queue.fail(job.id, self.name, reason, transient=True)
        except Exception as exc:  # noqa: BLE001 - the database may be the reason: the lease then expires
            log.warning("job %d: could not give the job back (%s); its lease will expire", job.id, exc)

    def _heartbeat(self, job: Job, context: JobContext, stop: threading.Event) -> None:
        """Renew the lease until ``stop``.  An unreachable database is retried while the lease may still
        be valid; past that, or on any other error, the lease counts as lost and the thread ends."""
        renewed = time.monotonic()
        while not stop.wait(self.heartbeat_seconds):
            try:
                alive = self.queue.heartbeat(job.id, self.name, self.lease_seconds)
            except (ServiceError, psycopg.OperationalError) as exc:  # unreachable, or restarted mid-statement
                if time.monotonic() + self.heartbeat_seconds - renewed < self.lease_seconds:
                    log.warning("heartbeat for job %d failed, retrying: %s", job.id, exc)
                    continue
                context.lose(f"heartbeats failed for longer than the lease: {exc}")
                log.error("job %d: %s", job.id, context.lost_reason)
                return
            except Exception as exc:  # noqa: BLE001 - any failure ends the run cleanly, never silently
                context.lose(f"heartbeat failed: {type(exc).__name__}: {exc}")
                log.error("job %d: %s", job.id, context.lost_reason)
                return
            if not alive:
                context.lose("another worker holds the job now, or it was cancelled")
                return
            renewed = time.monotonic()

    def run_forever(self, stop: threading.Event, poll_seconds: float = 2.0) -> None:
        """Run jobs until ``stop`` is set; sleep ``poll_seconds`` when the queue is empty."""
        log.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                job = self.run_once()
            except ServiceError as exc:
                log.warning("queue unavailable: %s", exc)
                job = None
            if job is None:
                stop.wait(poll_seconds)
        log.info("worker %s stopped", self.name)
