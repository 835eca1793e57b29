"""The benchmark convention: every benchmark prints lines

    name: value unit (ratio vs reference)

and the peak RSS of what it measured, so results on a noisy shared machine are
read as ratios against a reference run in the same process or script.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psutil

T = TypeVar("T")


def emit(name: str, value: float, unit: str, ratio: float | None = None, reference: str = "") -> None:
    """Print one result line in the convention's format."""
    text = f"{name}: {value:.4g} {unit}"
    if ratio is not None:
        text += f" ({ratio:.3f}x vs {reference})" if reference else f" ({ratio:.3f}x)"
    print(text, flush=True)


@dataclass
class Measurement:
    """Wall time and peak RSS (of this process's tree) while a block ran."""

    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class _RssSampler(threading.Thread):
    """Samples the RSS of this process and its children every few milliseconds."""

    def __init__(self, interval: float = 0.005, children: bool = True) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.children = children
        self.peak = 0
        self._stop_event = threading.Event()
        self._proc = psutil.Process(os.getpid())

    def _rss(self) -> int:
        total = self._proc.memory_info().rss
        if not self.children:
            return total
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, self._rss())
        return self.peak


def _reset_peak_rss() -> bool:
    """Set this process's peak RSS (the kernel's VmHWM) back to its current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    """This process's peak RSS in bytes since the last :func:`_reset_peak_rss` (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


@contextmanager
def measure(children: bool = True, interval: float = 0.005) -> Iterator[Measurement]:
    """Time a block and record the peak RSS reached while it ran.  ``children=False`` counts this
    process only (not services it started, such as PostgreSQL or SeaweedFS): the kernel's own
    high-water mark, reset at the start (exact, and no sampling thread taking the GIL every
    ``interval``); elsewhere, and for process trees, sampled every ``interval`` seconds."""
    result = Measurement()
    exact = not children and _reset_peak_rss()
    sampler = None if exact else _RssSampler(interval, children)
    if sampler is not None:
        sampler.start()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start
        result.peak_rss_mb = (_peak_rss() if sampler is None else sampler.stop()) / 2**20


def best_of(repeats: int, func: Callable[[], T]) -> tuple[float, T]:
    """The fastest of ``repeats`` runs of ``func`` (seconds) and its last result."""
    best = float("inf")
    value: Any = None
    for _ in range(repeats):
        start = time.perf_counter()
        value = func()
        best = min(best, time.perf_counter() - start)
    return best, value


def process_peak_rss_mb() -> float:
    """Peak RSS of this whole process so far (kernel's high-water mark)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20
