"""E-mail notifications (#23) received by a real SMTP server (aiosmtpd) started by the test:
requesters are told (Vietnamese first, then English) that their request was received, approved,
refused — with the refusal letter as a PDF attachment — and delivered; the operators that a job
failed.  A mail server that is down fails no transition: the notices wait in the outbox and are
sent, once, when it is back."""

from __future__ import annotations

import email
import io
import re
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from reqfixtures import Archive, request_body

from rsarchive.db import connect
from rsarchive.jobs import JobQueue
from rsarchive.notify import drain
from rsarchive.testing.server import free_port

pytestmark = pytest.mark.services


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Any:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def _vietnamese_first(text: str, vietnamese: str, english: str) -> None:
    assert vietnamese in text and english in text, text
    assert text.index(vietnamese) < text.index(english), text


def test_requesters_and_operators_get_their_notices(client: Any, archive: Archive, smtp: Any) -> None:
    controller, inbox = smtp
    settings = archive.settings.derive(smtp_host="127.0.0.1", smtp_port=controller.port,
                                       smtp_from="luutru@vnsc.gov.vn", operators_email="ops@vnsc.gov.vn, trucban@vnsc.gov.vn")
    officer = archive.headers("olga")

    # Submitted, approved, fulfilled: one request; submitted and refused: another (bob's contact).
    first = client.post("/api/requests", json=request_body(), headers=archive.headers("alice")).json()
    assert client.post(f"/api/requests/{first['id']}/approve", headers=officer).status_code == 200
    assert client.post(f"/api/requests/{first['id']}/fulfil", headers=officer).status_code == 200
    contact = {"name": "Trần Thị Bình", "email": "binh@quangninh.gov.vn"}
    second = client.post("/api/requests", json=request_body(contact=contact), headers=archive.headers("bob")).json()
    reason = "Khu vực yêu cầu thuộc vùng cấm / The area is restricted"
    refused = client.post(f"/api/requests/{second['id']}/refuse", json={"reason": reason}, headers=officer)
    assert refused.status_code == 200

    assert inbox.messages == []  # queued with the transitions, nothing sent yet
    report = drain(settings)
    assert (report.sent, report.retried, report.failed) == (5, 0, 0)
    assert drain(settings).sent == 0  # each once

    by_subject = {m["Subject"]: (to, m) for to, m in inbox.messages}
    subjects = list(by_subject)
    rid, rid2 = first["id"], second["id"]
    assert subjects == [
        f"[rsarchive] Đã nhận yêu cầu số {rid} / Request {rid} received",
        f"[rsarchive] Yêu cầu số {rid} đã được chấp thuận / Request {rid} approved",
        f"[rsarchive] Dữ liệu của yêu cầu số {rid} đã sẵn sàng / Request {rid} delivered",
        f"[rsarchive] Đã nhận yêu cầu số {rid2} / Request {rid2} received",
        f"[rsarchive] Yêu cầu số {rid2} bị từ chối / Request {rid2} refused",
    ]
    for to, message in inbox.messages:
        assert message["From"] == "luutru@vnsc.gov.vn"
        assert to == (["a@monre.gov.vn"] if f"số {rid} " in message["Subject"] else ["binh@quangninh.gov.vn"])

    # Received: Vietnamese first with its diacritics and dd/mm/yyyy dates, then English with ISO dates.
    received = _body(by_subject[subjects[0]][1])
    due = first["due_date"]  # ISO
    due_vn = f"{due[8:10]}/{due[5:7]}/{due[0:4]}"
    _vietnamese_first(received, "Cơ sở dữ liệu viễn thám quốc gia đã nhận yêu cầu", "received your data request")
    _vietnamese_first(received, f"Thời hạn trả lời: ngày {due_vn}", f"We will answer by {due}")
    assert "Kính gửi Nguyễn Văn A (Bộ Tài nguyên và Môi trường)" in received
    assert not re.search(r"\d{4}-\d{2}-\d{2}", received.split("---")[0])  # no ISO date in the Vietnamese part

    # Refused: the reason in the text and the refusal letter attached as a PDF with that reason.
    to, refusal = by_subject[subjects[4]]
    text = _body(refusal)
    _vietnamese_first(text, "bị từ chối ngày", "was refused on")
    assert reason in text
    attachments = list(refusal.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        (f"thu-tu-choi-yeu-cau-{rid2}.pdf", "application/pdf")]
    pdf = PdfReader(io.BytesIO(attachments[0].get_content()))
    letter = "".join(page.extract_text() for page in pdf.pages)
    assert "THÔNG BÁO TỪ CHỐI CUNG CẤP DỮ LIỆU VIỄN THÁM" in letter and "Khu vực yêu cầu thuộc vùng cấm" in letter
    assert "Trần Thị Bình" in letter

    # Operators: a job that fails for good.
    jobs = JobQueue(settings.internal_database_dsn)
    job, _ = jobs.enqueue("ingest", "pass-0001", "ingest-level0", {"path": "/nowhere"}, max_attempts=1)
    claimed = jobs.claim("worker-1", 60)
    assert claimed is not None and claimed.id == job.id
    assert jobs.fail(job.id, "worker-1", "decode: frame sync lost at byte 1024", transient=False) == "failed"
    inbox.messages.clear()
    assert drain(settings).sent == 1
    [(to, message)] = inbox.messages
    assert to == ["ops@vnsc.gov.vn", "trucban@vnsc.gov.vn"]
    assert message["Subject"] == f"[rsarchive] Công việc {job.id} thất bại / Job {job.id} failed"
    _vietnamese_first(_body(message), "thất bại sau 1 lần thử", "failed after 1 attempt(s)")
    assert "frame sync lost at byte 1024" in _body(message)


