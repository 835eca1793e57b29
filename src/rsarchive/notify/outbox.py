"""The outbox: notices written in the same transaction as what they tell about, sent afterwards.

A message is queued with :func:`queue` on the caller's connection (it commits or rolls back
with the caller's work); :func:`drain` sends the due ones, each at most once across several
senders (``FOR UPDATE SKIP LOCKED``), and retries a failed send after 1, 2, 4 … minutes (at
most an hour apart) until ``mail_max_attempts``.
"""

from __future__ import annotations

import base64
import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from rsarchive.db import connect
from rsarchive.notify.smtp import Connection, build
from rsarchive.notify.templates import render
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

OPERATORS = "operators"
"""A recipient standing for the addresses of the ``operators_email`` setting, read when sent."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class DrainReport:
    """What one :func:`drain` did; ``enabled`` is False when no SMTP server is configured."""

    enabled: bool = True
    sent: int = 0
    retried: int = 0
    failed: int = 0


def queue(conn: Any, kind: str, recipients: Sequence[str], template: str, context: dict[str, Any],
          attachments: Sequence[Attachment] = (), dedup: str | None = None) -> int | None:
    """Render ``template`` and queue it for ``recipients``; None when there is nobody to write to
    or ``dedup`` was queued before."""
    wanted = [r for r in dict.fromkeys(recipients) if r]
    if not wanted:
        return None
    subject, body = render(template, context)
    files = [{"filename": a.filename, "content_type": a.content_type,
              "data": base64.b64encode(a.data).decode("ascii")} for a in attachments]
    row = conn.execute(
        "INSERT INTO rsarchive.mail_outbox (kind, recipients, subject, body, attachments, dedup) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (dedup) DO NOTHING RETURNING id",
        (kind, wanted, subject, body, Jsonb(files), dedup)).fetchone()
    if row is None:
        return None
    log.info("notice %s queued for %s (outbox %d)", kind, ", ".join(wanted), row[0])
    return int(row[0])


def _addresses(settings: Settings, recipients: Sequence[str]) -> list[str]:
    found: list[str] = []
    for recipient in recipients:
        if recipient == OPERATORS:
            found.extend(a.strip() for a in settings.operators_email.split(",") if a.strip())
        else:
            found.append(recipient)
    return list(dict.fromkeys(found))


def _delay_minutes(attempts: int) -> float:
    return float(min(2 ** max(attempts - 1, 0), 60))


def drain(settings: Settings, limit: int = 100) -> DrainReport:
    """Send the due messages of the outbox (nothing when ``smtp_host`` is empty)."""
    if not settings.smtp_host:
        return DrainReport(enabled=False)
    report = DrainReport()
    smtp = Connection(settings)
    try:
        with connect(settings.internal_database_dsn) as conn:
            rows = conn.execute(
                "SELECT id, kind, recipients, subject, body, attachments, attempts FROM rsarchive.mail_outbox "
                "WHERE state = 'pending' AND next_attempt <= now() ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (limit,)).fetchall()
            for msg_id, kind, recipients, subject, body, files, attempts in rows:
                addresses = _addresses(settings, recipients)
                error = None
                if not addresses:
                    error = "no recipient (operators_email is empty)"
                else:
                    parts = [(f["filename"], f["content_type"], base64.b64decode(f["data"])) for f in files]
                    try:
                        smtp.send(build(settings, addresses, subject, body, parts))
                    except (smtplib.SMTPException, OSError) as exc:
                        error = f"{type(exc).__name__}: {exc}"
                attempts += 1
                if error is None:
                    conn.execute("UPDATE rsarchive.mail_outbox SET state = 'sent', attempts = %s, sent_at = now(), "
                                 "last_error = NULL WHERE id = %s", (attempts, msg_id))
                    report.sent += 1
                    log.info("notice %d (%s) sent to %s", msg_id, kind, ", ".join(addresses))
                    continue
                final = attempts >= settings.mail_max_attempts or not addresses
                conn.execute(
                    "UPDATE rsarchive.mail_outbox SET state = %s, attempts = %s, last_error = %s, "
                    "next_attempt = now() + make_interval(secs => %s) WHERE id = %s",
                    ("failed" if final else "pending", attempts, error[:1000], 60 * _delay_minutes(attempts), msg_id))
                if final:
                    report.failed += 1
                    log.error("notice %d (%s) not sent, given up after %d attempt(s): %s", msg_id, kind, attempts,
                              error)
                else:
                    report.retried += 1
                    log.warning("notice %d (%s) not sent (attempt %d), retried later: %s", msg_id, kind, attempts,
                                error)
            conn.commit()
    finally:
        smtp.close()
    return report
