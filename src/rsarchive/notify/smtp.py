"""Sending one e-mail through the configured SMTP server (standard library ``smtplib``)."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from rsarchive.settings import Settings

log = logging.getLogger(__name__)

POLICY = SMTP.clone(max_line_length=998)
"""Headers folded only past RFC 5322's line limit: the standard library's folding of a long
Vietnamese subject into several encoded words can drop the space between two of them."""


def build(settings: Settings, recipients: Sequence[str], subject: str, body: str,
          attachments: Sequence[tuple[str, str, bytes]] = ()) -> EmailMessage:
    """The message: UTF-8 text, and each (filename, content type, data) attached."""
    message = EmailMessage(policy=POLICY)
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message["Content-Language"] = "vi, en"
    message.set_content(body, charset="utf-8")
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return message


class Connection:
    """One SMTP session, opened on the first message and reused for the next ones."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        try:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.send_message(message)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None
