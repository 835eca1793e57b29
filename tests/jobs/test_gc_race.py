"""``storage gc --older-than 0`` run over and over while an ingest runs, with the store's timestamps
skewed a month into the past before every gc (issue 19, part 4): the ingest succeeds at its first
attempt and leaves one clean set; gc never took a staging object, an upload or an object in flight."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import pytest

from rsarchive.jobs import JobQueue, Worker
from rsarchive.jobs.ingest import IngestRunner, submit
from rsarchive.settings import Settings
from rsarchive.storage import Archive, GcReport, collect_garbage
from rsarchive.storage.local import LocalStore

from .test_ingest import PIPELINE, _assert_one_clean_set, downlink, settings  # noqa: F401 - fixtures

pytestmark = pytest.mark.services
LONG_AGO = time.time() - 30 * 86400


def _skew(store: LocalStore) -> None:
    for path in store.root.rglob("*"):
        try:
            if path.is_file():
                os.utime(path, (LONG_AGO, LONG_AGO))
        except FileNotFoundError:
            continue  # renamed or removed by the ingest meanwhile


@pytest.mark.slow
def test_gc_older_than_0_with_a_skewed_clock_during_an_ingest(settings: Settings,  # noqa: F811
                                                              downlink: Path) -> None:  # noqa: F811
    job, _ = submit(settings, downlink, None, PIPELINE)
    queue = JobQueue(settings.internal_database_dsn)
    archive = Archive.from_settings(settings)
    assert isinstance(archive.primary, LocalStore)
    thread = threading.Thread(target=lambda: Worker(queue, IngestRunner(settings)).run_once())
    thread.start()
    reports: list[GcReport] = []
    while thread.is_alive():
        _skew(archive.primary)
        reports.append(collect_garbage(archive, dt.timedelta(0)))
        time.sleep(0.05)
    thread.join()
    final = queue.get(job.id)
    assert final.state == "succeeded" and final.attempts == 1, final.error
    _assert_one_clean_set(settings)
    # gc did run against the ingest: it met writes and publications in flight
    assert len(reports) >= 5 and any(r.writes_in_flight for r in reports)
    assert any(r.busy_publications for r in reports)
    assert not any(r.orphans_removed or r.partials_removed for r in reports)