def test_a_mail_server_that_is_down_fails_no_transition(client: Any, archive: Archive, smtp: Any) -> None:
    controller, inbox = smtp
    down = archive.settings.derive(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_seconds=2)
    submitted = client.post("/api/requests", json=request_body(), headers=archive.headers("alice"))
    assert submitted.status_code == 201
    report = drain(down)
    assert (report.sent, report.retried, report.failed) == (0, 1, 0)
    with connect(archive.settings.internal_database_dsn) as conn:
        state, attempts, error = conn.execute(
            "SELECT state, attempts, last_error FROM rsarchive.mail_outbox").fetchone()
        assert (state, attempts) == ("pending", 1) and "ConnectionRefusedError" in error
        # the retry waits (1 minute); make it due now, as if that minute had passed
        conn.execute("UPDATE rsarchive.mail_outbox SET next_attempt = now()")
    up = archive.settings.derive(smtp_host="127.0.0.1", smtp_port=controller.port)
    assert drain(up).sent == 1
    [(to, message)] = inbox.messages
    assert to == ["a@monre.gov.vn"] and "received" in message["Subject"]
    # no SMTP server configured: nothing is sent, nothing is lost
    assert drain(archive.settings).enabled is False


def test_the_reminders_duty_writes_to_requesters_due_soon_and_to_the_operators(archive: Archive, smtp: Any,
                                                                                tmp_path: Any) -> None:
    from datetime import datetime, time, timezone
    from zoneinfo import ZoneInfo

    from rsarchive.db import transaction
    from rsarchive.duties import Scheduler, load_schedule
    from rsarchive.duties.actions import reminders
    from rsarchive.requests import lifecycle
    from rsarchive.requests.models import RequestForm
    from rsarchive.users import identity

    controller, inbox = smtp
    settings = archive.settings.derive(smtp_host="127.0.0.1", smtp_port=controller.port,
                                       operators_email="ops@vnsc.gov.vn")
    with transaction(settings) as conn:
        alice = identity.principal_by_name(conn, "alice")
        old = lifecycle.submit(conn, alice, RequestForm.model_validate(request_body()),
                               received_at=datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc))
        contact = {"name": "Lê Văn Cường", "email": "cuong@monre.gov.vn"}
        recent = lifecycle.submit(conn, alice, RequestForm.model_validate(request_body(contact=contact)),
                                  received_at=datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc))
    assert old.due_date < recent.due_date
    path = tmp_path / "duties.toml"
    path.write_text('[duties.request-reminders]\ntitle_vi = "Nhắc các yêu cầu"\ntitle_en = "Reminders"\n'
                    'cron = "0 8 * * *"\naction = "reminders"\n', encoding="utf-8")
    at = datetime.combine(recent.due_date, time(8, 0, 10), tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    [run] = Scheduler(settings, load_schedule(path), clock=lambda: at).run_due()
    assert run.outcome == "succeeded" and run.summary == "1 overdue, 1 due soon, 2 reminder(s) queued"

    by_subject = {m["Subject"]: (to, m) for to, m in inbox.messages}
    due_soon = f"[rsarchive] Yêu cầu số {recent.id}: sắp đến hạn trả lời / Request {recent.id}: answer due soon"
    assert by_subject[due_soon][0] == ["cuong@monre.gov.vn"]
    due_vn = recent.due_date.strftime("%d/%m/%Y")
    _vietnamese_first(_body(by_subject[due_soon][1]), f"hạn trả lời là ngày {due_vn}\n(còn 0 ngày làm việc)",
                      f"the answer is due on {recent.due_date.isoformat()}")
    listing = "[rsarchive] 1 yêu cầu quá hạn, 1 sắp đến hạn / 1 requests overdue, 1 due soon"
    to, message = by_subject[listing]
    assert to == ["ops@vnsc.gov.vn"]
    text = _body(message)
    _vietnamese_first(text, f"QUÁ HẠN: yêu cầu số {old.id} của Bộ Tài nguyên và Môi trường, hạn "
                            f"{old.due_date.strftime('%d/%m/%Y')}", f"OVERDUE: request {old.id}")
    assert len(inbox.messages) == 4  # and the two 'received' notices
    # The same day again (another time, another scheduler): nobody is reminded twice.
    assert reminders(settings, at).endswith("0 reminder(s) queued")
