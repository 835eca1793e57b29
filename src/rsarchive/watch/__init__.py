"""Triggers: downlinks queued for ingest when they land in a watched directory or bucket.

``rsarchive watch DIR`` / ``rsarchive watch s3://bucket/prefix`` (:func:`watch`): a file is
taken when it is complete (:mod:`rsarchive.watch.readiness`), with its sidecar reception
record, and queued once through the same submission as ``rsarchive ingest``
(:mod:`rsarchive.watch.intake`); workers run the jobs.
"""

from __future__ import annotations

import threading
from pathlib import Path

from rsarchive.settings import Settings
from rsarchive.watch.bucket import BucketWatcher, spool_directory
from rsarchive.watch.directory import DirectoryWatcher, WatchReport
from rsarchive.watch.intake import Intake, Outcome, check_downlink

__all__ = ["BucketWatcher", "DirectoryWatcher", "Intake", "Outcome", "WatchReport", "check_downlink",
           "spool_directory", "watch", "watcher"]


def watcher(settings: Settings, target: str, pipeline: str = "ingest-level0") -> DirectoryWatcher | BucketWatcher:
    """The watcher of ``target``: ``s3://bucket[/prefix]`` or a directory (settings of the worker identity)."""
    intake = Intake(settings, pipeline)
    if target.startswith("s3://"):
        return BucketWatcher(settings, target, intake)
    return DirectoryWatcher(settings, Path(target), intake)


def watch(settings: Settings, target: str, pipeline: str = "ingest-level0", *, once: bool = False,
          stop: threading.Event | None = None, report: WatchReport | None = None) -> WatchReport:
    """Watch ``target`` until ``stop`` (with ``once``: take what is complete now, then return)."""
    return watcher(settings, target, pipeline).run(stop, once=once, report=report)
