"""SeaweedFS SIGKILLed (connections refused) and SIGSTOPped (a hang: connections accepted, nothing answers)
under real ``rsarchive`` commands: during a multipart upload, a promote (staging → final) and an audit
(issue 19, part 1).

The client gives up on a hung server after its timeouts (``s3_connect_timeout_s``, ``s3_read_timeout_s``,
``s3_attempts``: short in the suite), never waits for ever; an audit never takes a refused or timed-out
request for a missing object, never repairs because of one: it stops, incomplete, and says so.  After the
server is back (restarted, or SIGCONT), the operator's ordinary action (the same command again, or the
running ``ingest --wait`` itself, which retries a transient failure after its backoff) finishes the work.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rsarchive.jobs import JobQueue
from rsarchive.settings import Settings
from rsarchive.storage import Archive
from rsarchive.testing import faults
from rsarchive.testing.faults import Point

from .conftest import (
    SWEEP,
    ingest_command,
    no_false_findings,
    objects,
    one_clean_set,
    paused,
    rsarchive,
)
from .test_postgres import _note, _store_level0

pytestmark = [pytest.mark.services, pytest.mark.slow]

FAULTS = ["kill", "freeze"]
RETRY_BACKOFF_S = 15.0
"""The job's retry backoff in the ingest cases: a SeaweedFS restart (~10 s) fits in it, so the job does not
spend its 3 attempts while the server starts (with the default 5 s it took 3 attempts, at the edge)."""


class _Outage:
    """SeaweedFS killed or frozen, and brought back."""

    def __init__(self, fault_stack: Settings, fault: str) -> None:
        self.settings = fault_stack
        self.fault = fault
        self.frozen: int | None = None

    def start(self) -> None:
        if self.fault == "kill":
            faults.kill_seaweed(self.settings)
        else:
            self.frozen = faults.freeze_seaweed(self.settings)

    def end(self) -> None:
        if self.fault == "kill":
            faults.restart_seaweed(self.settings)
        else:
            assert self.frozen is not None
            faults.thaw_seaweed(self.frozen)


AUDIT_CASES = [(f, r) for f in FAULTS for r in (False, True)] if SWEEP else [("freeze", True)]


@pytest.mark.parametrize("fault, repair", AUDIT_CASES, ids=[f"{f}-{'repair' if r else 'check'}" for f, r in AUDIT_CASES])
def test_audit_never_takes_a_dead_store_for_a_missing_object(fault_stack: Settings, fresh: Settings, tmp_path: Path,
                                                           fault: str, repair: bool) -> None:
    keys = _store_level0(fresh, tmp_path, 4)
    point = Point("audit", "storage/fixity.py", "_audit_one", "primary_state, sha, size, detail = _check(", 2)
    outage = _Outage(fault_stack, fault)
    run = paused(fresh, point, tmp_path / "control", "audit", *(["--repair"] if repair else []))
    run.wait_at_point(120)
    outage.start()
    started = time.monotonic()
    run.go()
    try:
        code = run.finish(150)  # a hang must be given up: 2 attempts × 3 botocore tries × 2 s
    finally:
        outage.end()
    took = time.monotonic() - started
    output = run.output()
    assert code != 0 and "Traceback" not in output, output
    assert "incomplete" in output and "nothing was marked missing or repaired" in output, output
    assert "1 object(s) checked: 1 ok" in output, output
    no_false_findings(fresh)
    archive = Archive.from_settings(fresh)
    for key in keys:  # nothing was "repaired" over the objects
        assert archive.get(key, None).sha256 == objects(fresh)[key][0]
    again = rsarchive(fresh, "audit", *(["--repair"] if repair else []))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(keys)} object(s) checked: {len(keys)} ok, 0 repaired" in again.stdout + again.stderr
    no_false_findings(fresh)
    _note("audit" + (" --repair" if repair else ""), f"seaweedfs-{fault}",
          f"stopped incomplete after {took:.0f} s (exit {code}), nothing marked missing or repaired; re-run clean")


def _ingest_through(fault_stack: Settings, fresh: Settings, path: Path, point: Point, tmp_path: Path,
                    fault: str, label: str) -> None:
    """Ingest paused at ``point``, the store killed/frozen, the run goes on and fails its attempt; the server
    comes back once that failure is recorded; the same ``ingest --wait`` retries and finishes (re-run when it
    ended)."""
    outage = _Outage(fault_stack, fault)
    fresh = fresh.derive(job_retry_backoff_seconds=RETRY_BACKOFF_S)
    command = ingest_command(path)
    run = paused(fresh, point, tmp_path / "control", *command)
    run.wait_at_point(240)
    outage.start()
    started = time.monotonic()
    run.go()
    queue = JobQueue(fresh.internal_database_dsn)
    try:
        deadline = time.monotonic() + 150
        while True:  # the attempt fails, as it must (bounded: timeouts), and is given back to the queue
            job = queue.list()[0]
            if job.state != "running" or job.attempts > 1 or run.process.poll() is not None:
                break
            assert time.monotonic() < deadline, f"the attempt did not fail in 150 s: {job}\n{run.output()[-2000:]}"
            time.sleep(0.1)
        failed_after = time.monotonic() - started
        error = job.error or ""
    finally:
        outage.end()
    assert "cannot be reached" in error or "failed after" in error or run.process.poll() is not None, error
    code = run.finish(300)
    assert "Traceback" not in run.output(), run.output()[-3000:]
    rerun = None
    if code != 0:
        again = rsarchive(fresh, *command, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        rerun = again.returncode
    job = queue.list()[0]
    assert job.state == "succeeded", job.error
    scenes = len(job.result["scenes"]) if job.result else 0
    one_clean_set(fresh, scenes=scenes)
    why = "S3 endpoint cannot be reached" if "cannot be reached" in error else (error[:80] or f"exit {code}")
    how = (f"attempt failed after {failed_after:.0f} s ({why}); "
           + ("the same `ingest --wait` retried and finished" if rerun is None else "re-run finished it")
           + f" ({job.attempts} attempts)")
    _note(label, f"seaweedfs-{fault}", how)


@pytest.fixture(scope="module")
def big_downlink(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 scenes: a level-0 file of ~6 MB, sent in two parts of 5 MiB."""
    from rsarchive.testing import small_downlink

    made = small_downlink(tmp_path_factory.mktemp("big"), scenes=3, write_truth_dn=False,
                          write_truth_radiance=False)
    assert Path(made.downlink).stat().st_size > 5 << 20
    return Path(made.downlink)


@pytest.mark.skipif(not SWEEP, reason="full sweep only (RSARCHIVE_FAULT_SWEEP=1): ~2 min")
@pytest.mark.parametrize("fault", FAULTS)
def test_multipart_upload_with_seaweed_down(fault_stack: Settings, fresh: Settings, big_downlink: Path,
                                            tmp_path: Path, fault: str) -> None:
    settings = fresh.derive(s3_part_size_mib=5)
    point = Point("multipart", "storage/s3.py", "send", 'self._call(f"sending part {number} of"', 2)
    _ingest_through(fault_stack, settings, big_downlink, point, tmp_path, fault, "multipart upload (level-0)")


@pytest.mark.parametrize("fault", FAULTS if SWEEP else ["kill"])
def test_promote_with_seaweed_down(fault_stack: Settings, fresh: Settings, downlink: Path, tmp_path: Path,
                                   fault: str) -> None:
    point = Point("promote", "storage/publication.py", "_commit", "primary.promote(item.staging_key", 2)
    _ingest_through(fault_stack, fresh, downlink, point, tmp_path, fault, "promote (staging → final)")
