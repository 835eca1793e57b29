"""The life of a data request: submitted → in review → approved → fulfilled, or refused
(with a written reason) or cancelled; the Art. 8.2 clock; the audit log.

Every function takes an open psycopg connection and the acting
:class:`~rsarchive.users.identity.Principal`; the caller commits.  A requester sees
only its organisation's requests; anything else is reported as not found, so
ids of other organisations' requests are not revealed either.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from psycopg.types.json import Jsonb

from rsarchive.errors import ConflictError, NotFoundError, UsageError
from rsarchive.law import calendar, load_basis
from rsarchive.requests.models import Approval, RequestForm
from rsarchive.requests.requesters import require_individual
from rsarchive.users.identity import Principal, require

log = logging.getLogger(__name__)

STATUSES = ("submitted", "in_review", "approved", "fulfilled", "refused", "cancelled")
OPEN_STATUSES = ("submitted", "in_review", "approved")
"""The clock runs while a request is open; it stops at fulfilled, refused or cancelled."""

TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"in_review", "approved", "refused", "cancelled"}),
    "in_review": frozenset({"approved", "refused", "cancelled"}),
    "approved": frozenset({"fulfilled", "cancelled"}),
    "fulfilled": frozenset(),
    "refused": frozenset(),
    "cancelled": frozenset(),
}

OFFICERS = ("officer",)  # admin always passes
REQUESTERS = ("requester",)
DUE_SOON_WORKING_DAYS = 2


@dataclass
class RequestRecord:
    """One data request as stored."""

    id: int
    organisation_id: int | None
    organisation: str
    submitted_by: str
    status: str
    purpose: str
    form: dict[str, Any]
    area: dict[str, Any]
    received_at: datetime
    due_date: date
    decided_at: datetime | None
    refusal_reason: str | None
    updated_at: datetime
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def working_days_left(self, today: date | None = None) -> int | None:
        if not self.is_open:
            return None
        return calendar.working_days_left(self.due_date, today or calendar.today_vn())

    def to_dict(self, today: date | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "organisation": self.organisation, "submitted_by": self.submitted_by,
            "status": self.status, "purpose": self.purpose, "form": self.form, "area": self.area,
            "received_at": self.received_at.isoformat(), "due_date": self.due_date.isoformat(),
            "working_days_left": self.working_days_left(today),
            "overdue": bool(self.is_open and (today or calendar.today_vn()) > self.due_date),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "refusal_reason": self.refusal_reason, "updated_at": self.updated_at.isoformat(),
            "history": self.history,
        }


_SELECT = (
    "SELECT r.id, r.organisation_id, coalesce(o.name, u.name), u.name, r.status, r.purpose, r.form, "
    "ST_AsGeoJSON(r.area)::jsonb, r.received_at, r.due_date, r.decided_at, r.refusal_reason, r.updated_at "
    "FROM rsarchive.data_requests r LEFT JOIN rsarchive.organisations o ON o.id = r.organisation_id "
    "JOIN rsarchive.users u ON u.id = r.submitted_by ")
"""An individual's request has no organisation: it is named after the person."""


def visible_to(principal: Principal) -> tuple[str, list[Any]]:
    """SQL condition on ``r`` (data_requests) for the requests a requester may see: its organisation's,
    or, for an individual requester (no organisation), its own."""
    if principal.organisation_id is None:
        return "(r.organisation_id IS NULL AND r.submitted_by = %s)", [principal.user_id]
    return "r.organisation_id = %s", [principal.organisation_id]


def _may_see(principal: Principal, organisation_id: int | None, submitter: str) -> bool:
    if principal.has_role(*OFFICERS):
        return True
    if principal.organisation_id is None:  # user names are unique
        return organisation_id is None and submitter == principal.name
    return organisation_id == principal.organisation_id


