"""Archive-wide figures from the internal database, computed when Prometheus scrapes.

:class:`ArchiveCollector` is a custom prometheus-client collector.  A scrape must not be a
way to load the database, so: every query is cheap (an index, a primary-key range, or a
small table), all of them run in one read-only transaction under ``statement_timeout``
(``metrics_query_timeout_ms``), and their answer is kept for ``metrics_cache_seconds`` —
scrapes in between, however many, and concurrent ones, get it without a query.  When the
database does not answer in time, the scrape still succeeds: ``rsarchive_metrics_database_up``
is 0 and the database figures are absent (the failure is logged, never shown).

========================================  ================================================
metric                                    what
========================================  ================================================
``rsarchive_jobs{state}``                 jobs by state (queued, running, succeeded …)
``rsarchive_queue_depth``                 queued jobs
``rsarchive_queue_oldest_age_seconds``    age of the oldest queued job (0: none)
``rsarchive_last_job_stage_seconds``      stage wall seconds of the last succeeded job
``rsarchive_last_job_realtime_factor``    its run seconds per second of its pass
``rsarchive_last_job_finished_timestamp_seconds``  when it finished
``rsarchive_audit_last_objects{result}``  last fixity audit: objects checked, damaged,
                                          missing, repaired, unrepaired
``rsarchive_audit_last_timestamp_seconds``  when the last audit's last check was made
``rsarchive_stored_bytes{form}``          bytes by form: level0, raw, product, original,
                                          and copy (the copy store)
``rsarchive_stored_objects{form}``        objects by form
``rsarchive_requests{clock}``             data requests: open, due_soon, overdue
``rsarchive_metrics_database_up``         1 when the figures above could be read
``rsarchive_metrics_query_seconds``       how long reading them took
========================================  ================================================
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rsarchive.db import connect
from rsarchive.jobs.metrics import pass_seconds
from rsarchive.jobs.pipeline import INGEST_STAGES
from rsarchive.jobs.queue import STATES
from rsarchive.law import calendar
from rsarchive.requests.lifecycle import DUE_SOON_WORKING_DAYS, OPEN_STATUSES

log = logging.getLogger(__name__)

__all__ = ["AUDIT_WINDOW", "ArchiveCollector", "Figures", "read_figures"]

FORMS = ("level0", "raw", "product", "original")
AUDIT_RESULTS = ("checked", "damaged", "missing", "repaired", "unrepaired")
AUDIT_WINDOW = 1_000_000
"""The last audit is counted among the newest this many fixity events (a primary-key range)."""


@dataclass
class Figures:
    """What one read of the database found."""

    jobs: dict[str, int] = field(default_factory=dict)
    queue_depth: int = 0
    oldest_queued_s: float = 0.0
    last_stages: dict[str, float] = field(default_factory=dict)
    last_factor: float | None = None
    last_finished: float | None = None
    audit: dict[str, int] = field(default_factory=dict)
    audit_at: float | None = None
    bytes: dict[str, int] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)


def read_figures(conn: Any, today: dt.date | None = None) -> Figures:
    """Every figure, on ``conn`` (the caller bounds the time)."""
    f = Figures(jobs=dict.fromkeys(STATES, 0))
    for state, count in conn.execute("SELECT state, count(*) FROM rsarchive.jobs GROUP BY state"):
        f.jobs[state] = int(count)
    depth, age = conn.execute(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM rsarchive.jobs "
        "WHERE state = 'queued'").fetchone()
    f.queue_depth, f.oldest_queued_s = int(depth), float(age)
    last = conn.execute(
        "SELECT input, result, extract(epoch FROM finished_at) FROM rsarchive.jobs WHERE state = 'succeeded' "
        "ORDER BY id DESC LIMIT 1").fetchone()
    if last is not None:
        job_input, result, finished = last[0] or {}, last[1] or {}, last[2]
        f.last_stages = {s: float(v) for s, v in (result.get("stage_seconds") or {}).items() if s in INGEST_STAGES}
        span, run = pass_seconds(job_input, result), result.get("run_seconds")
        f.last_factor = float(run) / span if span and run else None
        f.last_finished = float(finished) if finished is not None else None
    _audit(conn, f)
    f.bytes = dict.fromkeys((*FORMS, "copy"), 0)
    f.objects = dict.fromkeys((*FORMS, "copy"), 0)
    for form, count, size, copies, copy_size in conn.execute(
            "SELECT form, count(*), coalesce(sum(size), 0), count(*) FILTER (WHERE copy_store IS NOT NULL), "
            "coalesce(sum(size) FILTER (WHERE copy_store IS NOT NULL), 0) FROM rsarchive.objects GROUP BY form"):
        f.bytes[form], f.objects[form] = int(size), int(count)
        f.bytes["copy"] += int(copy_size)
        f.objects["copy"] += int(copies)
    today = today or calendar.today_vn()
    f.requests = {"open": 0, "due_soon": 0, "overdue": 0}
    for due, count in conn.execute("SELECT due_date, count(*) FROM rsarchive.data_requests "
                                   "WHERE status = ANY(%s) GROUP BY due_date", (list(OPEN_STATUSES),)):
        f.requests["open"] += int(count)
        if due < today:
            f.requests["overdue"] += int(count)
        elif calendar.working_days_left(due, today) <= DUE_SOON_WORKING_DAYS:
            f.requests["due_soon"] += int(count)
    return f


def _audit(conn: Any, f: Figures) -> None:
    """The last audit run's results (objects counted once per result, primary and copy together)."""
    rows = conn.execute(
        """WITH last AS (SELECT id, audit_run FROM rsarchive.fixity_events ORDER BY id DESC LIMIT 1)
           SELECT count(DISTINCT e.key) FILTER (WHERE e.action = 'check'),
                  count(DISTINCT e.key) FILTER (WHERE e.action = 'check' AND e.outcome = 'damaged'),
                  count(DISTINCT e.key) FILTER (WHERE e.action = 'check' AND e.outcome = 'missing'),
                  count(DISTINCT e.key) FILTER (WHERE e.action = 'repair' AND e.outcome = 'repaired'),
                  count(DISTINCT e.key) FILTER (WHERE e.action = 'repair' AND e.outcome = 'failed'),
                  extract(epoch FROM max(e.at))
             FROM rsarchive.fixity_events e JOIN last ON e.audit_run = last.audit_run
            WHERE e.id > last.id - %s""", (AUDIT_WINDOW,)).fetchone()
    if rows is None or rows[5] is None:
        return
    f.audit = dict(zip(AUDIT_RESULTS, (int(v) for v in rows[:5])))
    f.audit_at = float(rows[5])


