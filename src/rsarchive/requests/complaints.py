"""Complaints about the handling of a request (Decision 81/2010, Art. 9.5), on their own clock.

A requester complains about a refusal, a delay, a delivery or anything else in the handling of one of
its requests.  The clock and the states follow the rules of the legal basis (``rsarchive.law``):

* ``received`` → the archive accepts it (``accepted``) or, giving its reasons in writing, does not
  (``not_accepted``) within the time limit of rule ``complaint.acceptance`` from receipt;
* ``accepted`` → ``settled`` with a written answer within rule ``complaint.settlement``'s time limit from
  the acceptance, or its extended limit when the officer marks the case complex on accepting it.

Each step is a line of the request's audit log (actions ``complaint.*``, the complaint's id in
``detail``); the written answer is a letter (:mod:`rsarchive.requests.complaint_letters`).  A requester
sees the complaints about the requests it may see; officers see all of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from enum import Enum
from typing import Annotated, Any

from pydantic import Field

from rsarchive.errors import ConflictError, NotFoundError, UsageError
from rsarchive.law import calendar, load_basis
from rsarchive.requests import lifecycle
from rsarchive.requests.models import _Body
from rsarchive.users.identity import Principal, require

log = logging.getLogger(__name__)

STATUSES = ("received", "accepted", "not_accepted", "settled")
OPEN_STATUSES = ("received", "accepted")
DUE_SOON_DAYS = 3
"""A complaint is "due soon" when its deadline is at most this many calendar days away."""

ACCEPTANCE, SETTLEMENT = "complaint.acceptance", "complaint.settlement"
RIGHT = "user.complaint"


class Subject(str, Enum):
    refusal = "refusal"
    delay = "delay"
    delivery = "delivery"
    other = "other"


SUBJECT_LABELS = {
    "refusal": ("Việc từ chối cung cấp dữ liệu", "The refusal to supply data"),
    "delay": ("Việc chậm trả lời, chậm cung cấp", "A delay in answering or supplying"),
    "delivery": ("Dữ liệu được cung cấp", "The data delivered"),
    "other": ("Nội dung khác", "Another matter"),
}


class Outcome(str, Enum):
    upheld = "upheld"
    partly_upheld = "partly_upheld"
    rejected = "rejected"


OUTCOME_LABELS = {
    "upheld": ("Khiếu nại đúng", "Complaint upheld"),
    "partly_upheld": ("Khiếu nại đúng một phần", "Complaint partly upheld"),
    "rejected": ("Khiếu nại không đúng", "Complaint rejected"),
}


class ComplaintForm(_Body):
    """What the requester writes."""

    subject: Subject
    description: Annotated[str, Field(min_length=10, max_length=8000)]


class Acceptance(_Body):
    complex: bool = False
    note: Annotated[str | None, Field(default=None, max_length=4000)] = None


class NonAcceptance(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=8000)]


class Settlement(_Body):
    outcome: Outcome
    answer: Annotated[str, Field(min_length=1, max_length=8000)]


@dataclass
class ComplaintRecord:
    """One complaint as stored."""

    id: int
    request_id: int
    organisation: str
    complainant: str
    subject: str
    description: str
    status: str
    received_at: datetime
    acceptance_due: date
    accepted_at: datetime | None
    complex: bool
    settlement_due: date | None
    answer: str | None
    outcome: str | None
    answered_at: datetime | None
    answered_by: str | None
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def due_date(self) -> date | None:
        """The deadline the clock runs to now: acceptance, then settlement; None once answered."""
        if self.status == "received":
            return self.acceptance_due
        if self.status == "accepted":
            return self.settlement_due
        return None

    def days_left(self, today: date | None = None) -> int | None:
        """Calendar days to the running deadline (negative when overdue)."""
        due = self.due_date
        return None if due is None else (due - (today or calendar.today_vn())).days

    def to_dict(self, today: date | None = None) -> dict[str, Any]:
        left = self.days_left(today)
        return {
            "id": self.id, "request_id": self.request_id, "organisation": self.organisation,
            "complainant": self.complainant, "subject": self.subject, "description": self.description,
            "status": self.status, "received_at": self.received_at.isoformat(),
            "acceptance_due": self.acceptance_due.isoformat(),
            "accepted_at": self.accepted_at.isoformat() if self.accepted_at else None, "complex": self.complex,
            "settlement_due": self.settlement_due.isoformat() if self.settlement_due else None,
            "due_date": self.due_date.isoformat() if self.due_date else None, "days_left": left,
            "overdue": left is not None and left < 0, "answer": self.answer, "outcome": self.outcome,
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            "answered_by": self.answered_by, "updated_at": self.updated_at.isoformat(),
        }


_SELECT = (
    "SELECT c.id, c.request_id, coalesce(o.name, su.name), cu.name, c.subject, c.description, c.status, "
    "c.received_at, c.acceptance_due, c.accepted_at, c.complex, c.settlement_due, c.answer, c.outcome, "
    "c.answered_at, au.name, c.updated_at "
    "FROM rsarchive.complaints c JOIN rsarchive.data_requests r ON r.id = c.request_id "
    "LEFT JOIN rsarchive.organisations o ON o.id = r.organisation_id "
    "JOIN rsarchive.users su ON su.id = r.submitted_by JOIN rsarchive.users cu ON cu.id = c.complainant_id "
    "LEFT JOIN rsarchive.users au ON au.id = c.answered_by ")


def _log(conn: Any, actor: Principal, record: ComplaintRecord, to_status: str, **detail: Any) -> None:
    lifecycle.log_event(conn, actor, f"complaint.{to_status}", record.request_id, None, None,
                        {"complaint_id": record.id, "complaint_from": record.status if to_status != "received" else None,
                         "complaint_to": to_status, **detail})


def file(conn: Any, principal: Principal, request_id: int, form: ComplaintForm,
         received_at: datetime | None = None) -> ComplaintRecord:
    """Record a requester's complaint about request ``request_id``; its acceptance clock starts now."""
    require(principal, *lifecycle.REQUESTERS)
    if principal.user_id is None:
        raise UsageError("a complaint is filed by a requester's account (--as NAME or --token)")
    request = lifecycle.get(conn, principal, request_id)  # not found unless the requester may see it
    if form.subject is Subject.refusal and request.status != "refused":
        raise ConflictError(f"request {request_id} is {request.status}, not refused: a complaint about a refusal "
                            "needs a refused request")
    if form.subject is Subject.delivery and request.status != "fulfilled":
        raise ConflictError(f"request {request_id} is {request.status}: nothing was delivered to complain about")
    received_at = received_at or datetime.now(timezone.utc)
    rule = load_basis().rule(ACCEPTANCE)
    due = rule.period.end(received_at)
    row = conn.execute(
        "INSERT INTO rsarchive.complaints (request_id, complainant_id, subject, description, received_at, "
        "acceptance_due) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (request_id, principal.user_id, form.subject.value, form.description, received_at, due)).fetchone()
    record = get(conn, principal, int(row[0]))
    _log(conn, principal, record, "received", subject=form.subject.value, acceptance_due=due.isoformat(),
         period=rule.period.describe("en"), basis=rule.cite("en"), right=load_basis().rule(RIGHT).cite("en"))
    log.info("complaint %d about request %d received, acceptance due %s", record.id, request_id, due)
    return record


def get(conn: Any, principal: Principal, complaint_id: int, *, for_update: bool = False) -> ComplaintRecord:
    """One complaint, if ``principal`` may see its request."""
    require(principal, *lifecycle.REQUESTERS, *lifecycle.OFFICERS)
    row = conn.execute(_SELECT + "WHERE c.id = %s" + (" FOR UPDATE OF c" if for_update else ""),
                       (complaint_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"complaint {complaint_id} not found")
    try:
        lifecycle.get(conn, principal, int(row[1]))
    except NotFoundError:
        raise NotFoundError(f"complaint {complaint_id} not found") from None
    return ComplaintRecord(*row)


def list_complaints(conn: Any, principal: Principal, status: str | None = None,
                    request_id: int | None = None) -> list[ComplaintRecord]:
    """Complaints visible to ``principal``, newest first."""
    require(principal, *lifecycle.REQUESTERS, *lifecycle.OFFICERS)
    if status is not None and status not in STATUSES:
        raise UsageError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    where: list[str] = []
    params: list[Any] = []
    if not principal.has_role(*lifecycle.OFFICERS):
        clause, values = lifecycle.visible_to(principal)
        where.append(clause)
        params.extend(values)
    if status:
        where.append("c.status = %s")
        params.append(status)
    if request_id is not None:
        where.append("c.request_id = %s")
        params.append(request_id)
    sql = _SELECT + (("WHERE " + " AND ".join(where)) if where else "") + " ORDER BY c.id DESC"
    return [ComplaintRecord(*row) for row in conn.execute(sql, params).fetchall()]


def _open_for(conn: Any, principal: Principal, complaint_id: int, expected: str) -> ComplaintRecord:
    require(principal, *lifecycle.OFFICERS)
    record = get(conn, principal, complaint_id, for_update=True)
    if record.status != expected:
        raise ConflictError(f"complaint {complaint_id} is {record.status}, not {expected}")
    return record


def accept(conn: Any, principal: Principal, complaint_id: int, acceptance: Acceptance | None = None,
           now: datetime | None = None) -> ComplaintRecord:
    """Accept a received complaint: the settlement clock starts (extended when ``complex``)."""
    acceptance = acceptance or Acceptance()
    record = _open_for(conn, principal, complaint_id, "received")
    now = now or datetime.now(timezone.utc)
    rule = load_basis().rule(SETTLEMENT)
    period = (rule.extended_period or rule.period) if acceptance.complex else rule.period
    due = period.end(now)
    conn.execute("UPDATE rsarchive.complaints SET status = 'accepted', accepted_at = %s, complex = %s, "
                 "settlement_due = %s, updated_at = now() WHERE id = %s", (now, acceptance.complex, due, complaint_id))
    _log(conn, principal, record, "accepted", on_time=calendar.receipt_date(now) <= record.acceptance_due,
         settlement_due=due.isoformat(), complex=acceptance.complex, period=period.describe("en"),
         basis=rule.cite("en"), note=acceptance.note)
    return get(conn, principal, complaint_id)


def refuse_acceptance(conn: Any, principal: Principal, complaint_id: int, refusal: NonAcceptance,
                      now: datetime | None = None) -> ComplaintRecord:
    """Do not accept a received complaint; the reason is the written answer."""
    record = _open_for(conn, principal, complaint_id, "received")
    now = now or datetime.now(timezone.utc)
    conn.execute("UPDATE rsarchive.complaints SET status = 'not_accepted', answer = %s, answered_at = %s, "
                 "answered_by = %s, updated_at = now() WHERE id = %s",
                 (refusal.reason, now, principal.user_id, complaint_id))
    _log(conn, principal, record, "not_accepted", on_time=calendar.receipt_date(now) <= record.acceptance_due,
         reason=refusal.reason, basis=load_basis().rule(ACCEPTANCE).cite("en"))
    return get(conn, principal, complaint_id)


def settle(conn: Any, principal: Principal, complaint_id: int, settlement: Settlement,
           now: datetime | None = None) -> ComplaintRecord:
    """Settle an accepted complaint with a written answer."""
    record = _open_for(conn, principal, complaint_id, "accepted")
    now = now or datetime.now(timezone.utc)
    assert record.settlement_due is not None
    conn.execute("UPDATE rsarchive.complaints SET status = 'settled', outcome = %s, answer = %s, answered_at = %s, "
                 "answered_by = %s, updated_at = now() WHERE id = %s",
                 (settlement.outcome.value, settlement.answer, now, principal.user_id, complaint_id))
    _log(conn, principal, record, "settled", on_time=calendar.receipt_date(now) <= record.settlement_due,
         outcome=settlement.outcome.value, basis=load_basis().rule(SETTLEMENT).cite("en"))
    return get(conn, principal, complaint_id)


def queue(conn: Any, principal: Principal, today: date | None = None,
          soon: int = DUE_SOON_DAYS) -> dict[str, list[ComplaintRecord]]:
    """Open complaints for officers: ``overdue``, ``due_soon`` (within ``soon`` days, today included)
    and ``open`` (earliest deadline first)."""
    require(principal, *lifecycle.OFFICERS)
    today = today or calendar.today_vn()
    rows = conn.execute(_SELECT + "WHERE c.status = ANY(%s)", (list(OPEN_STATUSES),)).fetchall()
    records = sorted((ComplaintRecord(*row) for row in rows), key=lambda c: (c.due_date or date.max, c.id))
    overdue = [c for c in records if c.due_date is not None and c.due_date < today]
    due_soon = [c for c in records if c.due_date is not None and 0 <= (c.due_date - today).days <= soon]
    return {"overdue": overdue, "due_soon": due_soon, "open": records}
