"""The fixity audit: re-hash stored objects (streaming), compare with the recorded
sha256 and size, repair a damaged or missing primary from its verified copy (and a
damaged copy from the primary), and log every check and repair in
``rsarchive.fixity_events`` (Decision 81, Art. 6.4: long-term preservation)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rsarchive.errors import IntegrityError, NotFoundError, ServiceError, StorageError
from rsarchive.notify import OPERATORS, queue
from rsarchive.storage import records
from rsarchive.storage.archive import Archive, transfer
from rsarchive.storage.base import ObjectStore
from rsarchive.storage.inflight import InFlight
from rsarchive.storage.keys import Form
from rsarchive.storage.records import ObjectRecord

log = logging.getLogger(__name__)

__all__ = ["AuditIncomplete", "AuditReport", "ObjectAudit", "audit"]


class AuditIncomplete(ServiceError):
    """The audit stopped: a store could not be read or written (refused, timed out, a server error).
    A transient failure is never taken for a missing or damaged object: the object it was on is
    neither marked nor repaired, and the objects after it are not checked (run the audit again)."""

    def __init__(self, message: str, report: AuditReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class ObjectAudit:
    """The outcome for one object: the state of each replica and the final status."""

    key: str
    primary: str
    copy: str | None
    status: str  # ok | repaired | damaged (not repaired, repair not asked) | unrepairable
    detail: str = ""


@dataclass
class AuditReport:
    run: str
    objects: list[ObjectAudit] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.objects if o.status == status)

    @property
    def unrepaired(self) -> list[ObjectAudit]:
        return [o for o in self.objects if o.status in ("damaged", "unrepairable")]

    @property
    def clean(self) -> bool:
        """True when every object is intact now (checked fine or repaired)."""
        return not self.unrepaired

    def summary(self) -> str:
        return (f"audit {self.run}: {len(self.objects)} object(s) checked: {self.count('ok')} ok, "
                f"{self.count('repaired')} repaired, {self.count('damaged')} damaged (not repaired), "
                f"{self.count('unrepairable')} unrepairable")


def _check(store: ObjectStore, record: ObjectRecord) -> tuple[str, str | None, int | None, str]:
    """(outcome, found sha256, found size, detail) of one replica."""
    try:
        info = store.get(record.key, None)
    except NotFoundError:
        return "missing", None, None, f"not in {store.url}"
    if (info.sha256, info.size) == (record.sha256, record.size):
        return "ok", info.sha256, info.size, ""
    return "damaged", info.sha256, info.size, f"{info.size} bytes, sha256 {info.sha256} in {store.url}"


def _repair(source: ObjectStore, target: ObjectStore, record: ObjectRecord) -> tuple[bool, str]:
    try:
        transfer(source, record.key, target, expected_sha256=record.sha256, expected_size=record.size, repair=True)
        target.get(record.key, None, expected_sha256=record.sha256, expected_size=record.size)
    except (IntegrityError, NotFoundError) as exc:  # a store error (even permanent) leaves the audit incomplete
        return False, f"repair from {source.url} failed: {exc}"
    return True, f"restored from {source.url}"


def audit(archive: Archive, *, sample: int | None = None, forms: Iterable[Form | str] | None = None,
          repair: bool = False, prefix: str = "",
          on_object: Callable[[ObjectAudit], None] | None = None,
          on_start: Callable[[int], None] | None = None) -> AuditReport:
    """Check all recorded objects (or ``sample`` of them, least recently checked first).

    ``forms`` may include :attr:`Form.COPY` to check only the copies.  With ``repair``
    a bad replica is replaced from the good one (bit-exact, verified after writing).
    ``on_start(total)`` and ``on_object(result)`` report progress."""
    wanted = {Form(f) for f in forms} if forms is not None else None
    copies_only = wanted == {Form.COPY}
    record_forms = None
    if wanted is not None:
        record_forms = [f for f in wanted if f not in (Form.COPY, Form.STAGING)] or [Form.LEVEL0, Form.ORIGINAL]
    report = AuditReport(run=secrets.token_hex(6))
    with archive.connect(autocommit=True) as conn:
        chosen = records.select(conn, forms=record_forms, sample=sample, prefix=prefix)
        if on_start is not None:
            on_start(len(chosen))
        for record in chosen:
            try:
                result = _audit_one(conn, archive, record, report.run, repair, check_primary=not copies_only)
            except (ServiceError, StorageError) as exc:
                if isinstance(exc, IntegrityError):
                    raise
                message = (f"{report.summary()} before it stopped, incomplete: {len(chosen) - len(report.objects)} "
                           f"object(s) not checked, from {record.key}: {exc}; nothing was marked missing or "
                           "repaired because of it: run the audit again when the store answers")
                log.error("%s", message)
                raise AuditIncomplete(message, report) from None
            report.objects.append(result)
            if on_object is not None:
                on_object(result)
        _notify_damage(conn, report)
    log.info("%s", report.summary())
    return report


def _notify_damage(conn: object, report: AuditReport) -> None:
    """Queue the operators' e-mail when the audit found damage (repaired or not)."""
    repaired = [o for o in report.objects if o.status == "repaired"]
    if not repaired and not report.unrepaired:
        return
    queue(conn, "audit_damage", [OPERATORS], "audit_damage",
          {"run": report.run, "checked": len(report.objects), "repaired": len(repaired),
           "unrepaired": report.unrepaired[:100], "repaired_objects": repaired[:100]},
          dedup=f"audit:{report.run}")


