"""When a file that is being delivered is complete: pure bookkeeping, no I/O.

A watcher reports what it sees of each candidate (its size and a stamp that changes with
its content: a file's mtime, an object's ETag), the open and close events of inotify where
it has them, and whether a ``<file>.done`` marker exists.  A candidate is *ready* when its
marker is there, or when no writer is known to hold it open and its size and stamp have
not changed for ``settle_seconds``.  Clocks are passed in (monotonic seconds), so the rules
are tested without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Readiness", "Signature"]

Signature = tuple[int, str]
"""What identifies a version of a candidate: its size and its stamp (mtime in ns, or ETag)."""


@dataclass
class _Seen:
    signature: Signature
    since: float
    """When this signature was first seen (monotonic seconds)."""
    first_seen: float
    open_handles: int = 0


class Readiness:
    """The candidates of one watched place and how long each has been unchanged."""

    def __init__(self, settle_seconds: float) -> None:
        self.settle_seconds = settle_seconds
        self._seen: dict[str, _Seen] = {}

    def observe(self, name: str, signature: Signature, now: float) -> None:
        """Record what a scan saw of ``name``; a changed signature restarts its settling."""
        seen = self._seen.get(name)
        if seen is None:
            self._seen[name] = _Seen(signature, now, now)
        elif seen.signature != signature:
            seen.signature = signature
            seen.since = now

    def changed(self, name: str, now: float) -> None:
        """An event said ``name`` was written: it settles again from ``now``."""
        seen = self._seen.get(name)
        if seen is not None:
            seen.since = now

    def opened(self, name: str, now: float) -> None:
        """inotify: ``name`` was opened (by anyone: a writer, or a reader such as a virus scanner)."""
        seen = self._seen.setdefault(name, _Seen((-1, ""), now, now))
        seen.open_handles += 1

    def closed(self, name: str, now: float, *, wrote: bool) -> None:
        """inotify: a handle on ``name`` was closed (``wrote``: it had been opened for writing)."""
        seen = self._seen.get(name)
        if seen is None:
            return
        seen.open_handles = max(0, seen.open_handles - 1)
        if wrote:
            seen.since = now

    def ready(self, name: str, now: float, *, marker: bool = False) -> bool:
        """True when ``name`` may be taken: its marker is there, or it is closed and unchanged long enough."""
        if marker:
            return name in self._seen
        seen = self._seen.get(name)
        if seen is None or seen.open_handles > 0 or seen.signature[0] < 0:
            return False
        return now - seen.since >= self.settle_seconds

    def unsettled_for(self, name: str, now: float) -> float:
        """Seconds since ``name`` was first seen (0 when unknown): ``--once`` gives up on a file still
        changing after two settling intervals."""
        seen = self._seen.get(name)
        return 0.0 if seen is None else now - seen.first_seen

    def signature(self, name: str) -> Signature | None:
        seen = self._seen.get(name)
        return None if seen is None else seen.signature

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)

    def names(self) -> list[str]:
        return list(self._seen)
