"""A directory written whole or not at all: the processing stages' output directories."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rsarchive.diskspace import disk_full, space_failure

__all__ = ["written_whole"]


@contextmanager
def written_whole(final: Path) -> Iterator[Path]:
    """A fresh work directory ``.<name>.partial`` beside ``final`` (an earlier run's leftovers removed);
    when the block ends without an error it replaces ``final``, else it is removed.  A failure for want
    of space (judged before the partial output is removed) becomes a
    :class:`~rsarchive.errors.DiskFullError` naming the directory."""
    work = final.parent / f".{final.name}.partial"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        yield work
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    except BaseException as exc:
        full = isinstance(exc, Exception) and space_failure(exc, work)
        shutil.rmtree(work, ignore_errors=True)
        if full:
            raise disk_full(final.parent, "thư mục đầu ra", "the output directory") from exc
        raise
