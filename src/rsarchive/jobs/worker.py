"""Workers: claim jobs, run their pipeline, keep the lease alive, retry transient failures."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rsarchive.errors import (
    CalibrationError,
    CatalogError,
    ConfigError,
    DecodeError,
    IntegrityError,
    ProcessingError,
    RsArchiveError,
    ServiceError,
    StorageError,
    UsageError,
)
from rsarchive.jobs.queue import Job, JobQueue

log = logging.getLogger(__name__)

PERMANENT = (DecodeError, CalibrationError, UsageError, ConfigError, CatalogError, ProcessingError, IntegrityError)
"""Errors that another attempt cannot fix: the job fails at once with the message."""
TRANSIENT = (ServiceError, StorageError, ConnectionError, TimeoutError)


class LeaseLost(RsArchiveError):
    """This worker no longer holds the job's lease (it expired and another worker took it, or it was cancelled)."""


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
    _seen: set[str] = field(default_factory=set)
    _reported: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str) -> None:
        """Enter a stage (again: stages like raw/product repeat per scene; progress is kept)."""
        self.ensure_lease()
        self.queue.stage_started(self.job.id, self.worker, name)
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
                self.lease_lost.set()
                self.ensure_lease()
        if self.on_progress is not None:
            self.on_progress(stage, done, total)

    def ensure_lease(self) -> None:
        if self.lease_lost.is_set():
            raise LeaseLost(f"job {self.job.id}: lease lost by worker {self.worker}")


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

    def run_once(self, on_progress: Callable[[str, int, int], None] | None = None) -> Job | None:
        """Claim and run one job; return the claimed job (None when the queue had nothing)."""
        job = self.queue.claim(self.name, self.lease_seconds, self.kinds)
        if job is None:
            return None
        context = JobContext(job, self.queue, self.name, on_progress=on_progress)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, context, stop), daemon=True,
                                name=f"heartbeat-{job.id}")
        beat.start()
        try:
            result = self.runner(context)
        except LeaseLost as exc:
            log.warning("%s", exc)
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

    def _heartbeat(self, job: Job, context: JobContext, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_seconds):
            try:
                alive = self.queue.heartbeat(job.id, self.name, self.lease_seconds)
            except ServiceError as exc:
                log.warning("heartbeat for job %d failed: %s", job.id, exc)
                continue
            if not alive:
                context.lease_lost.set()
                return

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
