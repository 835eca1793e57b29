"""The requests API against a real PostgreSQL + pgSTAC: roles, visibility, lifecycle,
fulfilment with signed downloads, error reports and withdrawal, coverage."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from pypdf import PdfReader

from reqfixtures import Archive, assert_link_is_alice_s_alone, pay_in_full, request_body

from rsarchive.db import connect, transaction
from rsarchive.requests import lifecycle
from rsarchive.requests.fees import load_schedule
from rsarchive.users import identity

pytestmark = pytest.mark.services


def submit(client: Any, archive: Archive, user: str = "alice", **changes: Any) -> dict[str, Any]:
    response = client.post("/api/requests", json=request_body(**changes), headers=archive.headers(user))
    assert response.status_code == 201, response.text
    return response.json()


def test_tokens_and_roles(client: Any, archive: Archive) -> None:
    assert client.get("/api/requests").status_code == 401  # no token
    wrong = client.get("/api/requests", headers={"Authorization": "Bearer rsa_not-a-token"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/requests", headers={"Authorization": "Basic YTpi"}).status_code == 401
    assert client.get("/api/me", headers=archive.headers("alice")).json()["organisation"] == "Bộ Tài nguyên và Môi trường"
    # insufficient role → 403: an operator may not submit or list requests, a requester may not review
    assert client.get("/api/requests", headers=archive.headers("oscar")).status_code == 403
    assert client.post("/api/requests", json=request_body(), headers=archive.headers("olga")).status_code == 403
    rid = submit(client, archive)["id"]
    assert client.post(f"/api/requests/{rid}/approve", headers=archive.headers("alice")).status_code == 403
    assert client.get("/api/requests/queue", headers=archive.headers("bob")).status_code == 403
    # revoked → 401, for every token of the user
    with transaction(archive.settings) as conn:
        assert identity.revoke_user(conn, "bob") == 1
    assert client.get("/api/requests", headers=archive.headers("bob")).status_code == 401
    # tokens are stored only as digests
    with connect(archive.settings.internal_database_dsn) as conn:
        stored = [r[0] for r in conn.execute("SELECT token_sha256 FROM rsarchive.api_tokens")]
    assert archive.tokens["alice"] not in stored and identity.token_digest(archive.tokens["alice"]) in stored


def test_invalid_form_lists_each_field(client: Any, archive: Archive) -> None:
    body = request_body(purpose="tourism", levels=[], intended_use="x", contact={"name": "", "email": "nope"})
    response = client.post("/api/requests", json=body, headers=archive.headers("alice"))
    assert response.status_code == 422
    fields = {tuple(e["loc"][1:]) for e in response.json()["detail"]}
    assert {("purpose",), ("levels",), ("intended_use",), ("contact", "name"), ("contact", "email")} <= fields
    both = request_body(aoi={"type": "Point", "coordinates": [105, 21]})
    response = client.post("/api/requests", json=both, headers=archive.headers("alice"))
    assert response.status_code == 422 and "exactly one of aoi" in response.text
    bad_box = request_body(bbox=[106, 21, 105, 22], end="2024-01-01")
    response = client.post("/api/requests", json=bad_box, headers=archive.headers("alice"))
    assert response.status_code == 422 and "end is before start" in response.text


def test_requester_sees_only_its_organisation(client: Any, archive: Archive) -> None:
    mine = submit(client, archive, "alice")
    theirs = submit(client, archive, "bob", contact={"name": "Trần B", "email": "b@quangninh.gov.vn"})
    colleague = client.get("/api/requests", headers=archive.headers("anna")).json()
    assert [r["id"] for r in colleague] == [mine["id"]]  # same organisation as alice
    assert [r["id"] for r in client.get("/api/requests", headers=archive.headers("bob")).json()] == [theirs["id"]]
    # another organisation's request is "not found", exactly like one that does not exist
    foreign = client.get(f"/api/requests/{mine['id']}", headers=archive.headers("bob"))
    missing = client.get("/api/requests/999999", headers=archive.headers("bob"))
    assert foreign.status_code == missing.status_code == 404
    assert client.post(f"/api/requests/{mine['id']}/cancel", headers=archive.headers("bob")).status_code == 404
    officer = client.get("/api/requests", headers=archive.headers("olga")).json()
    assert {r["id"] for r in officer} == {mine["id"], theirs["id"]}


def test_classified_item_is_not_revealed(client: Any, archive: Archive) -> None:
    def ask(user: str, item: str) -> Any:
        return client.post("/api/requests", json=request_body(items=[item]), headers=archive.headers(user))

    secret, nonexistent = ask("alice", "VNR1_PRODUCT_S"), ask("alice", "VNR1_PRODUCT_X")
    assert secret.status_code == nonexistent.status_code == 404
    assert secret.json()["description"].replace("VNR1_PRODUCT_S", "ID") == \
        nonexistent.json()["description"].replace("VNR1_PRODUCT_X", "ID")
    assert ask("sam", "VNR1_PRODUCT_S").status_code == 201  # cleared for secret
    # coverage does not count it either
    query = {"bbox": [105.1, 21.1, 105.2, 21.2], "start": "2024-03-01", "end": "2024-03-31"}
    assert client.post("/api/coverage", json=query, headers=archive.headers("alice")).json()["item_count"] == 0
    assert client.post("/api/coverage", json=query, headers=archive.headers("sam")).json()["item_count"] == 1


def test_refusal_needs_a_reason_and_writes_a_letter(client: Any, archive: Archive) -> None:
    rid = submit(client, archive)["id"]
    officer = archive.headers("olga")
    assert client.post(f"/api/requests/{rid}/refuse", json={}, headers=officer).status_code == 422
    assert client.post(f"/api/requests/{rid}/refuse", json={"reason": "   "}, headers=officer).status_code == 422
    assert client.get(f"/api/requests/{rid}", headers=officer).json()["status"] == "submitted"
    with transaction(archive.settings) as conn, pytest.raises(Exception, match="written reason"):
        lifecycle.refuse(conn, identity.principal_by_name(conn, "olga"), rid, "")
    reason = "Khu vực yêu cầu thuộc vùng cấm; the area is a restricted military zone."
    refused = client.post(f"/api/requests/{rid}/refuse", json={"reason": reason}, headers=officer).json()
    assert refused["status"] == "refused" and refused["refusal_reason"] == reason
    today = datetime.now(timezone.utc).astimezone(lifecycle.calendar.VN_TZ).date().isoformat()
    html = client.get(f"/api/requests/{rid}/letter.html", headers=archive.headers("alice"))
    assert html.status_code == 200 and reason in html.text and today in html.text
    pdf = client.get(f"/api/requests/{rid}/letter.pdf", headers=archive.headers("alice"))
    assert pdf.headers["content-type"] == "application/pdf"
    import io

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "restricted military zone" in " ".join(text.split()) and today in text
    # refused is final
    assert client.post(f"/api/requests/{rid}/approve", headers=officer).status_code == 409
    history = [e["to"] for e in client.get(f"/api/requests/{rid}", headers=officer).json()["history"]]
    assert history == ["submitted", "refused"]


def test_fulfilment_delivery_and_signed_downloads(client: Any, archive: Archive) -> None:
    created = submit(client, archive, levels=["product", "raw"], bands=["B1"])
    rid, officer = created["id"], archive.headers("olga")
    assert client.post(f"/api/requests/{rid}/fulfil", headers=officer).status_code == 409  # not approved yet
    assert client.post(f"/api/requests/{rid}/review", headers=officer).json()["status"] == "in_review"
    assert client.post(f"/api/requests/{rid}/approve", json={"contract_ref": "HD-2024-17"},
                       headers=officer).json()["status"] == "approved"
    fulfilled = client.post(f"/api/requests/{rid}/fulfil", headers=officer)
    assert fulfilled.status_code == 200, fulfilled.text
    assert fulfilled.json()["status"] == "fulfilled"

    delivery = client.get(f"/api/requests/{rid}/delivery", headers=archive.headers("alice")).json()
    # spring period, product+raw, alice is not cleared for the secret scene; C is out of the period
    assert [i["id"] for i in delivery["items"]] == ["VNR1_PRODUCT_A", "VNR1_RAW_R", "VNR1_PRODUCT_B"]
    assert {a["key"] for a in delivery["items"][0]["assets"]} == {"B1", "QA"}  # band B1 + the quality band
    assert all("href" not in a for i in delivery["items"] for a in i["assets"])  # storage paths stay inside
    assert delivery["licence"]["third_party_transfer_allowed"] is False
    assert "third party" in delivery["licence"]["terms_en"] and "bên thứ ba" in delivery["licence"]["terms_vi"]
    fee = delivery["fee_statement"]
    # state management pays the table's rate (Art. 3.1, Circular 187/2016/TT-BTC as amended), one line per item
    table = load_schedule()
    assert fee["currency"] == "VND" and fee["basis"].startswith("Art. 3.1, Circular 187/2016/TT-BTC")
    assert [line["item_id"] for line in fee["lines"]] == [i["id"] for i in delivery["items"]]
    assert [line["amount"] for line in fee["lines"]] == [table.row_for(i["level"], 10.0).rate for i in delivery["items"]]
    assert fee["total"] == sum(line["amount"] for line in fee["lines"])
    # unpaid: no links yet; paid in full: released
    assert not delivery["payment"]["released"] and delivery["payment"]["due"] == fee["total"]
    assert all("url" not in a for i in delivery["items"] for a in i["assets"])
    pay_in_full(client, archive, rid)
    delivery = client.get(f"/api/requests/{rid}/delivery", headers=archive.headers("alice")).json()

    asset = delivery["items"][0]["assets"][0]
    url = asset["url"].removeprefix("http://testserver")
    got = client.get(url, headers=archive.headers("alice"))
    assert got.status_code == 200
    assert "1220" + __import__("hashlib").sha256(got.content).hexdigest() == asset["checksum"]
    # the same link fails for another requester, no token, tampered or expired
    assert_link_is_alice_s_alone(client, url, archive.headers, archive.settings, rid)
    # anna gets links of her own
    anna = client.get(f"/api/requests/{rid}/delivery", headers=archive.headers("anna")).json()
    anna_url = anna["items"][0]["assets"][0]["url"].removeprefix("http://testserver")
    assert client.get(anna_url, headers=archive.headers("anna")).content == got.content
    with connect(archive.settings.internal_database_dsn) as conn:
        logged = conn.execute("SELECT u.name, d.item_id, d.asset, d.bytes, d.completed FROM rsarchive.downloads d "
                              "JOIN rsarchive.users u ON u.id = d.user_id ORDER BY d.id").fetchall()
    assert logged == [("alice", "VNR1_PRODUCT_A", "B1", len(got.content), True),
                      ("anna", "VNR1_PRODUCT_A", "B1", len(got.content), True)]
    events = client.get(f"/api/requests/{rid}", headers=officer).json()["history"]
    assert [e["to"] or e["action"] for e in events] == ["submitted", "in_review", "approved", "fulfilled", "payment"]


def test_cost_only_fee_for_emergencies(client: Any, archive: Archive) -> None:
    rid = submit(client, archive, "sam", purpose="security_defence_emergency",
                 contact={"name": "Lê C", "email": "c@mod.gov.vn"})["id"]
    officer = archive.headers("olga")
    client.post(f"/api/requests/{rid}/approve", headers=officer)
    assert client.post(f"/api/requests/{rid}/fulfil", headers=officer).status_code == 200
    delivery = client.get(f"/api/requests/{rid}/delivery", headers=archive.headers("sam")).json()
    assert "VNR1_PRODUCT_S" in [i["id"] for i in delivery["items"]]  # sam is cleared for it
    fee = delivery["fee_statement"]
    assert "Art. 3.2, Circular 187/2016/TT-BTC" in fee["basis"]
    # 60 % of the table's rate for security, defence and emergencies (Art. 3.2 as amended)
    table = load_schedule()
    assert fee["total"] == sum(round(0.6 * table.row_for(i["level"], 10.0).rate) for i in delivery["items"])


def test_error_report_and_withdrawal_from_public_catalog(client: Any, archive: Archive) -> None:
    rid = submit(client, archive)["id"]
    officer = archive.headers("olga")
    client.post(f"/api/requests/{rid}/approve", headers=officer)
    client.post(f"/api/requests/{rid}/fulfil", headers=officer)
    bad = {"item_id": "VNR1_PRODUCT_C", "description": "not in my delivery"}
    assert client.post(f"/api/requests/{rid}/reports", json=bad, headers=archive.headers("alice")).status_code == 404
    report = client.post(f"/api/requests/{rid}/reports", headers=archive.headers("alice"),
                         json={"item_id": "VNR1_PRODUCT_B", "description": "Stripes across band B2"})
    assert report.status_code == 201
    report_id = report.json()["id"]
    assert [r["id"] for r in client.get("/api/reports", headers=officer).json()] == [report_id]
    assert client.get("/api/reports", headers=archive.headers("bob")).json() == []
    with connect(archive.settings.public_database_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pgstac.items WHERE id = 'VNR1_PRODUCT_B'").fetchone()[0] == 1
    triage = {"action": "withdraw", "note": "Striping confirmed; withdrawn until reprocessed"}
    assert client.post(f"/api/reports/{report_id}/triage", json=triage,
                       headers=archive.headers("alice")).status_code == 403
    done = client.post(f"/api/reports/{report_id}/triage", json=triage, headers=officer)
    assert done.status_code == 200 and done.json()["status"] == "withdrawn"
    with connect(archive.settings.public_database_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pgstac.items WHERE id = 'VNR1_PRODUCT_B'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pgstac.items WHERE id = 'VNR1_PRODUCT_A'").fetchone()[0] == 1
    with connect(archive.settings.internal_database_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pgstac.items WHERE id = 'VNR1_PRODUCT_B'").fetchone()[0] == 1
        actions = conn.execute("SELECT item_id, action FROM rsarchive.item_actions").fetchall()
    assert actions == [("VNR1_PRODUCT_B", "withdrawn")]
    assert client.post(f"/api/reports/{report_id}/triage", json=triage, headers=officer).status_code == 409


def test_overdue_and_due_soon_queue(client: Any, archive: Archive) -> None:
    with transaction(archive.settings) as conn:
        alice = identity.principal_by_name(conn, "alice")
        from rsarchive.requests.models import RequestForm

        old = lifecycle.submit(conn, alice, RequestForm.model_validate(request_body()),
                               received_at=datetime(2024, 1, 2, 2, 0, tzinfo=timezone.utc))
    assert old.due_date.isoformat() == "2024-01-11"
    fresh = submit(client, archive)
    queue = client.get("/api/requests/queue", params={"soon": 10}, headers=archive.headers("olga")).json()
    assert [r["id"] for r in queue["overdue"]] == [old.id]
    assert queue["overdue"][0]["overdue"] is True and queue["overdue"][0]["working_days_left"] < 0
    assert [r["id"] for r in queue["due_soon"]] == [fresh["id"]]
    assert fresh["working_days_left"] == 7
    history = client.get(f"/api/requests/{old.id}", headers=archive.headers("olga")).json()["history"]
    assert history[0]["detail"]["due_date"] == "2024-01-11" and "day 1 = next working day" in history[0]["detail"]["rule"]


def test_coverage_route(client: Any, archive: Archive) -> None:
    query = {"bbox": [105.0, 21.0, 105.2, 21.2], "start": "2024-03-01", "end": "2024-03-31", "levels": ["product"]}
    result = client.post("/api/coverage", json=query, headers=archive.headers("oscar")).json()
    # A and B cover the southern half; C is out of the period, S is secret
    assert result["item_count"] == 2 and result["fraction"] == pytest.approx(0.5, abs=0.002)
    gap = result["uncovered"]["geometry"]
    from shapely.geometry import box, shape

    assert shape(gap).symmetric_difference(box(105.0, 21.1, 105.2, 21.2)).area < 1e-9
    assert client.post("/api/coverage", json=query | {"max_gsd": 5}, headers=archive.headers("oscar")).json()["fraction"] == 0
