"""Watching a directory for downlinks (watchdog: inotify, or its polling observer).

The directory is scanned every ``watch_poll_seconds`` and whenever an event arrives; inotify
adds what a scan cannot see: who holds a file open (``IN_OPEN``/``IN_CLOSE_*``) and every
write as it happens.  A file is taken when :class:`~rsarchive.watch.readiness.Readiness` says
it is complete, with its sidecar ``<file>.json`` as reception record; ``<file>.done`` takes it
at once.  Names starting with a dot and the suffixes of :data:`IGNORED_SUFFIXES` (sidecars,
markers, partial transfers) are never candidates.  A file taken is not looked at again while
its size and mtime stay the same.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from rsarchive.errors import ServiceError, UsageError
from rsarchive.settings import Settings
from rsarchive.watch.intake import Intake, Outcome
from rsarchive.watch.readiness import Readiness, Signature

log = logging.getLogger(__name__)

__all__ = ["IGNORED_SUFFIXES", "DirectoryWatcher", "WatchReport", "is_candidate"]

SIDECAR = ".json"
MARKER = ".done"
IGNORED_SUFFIXES = (SIDECAR, MARKER, ".part", ".partial", ".tmp", ".filepart", ".crdownload", "~")
"""Files that are never downlinks: sidecars, markers and the names of transfers in progress."""


def is_candidate(name: str) -> bool:
    """Whether a file name may be a downlink (not hidden, not a sidecar, marker or partial transfer)."""
    return bool(name) and not name.startswith(".") and not name.endswith(IGNORED_SUFFIXES)


class WatchReport:
    """What a watcher did: every outcome, and the files ``--once`` left because they were still changing."""

    def __init__(self, on_outcome: Callable[[Outcome], None] | None = None) -> None:
        self.outcomes: list[Outcome] = []
        self.left: list[str] = []
        self.on_outcome = on_outcome

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


class _Events(FileSystemEventHandler):
    """watchdog handler: open/close/write events into the readiness, and a wake-up of the scan."""

    def __init__(self, watcher: DirectoryWatcher) -> None:
        self.watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        kind = event.event_type
        names = [os.path.basename(os.fsdecode(event.src_path))]
        if kind == "moved":
            names = [os.path.basename(os.fsdecode(event.dest_path))]
        w = self.watcher
        now = w.clock()
        with w.lock:
            for name in names:
                if not is_candidate(name):
                    continue
                if kind == "opened":
                    w.readiness.opened(name, now)
                elif kind == "closed":
                    w.readiness.closed(name, now, wrote=True)
                elif kind == "closed_no_write":
                    w.readiness.closed(name, now, wrote=False)
                elif kind in ("modified", "created", "moved"):
                    w.readiness.changed(name, now)
        w.wake.set()


class DirectoryWatcher:
    """Takes the complete downlinks of ``directory`` (not its sub-directories) into ``intake``."""

    def __init__(self, settings: Settings, directory: Path, intake: Intake, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        directory = Path(directory).expanduser().resolve()
        if not directory.is_dir():
            raise UsageError(f"watched directory {directory} does not exist or is not a directory")
        self.directory = directory
        self.intake = intake
        self.settle_seconds = settings.watch_settle_seconds
        self.poll_seconds = settings.watch_poll_seconds
        self.polling = settings.watch_polling
        self.clock = clock
        self.readiness = Readiness(self.settle_seconds)
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.taken: dict[str, tuple[Signature, int | None]] = {}
        """Files handled (queued, known or rejected), with their signature and their sidecar's mtime then."""
        self.observer_kind = ""

    def _observer(self) -> Any:
        """inotify where it works, else (setting ``watch_polling``, or no inotify) the polling observer."""
        from watchdog.observers.polling import PollingObserver

        if not self.polling:
            try:
                from watchdog.observers.inotify import InotifyObserver

                observer = InotifyObserver()
                observer.schedule(_Events(self), str(self.directory), recursive=False)
                observer.start()
                self.observer_kind = "inotify"
                return observer
            except (ImportError, OSError) as exc:  # not Linux, or out of inotify watches
                log.warning("inotify unavailable for %s (%s); polling instead", self.directory, exc)
        observer = PollingObserver(timeout=self.poll_seconds)
        observer.schedule(_Events(self), str(self.directory), recursive=False)
        observer.start()
        self.observer_kind = "polling"
        return observer

    def run(self, stop: threading.Event | None = None, *, once: bool = False,
            report: WatchReport | None = None) -> WatchReport:
        """Watch until ``stop`` is set; with ``once``, take what is complete now and return when every
        file present has been taken, or has kept changing for two settling intervals (left)."""
        stop = stop or threading.Event()
        report = report or WatchReport()
        observer = self._observer()
        log.info("watching %s (%s, settling %.1f s)", self.directory, self.observer_kind, self.settle_seconds)
        try:
            while not stop.is_set():
                pending = self.scan(report)
                if once:
                    now = self.clock()
                    undecided = [n for n in pending if self.readiness.unsettled_for(n, now) < 2 * self.settle_seconds
                                 + self.poll_seconds]
                    if not undecided:
                        report.left.extend(str(self.directory / n) for n in pending)
                        break
                    self.wake.wait(min(self.poll_seconds, self.settle_seconds / 2))
                else:
                    self.wake.wait(self.poll_seconds)
                self.wake.clear()
        finally:
            observer.stop()
            observer.join(timeout=10)
        return report

    def scan(self, report: WatchReport) -> list[str]:
        """One look at the directory: take what is ready; return the candidates still waiting."""
        now = self.clock()
        present: dict[str, os.stat_result] = {}
        names: set[str] = set()
        try:
            entries = list(os.scandir(self.directory))
        except OSError as exc:
            raise ServiceError(f"cannot list the watched directory {self.directory}: {exc.strerror}") from None
        for entry in entries:
            names.add(entry.name)
            if is_candidate(entry.name):
                try:
                    if entry.is_file():
                        present[entry.name] = entry.stat()
                except OSError:
                    continue  # vanished meanwhile
        pending: list[str] = []
        with self.lock:
            for name in self.readiness.names():
                if name not in present:
                    self.readiness.forget(name)
            for name in list(self.taken):
                if name not in present:
                    del self.taken[name]  # gone: a new file of that name is a new candidate
        for name, st in sorted(present.items()):
            signature: Signature = (st.st_size, str(st.st_mtime_ns))
            sidecar = self.directory / (name + SIDECAR)
            handled = (signature, _stamp(sidecar) if name + SIDECAR in names else None)
            if self.taken.get(name) == handled:
                continue  # taken as it is now (a skipped file is looked at again when it or its sidecar changes)
            marker = name + MARKER in names
            with self.lock:
                self.readiness.observe(name, signature, now)
                ready = self.readiness.ready(name, now, marker=marker)
            if ready and not marker and name + SIDECAR in names and not self._settled(sidecar):
                ready = False  # its sidecar is still being written
            if not ready:
                pending.append(name)
                continue
            origin = {"source": str(self.directory / name), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
            outcome = self.intake.take(self.directory / name, origin,
                                       sidecar if name + SIDECAR in names else None)
            if outcome.status == "retry":
                pending.append(name)
                continue
            self.taken[name] = handled
            with self.lock:
                self.readiness.forget(name)
            report.add(outcome)
        return pending

    def _settled(self, path: Path) -> bool:
        try:
            return time.time() - path.stat().st_mtime >= self.settle_seconds
        except OSError:
            return False


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
