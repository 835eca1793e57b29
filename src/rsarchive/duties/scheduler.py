"""``rsarchive scheduler``: run each duty at its time, exactly once across several schedulers.

The times come from the duties' cron triggers and an injected clock (``clock()`` → an aware
datetime), so a test or ``--once-at`` can make a duty due without waiting.  Before running a
duty for its scheduled time, a scheduler inserts the row (duty, scheduled time) into
``rsarchive.duty_runs`` with ``ON CONFLICT DO NOTHING``: the instance whose insert made the row
runs the duty and records its end, outcome and error; every other instance sees the row and
skips.  APScheduler's own scheduler loop is not used: it reads the wall clock and, with one job
store shared by several schedulers, may run a job twice.

A failed duty queues an e-mail to the operators; every tick also sends the outbox.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from rsarchive.db import connect
from rsarchive.duties import actions
from rsarchive.duties.config import Duty, Schedule, load_schedule
from rsarchive.notify import OPERATORS, drain, queue
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class DutyRun:
    """One run (or attempt) of a duty for one scheduled time."""

    duty: str
    scheduled_at: datetime
    runner: str
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str  # running | succeeded | failed | unavailable | skipped (another scheduler has it)
    error: str | None = None
    summary: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"duty": self.duty, "scheduled_at": self.scheduled_at.isoformat(), "runner": self.runner,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None, "outcome": self.outcome,
                "error": self.error, "summary": self.summary}


@dataclass
class DutyStatus:
    """A duty with its last run and its next scheduled time (for the operations page)."""

    duty: Duty
    available: bool
    last: DutyRun | None
    next_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.duty.to_dict(), "available": self.available,
                "last": self.last.to_dict() if self.last else None,
                "next_at": self.next_at.isoformat() if self.next_at else None}


def _runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Scheduler:
    """Runs the duties of ``schedule`` when ``clock`` says they are due."""

    def __init__(self, settings: Settings, schedule: Schedule | None = None, clock: Clock = wall_clock,
                 runner: str | None = None) -> None:
        self.settings = settings
        self.schedule = schedule or load_schedule()
        self.clock = clock
        self.runner = runner or _runner_name()
        self._handled: set[tuple[str, datetime]] = set()  # (duty, time) this scheduler ran or saw taken

    def _claim(self, duty: Duty, scheduled_at: datetime) -> bool:
        with connect(self.settings.internal_database_dsn, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO rsarchive.duty_runs (duty, scheduled_at, runner) VALUES (%s, %s, %s) "
                "ON CONFLICT (duty, scheduled_at) DO NOTHING RETURNING id", (duty.name, scheduled_at, self.runner)
            ).fetchone()
        return row is not None

    def _finish(self, run: DutyRun, duty: Duty) -> None:
        with connect(self.settings.internal_database_dsn) as conn:
            row = conn.execute(
                "UPDATE rsarchive.duty_runs SET ended_at = now(), outcome = %s, error = %s "
                "WHERE duty = %s AND scheduled_at = %s RETURNING ended_at",
                (run.outcome, run.error, run.duty, run.scheduled_at)).fetchone()
            run.ended_at = row[0] if row else None
            if run.outcome == "failed":
                queue(conn, "duty_failed", [OPERATORS], "duty_failed",
                      {"duty": duty.to_dict(), "scheduled": run.scheduled_at, "error": run.error or ""},
                      dedup=f"duty:{duty.name}:{run.scheduled_at.isoformat()}")

    def run_one(self, duty: Duty, scheduled_at: datetime) -> DutyRun:
        """Run ``duty`` for ``scheduled_at`` unless another scheduler already has."""
        if not self._claim(duty, scheduled_at):
            log.info("duty %s for %s: already taken by another scheduler", duty.name, scheduled_at.isoformat())
            return DutyRun(duty.name, scheduled_at, self.runner, None, None, "skipped")
        run = DutyRun(duty.name, scheduled_at, self.runner, wall_clock(), None, "running")
        log.info("duty %s for %s: started", duty.name, scheduled_at.isoformat())
        try:
            run.summary = actions.run(duty, self.settings, scheduled_at)
            run.outcome = "succeeded"
        except actions.DutyUnavailable as exc:
            run.outcome, run.error = "unavailable", str(exc)
            log.warning("duty %s: not available: %s", duty.name, exc)
        except Exception as exc:  # a duty's failure is recorded and mailed; the scheduler goes on
            run.outcome, run.error = "failed", str(exc) or type(exc).__name__
            log.error("duty %s for %s failed: %s", duty.name, scheduled_at.isoformat(), run.error)
        self._finish(run, duty)
        log.info("duty %s for %s: %s", duty.name, scheduled_at.isoformat(), run.outcome)
        return run

    def run_due(self) -> list[DutyRun]:
        """Run every duty due at ``clock()`` (each at most once per scheduled time), then send the outbox."""
        now = self.clock()
        runs = []
        for duty in self.schedule.duties:
            scheduled_at = duty.due_at(now)
            if scheduled_at is not None and (duty.name, scheduled_at) not in self._handled:
                self._handled.add((duty.name, scheduled_at))
                runs.append(self.run_one(duty, scheduled_at))
        self.send_mail()
        return runs

    def send_mail(self) -> None:
        try:
            report = drain(self.settings)
        except Exception as exc:  # the outbox keeps its messages; the next tick tries again
            log.error("sending the outbox failed: %s", exc)
            return
        if report.sent or report.failed or report.retried:
            log.info("outbox: %d sent, %d to retry, %d given up", report.sent, report.retried, report.failed)

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Tick every ``scheduler_tick_seconds`` until ``stop`` is set."""
        stop = stop or threading.Event()
        log.info("scheduler %s: %d duties from %s", self.runner, len(self.schedule.duties), self.schedule.path)
        while not stop.is_set():
            self.run_due()
            stop.wait(self.settings.scheduler_tick_seconds)


def _last_runs(settings: Settings) -> dict[str, DutyRun]:
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (duty) duty, scheduled_at, runner, started_at, ended_at, outcome, error "
            "FROM rsarchive.duty_runs ORDER BY duty, scheduled_at DESC").fetchall()
    return {row[0]: DutyRun(*row) for row in rows}


def status(settings: Settings, schedule: Schedule | None = None, now: datetime | None = None,
           check_available: bool = True) -> list[DutyStatus]:
    """Each duty of the schedule with its last run (from ``duty_runs``) and its next time after ``now``."""
    schedule = schedule or load_schedule()
    now = now or wall_clock()
    last = _last_runs(settings)
    return [DutyStatus(duty, (actions.available(duty.command) if duty.command and check_available else True),
                       last.get(duty.name), duty.next_after(now)) for duty in schedule.duties]
