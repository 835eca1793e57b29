"""A directory written whole or not at all: the processing stages' output directories."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["written_whole"]


@contextmanager
def written_whole(final: Path) -> Iterator[Path]:
    """A fresh work directory ``.<name>.partial`` beside ``final`` (an earlier run's leftovers removed);
    when the block ends without an error it replaces ``final``, else it is removed."""
    work = final.parent / f".{final.name}.partial"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        yield work
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
