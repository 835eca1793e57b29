"""Kill tracing for crash tests: SIGKILL this process at a chosen line of a package's code.

Used in a child process started for the purpose (the library has no test hooks): a trace
function in every thread counts the lines executed in files under a directory and
asks ``on_line`` whether to die there (``tests/storage/test_kill.py``,
``tests/jobs/test_kill.py``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["trace_kills", "untrace", "work_one_job"]


def trace_kills(directory: str, on_line: Callable[[FrameType], bool]) -> None:
    """From now on, in every thread: call ``on_line(frame)`` at each line executed in a file under
    ``directory``, and SIGKILL the process when it returns True."""

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line" and on_line(frame):
            os.kill(os.getpid(), signal.SIGKILL)
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(directory) else None

    threading.settrace(tracer)
    sys.settrace(tracer)


def untrace() -> None:
    sys.settrace(None)
    threading.settrace(None)  # type: ignore[arg-type]


def work_one_job(settings: Any, point: tuple[str, int] | None, count_file: str | None, lease_seconds: float) -> None:
    """In a fresh child process (``multiprocessing`` *spawn*: a fork of a process in which GDAL has run can
    deadlock inside GDAL): work one ingest job, SIGKILLed at the ``point[1]``-th line executed in the
    function named ``point[0]`` of :mod:`rsarchive.jobs`; ``count_file`` gets the lines counted per function."""
    import json
    from pathlib import Path

    import rsarchive.jobs
    from rsarchive.jobs import JobQueue, Worker
    from rsarchive.jobs.ingest import IngestRunner

    counts: dict[str, int] = {}

    def on_line(frame: FrameType) -> bool:
        name = frame.f_code.co_name
        counts[name] = counts.get(name, 0) + 1
        return point is not None and name == point[0] and counts[name] >= point[1]

    trace_kills(str(Path(rsarchive.jobs.__file__).parent), on_line)
    Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings), lease_seconds=lease_seconds).run_once()
    untrace()
    if count_file is not None:
        Path(count_file).write_text(json.dumps(counts))

