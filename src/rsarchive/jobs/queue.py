"""The job queue: rows in ``rsarchive.jobs`` claimed with ``FOR UPDATE SKIP LOCKED``.

A claimed job carries a lease (owner + expiry) that the worker extends with
heartbeats.  A job whose lease expired (its worker died) is claimable again, so
another worker finishes it; every state change checks the lease owner, so a
worker that lost its lease cannot overwrite the new owner's work.  Transient
failures go back to the queue with exponential backoff until ``max_attempts``;
so do expired leases: a job whose worker died ``max_attempts`` times (a downlink
that kills its worker) ends ``failed`` at the next claim instead of being retried
forever.

Fencing: a claim's token is (worker, attempt).  Every commit a run makes joins a
transaction that first checks the token and locks the job's row ``FOR KEY SHARE``
(:meth:`JobQueue.fence`): a claim (``FOR UPDATE``) cannot take the job while that
transaction is open, and once another worker has claimed the job the old run's
check fails, so a worker that lost its lease commits nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rsarchive.db import connect
from rsarchive.errors import ConflictError, NotFoundError, RsArchiveError, UsageError
from rsarchive.notify import OPERATORS, queue as queue_notice

log = logging.getLogger(__name__)

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
_COLUMNS = (
    "id, kind, identity, pipeline, input, state, attempts, max_attempts, run_after, lease_owner, "
    "lease_expires, heartbeat_at, stage, progress, error, result, created_at, updated_at, finished_at"
)


class LeaseLost(RsArchiveError):
    """This worker no longer holds the job's lease (it expired and another worker took it, or it was cancelled)."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    identity: str
    pipeline: str
    input: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    run_after: datetime
    lease_owner: str | None
    lease_expires: datetime | None
    heartbeat_at: datetime | None
    stage: str | None
    progress: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    result: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in _COLUMNS.split(", "):
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def _job(row: tuple[Any, ...]) -> Job:
    return Job(*row)


def _notify_failed(conn: Any, job_id: int, kind: str, attempts: int, error: str) -> None:
    """The operators' e-mail about a job that failed for good, sent from the outbox once this commits."""
    queue_notice(conn, "job_failed", [OPERATORS], "job_failed",
                 {"job": {"id": job_id, "kind": kind, "attempts": attempts, "error": error}},
                 dedup=f"job:{job_id}:failed:{attempts}")


