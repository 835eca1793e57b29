"""The fault suite's own stack (PostgreSQL + pgSTAC + SeaweedFS on free ports under /tmp): its servers are
stopped hard, killed and frozen by the tests, so it is never the session's shared stack.  A test that
leaves a server down or frozen gets it back before the next test (``servers_up``).

``RSARCHIVE_FAULT_SWEEP=1`` runs every fault at every point; without it, a representative subset (CI)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs.test_ingest import _items as items
from jobs.test_ingest import _objects as objects

from rsarchive.db import connect
from rsarchive.jobs import JobQueue
from rsarchive.settings import Settings
from rsarchive.storage import Archive, audit, collect_garbage
from rsarchive.testing import faults, stack
from rsarchive.testing.processes import settings_env

SWEEP = os.environ.get("RSARCHIVE_FAULT_SWEEP") == "1"
PIPELINE = "ingest-level0-small"
LEASE_S = 5
TIMEOUTS = {"s3_connect_timeout_s": 2.0, "s3_read_timeout_s": 2.0, "s3_attempts": 2}
"""A hung SeaweedFS is given up after 2 s per attempt (botocore tries 3 times, we 2): ~15 s a request."""


def sweep_or(subset: list[str], every: list[str]) -> list[str]:
    return every if SWEEP else subset


@pytest.fixture(scope="session")
def fault_stack() -> Iterator[Settings]:
    with faults.dedicated_stack() as settings:
        yield settings


@pytest.fixture(autouse=True)
def servers_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """Before and after each test of the suite: both servers running and answering."""
    if "fault_stack" not in request.fixturenames:
        yield
        return
    settings: Settings = request.getfixturevalue("fault_stack")
    faults.servers_back(settings)
    yield
    faults.servers_back(settings)


@pytest.fixture
def fresh(fault_stack: Settings, tmp_path: Path) -> Settings:
    """Fresh databases and buckets on the fault stack, a private archive root, S3 stores (its SeaweedFS)
    with short timeouts.  Server operations take ``fault_stack`` (its archive root holds the servers)."""
    from rsarchive.services.seaweed import credentials

    settings = stack.fresh_buckets(stack.clone_databases(fault_stack))
    root = tmp_path / "archive"
    root.mkdir()
    access, secret = credentials(settings)
    return settings.derive(archive_root=root, store_url=f"s3://{settings.primary_bucket}",
                           copy_store_url=f"s3://{settings.copy_bucket}", s3_endpoint_url=settings.seaweed_endpoint,
                           s3_access_key=access, s3_secret_key=secret, job_lease_seconds=LEASE_S, **TIMEOUTS)


@pytest.fixture(scope="session")
def downlink(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rsarchive.testing import small_downlink

    made = small_downlink(tmp_path_factory.mktemp("downlink"), scenes=1, write_truth_dn=False,
                          write_truth_radiance=False)
    return Path(made.downlink)


ENV_SETTINGS = ("archive_root", "pg_port", "internal_db", "public_db", "seaweed_s3_port", "primary_bucket",
                "copy_bucket", "secrets_file", "store_url", "copy_store_url", "s3_endpoint_url",
                "s3_connect_timeout_s", "s3_read_timeout_s", "s3_attempts", "s3_part_size_mib", "job_lease_seconds",
                "job_retry_backoff_seconds")


def env(settings: Settings) -> dict[str, str]:
    """The environment of an operator's ``rsarchive`` command on these settings."""
    return settings_env(settings, *ENV_SETTINGS)


def rsarchive(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run an ``rsarchive`` command to its end (bounded: a hang fails the test)."""
    return subprocess.run([sys.executable, "-m", "rsarchive", "-q", *args], env=env(settings), capture_output=True,
                          text=True, timeout=timeout, check=False)


def paused(settings: Settings, point: faults.Point, control: Path, *args: str) -> faults.Paused:
    return faults.Paused(["-q", *args], point, control, env(settings))


def ingest_command(path: Path) -> list[str]:
    return ["ingest", str(path), "--pipeline", PIPELINE, "--wait"]


# -- what must hold after a fault and the operator's action -----------------------------------------------
def no_false_findings(settings: Settings) -> None:
    """No fixity event or object status says missing, damaged or repaired (nothing was really damaged)."""
    with connect(settings.internal_database_dsn) as conn:
        bad = conn.execute("SELECT key, store, action, outcome FROM rsarchive.fixity_events "
                           "WHERE outcome <> 'ok'").fetchall()
        marked = conn.execute("SELECT key, last_status FROM rsarchive.objects "
                              "WHERE last_status IS NOT NULL AND last_status <> 'ok'").fetchall()
    assert bad == [] and marked == [], (bad, marked)


def one_clean_set(settings: Settings, scenes: int = 1) -> None:
    """Whole, once: one level-0 item and ``scenes`` raw and product items, internal = public; every stored
    object recorded and every record stored (no orphan, no duplicate), no unfinished publication, a clean
    audit with no false finding, and no work directory left."""
    internal = items(settings.internal_database_dsn)
    assert {c: len(ids) for c, ids in internal.items()} == {
        "vnredsat1-level0": 1, "vnredsat1-raw": scenes, "vnredsat1-product": scenes}, internal
    assert items(settings.public_database_dsn) == internal
    archive = Archive.from_settings(settings)
    gc = collect_garbage(archive, older_than=dt.timedelta(0))
    assert gc.unrecorded_immutable == [] and gc.busy_publications == []
    stored = {info.key for prefix in ("raw/", "product/", "level0/", "catalog/")
              for info in archive.primary.list(prefix)}
    recorded = objects(settings)
    assert stored == set(recorded), "objects in the store and in the objects table differ"
    assert all(copies == 2 for key, (_, copies) in recorded.items() if key.startswith("level0/"))
    report = audit(archive)
    assert report.clean, report.summary()
    no_false_findings(settings)
    assert not list((settings.archive_root / "work").glob("job-*")), "a work directory was left"


def the_job(settings: Settings) -> object:
    (job,) = JobQueue(settings.internal_database_dsn).list()
    return job
