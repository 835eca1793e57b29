"""Work directories of job runs: one per claim, never shared, cleaned when their run is gone.

A run works in ``<root>/job-<id>-<attempt>`` (the attempt number is the claim's
fencing token, unique per job) and holds an exclusive ``flock`` on
``<root>/job-<id>-<attempt>.lock`` while it runs.  Two runs of the same job (a
worker that lost its lease and the one that took the job over) therefore never
write into the same directory.  The lock dies with its process, so when a run
starts it removes every work directory whose lock it can take: those of runs that
were killed (SIGKILL leaves no chance to clean up).  Directories of the earlier
naming (``job-<id>``, no lock) are removed too.  ``flock`` holds on one host:
the work root is local to its worker.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rsarchive.diskspace import disk_full, out_of_space
from rsarchive.errors import StorageError

log = logging.getLogger(__name__)

__all__ = ["run_directory"]

_LEGACY = re.compile(r"job-\d+")


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive lock on ``path``, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def sweep(root: Path) -> list[Path]:
    """Remove the work directories of runs that are gone (their lock is free); return them."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for lock in sorted(root.glob("job-*.lock")):
        fd = _try_lock(lock)
        if fd is None:
            continue  # a live run
        try:
            directory = lock.with_suffix("")
            shutil.rmtree(directory, ignore_errors=True)
            lock.unlink(missing_ok=True)
            removed.append(directory)
        finally:
            os.close(fd)
    for entry in root.iterdir():
        if entry.is_dir() and _LEGACY.fullmatch(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    for directory in removed:
        log.info("removed the work directory %s of a run that is gone", directory)
    return removed


@contextmanager
def run_directory(root: Path, job_id: int, attempt: int) -> Iterator[Path]:
    """The empty work directory of claim ``attempt`` of job ``job_id``, locked for the block; removed after."""
    name = f"job-{job_id}-{attempt}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = _try_lock(root / f"{name}.lock")
    except OSError as exc:
        if out_of_space(exc):
            raise disk_full(root, f"thư mục làm việc của công việc {job_id}", f"the work directory of job {job_id}") \
                from None
        raise StorageError(f"cannot use the work directory {root}: {exc.strerror or exc}") from None
    if fd is None:
        raise StorageError(f"work directory {root / name} is in use by another run of job {job_id} "
                           f"(attempt {attempt}); a claim's attempt number is unique, so this is a second "
                           "worker on the same claim")
    directory = root / name
    try:
        sweep(root)
        if directory.exists():
            shutil.rmtree(directory)  # left by this very claim in a process that died: recomputed
        directory.mkdir()
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        (root / f"{name}.lock").unlink(missing_ok=True)
        os.close(fd)
