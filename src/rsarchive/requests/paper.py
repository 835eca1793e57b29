"""Requests that arrived on paper, entered by an officer with their real date of receipt.

The reply deadline runs from the day the archive received the letter (rule ``request.paper``), not from
the day it is typed in.  A receipt in the future, or before Decision 81/2010 came into force (the
instrument's ``in_force`` date in the legal basis: no request under it can be older), is refused.  The
request belongs to the requester's account (an organisation's member, or an individual requester made
with ``rsarchive users add … --id-number … --contact …``); the officer who typed it in is recorded.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timezone
from typing import Any

from pydantic import Field

from rsarchive.errors import UsageError
from rsarchive.law import calendar, load_basis
from rsarchive.requests import lifecycle
from rsarchive.requests.models import RequestForm, _Body
from rsarchive.users import identity
from rsarchive.users.identity import Principal, require

log = logging.getLogger(__name__)

RECORDS_FROM = "decision-81-2010"
"""The instrument whose entry into force is the earliest plausible receipt."""


class PaperRequest(_Body):
    """A paper request as an officer types it in: whose it is, when it arrived, and the form's contents."""

    requester: str = Field(min_length=1, max_length=200, description="the requester's user name")
    received: date = Field(description="the day the archive received the letter")
    reference: str | None = Field(default=None, max_length=200, description="the letter's number or registry entry")
    form: RequestForm


def receipt_moment(value: date | datetime) -> datetime:
    """A date of receipt as a moment: midday in Vietnam of that day (its day of receipt is that date)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value, time(12), calendar.VN_TZ)


def check_receipt(value: date | datetime, now: datetime | None = None) -> datetime:
    """``value`` as a moment of receipt, or :class:`UsageError` when it is in the future or before the
    archive's records can start."""
    moment = receipt_moment(value)
    now = now or datetime.now(timezone.utc)
    day = calendar.receipt_date(moment)
    if moment > now or day > calendar.today_vn(now):
        raise UsageError(f"ngày nhận {day.isoformat()} ở tương lai / the date of receipt {day.isoformat()} is in the future")
    instrument = load_basis().instrument(RECORDS_FROM)
    earliest = instrument.in_force or instrument.issued
    if earliest is not None and day < earliest:
        raise UsageError(f"ngày nhận {day.isoformat()} trước ngày {instrument.name('vi')} có hiệu lực ({earliest}) / "
                         f"the date of receipt {day.isoformat()} is before {instrument.name('en')} came into force "
                         f"({earliest})")
    return moment


def enter(conn: Any, officer: Principal, requester: str, form: RequestForm, received: date | datetime,
          reference: str | None = None) -> lifecycle.RequestRecord:
    """Record a paper request of user ``requester`` received on ``received``; the clock starts then."""
    require(officer, *lifecycle.OFFICERS)
    if officer.user_id is None:
        raise UsageError("a paper request is entered by a named officer (--as NAME or --token), who is recorded")
    moment = check_receipt(received)
    who = identity.principal_by_name(conn, requester)
    if not who.has_role(*lifecycle.REQUESTERS) or who.role == "admin":
        raise UsageError(f"user {requester!r} is not a requester (role {who.role})")
    record = lifecycle.submit(conn, who, form, received_at=moment)
    conn.execute("UPDATE rsarchive.data_requests SET channel = 'paper', entered_by = %s WHERE id = %s",
                 (officer.user_id, record.id))
    rule = load_basis().rule("request.paper")
    lifecycle.log_event(conn, officer, "entered_from_paper", record.id, None, None,
                        {"received": calendar.receipt_date(moment).isoformat(), "reference": reference,
                         "entered_on": calendar.today_vn().isoformat(), "due_date": record.due_date.isoformat(),
                         "basis": rule.cite("en")})
    log.info("paper request %d of %s received %s entered by %s", record.id, requester,
             calendar.receipt_date(moment), officer.name)
    return lifecycle.get(conn, officer, record.id)