def log_event(conn: Any, actor: Principal | None, action: str, request_id: int | None = None,
              from_status: str | None = None, to_status: str | None = None,
              detail: dict[str, Any] | None = None) -> None:
    """Append one line to the audit log (an actor without an account is named in ``detail``)."""
    detail = dict(detail or {})
    if actor is not None and actor.user_id is None:
        detail.setdefault("actor", actor.name)
    conn.execute(
        "INSERT INTO rsarchive.audit_log (actor_id, action, request_id, from_status, to_status, detail) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (actor.user_id if actor else None, action, request_id, from_status, to_status,
         Jsonb(json.loads(json.dumps(detail, default=str)))))


def history(conn: Any, request_id: int) -> list[dict[str, Any]]:
    """The audit log of one request, oldest first."""
    rows = conn.execute(
        "SELECT a.at, u.name, a.action, a.from_status, a.to_status, a.detail FROM rsarchive.audit_log a "
        "LEFT JOIN rsarchive.users u ON u.id = a.actor_id WHERE a.request_id = %s ORDER BY a.id", (request_id,)).fetchall()
    return [{"at": at.isoformat(), "actor": actor or (detail or {}).get("actor"), "action": action, "from": fr,
             "to": to, "detail": detail} for at, actor, action, fr, to, detail in rows]


def _record(row: tuple[Any, ...]) -> RequestRecord:
    return RequestRecord(*row)


def submit(conn: Any, principal: Principal, form: RequestForm, received_at: datetime | None = None) -> RequestRecord:
    """Record a request from a requester; the clock starts at ``received_at`` (now)."""
    from rsarchive.requests.geometry import area_from_form, to_geojson
    from rsarchive.requests.search import visible_items

    require(principal, *REQUESTERS)
    if principal.organisation_id is None:
        require_individual(conn, principal)  # an individual requester (name + ID + contact), or refused
        if form.organisation:
            raise UsageError(f"user {principal.name!r} is an individual requester: the form names no organisation")
    elif form.organisation and form.organisation.casefold() != (principal.organisation or "").casefold():
        raise UsageError(f"organisation {form.organisation!r} is not the requester's organisation "
                         f"({principal.organisation!r})")
    if form.items:
        found = visible_items(conn, list(form.items), principal)
        missing = [item for item in form.items if item not in found]
        if missing:
            # The same answer for a classified item and for one that does not exist.
            raise NotFoundError(f"item {missing[0]!r} not found in the archive")
    area = area_from_form(form.aoi, form.bbox)
    received_at = received_at or datetime.now(timezone.utc)
    reply = load_basis().rule("request.reply")
    due = reply.period.end(received_at)
    data = form.model_dump(mode="json")
    data["organisation"] = principal.organisation or principal.name
    if form.aoi is not None:
        data["aoi"] = to_geojson(area)  # the parsed geometry, not whatever else the Feature carried
    row = conn.execute(
        "INSERT INTO rsarchive.data_requests (organisation_id, submitted_by, purpose, form, area, received_at, due_date) "
        "VALUES (%s, %s, %s, %s, ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326), %s, %s) RETURNING id",
        (principal.organisation_id, principal.user_id, form.purpose.value, Jsonb(data),
         json.dumps(to_geojson(area)), received_at, due)).fetchone()
    request_id = int(row[0])
    log_event(conn, principal, "submitted", request_id, None, "submitted",
              {"received_at": received_at.isoformat(), "receipt_date": calendar.receipt_date(received_at).isoformat(),
               "due_date": due.isoformat(), "period": reply.period.describe("en"), "basis": reply.cite("en"),
               "rule": calendar.RULE})
    log.info("request %d received from %s, due %s", request_id, principal.organisation, due)
    return get(conn, principal, request_id)


def get(conn: Any, principal: Principal, request_id: int, *, for_update: bool = False) -> RequestRecord:
    """One request, if ``principal`` may see it (its organisation's, or any for officers)."""
    require(principal, *REQUESTERS, *OFFICERS)
    row = conn.execute(_SELECT + "WHERE r.id = %s" + (" FOR UPDATE OF r" if for_update else ""),
                       (request_id,)).fetchone()
    if row is None or not _may_see(principal, row[1], row[3]):
        raise NotFoundError(f"request {request_id} not found")
    record = _record(row)
    record.history = history(conn, request_id)
    return record


