"""Capability questions (Art. 13a, 30 days, answered by the satellite operator), paper requests entered
with their real date of receipt, and individual requesters — on a real PostgreSQL, through the API
(a real uvicorn server) and the CLI."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from reqfixtures import Archive, api_client, request_body

from rsarchive.cli.main import cli
from rsarchive.db import connect, transaction
from rsarchive.errors import UsageError
from rsarchive.law import calendar
from rsarchive.users import identity

pytestmark = pytest.mark.services


_api = api_client


def run(archive: Archive, *args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args), obj={"settings": archive.settings}, catch_exceptions=True)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


QUESTION = {"reference": "123/BNNMT-VT", "question": "Vệ tinh VNREDSat-1 có chụp được khu vực này trong tháng tới không?",
            "bbox": [105.0, 21.0, 105.2, 21.2], "start": "2026-12-10", "end": "2027-01-31"}


def test_capability_question_answered_by_the_satellite_operator(archive: Archive, live_url: str) -> None:
    with _api(live_url, archive, "olga") as olga, _api(live_url, archive, "oscar") as oscar, \
            _api(live_url, archive, "alice") as alice:
        assert alice.post("/api/capability-questions", json=QUESTION).status_code == 403
        assert oscar.post("/api/capability-questions", json=QUESTION).status_code == 403
        # received on Fri 20 Nov 2026: + 30 days → Sun 20 Dec → due Mon 21 Dec 2026
        asked = olga.post("/api/capability-questions", json={**QUESTION, "received": "2026-11-20"})
        assert asked.status_code == 201, asked.text
        q = asked.json()
        assert q["due_date"] == "2026-12-21" and q["status"] == "received" and q["asked_by"] == "olga"
        # received on Thu 1 Oct 2026: + 30 → Sat 31 Oct → Mon 2 Nov 2026, overdue now
        old = olga.post("/api/capability-questions", json={**QUESTION, "received": "2026-10-01"}).json()
        assert old["due_date"] == "2026-11-02"
        future = olga.post("/api/capability-questions",
                           json={**QUESTION, "received": (calendar.today_vn() + timedelta(days=2)).isoformat()})
        assert future.status_code == 400 and "future" in future.text
        assert olga.post("/api/capability-questions", json={**QUESTION, "bbox": None}).status_code == 422

        queue = oscar.get("/api/capability-questions/queue").json()
        today = calendar.today_vn()
        assert [x["id"] for x in queue["overdue"]] == ([old["id"], q["id"]] if today > date(2026, 12, 21) else [old["id"]])
        assert alice.get("/api/capability-questions").status_code == 403

        # the officer does not answer; the operator does, in writing; the model's working is kept beside it
        body = {"can_image": True, "answer": "Có thể chụp trong 3 ngày kể từ khi nhận kế hoạch. / Can image within "
                                             "3 days of receiving the plan."}
        assert olga.post(f"/api/capability-questions/{q['id']}/answer", json=body).status_code == 403
        answered = oscar.post(f"/api/capability-questions/{q['id']}/answer", json=body)
        assert answered.status_code == 200, answered.text
        a = answered.json()
        assert a["status"] == "answered" and a["can_image"] is True and a["answered_by"] == "oscar"
        findings = a["assessment"]["findings"]
        assert {f["mission"] for f in findings} == {"vnredsat1", "snpp"}
        assert a["assessment"]["model"]["vi"].startswith("Mô hình")
        assert oscar.post(f"/api/capability-questions/{q['id']}/answer", json=body).status_code == 409
        # the written answer, from the operator to the Ministry, citing Art. 13a
        assert olga.get(f"/api/capability-questions/{old['id']}/letter.html").status_code == 409
        html = olga.get(f"/api/capability-questions/{q['id']}/letter.html").text
        assert html.index("TRẢ LỜI VỀ KHẢ NĂNG CHỤP ẢNH") < html.index("Answer on the imaging capability")
        assert "Điều 13a Quyết định 81/2010/QĐ-TTg" in html and "Bộ Nông nghiệp và Môi trường" in html
        assert "có thể chụp" in html and "Người ký / Signed: oscar" in html and "123/BNNMT-VT" in html
        pdf = oscar.get(f"/api/capability-questions/{q['id']}/letter.pdf")
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        assert pdf.headers["content-type"] == "application/pdf" and "KHẢ NĂNG CHỤP ẢNH" in text
        assert alice.get(f"/api/capability-questions/{q['id']}/letter.pdf").status_code == 403
    with connect(archive.settings.internal_database_dsn) as conn:
        logged = conn.execute("SELECT action, detail FROM rsarchive.audit_log WHERE action LIKE 'capability.%%' "
                              "AND detail->>'question_id' = %s ORDER BY id", (str(q["id"]),)).fetchall()
    assert [a for a, _ in logged] == ["capability.received", "capability.answered"]
    assert logged[0][1]["basis"] == "Art. 13a, Decision 81/2010/QĐ-TTg" and logged[0][1]["period"] == "30 days"


def test_paper_request_with_its_date_of_receipt(archive: Archive, live_url: str) -> None:
    with _api(live_url, archive, "olga") as olga, _api(live_url, archive, "alice") as alice:
        # received Tue 1 Dec 2026: 7 working days (2, 3, 4, 7, 8, 9, 10) → Thu 10 Dec 2026
        paper = {"requester": "alice", "received": "2026-12-01", "reference": "CV 45/TNMT", "form": request_body()}
        assert alice.post("/api/requests/paper", json=paper).status_code == 403
        made = olga.post("/api/requests/paper", json=paper)
        assert made.status_code == 201, made.text
        r = made.json()
        assert r["due_date"] == "2026-12-10" and r["organisation"] == "Bộ Tài nguyên và Môi trường"
        assert calendar.receipt_date(__import__("datetime").datetime.fromisoformat(r["received_at"])) == date(2026, 12, 1)
        entered = [e for e in r["history"] if e["action"] == "entered_from_paper"]
        assert entered and entered[0]["actor"] == "olga" and entered[0]["detail"]["reference"] == "CV 45/TNMT"
        assert r["history"][0]["actor"] == "alice"  # the request is the requester's
        assert [x["id"] for x in alice.get("/api/requests").json()] == [r["id"]]
        # the date of receipt: not in the future, not before Decision 81 came into force (15 Feb 2011)
        tomorrow = (calendar.today_vn() + timedelta(days=1)).isoformat()
        future = olga.post("/api/requests/paper", json={**paper, "received": tomorrow})
        assert future.status_code == 400 and "future" in future.text
        ancient = olga.post("/api/requests/paper", json={**paper, "received": "2010-06-01"})
        assert ancient.status_code == 400 and "2011-02-15" in ancient.text
        assert olga.post("/api/requests/paper", json={**paper, "requester": "oscar"}).status_code == 400
        assert olga.post("/api/requests/paper", json={**paper, "requester": "nobody"}).status_code == 404
    with connect(archive.settings.internal_database_dsn) as conn:
        row = conn.execute("SELECT channel, u.name FROM rsarchive.data_requests r JOIN rsarchive.users u "
                           "ON u.id = r.entered_by WHERE r.id = %s", (r["id"],)).fetchone()
        assert row == ("paper", "olga")
        assert conn.execute("SELECT count(*) FROM rsarchive.data_requests").fetchone()[0] == 1


def test_individual_requester(archive: Archive, live_url: str, tmp_path: Any) -> None:
    # an individual: no organisation, an ID number and a contact; neither → refused, naming both ways
    refused = run(archive, "users", "add", "lan", "--role", "requester", "--id-number", "001190012345", ok=False)
    assert isinstance(refused.exception, UsageError) and "--contact" in str(refused.exception)
    mixed = run(archive, "users", "add", "lan", "--role", "requester", "--org", "X", "--id-number", "1",
                "--contact", "c", ok=False)
    assert isinstance(mixed.exception, UsageError)
    token = run(archive, "users", "add", "lan", "--role", "requester", "--id-number", "001190012345",
                "--contact", "lan@example.vn, 0912 345 678").stdout.strip().splitlines()[0]
    # the database refuses a requester that is neither an organisation's member nor an individual
    with connect(archive.settings.internal_database_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO rsarchive.users (name, role) VALUES ('ghost', 'requester')")

    with httpx.Client(base_url=live_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as lan, \
            _api(live_url, archive, "alice") as alice, _api(live_url, archive, "olga") as olga:
        assert lan.get("/api/me").json()["organisation"] is None
        # an individual names no organisation on the form
        assert lan.post("/api/requests", json=request_body(organisation="Viện X")).status_code == 400
        mine = lan.post("/api/requests", json=request_body(purpose="research_education"))
        assert mine.status_code == 201, mine.text
        rid = mine.json()["id"]
        assert mine.json()["organisation"] == "lan"
        theirs = alice.post("/api/requests", json=request_body()).json()["id"]
        # an individual sees only its own requests; nobody else but officers sees them
        assert [x["id"] for x in lan.get("/api/requests").json()] == [rid]
        assert lan.get(f"/api/requests/{theirs}").status_code == 404
        assert alice.get(f"/api/requests/{rid}").status_code == 404
        assert {x["id"] for x in olga.get("/api/requests").json()} == {rid, theirs}
        # organisational users are still held to their organisation
        assert alice.post("/api/requests", json=request_body(organisation="UBND tỉnh Quảng Ninh")).status_code == 400
        # approved and fulfilled like any request: the licence names the person; only the person downloads
        assert olga.post(f"/api/requests/{rid}/approve", json={}).status_code == 200
        assert olga.post(f"/api/requests/{rid}/fulfil").status_code == 200
        delivered = lan.get(f"/api/requests/{rid}/delivery")
        assert delivered.status_code == 200 and delivered.json()["licence"]["licensee"] == "lan"
        assert alice.get(f"/api/requests/{rid}/delivery").status_code == 404
        # an individual complains like anyone else
        complaint = lan.post(f"/api/requests/{rid}/complaints",
                             json={"subject": "delay", "description": "Chưa nhận được trả lời."})
        assert complaint.status_code == 201 and complaint.json()["organisation"] == "lan"
        assert alice.get(f"/api/complaints/{complaint.json()['id']}").status_code == 404

    # a second individual does not see the first one's requests
    with transaction(archive.settings) as conn:
        identity.add_user(conn, "minh", "requester", id_number="079200001111", contact="Huế")
        minh = identity.principal_by_name(conn, "minh")
        from rsarchive.requests import lifecycle

        assert lifecycle.list_requests(conn, minh) == []

    # a paper request of an individual, entered with the CLI
    form = tmp_path / "form.json"
    form.write_text(json.dumps(request_body(purpose="research_education")), encoding="utf-8")
    out = run(archive, "requests", "enter", str(form), "--for", "lan", "--received", "2026-12-01", "--as", "olga",
              "--reference", "Đơn ngày 01/12/2026").stdout.split()
    assert out[1] == "2026-12-10"
    nameless = run(archive, "requests", "enter", str(form), "--for", "lan", "--received", "2026-12-01", ok=False)
    assert isinstance(nameless.exception, UsageError) and "named officer" in str(nameless.exception)
