"""Complaints (Decision 81, Art. 9.5) on a real PostgreSQL and a real uvicorn server: a requester's
complaint about a refusal from submission to the officer's written answer (API, web pages, letter as HTML
and PDF, the audit log), the clock from the legal basis, the officer's queue, and what is refused."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from reqfixtures import Archive, api_client, request_body

from rsarchive.db import transaction
from rsarchive.law import calendar, load_basis
from rsarchive.requests import complaints
from rsarchive.testing.web import csrf_of, log_in
from rsarchive.users import identity

pytestmark = pytest.mark.services


_api = api_client


def test_complaint_from_submission_to_written_answer(archive: Archive, live_url: str) -> None:
    basis = load_basis()
    with _api(live_url, archive, "alice") as alice, _api(live_url, archive, "olga") as olga, \
            _api(live_url, archive, "bob") as bob:
        rid = alice.post("/api/requests", json=request_body(purpose="commercial_other")).json()["id"]
        # a complaint about a refusal needs a refused request
        early = alice.post(f"/api/requests/{rid}/complaints",
                           json={"subject": "refusal", "description": "Yêu cầu của chúng tôi bị từ chối sai."})
        assert early.status_code == 409 and "not refused" in early.text
        assert olga.post(f"/api/requests/{rid}/refuse", json={"reason": "Không đủ căn cứ / no basis"}).status_code == 200

        # bad bodies: each field named; another organisation's request is not found; officers do not file
        bad = alice.post(f"/api/requests/{rid}/complaints", json={"subject": "weather", "description": "short"})
        assert bad.status_code == 422
        assert {e["loc"][-1] for e in bad.json()["detail"]} == {"subject", "description"}
        body = {"subject": "refusal",
                "description": "Việc từ chối không nêu căn cứ pháp lý; chúng tôi đề nghị xem xét lại. / The refusal "
                               "cites no legal basis; please review it."}
        assert bob.post(f"/api/requests/{rid}/complaints", json=body).status_code == 404
        assert olga.post(f"/api/requests/{rid}/complaints", json=body).status_code == 403

        filed = alice.post(f"/api/requests/{rid}/complaints", json=body)
        assert filed.status_code == 201, filed.text
        c = filed.json()
        received = datetime.fromisoformat(c["received_at"])
        assert c["status"] == "received" and c["request_id"] == rid and c["complainant"] == "alice"
        # the acceptance clock: rule complaint.acceptance (10 days) from the day of receipt
        assert c["acceptance_due"] == basis.rule("complaint.acceptance").period.end(received).isoformat()
        assert c["due_date"] == c["acceptance_due"] and c["settlement_due"] is None and not c["overdue"]
        assert bob.get(f"/api/complaints/{c['id']}").status_code == 404
        assert [x["id"] for x in bob.get("/api/complaints").json()] == []
        assert [x["id"] for x in alice.get("/api/complaints").json()] == [c["id"]]
        # no letter before an answer
        assert alice.get(f"/api/complaints/{c['id']}/letter.html").status_code == 409

        queue = olga.get("/api/complaints/queue", params={"soon": 10}).json()
        assert [x["id"] for x in queue["open"]] == [c["id"]] and [x["id"] for x in queue["due_soon"]] == [c["id"]]
        assert alice.get("/api/complaints/queue").status_code == 403
        assert alice.post(f"/api/complaints/{c['id']}/accept").status_code == 403

        # accepted as complex: the settlement clock is the extended one (45 days) from today
        accepted = olga.post(f"/api/complaints/{c['id']}/accept", json={"complex": True, "note": "cần xác minh"})
        assert accepted.status_code == 200, accepted.text
        a = accepted.json()
        extended = basis.rule("complaint.settlement").extended_period
        assert extended is not None and extended.count == 45
        assert a["status"] == "accepted" and a["complex"]
        assert a["settlement_due"] == extended.end(datetime.fromisoformat(a["accepted_at"])).isoformat()
        assert olga.post(f"/api/complaints/{c['id']}/accept").status_code == 409  # once only
        notice = alice.get(f"/api/complaints/{c['id']}/letter.html")
        assert notice.status_code == 200 and "THÔNG BÁO THỤ LÝ GIẢI QUYẾT KHIẾU NẠI" in notice.text
        assert "vụ việc phức tạp" in notice.text and "Người ký / Signed: olga" in notice.text

        # settled with a written answer
        assert olga.post(f"/api/complaints/{c['id']}/settle", json={"outcome": "won", "answer": ""}).status_code == 422
        answer = ("Sau khi xem xét lại, việc từ chối được giữ nguyên: mục đích thương mại cần hợp đồng. / On review, "
                  "the refusal stands: commercial use needs a contract.")
        settled = olga.post(f"/api/complaints/{c['id']}/settle", json={"outcome": "rejected", "answer": answer})
        assert settled.status_code == 200, settled.text
        s = settled.json()
        assert s["status"] == "settled" and s["outcome"] == "rejected" and s["answer"] == answer
        assert s["due_date"] is None and s["answered_by"] == "olga"
        assert olga.post(f"/api/complaints/{c['id']}/settle",
                         json={"outcome": "upheld", "answer": "x"}).status_code == 409

        # the written answer, Vietnamese first, citing the rules of the legal basis
        html = alice.get(f"/api/complaints/{c['id']}/letter.html").text
        assert html.index("TRẢ LỜI GIẢI QUYẾT KHIẾU NẠI") < html.index("Answer settling a complaint")
        for rule in ("user.complaint", "complaint.settlement"):
            assert basis.rule(rule).cite("vi") in html and basis.rule(rule).cite("en") in html
        assert "Điều 9.5 Quyết định 81/2010/QĐ-TTg" in html and "Điều 28 Luật 02/2011/QH13" in html
        assert "Khiếu nại không đúng / Complaint rejected" in html and "commercial use needs a contract" in html
        assert basis.authority.archive("vi") in html
        pdf = alice.get(f"/api/complaints/{c['id']}/letter.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "TRẢ LỜI GIẢI QUYẾT KHIẾU NẠI" in text and "Điều 28 Luật 02/2011/QH13" in text
        assert "việc từ chối được giữ nguyên" in text
        assert bob.get(f"/api/complaints/{c['id']}/letter.pdf").status_code == 404

        # the request's audit log tells the story, in order, with the complaint's id
        history = alice.get(f"/api/requests/{rid}").json()["history"]
        steps = [(e["actor"], e["action"]) for e in history if e["action"].startswith("complaint.")]
        assert steps == [("alice", "complaint.received"), ("olga", "complaint.accepted"), ("olga", "complaint.settled")]
        details = [e["detail"] for e in history if e["action"].startswith("complaint.")]
        assert all(d["complaint_id"] == c["id"] for d in details)
        assert details[0]["basis"] == basis.rule("complaint.acceptance").cite("en")
        assert details[1]["on_time"] and details[1]["complex"] and details[2]["on_time"]
        assert olga.get("/api/complaints/queue").json()["open"] == []


def test_complaint_on_the_web_pages_and_not_accepted(archive: Archive, live_url: str) -> None:
    with _api(live_url, archive, "alice") as alice:
        rid = alice.post("/api/requests", json=request_body()).json()["id"]
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        assert log_in(browser, live_url, "alice", archive.tokens["alice"]).status_code == 303
        detail = browser.get(f"{live_url}/web/requests/{rid}")
        assert f'href="/web/requests/{rid}/complaint"' in detail.text
        form = browser.get(f"{live_url}/web/requests/{rid}/complaint")
        assert form.status_code == 200 and "Điều 9.5 Quyết định 81/2010/QĐ-TTg" in form.text
        assert "trong 10 ngày (Điều 27 Luật 02/2011/QH13)" in form.text and "phức tạp 45 ngày" in form.text
        # no CSRF token → refused, nothing stored
        forged = browser.post(f"{live_url}/web/requests/{rid}/complaint", data={"subject": "delay",
                                                                              "description": "x" * 20})
        assert forged.status_code == 403
        short = browser.post(f"{live_url}/web/requests/{rid}/complaint",
                             data={"subject": "delay", "description": "ngắn", "csrf_token": csrf_of(form)})
        assert short.status_code == 422 and "description" in short.text
        made = browser.post(f"{live_url}/web/requests/{rid}/complaint",
                            data={"subject": "delay", "description": "Đã quá hạn 7 ngày làm việc mà chưa có trả lời.",
                                  "csrf_token": csrf_of(form)})
        assert made.status_code == 303
        page_url = made.headers["location"]
        cid = int(page_url.rsplit("/", 1)[-1])
        page = browser.get(f"{live_url}{page_url}")
        assert 'data-status="received"' in page.text and 'id="accept-form"' not in page.text
        listed = browser.get(f"{live_url}/web/complaints")
        assert f'data-complaint-id="{cid}"' in listed.text and "Việc chậm trả lời" in listed.text

    with httpx.Client(timeout=30, follow_redirects=False) as officer:
        log_in(officer, live_url, "olga", archive.tokens["olga"])
        queue = officer.get(f"{live_url}/web/officer/complaints")
        assert queue.status_code == 200 and f'data-complaint-id="{cid}"' in queue.text
        page = officer.get(f"{live_url}/web/complaints/{cid}")
        assert 'id="accept-form"' in page.text and 'id="not-accept-form"' in page.text
        token = csrf_of(page)
        empty = officer.post(f"{live_url}/web/officer/complaints/{cid}/not-accept", data={"reason": "",
                                                                                         "csrf_token": token})
        assert empty.status_code == 422
        done = officer.post(f"{live_url}/web/officer/complaints/{cid}/not-accept",
                            data={"reason": "Yêu cầu đã được trả lời đúng hạn ngày hôm qua.", "csrf_token": token})
        assert done.status_code == 303
        page = officer.get(f"{live_url}/web/complaints/{cid}")
        assert 'data-status="not_accepted"' in page.text and 'id="letter-pdf"' in page.text

    with _api(live_url, archive, "alice") as alice:
        letter = alice.get(f"/api/complaints/{cid}/letter.html").text
        assert "THÔNG BÁO KHÔNG THỤ LÝ GIẢI QUYẾT KHIẾU NẠI" in letter and "trả lời đúng hạn" in letter
        assert load_basis().rule("complaint.acceptance").cite("vi") in letter


def test_overdue_complaints_are_queued_first(archive: Archive) -> None:
    """A complaint received 20 days ago and not yet accepted is overdue; one accepted is due later."""
    long_ago = datetime.now(timezone.utc) - timedelta(days=20)
    with transaction(archive.settings) as conn:
        alice = identity.principal_by_name(conn, "alice")
        olga = identity.principal_by_name(conn, "olga")
        from rsarchive.requests import lifecycle
        from rsarchive.requests.models import RequestForm

        rid = lifecycle.submit(conn, alice, RequestForm.model_validate(request_body())).id
        form = complaints.ComplaintForm(subject=complaints.Subject.delay, description="Chưa có trả lời sau 3 tuần.")
        late = complaints.file(conn, alice, rid, form, received_at=long_ago)
        fresh = complaints.file(conn, alice, rid, form)
        today = calendar.today_vn()
        assert late.acceptance_due == load_basis().rule("complaint.acceptance").period.end(long_ago)
        assert late.acceptance_due < today and late.to_dict(today)["overdue"]
        lists = complaints.queue(conn, olga, today)
        assert [c.id for c in lists["overdue"]] == [late.id]
        assert [c.id for c in lists["open"]] == [late.id, fresh.id]
        accepted = complaints.accept(conn, olga, late.id)
        # accepted late: the log says so; the settlement clock (30 days) runs from the acceptance
        assert accepted.settlement_due == load_basis().rule("complaint.settlement").period.end(accepted.accepted_at)
        logged = conn.execute("SELECT detail FROM rsarchive.audit_log WHERE action = 'complaint.accepted'").fetchone()[0]
        assert logged["on_time"] is False and logged["complaint_id"] == late.id
        assert [c.id for c in complaints.queue(conn, olga, today)["overdue"]] == []


def test_complaints_and_capability_on_the_command_line(archive: Archive, tmp_path: Any) -> None:
    import json

    from click.testing import CliRunner

    from rsarchive.cli.main import cli
    from rsarchive.errors import UsageError

    def run(*args: str, ok: bool = True) -> Any:
        result = CliRunner().invoke(cli, list(args), obj={"settings": archive.settings}, catch_exceptions=True)
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    with transaction(archive.settings) as conn:
        from rsarchive.requests import lifecycle
        from rsarchive.requests.models import RequestForm

        rid = lifecycle.submit(conn, identity.principal_by_name(conn, "alice"),
                               RequestForm.model_validate(request_body())).id
    filed = json.loads(run("complaints", "file", str(rid), "--subject", "delay", "--text",
                           "Quá hạn mà chưa có trả lời.", "--as", "alice", "--json").stdout)
    nobody = run("complaints", "file", str(rid), "--subject", "delay", "--text", "Quá hạn mà chưa có trả lời.", ok=False)
    assert isinstance(nobody.exception, UsageError)  # the local administrator is nobody's requester
    queue = json.loads(run("complaints", "queue", "--as", "olga", "--json").stdout)
    assert [c["id"] for c in queue["open"]] == [filed["id"]]
    run("complaints", "accept", str(filed["id"]), "--as", "olga")
    letter = tmp_path / "answer.pdf"
    settled = run("complaints", "settle", str(filed["id"]), "--as", "olga", "--outcome", "upheld", "--answer",
                  "Xin lỗi vì chậm trễ; dữ liệu sẽ được cung cấp trong tuần này.", "--letter", str(letter))
    assert "settled" in settled.stdout and letter.read_bytes().startswith(b"%PDF")
    html = tmp_path / "answer.html"
    run("complaints", "letter", str(filed["id"]), "--out", str(html), "--as", "alice")
    assert "Khiếu nại đúng / Complaint upheld" in html.read_text(encoding="utf-8")
    assert run("complaints", "letter", str(filed["id"]), "--out", str(html), "--as", "bob", ok=False).exit_code != 0

    # a capability question recorded by the officer, answered by the operator
    asked = json.loads(run("capability", "ask", "--as", "olga", "--question", "Có chụp được vùng này không?",
                           "--bbox", "105,21,105.2,21.2", "--period", "2026-12-10/2027-01-31", "--received",
                           "2026-11-20", "--json").stdout)
    assert asked["due_date"] == "2026-12-21"  # Fri 20 Nov + 30 days = Sun 20 Dec → Mon 21 Dec
    refused = run("capability", "answer", str(asked["id"]), "--as", "olga", "--can-image", "--answer", "Có.", ok=False)
    assert refused.exit_code != 0
    answered = run("capability", "answer", str(asked["id"]), "--as", "oscar", "--cannot-image", "--answer",
                   "Không: vệ tinh bận theo kế hoạch khác.", "--letter", str(tmp_path / "capability.html"))
    assert "cannot image" in answered.stdout
    assert "không thể chụp" in (tmp_path / "capability.html").read_text(encoding="utf-8")