class JobQueue:
    """Operations on the queue in the internal database at ``dsn``."""

    def __init__(self, dsn: str, *, backoff_seconds: float = 5.0, max_backoff_seconds: float = 600.0) -> None:
        self.dsn = dsn
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds

    # Submission -----------------------------------------------------------------
    def enqueue(self, kind: str, identity: str, pipeline: str, input: dict[str, Any],
                max_attempts: int = 3) -> tuple[Job, bool]:
        """Add a job; when one with the same (kind, identity) exists, return it. True when created."""
        with connect(self.dsn) as conn:
            row = conn.execute(
                f"INSERT INTO rsarchive.jobs (kind, identity, pipeline, input, max_attempts) "
                f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT (kind, identity) DO NOTHING RETURNING {_COLUMNS}",
                (kind, identity, pipeline, json.dumps(input), max_attempts),
            ).fetchone()
            if row is not None:
                job = _job(row)
                self._event(conn, job.id, "queued", None, None, {"pipeline": pipeline})
                log.info("queued %s job %d (%s)", kind, job.id, identity[:16])
                return job, True
            existing = conn.execute(
                f"SELECT {_COLUMNS} FROM rsarchive.jobs WHERE kind = %s AND identity = %s", (kind, identity)
            ).fetchone()
            assert existing is not None
            return _job(existing), False

    # Workers ----------------------------------------------------------------------
    def claim(self, worker: str, lease_seconds: float, kinds: tuple[str, ...] = ("ingest",),
              job_id: int | None = None) -> Job | None:
        """Take the oldest runnable job (queued and due, or running with an expired lease); with
        ``job_id``, only that job.  A job whose lease expired after its last attempt is failed first."""
        params = {"worker": worker, "lease": lease_seconds, "kinds": list(kinds), "job": job_id}
        with connect(self.dsn) as conn:
            self._give_up_expired(conn, params)
            row = conn.execute(
                f"""
                UPDATE rsarchive.jobs SET state = 'running', lease_owner = %(worker)s,
                       lease_expires = now() + make_interval(secs => %(lease)s), heartbeat_at = now(),
                       attempts = attempts + 1, updated_at = now(), error = NULL
                 WHERE id = (
                       SELECT id FROM rsarchive.jobs
                        WHERE kind = ANY(%(kinds)s) AND (%(job)s::bigint IS NULL OR id = %(job)s::bigint)
                          AND ((state = 'queued' AND run_after <= now())
                               OR (state = 'running' AND lease_expires < now() AND attempts < max_attempts))
                        ORDER BY run_after, id
                        FOR UPDATE SKIP LOCKED
                        LIMIT 1)
                RETURNING {_COLUMNS}
                """,
                params,
            ).fetchone()
            if row is None:
                return None
            job = _job(row)
            self._event(conn, job.id, "claimed", worker, job.stage, {"attempt": job.attempts})
            log.info("worker %s claimed job %d (attempt %d)", worker, job.id, job.attempts)
            return job

    def _give_up_expired(self, conn: Any, params: dict[str, Any]) -> None:
        """Fail the jobs whose last allowed attempt's lease expired (its worker died or hung)."""
        rows = conn.execute(
            """
            UPDATE rsarchive.jobs SET state = 'failed', lease_owner = NULL, lease_expires = NULL,
                   updated_at = now(), finished_at = now(),
                   error = format('gave up after %%s attempts; the last worker''s lease expired (worker %%s, '
                                  'stage %%s)', attempts, lease_owner, coalesce(stage, 'none'))
             WHERE id IN (
                   SELECT id FROM rsarchive.jobs
                    WHERE kind = ANY(%(kinds)s) AND (%(job)s::bigint IS NULL OR id = %(job)s::bigint)
                      AND state = 'running' AND lease_expires < now() AND attempts >= max_attempts
                    FOR UPDATE SKIP LOCKED)
            RETURNING id, error, kind, attempts
            """,
            params,
        ).fetchall()
        for job_id, error, kind, attempts in rows:
            self._event(conn, job_id, "failed", None, None, {"error": error, "transient": True})
            log.error("job %d: %s", job_id, error)
            _notify_failed(conn, job_id, kind, attempts, error)

    def fence(self, conn: Any, job_id: int, worker: str, attempt: int) -> None:
        """Inside the caller's transaction on ``conn``: check that ``worker``'s claim ``attempt`` still
        holds the job and lock its row until the transaction ends (no claim meanwhile).  Raises
        :class:`LeaseLost` otherwise, so the transaction rolls back and nothing of it is committed."""
        row = conn.execute(
            "SELECT 1 FROM rsarchive.jobs WHERE id = %s AND lease_owner = %s AND attempts = %s "
            "AND state = 'running' FOR KEY SHARE",
            (job_id, worker, attempt),
        ).fetchone()
        if row is None:
            raise LeaseLost(f"job {job_id}: worker {worker} lost its lease (attempt {attempt}); nothing committed")

    def heartbeat(self, job_id: int, worker: str, lease_seconds: float) -> bool:
        """Extend the lease; False when this worker no longer holds it (expired and taken, or cancelled)."""
        with connect(self.dsn) as conn:
            row = conn.execute(
                "UPDATE rsarchive.jobs SET lease_expires = now() + make_interval(secs => %s), heartbeat_at = now() "
                "WHERE id = %s AND lease_owner = %s AND state = 'running' RETURNING id",
                (lease_seconds, job_id, worker),
            ).fetchone()
            return row is not None

    def report_progress(self, job_id: int, worker: str, stage: str, done: int, total: int) -> bool:
        """Record the current stage and its progress; False when the lease is lost."""
        with connect(self.dsn) as conn:
            row = conn.execute(
                "UPDATE rsarchive.jobs SET stage = %s, "
                "progress = progress || jsonb_build_object(%s::text, jsonb_build_object('done', %s::int, 'total', %s::int)), "
                "updated_at = now() WHERE id = %s AND lease_owner = %s AND state = 'running' RETURNING stage",
                (stage, stage, done, total, job_id, worker),
            ).fetchone()
            return row is not None

    def stage_started(self, job_id: int, worker: str, stage: str, attempt: int | None = None) -> bool:
        """Record a stage boundary; False (nothing recorded) when ``worker`` (at ``attempt``) lost the job."""
        with connect(self.dsn) as conn:
            held = conn.execute(
                "SELECT 1 FROM rsarchive.jobs WHERE id = %s AND lease_owner = %s AND state = 'running' "
                "AND (%s::int IS NULL OR attempts = %s::int)",
                (job_id, worker, attempt, attempt),
            ).fetchone()
            if held is None:
                return False
            self._event(conn, job_id, "stage", worker, stage, {})
            return True

    def complete(self, job_id: int, worker: str, result: dict[str, Any]) -> bool:
        with connect(self.dsn) as conn:
            row = conn.execute(
                "UPDATE rsarchive.jobs SET state = 'succeeded', result = %s, finished_at = now(), updated_at = now(), "
                "lease_owner = NULL, lease_expires = NULL WHERE id = %s AND lease_owner = %s AND state = 'running' "
                "RETURNING id",
                (json.dumps(result), job_id, worker),
            ).fetchone()
            if row is not None:
                self._event(conn, job_id, "succeeded", worker, None, {})
            return row is not None

    def fail(self, job_id: int, worker: str, error: str, *, transient: bool, counts: bool = True) -> str | None:
        """Record a failure: back to the queue with backoff when transient and attempts remain,
        otherwise failed. Returns the new state (None when the lease was lost).  ``counts=False`` (a full
        disk): back to the queue whatever the attempts, and this attempt does not use up the budget
        (``max_attempts`` grows by one; attempt numbers stay unique: they are the fencing tokens)."""
        with connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT attempts, max_attempts, kind FROM rsarchive.jobs WHERE id = %s AND lease_owner = %s "
                "AND state = 'running' FOR UPDATE",
                (job_id, worker),
            ).fetchone()
            if row is None:
                return None
            attempts, max_attempts, kind = row
            retry = (transient and attempts < max_attempts) or not counts
            delay = min(self.backoff_seconds * 2 ** (attempts - 1), self.max_backoff_seconds)
            state = "queued" if retry else "failed"
            conn.execute(
                "UPDATE rsarchive.jobs SET state = %s, error = %s, lease_owner = NULL, lease_expires = NULL, "
                "run_after = now() + make_interval(secs => %s), updated_at = now(), "
                "max_attempts = max_attempts + %s, "
                "finished_at = CASE WHEN %s = 'failed' THEN now() END WHERE id = %s",
                (state, error, delay if retry else 0, 0 if counts else 1, state, job_id),
            )
            event = "waiting" if not counts else "retry" if retry else "failed"
            self._event(conn, job_id, event, worker, None,
                        {"error": error, "transient": transient, "delay_s": delay if retry else None})
            if state == "failed":
                _notify_failed(conn, job_id, kind, attempts, error)
            return state

    def due_now(self, job_id: int) -> bool:
        """Make a queued job waiting for its backoff due at once (an operator runs it now); True when it was
        waiting."""
        with connect(self.dsn) as conn:
            row = conn.execute(
                "UPDATE rsarchive.jobs SET run_after = now(), updated_at = now() WHERE id = %s AND state = 'queued' "
                "AND run_after > now() RETURNING id", (job_id,)).fetchone()
            return row is not None

    # Operators ----------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        with connect(self.dsn) as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM rsarchive.jobs WHERE id = %s", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no job with id {job_id}")
        return _job(row)

    def list(self, state: str | None = None, limit: int = 50) -> list[Job]:
        if state is not None and state not in STATES:
            raise UsageError(f"unknown job state {state!r}; one of {', '.join(STATES)}")
        with connect(self.dsn) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM rsarchive.jobs WHERE %s::text IS NULL OR state = %s "
                "ORDER BY id DESC LIMIT %s",
                (state, state, limit),
            ).fetchall()
        return [_job(r) for r in rows]

    def events(self, job_id: int) -> list[dict[str, Any]]:
        with connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT at, event, worker, stage, detail FROM rsarchive.job_events WHERE job_id = %s ORDER BY id",
                (job_id,),
            ).fetchall()
        return [{"at": r[0].isoformat(), "event": r[1], "worker": r[2], "stage": r[3], "detail": r[4]} for r in rows]

    def retry(self, job_id: int) -> Job:
        """Put a failed or cancelled job back in the queue with a fresh attempt budget."""
        with connect(self.dsn) as conn:
            row = conn.execute(
                f"UPDATE rsarchive.jobs SET state = 'queued', attempts = 0, run_after = now(), error = NULL, "
                f"finished_at = NULL, updated_at = now() WHERE id = %s AND state IN ('failed', 'cancelled') "
                f"RETURNING {_COLUMNS}",
                (job_id,),
            ).fetchone()
            if row is None:
                job = self.get(job_id)
                raise ConflictError(f"job {job_id} is {job.state}; only failed or cancelled jobs can be retried")
            self._event(conn, job_id, "requeued", None, None, {})
            return _job(row)

    def cancel(self, job_id: int) -> Job:
        """Cancel a queued or running job (a running worker notices at its next heartbeat)."""
        with connect(self.dsn) as conn:
            row = conn.execute(
                f"UPDATE rsarchive.jobs SET state = 'cancelled', lease_owner = NULL, lease_expires = NULL, "
                f"finished_at = now(), updated_at = now() WHERE id = %s AND state IN ('queued', 'running') "
                f"RETURNING {_COLUMNS}",
                (job_id,),
            ).fetchone()
            if row is None:
                job = self.get(job_id)
                raise ConflictError(f"job {job_id} is {job.state}; only queued or running jobs can be cancelled")
            self._event(conn, job_id, "cancelled", None, None, {})
            return _job(row)

    @staticmethod
    def _event(conn: Any, job_id: int, event: str, worker: str | None, stage: str | None,
               detail: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO rsarchive.job_events (job_id, event, worker, stage, detail) VALUES (%s, %s, %s, %s, %s)",
            (job_id, event, worker, stage, json.dumps(detail, default=str)),
        )
