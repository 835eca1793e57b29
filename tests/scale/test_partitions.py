"""Partitions between hosts (issue 24): the database, the object store and two workers on hosts of
their own (network namespaces on one machine, :mod:`rsarchive.testing.hosts`), each running the
ordinary ``rsarchive`` commands.

* A worker host cut off in the middle of a job: its lease expires, the other worker finishes the
  job; when the link comes back the cut-off worker commits nothing (the fencing token).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rsarchive.db import connect
from rsarchive.jobs.ingest import submit
from rsarchive.testing import hosts as hostlib
from rsarchive.testing.cluster import Cluster, make_cluster
from rsarchive.testing.stack import make_root

pytestmark = [pytest.mark.services, pytest.mark.slow]

PIPELINE = "ingest-level0-small"
LEASE = "6"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    reason = hostlib.unavailable()
    if reason is not None:
        pytest.skip(f"several hosts cannot be made here: {reason}")
    root = make_root("rsarchive-hosts-")
    try:
        with hostlib.Hosts(["db", "s3", "w1", "w2"]) as hosts:
            made = make_cluster(hosts, root)
            made.start_services()
            yield made
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def downlink(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rsarchive.testing import small_downlink

    folder = tmp_path_factory.mktemp("downlink")
    result = small_downlink(folder, scenes=2, write_truth_dn=False, write_truth_radiance=False)
    return Path(result.downlink)


def _job(cluster: Cluster, job_id: int) -> tuple[str, str | None, str | None, int]:
    with connect(cluster.settings().internal_database_dsn) as conn:
        row = conn.execute("SELECT state, stage, lease_owner, attempts FROM rsarchive.jobs WHERE id = %s",
                           (job_id,)).fetchone()
    return row[0], row[1], row[2], int(row[3])


def _wait(what: str, check, timeout: float, interval: float = 0.3):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _counts(dsn: str) -> dict[str, int]:
    with connect(dsn) as conn:
        return dict(conn.execute("SELECT collection, count(*) FROM pgstac.items GROUP BY 1").fetchall())


def test_worker_cut_off_mid_job_another_finishes_and_the_cut_one_commits_nothing(cluster: Cluster,
                                                                                  downlink: Path) -> None:
    settings = cluster.settings()
    job, created = submit(settings, downlink, None, PIPELINE)
    assert created
    first = cluster.worker("w1", "--lease", LEASE)
    # w1 has the job and is inside the scene work (decoded, not committed)
    _, _, owner, _ = _wait("w1 to reach the raw stage", lambda: (s := _job(cluster, job.id))[1] in ("raw", "product")
                           and s, 180)
    assert owner is not None and f":{first.pid}:" in owner, owner
    cluster.hosts.cut("w1")
    second = cluster.worker("w2", "--lease", LEASE)
    state = _wait("the job to succeed on w2", lambda: (s := _job(cluster, job.id))[0] in ("succeeded", "failed")
                  and s, 300)
    assert state[0] == "succeeded", state
    with connect(settings.internal_database_dsn) as conn:
        result = conn.execute("SELECT result FROM rsarchive.jobs WHERE id = %s", (job.id,)).fetchone()[0]
    assert len(result["scenes"]) == 2
    done = _counts(settings.internal_database_dsn)
    assert done == {"vnredsat1-level0": 1, "vnredsat1-raw": 2, "vnredsat1-product": 2}
    with connect(settings.internal_database_dsn) as conn:
        objects = conn.execute("SELECT count(*), count(DISTINCT key) FROM rsarchive.objects").fetchone()
    # w1 comes back: its lease is gone, its commit fenced; nothing changes
    cluster.hosts.heal("w1")
    time.sleep(float(LEASE) * 3)
    assert _job(cluster, job.id)[0] == "succeeded"
    assert _counts(settings.internal_database_dsn) == done
    assert _counts(settings.public_database_dsn) == done
    with connect(settings.internal_database_dsn) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT key) FROM rsarchive.objects").fetchone() == objects
    assert _job(cluster, job.id)[3] == 2  # claimed twice: by w1, then by w2
    log = cluster.logs[next(k for k in cluster.logs if k.startswith("w1-worker"))].read_text(errors="replace")
    lost = [line for line in log.splitlines() if f"job {job.id}" in line and "lease" in line.lower()]
    assert lost, log[-2000:]
    print("\n".join(lost))
    for process in (first, second):
        assert process.poll() is None  # both workers still serve (a lost lease does not end a worker)


def test_object_store_cut_off_during_a_commit_the_job_retries_and_finishes_after(cluster: Cluster,
                                                                                   tmp_path: Path) -> None:
    """The object-store host cut off while a scene is being stored: the attempt fails (S3 timeouts, not a
    hang), the job goes back to the queue, nothing is half-published; the link back, the same worker
    finishes it."""
    from rsarchive.testing import small_downlink

    settings = cluster.settings()
    downlink = Path(small_downlink(tmp_path, scenes=2, write_truth_dn=False, write_truth_radiance=False,
                                   config={"seed": 7}).downlink)
    before = _counts(settings.internal_database_dsn)
    job, _ = submit(settings, downlink, None, PIPELINE)
    quick = {"RSARCHIVE_S3_CONNECT_TIMEOUT_S": "2", "RSARCHIVE_S3_READ_TIMEOUT_S": "2", "RSARCHIVE_S3_ATTEMPTS": "1"}
    worker = cluster.rsarchive("w2", "worker", "--lease", LEASE, env=cluster.environment("w2", **quick),
                               log_name="w2-quick-worker")
    _wait("a scene to be stored", lambda: _job(cluster, job.id)[1] in ("store", "catalog"), 240, 0.1)
    cluster.hosts.cut("s3")
    try:
        state = _wait("the attempt to fail", lambda: (s := _job(cluster, job.id))[0] != "running" and s, 180)
        assert state[0] == "queued", state  # a transient failure: back to the queue, not failed
        internal = _counts(settings.internal_database_dsn)
        # whole scenes or nothing: every catalogued raw scene has its product, the public shows no more
        assert internal.get("vnredsat1-raw", 0) == internal.get("vnredsat1-product", 0)
        assert all(n <= internal.get(c, 0) for c, n in _counts(settings.public_database_dsn).items())
    finally:
        cluster.hosts.heal("s3")
    state = _wait("the job to succeed", lambda: (s := _job(cluster, job.id))[0] in ("succeeded", "failed") and s,
                  300)
    assert state[0] == "succeeded", state
    assert worker.poll() is None
    after = _counts(settings.internal_database_dsn)
    added = {c: after.get(c, 0) - before.get(c, 0) for c in after}
    assert added == {"vnredsat1-level0": 1, "vnredsat1-raw": 2, "vnredsat1-product": 2}
    assert _counts(settings.public_database_dsn) == after
    from rsarchive.identities import for_process
    from rsarchive.storage import Archive, audit

    report = audit(Archive.from_settings(for_process(settings, "audit")))  # every recorded object whole in both stores
    assert report.clean, report.summary()


def test_products_of_the_several_host_run_are_bit_identical_to_a_local_run(cluster: Cluster, downlink: Path,
                                                                           fresh_settings, tmp_path: Path) -> None:
    """The pass the workers on other hosts made (first test) against the same downlink ingested here, in
    this process, on the session's stack: every raw and product file has the same sha256."""
    from rsarchive.jobs import JobQueue, Worker
    from rsarchive.jobs.ingest import IngestRunner

    def files(dsn: str) -> dict[str, str]:
        with connect(dsn) as conn:
            rows = conn.execute("SELECT key, sha256 FROM rsarchive.objects WHERE form IN ('raw', 'product') "
                                "AND key ~ '\\.(tif|TIF)$'").fetchall()
        return dict(rows)

    remote = {k: v for k, v in files(cluster.settings().internal_database_dsn).items()}
    local_settings = fresh_settings.derive(archive_root=tmp_path)
    submit(local_settings, downlink, None, PIPELINE)
    done = Worker(JobQueue(local_settings.internal_database_dsn), IngestRunner(local_settings)).run_once()
    assert done is not None and done.state == "succeeded", done and done.error
    local = files(local_settings.internal_database_dsn)
    assert local and len(local) >= 4
    assert {k: remote.get(k) for k in local} == local