def list_requests(conn: Any, principal: Principal, status: str | None = None) -> list[RequestRecord]:
    """Requests visible to ``principal``, newest first, optionally of one status."""
    require(principal, *REQUESTERS, *OFFICERS)
    if status is not None and status not in STATUSES:
        raise UsageError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    where, params = [], []
    if not principal.has_role(*OFFICERS):
        clause, values = visible_to(principal)
        where.append(clause)
        params.extend(values)
    if status:
        where.append("r.status = %s")
        params.append(status)
    sql = _SELECT + (("WHERE " + " AND ".join(where)) if where else "") + " ORDER BY r.id DESC"
    return [_record(row) for row in conn.execute(sql, params).fetchall()]


def transition(conn: Any, principal: Principal, request_id: int, to_status: str,
               detail: dict[str, Any] | None = None, refusal_reason: str | None = None) -> RequestRecord:
    """Move a request to ``to_status`` if the lifecycle allows it, and log it."""
    record = get(conn, principal, request_id, for_update=True)
    if to_status not in TRANSITIONS[record.status]:
        raise ConflictError(f"request {request_id} is {record.status}; it cannot become {to_status}")
    decided = to_status in ("approved", "refused", "cancelled", "fulfilled")
    conn.execute(
        "UPDATE rsarchive.data_requests SET status = %s, updated_at = now(), "
        "decided_at = CASE WHEN %s THEN coalesce(decided_at, now()) ELSE decided_at END, "
        "refusal_reason = coalesce(%s, refusal_reason) WHERE id = %s",
        (to_status, decided, refusal_reason, request_id))
    today = calendar.today_vn()
    detail = dict(detail or {})
    detail.update({"due_date": record.due_date.isoformat(), "on_time": today <= record.due_date})
    log_event(conn, principal, to_status, request_id, record.status, to_status, detail)
    log.info("request %d: %s → %s by %s", request_id, record.status, to_status, principal.name)
    return get(conn, principal, request_id)


def start_review(conn: Any, principal: Principal, request_id: int) -> RequestRecord:
    require(principal, *OFFICERS)
    return transition(conn, principal, request_id, "in_review")


def approve(conn: Any, principal: Principal, request_id: int, approval: Approval | None = None) -> RequestRecord:
    require(principal, *OFFICERS)
    return transition(conn, principal, request_id, "approved", (approval or Approval()).model_dump())


def refuse(conn: Any, principal: Principal, request_id: int, reason: str | None) -> RequestRecord:
    """Refuse in writing: a reason is required (Art. 8.2(c))."""
    require(principal, *OFFICERS)
    reason = (reason or "").strip()
    if not reason:
        raise UsageError(f"refusing request {request_id} needs a written reason (Art. 8.2(c))")
    return transition(conn, principal, request_id, "refused", {"reason": reason}, refusal_reason=reason)


def cancel(conn: Any, principal: Principal, request_id: int, reason: str | None = None) -> RequestRecord:
    """Cancel: by the requesting organisation or an officer."""
    return transition(conn, principal, request_id, "cancelled", {"reason": reason})


def approval_of(record: RequestRecord) -> dict[str, Any]:
    """What the officer recorded when approving (contract, transfer permission)."""
    for event in reversed(record.history):
        if event["to"] == "approved":
            return dict(event["detail"] or {})
    return {}


def queue(conn: Any, principal: Principal, today: date | None = None,
          soon: int = DUE_SOON_WORKING_DAYS) -> dict[str, list[RequestRecord]]:
    """Open requests for officers: ``overdue`` (past the due date), ``due_soon`` (due within
    ``soon`` working days, today included) and ``open`` (all open ones, earliest due first)."""
    require(principal, *OFFICERS)
    today = today or calendar.today_vn()
    rows = conn.execute(_SELECT + "WHERE r.status = ANY(%s) ORDER BY r.due_date, r.id", (list(OPEN_STATUSES),)).fetchall()
    records = [_record(row) for row in rows]
    overdue = [r for r in records if r.due_date < today]
    due_soon = [r for r in records if r.due_date >= today and calendar.working_days_left(r.due_date, today) <= soon]
    return {"overdue": overdue, "due_soon": due_soon, "open": records}
