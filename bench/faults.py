"""Recovery time after a database restart (issue 19): seconds from PostgreSQL answering again to the
ingest job running again, on a stack of its own (its PostgreSQL is stopped with ``pg_ctl stop -m
immediate`` while the job is in its raw/product stages, then started again).

Two ways an operator gets the job going again:

* ``worker``: an ``rsarchive worker`` kept running through the outage; it takes the job again once the
  dead run's lease has expired (bounded by the lease, ``job_lease_seconds``, plus its poll of 2 s);
* ``ingest-rerun``: the foreground ``rsarchive ingest FILE --wait`` ends with the database (exit 5); the
  database is started again and the same command run again as soon as it answers (it takes the job over
  when the dead run's lease has expired: bounded by the same lease).

"Running again" is the job's row showing it claimed, or its progress or lease renewed, after the moment
the database answered (attempt 1: the run lived through the outage, its heartbeat retrying; attempt 2:
it died and its job was taken over once its lease expired).  Each run also prints how long the database
was down and how much of the dead run's lease was left when it answered: the take-over waits for that,
so the recovery is about max(0, lease left) + the worker's poll (2 s) or the command's start-up.  Each is measured ``RSARCHIVE_BENCH_FAULTS_REPEATS`` times (default 2), the median
is printed with its ratio against the lease it is bounded by (``RSARCHIVE_BENCH_FAULTS_LEASE``, default
10 s): below 1 + (poll + start-up) / lease is what the design promises.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench._report import emit

PIPELINE = "ingest-level0-small"
ENV_SETTINGS = ("archive_root", "pg_port", "internal_db", "public_db", "seaweed_s3_port", "primary_bucket",
                "copy_bucket", "secrets_file", "job_lease_seconds")


def _env(settings: object) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("RSARCHIVE_")}
    for name in ENV_SETTINGS:
        out[f"RSARCHIVE_{name.upper()}"] = str(getattr(settings, name))
    return out


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench faults: timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Run:
    recovered: float
    """Seconds from the database answering again to the job running again."""
    attempt: int
    """The job's attempt then (1: the run lived through the outage; 2: it was taken over)."""
    outage: float
    """Seconds from the stop to the database answering again."""
    lease_left: float
    """Seconds the dead run's lease still had when the database answered (what a take-over waits for)."""


def _one(stack: object, downlink: Path, way: str, root: Path) -> Run:
    from rsarchive.db import connect
    from rsarchive.jobs import JobQueue
    from rsarchive.testing import faults
    from rsarchive.testing.stack import clone_databases

    settings = clone_databases(stack).derive(archive_root=root)  # type: ignore[arg-type]
    root.mkdir(parents=True)
    env = _env(settings)
    rsarchive = [sys.executable, "-m", "rsarchive", "-q"]
    queue = JobQueue(settings.internal_database_dsn)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if way == "worker":
        subprocess.run([*rsarchive, "ingest", str(downlink), "--pipeline", PIPELINE], env=env, check=True, **quiet)
        running = subprocess.Popen([*rsarchive, "worker"], env=env, **quiet)  # type: ignore[call-overload]
    else:
        running = subprocess.Popen([*rsarchive, "ingest", str(downlink), "--pipeline", PIPELINE, "--wait"],
                                   env=env, **quiet)  # type: ignore[call-overload]
    rerun = None
    try:
        _wait(lambda: bool(queue.list()) and queue.list()[0].stage in ("raw", "product"), 300, "the raw stage")
        crashed = time.monotonic()
        faults.crash_postgres(stack)  # type: ignore[arg-type]
        if way == "ingest-rerun":
            running.wait(120)  # the foreground run ends with its database (exit 5)
        time.sleep(1.0)
        answering = faults.restart_postgres(stack)  # type: ignore[arg-type]
        with connect(settings.internal_database_dsn) as conn:
            back, left = conn.execute("SELECT now(), extract(epoch FROM lease_expires - now()) FROM rsarchive.jobs"
                                      ).fetchone()
        outage = answering - crashed
        if way == "ingest-rerun":  # the operator runs the same command again as soon as the database answers
            rerun = subprocess.Popen([*rsarchive, "ingest", str(downlink), "--pipeline", PIPELINE, "--wait"],
                                     env=env, **quiet)  # type: ignore[call-overload]

        seen: list[int] = []

        def again() -> bool:
            job = queue.list()[0]
            seen[:] = [job.attempts]
            return job.state == "succeeded" or (job.state == "running"
                                                and max(job.updated_at, job.heartbeat_at) > back)

        _wait(again, 300, "the job to run again")
        recovered = time.monotonic() - answering
        _wait(lambda: queue.list()[0].state == "succeeded", 600, "the job to finish")
        return Run(recovered, seen[0], outage, max(float(left or 0.0), 0.0))
    finally:
        for process in (running, rerun):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def main() -> None:
    from rsarchive.testing import faults, small_downlink

    repeats = int(os.environ.get("RSARCHIVE_BENCH_FAULTS_REPEATS", "2"))
    lease = float(os.environ.get("RSARCHIVE_BENCH_FAULTS_LEASE", "10"))
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp, \
            faults.dedicated_stack(job_lease_seconds=lease) as stack:
        downlink = Path(small_downlink(Path(tmp) / "downlink", scenes=2, write_truth_dn=False,
                                       write_truth_radiance=False).downlink)
        for way in ("worker", "ingest-rerun"):
            runs = [_one(stack, downlink, way, Path(tmp) / f"{way}-{i}") for i in range(repeats)]
            median = statistics.median(r.recovered for r in runs)
            emit(f"faults_db_restart_recovery_{way.replace('-', '_')}", median, "s", median / lease,
                 f"the job lease of {lease:g} s")
            for r in runs:
                print(f"  run: {r.recovered:.2f} s to running again (attempt {r.attempt}); database down "
                      f"{r.outage:.1f} s; lease left when it answered {r.lease_left:.1f} s", flush=True)
