"""Kill tracing for crash tests: SIGKILL this process at a chosen line of a package's code.

Used in a child forked for the purpose (the library has no test hooks): a trace
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

__all__ = ["trace_kills", "untrace"]


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