def _audit_one(conn: object, archive: Archive, record: ObjectRecord, run: str, repair: bool,
               check_primary: bool = True) -> ObjectAudit:
    key = record.key
    primary_state = "ok"
    if check_primary:
        primary_state, sha, size, detail = _check(archive.primary, record)
        records.log_event(conn, run, key, "primary", "check", primary_state, record.sha256, sha, size, detail)
    copy_state = None
    if record.copies >= 2:
        copy_state, sha, size, detail = _check(archive.copy, record)
        records.log_event(conn, run, key, "copy", "check", copy_state, record.sha256, sha, size, detail)
    bad = [name for name, state in (("primary", primary_state), ("copy", copy_state)) if state not in (None, "ok")]
    if not bad:
        records.mark_checked(conn, key, "ok")
        return ObjectAudit(key, primary_state, copy_state, "ok")
    detail = ", ".join(f"{name} {state}" for name, state in (("primary", primary_state), ("copy", copy_state))
                       if state not in (None, "ok"))
    if not repair:
        log.error("%s: %s", key, detail)
        records.mark_checked(conn, key, "damaged")
        return ObjectAudit(key, primary_state, copy_state, "damaged", detail)
    if len(bad) == 2 or (bad == ["primary"] and copy_state is None):
        why = "no intact replica left" if len(bad) == 2 else "no copy (raw/product: reprocess from level-0)"
        for name in bad:
            records.log_event(conn, run, key, name, "repair", "failed", record.sha256, detail=why)
        records.mark_checked(conn, key, "unrepairable")
        log.error("%s: %s; cannot repair: %s", key, detail, why)
        return ObjectAudit(key, primary_state, copy_state, "unrepairable", f"{detail}; {why}")
    target_name = bad[0]
    source, target = ((archive.copy, archive.primary) if target_name == "primary"
                      else (archive.primary, archive.copy))
    with InFlight(archive.connect):  # a write: storage gc leaves its upload alone
        done, why = _repair(source, target, record)
    records.log_event(conn, run, key, target_name, "repair", "repaired" if done else "failed", record.sha256,
                      record.sha256 if done else None, record.size if done else None, why)
    records.mark_checked(conn, key, "repaired" if done else "unrepairable")
    if done:
        log.warning("%s: %s; %s", key, detail, why)
        return ObjectAudit(key, primary_state if target_name == "copy" else "repaired",
                           copy_state if target_name == "primary" else "repaired", "repaired", f"{detail}; {why}")
    log.error("%s: %s; %s", key, detail, why)
    return ObjectAudit(key, primary_state, copy_state, "unrepairable", f"{detail}; {why}")
