"""SIGKILL a worker at traced points of an ingest job, then let any worker finish it: nothing lost,
nothing duplicated, nothing half-published (issue 19, part 8; ``tests/storage/test_kill.py`` does
the same for the storage layer alone).

The worker runs in a new process and kills itself with SIGKILL at the m-th line it executes in a
named function of ``rsarchive.jobs`` (a trace hook in the child only, in every thread: no test hooks
in the library; :func:`rsarchive.testing.kills.work_one_job`).  The points are where a crash matters:
just after the claim, while level-0 is stored beside the decoding, before a scene is staged, inside
a scene's commit transaction (objects promoted, records and items not yet committed), after a
scene's commit and before its publication, before the level-0 item, and before the job is marked
succeeded.  Right after each kill the stores and catalogs must hold whole scenes or nothing; then,
once the dead worker's lease has expired, an ordinary worker finishes the job.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import time
from pathlib import Path

import pytest

from rsarchive.db import connect
from rsarchive.jobs import JobQueue
from rsarchive.jobs.ingest import submit
from rsarchive.settings import Settings
from rsarchive.storage import Archive
from rsarchive.testing import stack
from rsarchive.testing.kills import work_one_job

from .test_ingest import PIPELINE, _assert_one_clean_set, _items, _objects

pytestmark = pytest.mark.services

LEASE = 3.0
POINTS = [
    ("run_once", 3),          # claimed, nothing done
    ("_store_level0", 3),     # level-0 about to be kept, beside the decoding
    ("decoded", 1),           # decoding, level-0 being kept
    ("_commit_scene", 1),     # the scene's raw and product files made, nothing staged
    ("_scene_items", 1),      # inside the scene's commit transaction
    ("_publish", 1),          # the scene committed, not published
    ("_catalog_level0", 1),   # every scene done, no level-0 item
    ("complete", 1),          # all done, the job not marked succeeded
]


@pytest.fixture(scope="module")
def downlink(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rsarchive.testing import small_downlink

    result = small_downlink(tmp_path_factory.mktemp("downlink"), scenes=1, write_truth_dn=False,
                            write_truth_radiance=False)
    return Path(result.downlink)


def _run_worker(settings: Settings, point: tuple[str, int] | None = None, count_file: Path | None = None) -> int:
    """A worker in a new process (spawned: a fork of this process, where GDAL has run, can hang in GDAL)."""
    process = multiprocessing.get_context("spawn").Process(
        target=work_one_job, args=(settings, point, str(count_file) if count_file else None, LEASE))
    process.start()
    process.join(300)
    if process.exitcode is None:
        process.kill()
        process.join()
        pytest.fail("worker hung")
    return process.exitcode


def _whole_or_nothing(settings: Settings) -> None:
    """Right after a kill: every catalogued scene is whole (raw + product, every asset recorded and in
    the store), the public catalog shows only catalogued items, and nothing recorded is missing."""
    internal = _items(settings.internal_database_dsn)
    public = _items(settings.public_database_dsn)
    assert len(internal.get("vnredsat1-raw", [])) == len(internal.get("vnredsat1-product", []))
    assert all(set(ids) <= set(internal.get(c, [])) for c, ids in public.items())
    archive = Archive.from_settings(settings)
    objects = _objects(settings)
    for key in objects:
        assert archive.primary.exists(key), f"{key} recorded but not stored"
    with connect(settings.internal_database_dsn) as conn:
        hrefs = [h for (h,) in conn.execute(
            "SELECT a->>'href' FROM pgstac.items, jsonb_each(content->'assets') AS e(k, a) "
            "WHERE collection IN ('vnredsat1-raw', 'vnredsat1-product')")]
    prefix = f"{archive.primary.url}/"
    assert all(h.removeprefix(prefix) in objects for h in hrefs if h.startswith(prefix))


def _expired(settings: Settings, job_id: int) -> bool:
    with connect(settings.internal_database_dsn) as conn:
        row = conn.execute("SELECT state, lease_expires < now() FROM rsarchive.jobs WHERE id = %s",
                           (job_id,)).fetchone()
    return row[0] != "running" or bool(row[1])


@pytest.mark.slow
def test_sigkill_at_each_traced_point_then_any_worker_finishes(service_settings: Settings, downlink: Path,
                                                               tmp_path: Path) -> None:
    def fresh(name: str) -> Settings:
        root = tmp_path / name
        root.mkdir()
        return stack.clone_databases(service_settings).derive(archive_root=root)

    counted = fresh("counted")
    submit(counted, downlink, None, PIPELINE)
    count_file = tmp_path / "lines.json"
    assert _run_worker(counted, count_file=count_file) == 0
    counts = json.loads(count_file.read_text())
    done = JobQueue(counted.internal_database_dsn).list()[0]
    assert done.state == "succeeded", done.error
    assert all(counts.get(name, 0) >= m for name, m in POINTS), json.dumps(counts)
    _assert_one_clean_set(counted, scenes=1)
    for name, m in POINTS:
        settings = fresh(f"{name}-{m}")
        job, _ = submit(settings, downlink, None, PIPELINE)
        assert _run_worker(settings, (name, m)) == -signal.SIGKILL, name
        killed = JobQueue(settings.internal_database_dsn).get(job.id)
        assert killed.state == "running" and killed.attempts == 1, (name, killed.state)
        _whole_or_nothing(settings)
        deadline = time.monotonic() + 4 * LEASE
        while not _expired(settings, job.id):
            assert time.monotonic() < deadline, "the lease never expired"
            time.sleep(0.1)
        assert _run_worker(settings) == 0  # any worker
        final = JobQueue(settings.internal_database_dsn).get(job.id)
        assert final.state == "succeeded" and final.attempts == 2, (name, final.error)
        _assert_one_clean_set(settings, scenes=1)
        assert not list((settings.archive_root / "work").glob("job-*")), "a work directory was left"
