"""One thread budget for a job, and the small pipeline helpers that overlap its stages.

:class:`ThreadBudget` comes from the settings (``threads``, ``io_threads``) once and is
passed down: every pool and GDAL's own ``NUM_THREADS`` are sized from it, none sizes
itself.  :class:`OneAhead` and :class:`OneBehind` are the ingest's overlap of stages
(the next scene's raw level made while this one becomes a product, the previous one
stored meanwhile) without hand-kept futures; :func:`in_background` runs one task beside
the caller.  Exceptions of background work surface in the caller, at the next hand-over.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from rsarchive.settings import Settings

__all__ = ["OneAhead", "OneBehind", "ThreadBudget", "in_background"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ThreadBudget:
    """How many threads one job may use: ``cpu`` for computing and encoding, ``io`` for transfers."""

    cpu: int
    io: int = 4

    def __post_init__(self) -> None:
        if self.cpu < 1 or self.io < 1:
            raise ValueError(f"a thread budget needs at least one thread of each kind (cpu {self.cpu}, io {self.io})")

    @classmethod
    def of_machine(cls, io: int = 4) -> ThreadBudget:
        """Every core this process may run on (its CPU affinity: a cpuset or ``taskset`` limits it)."""
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # not Linux
            cores = os.cpu_count() or 1
        return cls(cpu=max(cores, 1), io=io)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThreadBudget:
        """``threads`` (0 = every core) and ``io_threads`` of the settings."""
        if settings.threads == 0:
            return cls.of_machine(io=settings.io_threads)
        return cls(cpu=settings.threads, io=settings.io_threads)

    def share(self, most: int) -> int:
        """Threads for a pool that is useful up to ``most`` threads (at least one)."""
        return max(1, min(most, self.cpu))


class OneAhead(Generic[T, R]):
    """``fn`` over ``items`` in one background thread, one item ahead of the consumer.

    Iterating yields the results in order; the next item is started before the current
    result is handed over, so the consumer's work on item k overlaps ``fn(item k + 1)``.
    Leaving the ``with`` block waits for the item in flight (a failure of the consumer
    does not leave a thread writing behind it).
    """

    def __init__(self, fn: Callable[[T], R], items: Iterable[T], name: str) -> None:
        self._fn, self._items = fn, list(items)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def __enter__(self) -> OneAhead[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __iter__(self) -> Iterator[R]:
        pending = self._pool.submit(self._fn, self._items[0]) if self._items else None
        for index in range(len(self._items)):
            assert pending is not None
            result = pending.result()
            pending = self._pool.submit(self._fn, self._items[index + 1]) if index + 1 < len(self._items) else None
            yield result


class OneBehind:
    """Work handed to one background thread, one task at a time.

    :meth:`submit` first waits for the task before it (its exception is raised here, in
    the caller), so tasks run in order and at most one is behind the caller; leaving the
    ``with`` block waits for the last one.
    """

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._last: Future[Any] | None = None

    def __enter__(self) -> OneBehind:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def wait(self) -> None:
        """Wait for the task handed over last (raising its exception)."""
        if self._last is not None:
            last, self._last = self._last, None
            last.result()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.wait()
        self._last = self._pool.submit(fn, *args)


@contextmanager
def in_background(fn: Callable[[], R], name: str) -> Iterator[Future[R]]:
    """Run ``fn`` in a thread beside the caller; leaving the block waits for it."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:
        yield pool.submit(fn)
