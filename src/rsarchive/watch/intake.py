"""Taking a complete downlink: its reception record, a check that it is one, and its job.

The only way in is :func:`rsarchive.jobs.ingest.submit` (the same as ``rsarchive ingest``):
the job's identity is the file's sha256, so a downlink is one job however often, and under
however many names, it is seen.  Where the watcher found it (``origin``: the path or object,
its size and stamp) goes into the job's input, so a watcher started again recognises a file
it already queued without reading it again.  A file that is not a downlink (no attached
sync marker near its start), or whose sidecar is not a reception record, is *rejected*:
reported once, never queued; it is looked at again only when it (or its sidecar) changes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rsarchive.db import connect
from rsarchive.errors import DecodeError, ServiceError, StorageError, UsageError
from rsarchive.jobs.ingest import ReceptionRecord, load_reception, submit
from rsarchive.jobs.pipeline import load_pipeline
from rsarchive.level0.profiles import load_profile
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["HEAD_BYTES", "Intake", "Outcome", "check_downlink"]

HEAD_BYTES = 1 << 20
"""How much of a file's start is searched for the attached sync marker (the decoder's own limit)."""

Status = Literal["queued", "known", "rejected", "retry"]


@dataclass(frozen=True)
class Outcome:
    """What became of one file: ``queued`` (a new job), ``known`` (its job exists already: the same
    bytes were queued before, here or under another name), ``rejected`` (not a downlink, or a bad
    sidecar; ``detail`` says why), ``retry`` (the database or store could not be reached: next scan)."""

    source: str
    status: Status
    job_id: int | None = None
    detail: str = ""

    def line(self) -> str:
        """One line for the operator, Vietnamese first."""
        if self.status == "queued":
            return f"{self.source}: đã xếp hàng công việc {self.job_id} / queued as job {self.job_id}"
        if self.status == "known":
            return (f"{self.source}: đã có công việc {self.job_id}, không xếp hàng lại / already job "
                    f"{self.job_id}, not queued again")
        if self.status == "rejected":
            return f"{self.source}: bỏ qua / skipped: {self.detail}"
        return f"{self.source}: thử lại lần quét sau / will retry at the next scan: {self.detail}"


def check_downlink(path: Path, asm: bytes, head_bytes: int = HEAD_BYTES) -> None:
    """Refuse a file that is not a CADU stream: empty, or no attached sync marker in its first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(head_bytes)
    if not head:
        raise UsageError(f"{path} is empty")
    if asm not in head:
        raise DecodeError(f"{path} is not a downlink: no attached sync marker {asm.hex().upper()} in its first "
                          f"{len(head)} bytes")


class Intake:
    """Queues complete downlinks for ``pipeline`` (settings of the worker identity)."""

    def __init__(self, settings: Settings, pipeline: str = "ingest-level0") -> None:
        self.settings = settings
        self.spec = load_pipeline(pipeline)
        self.pipeline = self.spec.name
        self.asm = load_profile(self.spec.profile, settings.site_dir).asm if self.spec.plan.decode else None

    def known(self, origin: dict[str, Any]) -> int | None:
        """The job that was queued from exactly this ``origin`` (same place, size and stamp), if any."""
        with connect(self.settings.internal_database_dsn) as conn:
            row = conn.execute(
                "SELECT id FROM rsarchive.jobs WHERE kind = 'ingest' AND input->'origin' @> %s::jsonb "
                "ORDER BY id LIMIT 1", (json.dumps(origin),)).fetchone()
        return None if row is None else int(row[0])

    def take(self, path: Path, origin: dict[str, Any], reception: Path | None = None) -> Outcome:
        """Queue the complete downlink at ``path`` (with the reception record in ``reception``)."""
        source = str(origin.get("source", path))
        try:
            existing = self.known(origin)
            if existing is not None:
                return Outcome(source, "known", existing)
            record = self._reception(reception)
            if self.asm is not None:
                check_downlink(path, self.asm)
            job, created = submit(self.settings, path, record, self.pipeline, origin=origin)
        except (ServiceError, StorageError, ConnectionError, TimeoutError) as exc:
            log.warning("%s: %s; retrying at the next scan", source, exc)
            return Outcome(source, "retry", detail=str(exc))
        except (UsageError, DecodeError) as exc:
            log.error("%s: skipped: %s", source, exc)
            return Outcome(source, "rejected", detail=str(exc))
        except OSError as exc:  # vanished or unreadable between the scan and now
            log.warning("%s: cannot read it (%s); retrying at the next scan", source, exc.strerror or exc)
            return Outcome(source, "retry", detail=f"cannot read it: {exc.strerror or exc}")
        if created:
            log.info("%s: queued as job %d", source, job.id)
            return Outcome(source, "queued", job.id)
        log.info("%s: the same bytes are job %d already (%s)", source, job.id, job.state)
        return Outcome(source, "known", job.id, detail=job.state)

    @staticmethod
    def _reception(sidecar: Path | None) -> ReceptionRecord | None:
        if sidecar is None:
            return None
        try:
            return load_reception(sidecar)
        except UsageError as exc:
            raise UsageError(f"sidecar {sidecar.name}: {exc}") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"sidecar {sidecar.name} is not a JSON reception record: {exc}") from None
