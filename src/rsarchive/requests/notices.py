"""The e-mails a request's life sends to its requester (issue #23): received, approved, refused
(with the refusal letter as PDF), delivered, and a reminder when the answer is due soon; and
the operators' list of overdue and nearly due requests.

:func:`request_changed` is called by :mod:`rsarchive.requests.lifecycle` inside the transition's
transaction: it only queues the message in the outbox (:mod:`rsarchive.notify`), so the
message exists exactly when the transition is committed, and a failing mail server (or a
failing template) never fails the transition.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from rsarchive.law import calendar
from rsarchive.notify import OPERATORS, Attachment, queue
from rsarchive.requests import letters
from rsarchive.requests.models import PURPOSE_LABELS

if TYPE_CHECKING:
    from rsarchive.requests.lifecycle import RequestRecord

log = logging.getLogger(__name__)

TEMPLATES = {"submitted": "request_received", "approved": "request_approved", "refused": "request_refused",
             "fulfilled": "request_fulfilled"}
"""Status reached → the notice sent to the requester."""


def contact_email(record: RequestRecord) -> str | None:
    """The address the requester gave in the request form (``contact.email``)."""
    contact = record.form.get("contact") or {}
    email = contact.get("email")
    return str(email) if email else None


def context(record: RequestRecord, today: date | None = None) -> dict[str, Any]:
    contact = record.form.get("contact") or {}
    purpose_vi, _, purpose_en = PURPOSE_LABELS.get(record.purpose, record.purpose).partition(" / ")
    return {"r": {
        "id": record.id, "organisation": record.organisation, "contact": contact.get("name") or record.organisation,
        "purpose_vi": purpose_vi, "purpose_en": purpose_en or purpose_vi, "status": record.status,
        "received": calendar.receipt_date(record.received_at), "due_date": record.due_date,
        "decided": calendar.receipt_date(record.decided_at) if record.decided_at else None,
        "start": record.form.get("start"), "end": record.form.get("end"), "reason": record.refusal_reason or "",
        "days_left": record.working_days_left(today)}}


def request_changed(conn: Any, record: RequestRecord) -> None:
    """Queue the requester's notice for the status ``record`` just reached (if it has one)."""
    template = TEMPLATES.get(record.status)
    email = contact_email(record)
    if template is None or email is None:
        return
    attachments = []
    if record.status == "refused":
        try:
            attachments.append(Attachment(f"thu-tu-choi-yeu-cau-{record.id}.pdf", "application/pdf",
                                          letters.render_pdf(letters.RefusalLetter.of(record))))
        except Exception:  # the notice still goes, with the reason in its text
            log.exception("request %d: the refusal letter could not be attached", record.id)
    try:
        with conn.transaction():  # a savepoint: a notice that cannot be written leaves the transition alone
            queue(conn, template, [email], template, context(record), attachments,
                  dedup=f"request:{record.id}:{record.status}")
    except Exception:
        log.exception("request %d: the %s notice could not be queued", record.id, template)


def remind(conn: Any, records: dict[str, list[RequestRecord]], today: date | None = None) -> int:
    """Queue the reminders of :func:`rsarchive.requests.lifecycle.queue`'s answer: each requester
    whose request is due soon (once a day), and the operators' list of overdue and due-soon ones
    (once a day).  Returns how many messages were queued."""
    today = today or calendar.today_vn()
    queued = 0
    for record in records["due_soon"]:
        email = contact_email(record)
        if email and queue(conn, "request_due_soon", [email], "request_due_soon", context(record, today),
                           dedup=f"request:{record.id}:due_soon:{today.isoformat()}") is not None:
            queued += 1
    if records["overdue"] or records["due_soon"]:
        rows = [context(r, today)["r"] for r in (*records["overdue"], *records["due_soon"])]
        overdue, due_soon = rows[:len(records["overdue"])], rows[len(records["overdue"]):]
        if queue(conn, "requests_overdue", [OPERATORS], "requests_overdue",
                 {"overdue": overdue, "due_soon": due_soon, "today": today},
                 dedup=f"requests:reminder:{today.isoformat()}") is not None:
            queued += 1
    return queued
