"""A worker's own Prometheus metrics, on its own port (setting ``worker_metrics_port``, 0 = off).

Each worker process counts what it ran, in its own registry: job runs by outcome, the wall
seconds of each pipeline stage (``stage_seconds`` of the job's result) and of the whole run,
and the real-time factor of each pass (run seconds / pass seconds: < 1 keeps up with the
station).  Prometheus adds them up across workers.  The archive-wide figures that live in
the database (jobs by state, queue depth and age, audits, bytes, request clocks) are the
API's ``/metrics`` (:mod:`rsarchive.metrics`), not every worker's.

Labels are bounded: ``stage`` is one of :data:`~rsarchive.jobs.pipeline.INGEST_STAGES`,
``outcome`` is ``completed`` or ``error``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.process_collector import ProcessCollector

from rsarchive.errors import ServiceError
from rsarchive.jobs.pipeline import INGEST_STAGES
from rsarchive.jobs.worker import JobContext, Runner
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["STAGE_BUCKETS", "WorkerMetrics", "pass_seconds"]

STAGE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
"""Seconds: a small test pass takes ~1 s a stage, a full VNREDSat-1 pass minutes."""
FACTOR_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 4, 8, 16, 32)


def pass_seconds(job_input: dict[str, Any], result: dict[str, Any]) -> float | None:
    """How long the pass lasted: LOS - AOS of the reception record, else the imagery's span."""
    reception = job_input.get("reception") or {}
    aos, los = reception.get("aos"), reception.get("los")
    if aos and los:
        seconds = (dt.datetime.fromisoformat(los) - dt.datetime.fromisoformat(aos)).total_seconds()
        if seconds > 0:
            return seconds
    span = result.get("acquisition_seconds")
    return float(span) if span else None


class WorkerMetrics:
    """The metrics of one worker process (its own registry, served by :meth:`serve`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)  # memory, CPU, open files of the worker
        self.runs = Counter("rsarchive_worker_job_runs", "Job runs of this worker by outcome (completed: the "
                            "pipeline returned; error: it raised, and the queue retries or fails the job)",
                            ["outcome"], registry=self.registry)
        self.running = Gauge("rsarchive_worker_jobs_running", "Jobs this worker is running now",
                             registry=self.registry)
        self.stages = Histogram("rsarchive_job_stage_seconds", "Wall seconds of each pipeline stage of the jobs "
                                "this worker completed (stages overlap in threads)", ["stage"],
                                buckets=STAGE_BUCKETS, registry=self.registry)
        self.run_seconds = Histogram("rsarchive_job_run_seconds", "Wall seconds of each job run of this worker",
                                     buckets=STAGE_BUCKETS, registry=self.registry)
        self.factor = Histogram("rsarchive_job_realtime_factor", "Run seconds per second of the pass (< 1: the "
                                "archive keeps up with the station)", buckets=FACTOR_BUCKETS, registry=self.registry)
        self.last_factor = Gauge("rsarchive_job_last_realtime_factor", "Real-time factor of the last pass this "
                                 "worker completed", registry=self.registry)
        self._server: Any = None

    def instrument(self, runner: Runner) -> Runner:
        """``runner`` observed: its runs, their stages and their real-time factor."""

        def observed(context: JobContext) -> dict[str, Any]:
            started = time.monotonic()
            self.running.inc()
            try:
                result = runner(context)
            except BaseException:
                self.runs.labels("error").inc()
                raise
            finally:
                self.running.dec()
            self.observe(context.job.input, result, time.monotonic() - started)
            return result

        return observed

    def observe(self, job_input: dict[str, Any], result: dict[str, Any], seconds: float) -> None:
        """Record one completed run that took ``seconds``."""
        self.runs.labels("completed").inc()
        self.run_seconds.observe(seconds)
        for stage, spent in (result.get("stage_seconds") or {}).items():
            if stage in INGEST_STAGES:  # bounded labels, whatever a result holds
                self.stages.labels(stage).observe(float(spent))
        span = pass_seconds(job_input, result)
        if span:
            self.factor.observe(seconds / span)
            self.last_factor.set(seconds / span)

    def serve(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on ``host:port`` in a background thread; returns the port."""
        try:
            self._server, _ = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ServiceError(f"cannot serve the worker's metrics on {host}:{port}: {exc.strerror}") from None
        bound = int(self._server.server_port)
        log.info("worker metrics on http://%s:%d/metrics", host, bound)
        return bound

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerMetrics | None:
        """Served metrics when ``worker_metrics_port`` is set, else None."""
        if not settings.worker_metrics_port:
            return None
        metrics = cls()
        metrics.serve(settings.worker_metrics_host, settings.worker_metrics_port)
        return metrics
