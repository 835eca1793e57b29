"""Full disks: telling a write that failed for want of space from other failures, and saying where.

A full filesystem does not always say so: NumPy and Python raise ``OSError(ENOSPC)``,
but GDAL and libtiff report "Error fetching directory count" or "libpng: Write Error".
So a failure counts as a full disk when ENOSPC or EDQUOT is in its chain, or when
the filesystem it was writing to has less than :data:`LOW_SPACE_BYTES` free at the
moment it failed (before the partial output is removed).  The error,
:class:`~rsarchive.errors.DiskFullError`, names the place; the job queue treats it as
a wait, not a failure.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rsarchive.errors import DiskFullError

__all__ = ["LOW_SPACE_BYTES", "disk_full", "free_bytes", "out_of_space", "named_place", "space_failure"]

LOW_SPACE_BYTES = 64 << 20
"""Less free space than this is full for the archive (one band of one scene is larger): a write that
fails there failed for want of space."""

_FULL = (errno.ENOSPC, errno.EDQUOT)


def free_bytes(path: Path | str) -> int | None:
    """Bytes an ordinary process may still write on the filesystem of ``path`` (or of its nearest
    existing parent); None when it cannot be told."""
    for candidate in (Path(path), *Path(path).parents):
        try:
            stat = os.statvfs(candidate)
        except OSError:
            continue
        return stat.f_bavail * stat.f_frsize
    return None


def out_of_space(exc: BaseException) -> bool:
    """True when ENOSPC or EDQUOT is anywhere in the chain of ``exc``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFullError):
            return True
        if isinstance(current, OSError) and current.errno in _FULL:
            return True
        current = current.__cause__ or current.__context__
    return False


def space_failure(exc: BaseException, directory: Path | str) -> bool:
    """True when ``exc``, raised while writing into ``directory``, is a full disk (see the module)."""
    if out_of_space(exc):
        return True
    free = free_bytes(directory)
    return free is not None and free < LOW_SPACE_BYTES


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def disk_full(path: Path | str, vi: str, en: str) -> DiskFullError:
    """The error for a full filesystem at ``path``: ``vi``/``en`` name the place (``thư mục làm việc
    của công việc 7`` / ``the work directory of job 7``)."""
    free = _size(free_bytes(path))
    return DiskFullError(f"hết chỗ trống: {vi} đã đầy ({path}, còn trống {free}); hãy giải phóng chỗ rồi chạy lại",
                         f"no space left: {en} is full ({path}, {free} free); free some space and run again")


@contextmanager
def named_place(directory: Path | str, vi: str, en: str) -> Iterator[None]:
    """A failure in the block that is a full disk at ``directory`` (or an earlier
    :class:`DiskFullError` from below) becomes a :class:`DiskFullError` naming the place ``vi``/``en``."""
    try:
        yield
    except DiskFullError as exc:
        raise disk_full(directory, vi, en) from exc
    except Exception as exc:
        if space_failure(exc, directory):
            raise disk_full(directory, vi, en) from exc
        raise