class ArchiveCollector(Collector):
    """Database figures at scrape time, read at most every ``cache_seconds`` within ``timeout_ms``."""

    def __init__(self, dsn: str, *, timeout_ms: int = 2000, cache_seconds: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dsn = dsn
        self.timeout_ms = timeout_ms
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, Figures | None, float] | None = None  # (read at, figures, seconds taken)
        self.reads = 0
        """How many times the database was read (tests: scrapes within the cache do not read it)."""

    def figures(self) -> tuple[Figures | None, float]:
        """The figures (None when the database failed) and how long reading them took; cached."""
        with self._lock:  # concurrent scrapes wait for one read instead of each making it
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < self.cache_seconds:
                return self._cached[1], self._cached[2]
            started = time.perf_counter()
            figures: Figures | None
            try:
                self.reads += 1
                with connect(self.dsn, connect_timeout=max(2, -(-self.timeout_ms // 1000)),
                             options=f"-c statement_timeout={int(self.timeout_ms)} "
                                     "-c default_transaction_read_only=on",
                             application_name="rsarchive-metrics") as conn:
                    figures = read_figures(conn)
            except Exception as exc:  # noqa: BLE001 - a scrape reports the database as down, never fails
                log.warning("metrics: the database figures could not be read: %s: %s", type(exc).__name__,
                            str(exc).splitlines()[0] if str(exc) else "")
                figures = None
            took = time.perf_counter() - started
            self._cached = (self.clock(), figures, took)
            return figures, took

    def describe(self) -> Iterator[Metric]:
        return iter(())  # no database read when the collector is registered

    def collect(self) -> Iterator[Metric]:
        figures, took = self.figures()
        up = GaugeMetricFamily("rsarchive_metrics_database_up", "1 when the database figures could be read "
                               "within the query budget")
        up.add_metric([], 1 if figures is not None else 0)
        yield up
        yield GaugeMetricFamily("rsarchive_metrics_query_seconds", "Seconds the last read of the database figures "
                                "took", value=took)
        if figures is not None:
            yield from _families(figures)


def _labelled(name: str, doc: str, label: str, values: dict[str, Any]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family


def _families(f: Figures) -> Iterator[Metric]:
    yield _labelled("rsarchive_jobs", "Jobs by state", "state", f.jobs)
    yield GaugeMetricFamily("rsarchive_queue_depth", "Queued jobs", value=f.queue_depth)
    yield GaugeMetricFamily("rsarchive_queue_oldest_age_seconds", "Age of the oldest queued job (0: none queued)",
                            value=f.oldest_queued_s)
    yield _labelled("rsarchive_last_job_stage_seconds", "Wall seconds of each stage of the last succeeded job",
                    "stage", f.last_stages)
    if f.last_factor is not None:
        yield GaugeMetricFamily("rsarchive_last_job_realtime_factor", "Run seconds per second of the pass, last "
                                "succeeded job (< 1: keeps up with the station)", value=f.last_factor)
    if f.last_finished is not None:
        yield GaugeMetricFamily("rsarchive_last_job_finished_timestamp_seconds", "When the last succeeded job "
                                "finished (Unix time)", value=f.last_finished)
    if f.audit:
        yield _labelled("rsarchive_audit_last_objects", "Last fixity audit: objects checked, found damaged or "
                        "missing, repaired, left unrepaired", "result", f.audit)
    if f.audit_at is not None:
        yield GaugeMetricFamily("rsarchive_audit_last_timestamp_seconds", "When the last fixity audit made its "
                                "last check (Unix time)", value=f.audit_at)
    yield _labelled("rsarchive_stored_bytes", "Bytes stored by form (copy: the copy store)", "form", f.bytes)
    yield _labelled("rsarchive_stored_objects", "Objects stored by form (copy: the copy store)", "form", f.objects)
    yield _labelled("rsarchive_requests", "Open data requests, due within "
                    f"{DUE_SOON_WORKING_DAYS} working days, past their due date", "clock", f.requests)
