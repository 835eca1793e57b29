"""Watching a bucket prefix for downlinks (``rsarchive watch s3://bucket/prefix``).

S3 shows an object only once its upload is complete (a multipart upload appears at
``CompleteMultipartUpload``), so an object listed is whole; it is still taken only when its
size and modification time have not changed for ``watch_settle_seconds`` (an uploader may
replace it), or at once when ``<key>.done`` is listed.  The object, and its sidecar
``<key>.json``, are copied to the spool directory (``watch_spool_dir``), where the workers
read it: ``<spool>/<bucket>/<version>/<name>``, one directory per object version so that a
replaced object never changes the bytes of a queued job; a copy is removed once its job has
succeeded (:meth:`BucketWatcher.clean_spool`, every ten minutes and when the watcher stops).  The store client is the project's
(:func:`rsarchive.storage.factory.open_store`: endpoint ``watch_s3_endpoint_url`` or
``s3_endpoint_url``, region, the worker's S3 identity).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rsarchive.db import connect
from rsarchive.errors import ServiceError, StorageError, UsageError
from rsarchive.jobs.queue import JobQueue
from rsarchive.settings import Settings
from rsarchive.storage.base import ObjectInfo
from rsarchive.storage.factory import open_store
from rsarchive.watch.directory import MARKER, SIDECAR, WatchReport, is_candidate
from rsarchive.watch.intake import Intake, Outcome
from rsarchive.watch.readiness import Readiness, Signature

log = logging.getLogger(__name__)

__all__ = ["BucketWatcher", "CLEAN_EVERY_SECONDS", "spool_directory"]

CLEAN_EVERY_SECONDS = 600.0
"""How often a running bucket watcher removes the spool copies of ingested downlinks."""


def spool_directory(settings: Settings) -> Path:
    """Where downlinks taken from buckets are copied for the workers."""
    return Path(settings.watch_spool_dir).expanduser() if settings.watch_spool_dir else \
        settings.archive_root / "watch" / "spool"


class BucketWatcher:
    """Takes the complete downlinks under ``s3://bucket/prefix`` into ``intake``."""

    def __init__(self, settings: Settings, url: str, intake: Intake, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not url.startswith("s3://") or not url.removeprefix("s3://").split("/", 1)[0]:
            raise UsageError(f"watched bucket {url!r} must be s3://bucket[/prefix]")
        endpoint = settings.watch_s3_endpoint_url or settings.s3_endpoint_url
        self.store: Any = open_store(url.rstrip("/"), settings.derive(s3_endpoint_url=endpoint))
        self.url = self.store.url
        self.intake = intake
        self.spool = spool_directory(settings) / self.store.bucket
        self.settle_seconds = settings.watch_settle_seconds
        self.poll_seconds = settings.watch_poll_seconds
        self.clock = clock
        self.readiness = Readiness(self.settle_seconds)
        self.taken: dict[str, tuple[Signature, str | None]] = {}
        self._cleaned = self.clock()

    def run(self, stop: threading.Event | None = None, *, once: bool = False,
            report: WatchReport | None = None) -> WatchReport:
        """Poll until ``stop`` is set; with ``once``, as :meth:`DirectoryWatcher.run
        <rsarchive.watch.directory.DirectoryWatcher.run>`."""
        stop = stop or threading.Event()
        report = report or WatchReport()
        log.info("watching %s (polling every %.1f s, settling %.1f s)", self.url, self.poll_seconds,
                 self.settle_seconds)
        while not stop.is_set():
            pending = self.scan(report)
            if once:
                now = self.clock()
                if all(self.readiness.unsettled_for(n, now) >= 2 * self.settle_seconds + self.poll_seconds
                       for n in pending):
                    report.left.extend(f"{self.url}/{n}" for n in pending)
                    break
                stop.wait(min(self.poll_seconds, self.settle_seconds / 2))
            else:
                if self.clock() - self._cleaned >= CLEAN_EVERY_SECONDS:
                    self.clean_spool()
                stop.wait(self.poll_seconds)
        self.clean_spool()
        return report

    def clean_spool(self) -> list[Path]:
        """Remove the spool copies whose job succeeded (the archive keeps level-0 with its verified copy);
        copies of queued, running and failed jobs stay (a failed job may be retried).  Returns what went."""
        self._cleaned = self.clock()
        removed: list[Path] = []
        if not self.spool.is_dir():
            return removed
        files = {str(f.resolve()): f for f in self.spool.glob("*/*") if f.is_file() and is_candidate(f.name)}
        if not files:
            return removed
        try:
            with connect(self.intake.settings.internal_database_dsn) as conn:
                done = {r[0] for r in conn.execute(
                    "SELECT input->>'path' FROM rsarchive.jobs WHERE kind = 'ingest' AND state = 'succeeded' "
                    "AND input->>'path' = ANY(%s)", (list(files),))}
        except ServiceError as exc:
            log.warning("spool of %s not cleaned: %s", self.url, exc)
            return removed
        for path in sorted(done):
            shutil.rmtree(files[path].parent, ignore_errors=True)
            removed.append(files[path])
        if removed:
            log.info("removed %d spool copies of ingested downlinks from %s", len(removed), self.spool)
        return removed

    def scan(self, report: WatchReport) -> list[str]:
        """One listing: take the objects that are ready; return the candidates still waiting."""
        now = self.clock()
        try:
            listed = {info.key: info for info in self.store.list("")}
        except (ServiceError, StorageError) as exc:
            log.warning("cannot list %s (%s); trying again at the next poll", self.url, exc)
            return list(self.readiness.names())
        candidates = {k: i for k, i in listed.items() if is_candidate(k.rsplit("/", 1)[-1])}
        for name in self.readiness.names():
            if name not in candidates:
                self.readiness.forget(name)
        for name in list(self.taken):
            if name not in candidates:
                del self.taken[name]
        pending: list[str] = []
        for key, info in sorted(candidates.items()):
            stamp = _stamp(info)
            signature: Signature = (info.size, stamp)
            sidecar = listed.get(key + SIDECAR)
            handled = (signature, _stamp(sidecar) if sidecar is not None else None)
            if self.taken.get(key) == handled:
                continue  # taken as it is now (a skipped object is looked at again when it or its sidecar changes)
            self.readiness.observe(key, signature, now)
            marker = key + MARKER in listed
            if not self.readiness.ready(key, now, marker=marker):
                pending.append(key)
                continue
            outcome = self._take(key, info.size, stamp, key + SIDECAR in listed)
            if outcome.status == "retry":
                pending.append(key)
                continue
            self.taken[key] = handled
            self.readiness.forget(key)
            report.add(outcome)
        return pending

    def _take(self, key: str, size: int, stamp: str, has_sidecar: bool) -> Outcome:
        source = f"{self.url}/{key}"
        origin = {"source": source, "size": size, "modified": stamp}
        try:
            existing = self.intake.known(origin)
        except ServiceError as exc:
            return Outcome(source, "retry", detail=str(exc))
        if existing is not None:
            return Outcome(source, "known", existing)
        name = key.rsplit("/", 1)[-1]
        version = hashlib.sha256(f"{key}\0{size}\0{stamp}".encode()).hexdigest()[:16]
        folder = self.spool / version
        try:
            local = self._download(key, folder / name)
            sidecar = self._download(key + SIDECAR, folder / (name + SIDECAR)) if has_sidecar else None
        except (ServiceError, StorageError) as exc:
            log.warning("%s: %s; retrying at the next poll", source, exc)
            shutil.rmtree(folder, ignore_errors=True)
            return Outcome(source, "retry", detail=str(exc))
        outcome = self.intake.take(local, origin, sidecar)
        if outcome.status == "rejected" or (outcome.status == "known" and not self._queued_from(outcome, local)):
            shutil.rmtree(folder, ignore_errors=True)  # nothing will read this copy
        return outcome

    def _queued_from(self, outcome: Outcome, local: Path) -> bool:
        """Whether the job of ``outcome`` reads ``local`` (then the copy stays for the worker)."""
        if outcome.job_id is None:
            return False
        job = JobQueue(self.intake.settings.internal_database_dsn).get(outcome.job_id)
        return Path(str(job.input.get("path", ""))) == local.resolve()

    def _download(self, key: str, dest: Path) -> Path:
        """Copy one object to ``dest`` (written under a temporary name, then renamed)."""
        from botocore.exceptions import BotoCoreError, ClientError

        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        try:
            self.store.client.download_file(self.store.bucket, self.store.prefix + key, str(partial))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            raise StorageError(f"cannot read {self.url}/{key} ({code or 'error'})") from None
        except BotoCoreError as exc:
            raise ServiceError(f"cannot reach the S3 endpoint of {self.url} ({type(exc).__name__})") from None
        partial.replace(dest)
        return dest.resolve()


def _stamp(info: ObjectInfo) -> str:
    return info.modified.isoformat() if info.modified is not None else ""
