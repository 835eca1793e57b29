"""Payments of a delivery's fee statement, and whether the delivery is released.

An officer records each payment received (amount, date, reference: the receipt or bank transfer).  A delivery
is released — its download links issued and served — when its statement is exempt (Art. 3.3), totals zero, or
is paid in full (rule ``fee.release-after-payment`` of the legal basis).  Until then the requester sees the
statement and the amount due, and a download is refused with a message naming the amount.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rsarchive.errors import NotFoundError, PaymentRequiredError, UsageError
from rsarchive.i18n import format_amount
from rsarchive.law import calendar, load_basis
from rsarchive.requests import lifecycle
from rsarchive.users.identity import Principal, require

log = logging.getLogger(__name__)


class PaymentForm(BaseModel):
    """What the officer records: the amount received, the day it was paid and its reference."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount: Annotated[int, Field(gt=0, le=10**15, description="whole đồng")]
    paid_on: date
    reference: Annotated[str, Field(min_length=1, max_length=200, description="receipt or transfer reference")]

    @field_validator("paid_on")
    @classmethod
    def _not_future(cls, value: date) -> date:
        if value > calendar.today_vn():
            raise ValueError("the payment date is in the future")
        if value.year < 2000:
            raise ValueError("the payment date is before 2000")
        return value

    @field_validator("reference")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("reference contains a NUL character")
        return value


@dataclass(frozen=True)
class Balance:
    """What a fee statement asks, what was paid, what is due; released when nothing is due."""

    total: int
    paid: int
    exempt: bool
    currency: str
    payments: tuple[dict[str, Any], ...] = ()

    @property
    def due(self) -> int:
        return 0 if self.exempt else max(self.total - self.paid, 0)

    @property
    def released(self) -> bool:
        return self.exempt or self.due == 0

    def message(self) -> tuple[str, str]:
        """Why the delivery is held, Vietnamese and English."""
        vi = (f"Dữ liệu chưa được cung cấp: còn phải nộp phí {format_amount(self.due, 'vi', self.currency)} "
              f"(tổng {format_amount(self.total, 'vi', self.currency)}, đã nộp "
              f"{format_amount(self.paid, 'vi', self.currency)}).")
        en = (f"The data is not released: a fee of {format_amount(self.due, 'en', self.currency)} is due "
              f"(total {format_amount(self.total, 'en', self.currency)}, paid "
              f"{format_amount(self.paid, 'en', self.currency)}).")
        return vi, en

    def to_dict(self) -> dict[str, Any]:
        rule = load_basis().rule("fee.release-after-payment")
        vi, en = self.message() if not self.released else ("", "")
        return {"total": self.total, "paid": self.paid, "due": self.due, "exempt": self.exempt,
                "released": self.released, "currency": self.currency, "payments": list(self.payments),
                "message_vi": vi, "message": en, "cite_vi": rule.cite("vi"), "cite": rule.cite("en")}


def balance(conn: Any, request_id: int) -> Balance:
    """The fee balance of a fulfilled request (:class:`NotFoundError` when it has no delivery)."""
    row = conn.execute("SELECT fee_statement FROM rsarchive.deliveries WHERE request_id = %s",
                       (request_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"request {request_id} has no delivery (it is not fulfilled)")
    fee = row[0]
    rows = conn.execute(
        "SELECT p.id, p.amount, p.currency, p.paid_on, p.reference, u.name, p.recorded_at "
        "FROM rsarchive.fee_payments p LEFT JOIN rsarchive.users u ON u.id = p.recorded_by "
        "WHERE p.request_id = %s ORDER BY p.id", (request_id,)).fetchall()
    payments = tuple({"id": pid, "amount": int(amount), "currency": cur, "paid_on": paid_on.isoformat(),
                      "reference": ref, "recorded_by": who, "recorded_at": at.isoformat()}
                     for pid, amount, cur, paid_on, ref, who, at in rows)
    return Balance(total=int(fee.get("total") or 0), paid=sum(p["amount"] for p in payments),
                   exempt=bool(fee.get("exempt")), currency=str(fee.get("currency") or "VND"), payments=payments)


def record(conn: Any, principal: Principal, request_id: int, form: PaymentForm) -> Balance:
    """Record a payment for a fulfilled request's fee statement (officers); the new balance."""
    require(principal, *lifecycle.OFFICERS)
    lifecycle.get(conn, principal, request_id, for_update=True)
    before = balance(conn, request_id)
    if before.exempt or before.total == 0:
        raise UsageError(f"request {request_id} owes no fee (its statement is exempt or zero); nothing to pay")
    if form.amount > before.due:
        raise UsageError(f"payment of {form.amount} {before.currency} exceeds the {before.due} {before.currency} "
                         f"due on request {request_id}")
    conn.execute(
        "INSERT INTO rsarchive.fee_payments (request_id, amount, currency, paid_on, reference, recorded_by) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (request_id, form.amount, before.currency, form.paid_on, form.reference, principal.user_id))
    after = balance(conn, request_id)
    lifecycle.log_event(conn, principal, "payment", request_id, detail={
        "amount": form.amount, "paid_on": form.paid_on.isoformat(), "reference": form.reference,
        "due": after.due, "released": after.released})
    log.info("request %d: payment %d %s recorded by %s; due %d", request_id, form.amount, before.currency,
             principal.name, after.due)
    return after


def require_released(conn: Any, principal: Principal, request_id: int) -> None:
    """Refuse (:class:`PaymentRequiredError`, bilingual, naming the amount due) a requester's access to an
    unpaid delivery; officers are never held."""
    if principal.has_role(*lifecycle.OFFICERS):
        return
    state = balance(conn, request_id)
    if not state.released:
        vi, en = state.message()
        raise PaymentRequiredError(f"{vi} / {en}")
