"""Foreground runs: run workers, follow one job with a progress bar per stage."""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from rsarchive.jobs.ingest import IngestRunner, open_scheduler
from rsarchive.jobs.metrics import WorkerMetrics
from rsarchive.jobs.queue import Job, JobQueue
from rsarchive.jobs.worker import Worker
from rsarchive.settings import Settings

log = logging.getLogger(__name__)


class StageBars:
    """One tqdm bar per stage, on stderr (stages report from several threads of the pipeline)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._update(stage, done, total)

    def _update(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            for other in self.bars.values():
                other.refresh()
            bar = self.bars[stage] = tqdm(total=total, desc=f"{stage:<12}", unit="", leave=True,
                                          position=len(self.bars), dynamic_ncols=True)
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def follow(settings: Settings, job_id: int, *, run_here: bool = True, scheduler: str | None = None,
           progress: bool = True, poll_seconds: float = 1.0) -> Job:
    """Wait for a job to finish; with ``run_here`` this process runs it whenever it can be claimed: when
    queued and due, and when a worker's lease on it expired (a worker, or an earlier foreground run, died)."""
    queue = JobQueue(settings.internal_database_dsn)
    bars = StageBars(progress)
    client = open_scheduler(scheduler)
    try:
        worker = Worker(queue, IngestRunner(settings, scheduler=client), lease_seconds=settings.job_lease_seconds)
        while True:
            job = queue.get(job_id)
            if job.state in ("succeeded", "failed", "cancelled"):
                return job
            if run_here and worker.run_once(on_progress=bars, job_id=job_id) is not None:
                continue
            for stage, p in job.progress.items():
                bars(stage, p.get("done", 0), p.get("total", 1))
            time.sleep(poll_seconds)
    finally:
        bars.close()
        if client is not None:
            client.close()


def run_workers(settings: Settings, *, concurrency: int = 1, scheduler: str | None = None,
                lease_seconds: float = 60.0, once: bool = False) -> None:
    """Run ``concurrency`` workers until SIGINT/SIGTERM (or, with ``once``, until the queue is empty)."""
    queue = JobQueue(settings.internal_database_dsn)
    client = open_scheduler(scheduler or settings.dask_scheduler)
    stop = threading.Event()

    def handle(signum: int, frame: Any) -> None:
        log.warning("signal %d: stopping after the running jobs", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    metrics: WorkerMetrics | None = None
    try:
        metrics = WorkerMetrics.from_settings(settings)  # its own /metrics port, when set
        runner = IngestRunner(settings, scheduler=client)
        workers = [Worker(queue, metrics.instrument(runner) if metrics else runner, lease_seconds=lease_seconds)
                   for _ in range(concurrency)]
        if once:
            def drain(w: Worker) -> None:
                while not stop.is_set() and w.run_once() is not None:
                    pass
            threads = [threading.Thread(target=drain, args=(w,), name=w.name) for w in workers]
        else:
            threads = [threading.Thread(target=w.run_forever, args=(stop,), name=w.name) for w in workers]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.5)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if client is not None:
            client.close()
        if metrics is not None:
            metrics.close()
