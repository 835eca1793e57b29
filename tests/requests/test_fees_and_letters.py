"""Fee statements per Circular 187/2016/TT-BTC as amended by Circular 108/2017/TT-BTC, payment gating, and
refusal letters (Art. 8.2(c)).

The expected figures come from the percentages of the Circular as written (Art. 3 as rewritten by Art. 1 of
Circular 108/2017/TT-BTC): security, defence or emergency use pays "60% mức phí quy định tại khoản 1" (Art. 3.2);
data "từ 3 năm (36 tháng) trở lên" pays "50% mức thu" of the table; "miễn thu phí … yêu cầu trực tiếp của lãnh đạo
Đảng và Nhà nước" (Art. 3.3).  The Circular's table itself could not be read, so these tests price from a test
table of round rates (1 000 000 đ a scene, 2 000 đ a km²) and check the shipped table is marked placeholder.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from rsarchive.errors import ConfigError, ConflictError
from rsarchive.requests import letters
from rsarchive.requests.fees import FeeSchedule, load_schedule
from rsarchive.requests.lifecycle import RequestRecord

TABLE = """
currency = "VND"
source = "test table"
[purpose_rules]
security_defence_emergency = "fee.security-defence-emergency"
party_state_leaders = "fee.exempt-leaders"
[[rows]]
key = "product-km2"
label_vi = "Sản phẩm ảnh theo km²"
label_en = "Image product per km²"
level = "product"
min_gsd_m = 20.0
unit = "km2"
rate = 2000
[[rows]]
key = "product"
label_vi = "Sản phẩm ảnh"
label_en = "Image product"
level = "product"
unit = "scene"
rate = 1000000
max_gsd_m = 20.0
[[rows]]
key = "raw"
label_vi = "Ảnh thô"
label_en = "Raw image"
level = "raw"
unit = "scene"
rate = 1000000
"""
RECENT = {"id": "NEW", "level": "product", "gsd": 10.0, "datetime": "2024-03-01T03:10:00Z"}
# acquired 03:10 on 14 Jan 2021 UTC + 20 h = 15 Jan 2021 in Vietnam (UTC+7)
OLD = {"id": "OLD", "level": "product", "gsd": 10.0, "datetime": "2021-01-14T20:00:00Z"}
DELIVERED = date(2024, 1, 15)   # OLD is exactly 36 months old (15 Jan 2021 → 15 Jan 2024)


@pytest.fixture
def table(tmp_path: Path) -> FeeSchedule:
    (tmp_path / "fees.toml").write_text(TABLE, encoding="utf-8")
    return load_schedule(tmp_path)


def test_commercial_pays_the_table_rate(table: FeeSchedule) -> None:
    fee = table.statement("commercial_other", [RECENT], DELIVERED)
    assert fee["total"] == 1_000_000 and not fee["exempt"]
    line = fee["lines"][0]
    assert line["rules"] == ["fee.levels"] and line["percent"] == 100
    assert line["cite_vi"] == "Điều 3.1 Thông tư 187/2016/TT-BTC (sửa đổi bởi Thông tư 108/2017/TT-BTC)"
    assert line["cite"] == "Art. 3.1, Circular 187/2016/TT-BTC (as amended by Circular 108/2017/TT-BTC)"
    assert line["description_vi"].startswith("Sản phẩm ảnh") and line["description"].startswith("Image product")
    # the statement is issued in the name of the ministry of the legal basis, not the former one
    assert fee["issuer_vi"].endswith("Bộ Nông nghiệp và Môi trường")
    assert fee["issuer"].endswith("Ministry of Agriculture and Environment")


def test_security_and_defence_pay_60_percent(table: FeeSchedule) -> None:
    fee = table.statement("security_defence_emergency", [RECENT], DELIVERED)
    assert fee["total"] == 600_000                       # 60 % × 1 000 000 (Art. 3.2)
    assert "Điều 3.2 Thông tư 187/2016/TT-BTC" in fee["lines"][0]["cite_vi"]
    assert "Art. 3.2, Circular 187/2016/TT-BTC" in fee["basis"]


def test_emergency_use_per_km2(table: FeeSchedule) -> None:
    """An emergency (the same clause as security and defence) priced per km²: 150.5 km² × 2 000 đ × 60 %."""
    coarse = {"id": "WIDE", "level": "product", "gsd": 30.0, "datetime": "2024-03-01T03:10:00Z", "area_km2": 150.5}
    fee = table.statement("security_defence_emergency", [coarse], DELIVERED)
    assert fee["lines"][0]["row"] == "product-km2" and fee["lines"][0]["quantity"] == 150.5
    assert fee["total"] == 180_600                       # 301 000 × 60 %


def test_leaders_direct_request_is_exempt(table: FeeSchedule) -> None:
    fee = table.statement("party_state_leaders", [RECENT, OLD], DELIVERED)
    assert fee["total"] == 0 and fee["exempt"]
    assert all("Điều 3.3" in line["cite_vi"] for line in fee["lines"])


def test_data_36_months_old_pays_half(table: FeeSchedule) -> None:
    fee = table.statement("commercial_other", [OLD, RECENT], DELIVERED)
    assert [line["amount"] for line in fee["lines"]] == [500_000, 1_000_000]   # 50 % for 36 months and more
    assert fee["lines"][0]["acquired"] == "2021-01-15"                         # its day in Vietnam
    assert "fee.age-reduction" in fee["lines"][0]["rules"]
    day_before = table.statement("commercial_other", [OLD], date(2024, 1, 14))
    assert day_before["total"] == 1_000_000                                    # 35 months and 30 days: full


def test_reductions_combine_by_multiplying(table: FeeSchedule) -> None:
    """60 % of the clause-1 fee, which for old data is 50 % of the table: 30 % of 1 000 000."""
    fee = table.statement("security_defence_emergency", [OLD], DELIVERED)
    assert fee["total"] == 300_000 and fee["lines"][0]["percent"] == 30
    assert fee["lines"][0]["rules"] == ["fee.levels", "fee.age-reduction", "fee.security-defence-emergency"]


def test_fee_rules_say_what_the_circular_says() -> None:
    """The numbers the code uses are the ones in the rules' quoted Vietnamese text."""
    from rsarchive.law import load_basis

    basis = load_basis()
    security, exempt, age = (basis.rule(k) for k in ("fee.security-defence-emergency", "fee.exempt-leaders",
                                                      "fee.age-reduction"))
    assert "bằng 60% mức phí quy định tại khoản 1" in security.text_vi and security.rate_percent == 60
    assert security.confirmed and security.article == "3.2" and security.amended_by == "circular-108-2017"
    assert "Miễn thu phí" in exempt.text_vi and "lãnh đạo Đảng và Nhà nước" in exempt.text_vi
    assert exempt.rate_percent == 0 and exempt.article == "3.3"
    assert "36 tháng" in age.text_vi and "50%" in age.text_vi and age.rate_percent == 50
    assert (age.period.count, age.period.unit) == (36, "months")


def test_shipped_table_is_marked_placeholder() -> None:
    schedule = load_schedule()
    assert schedule.rows and all(row.placeholder for row in schedule.rows)
    fee = schedule.statement("commercial_other", [RECENT], DELIVERED)
    assert fee["placeholder_rates"] and "giá trị tạm" in fee["note_vi"] and "placeholder" in fee["note"]


def test_bad_schedule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        FeeSchedule.load(tmp_path / "fees.toml")
    (tmp_path / "fees.toml").write_text("currency = 'VND'\n[purpose_rules]\n")
    with pytest.raises(ConfigError, match="missing or has a bad value"):
        FeeSchedule.load(tmp_path / "fees.toml")
    (tmp_path / "fees.toml").write_text(TABLE.replace("rate = 2000", "rate = -1"))
    with pytest.raises(ConfigError, match="rate"):
        FeeSchedule.load(tmp_path / "fees.toml")


def test_no_row_for_a_level(table: FeeSchedule) -> None:
    with pytest.raises(ConfigError, match="no row for level 'original'"):
        table.statement("commercial_other", [{**RECENT, "level": "original"}], DELIVERED)


def refused(reason: str, status: str = "refused") -> RequestRecord:
    at = datetime(2025, 4, 29, 4, 0, tzinfo=timezone.utc)
    return RequestRecord(
        id=42, organisation_id=1, organisation="Sở TN&MT Hải Phòng", submitted_by="alice", status=status,
        purpose="commercial_other", area={}, received_at=datetime(2025, 4, 25, 2, 0, tzinfo=timezone.utc),
        due_date=date(2025, 5, 8), decided_at=at if status == "refused" else None,
        refusal_reason=reason if status == "refused" else None, updated_at=at,
        form={"start": "2024-01-01", "end": "2024-12-31", "contact": {"name": "Phạm D", "email": "d@hp.gov.vn"}},
        history=[{"to": "refused", "actor": "olga"}])


def test_letter_html_and_pdf_contain_reason_and_date() -> None:
    reason = "Dữ liệu thuộc danh mục bí mật nhà nước <độ Mật>; the data are a state secret."
    letter = letters.RefusalLetter.of(refused(reason))
    assert letter.date == date(2025, 4, 29)
    html = letters.render_html(letter)
    assert "Dữ liệu thuộc danh mục bí mật nhà nước &lt;độ Mật&gt;" in html  # escaped
    assert "2025-04-29" in html and "ngày 29 tháng 04 năm 2025" in html
    assert "THÔNG BÁO TỪ CHỐI" in html and "Notice of refusal" in html and "olga" in html
    text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(letters.render_pdf(letter))).pages).split())
    assert "Dữ liệu thuộc danh mục bí mật nhà nước <độ Mật>; the data are a state secret." in text
    assert "2025-04-29" in text and "Request no.: 42" in text and "Sở TN&MT Hải Phòng" in text


def test_no_letter_unless_refused() -> None:
    with pytest.raises(ConflictError, match="only a refused request"):
        letters.RefusalLetter.of(refused("x", status="approved"))


def test_letter_dates_the_vietnamese_way() -> None:
    """Issue #21: the Vietnamese text writes dates day first (29/04/2025), before the English ISO date."""
    letter = letters.RefusalLetter.of(refused("Khu vực cấm / restricted zone"))
    html = letters.render_html(letter)
    assert "Hà Nội, ngày 29 tháng 04 năm 2025 (29/04/2025) / Date:" in html
    assert html.index("29/04/2025") < html.index("2025-04-29")
    text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(letters.render_pdf(letter))).pages).split())
    assert "(29/04/2025) / Date: 2025-04-29" in text
    assert "01/01/2024 – 31/12/2024 / 2024-01-01 – 2024-12-31" in html
    assert "Thương mại, khác / Commercial and other" in html          # the purpose, Vietnamese first


def test_letter_names_the_ministry_and_cites_the_basis() -> None:
    """The issuer is the ministry of the legal basis (Bộ Nông nghiệp và Môi trường since 1 March 2025), and the
    refusal cites the rule request.reply; the old ministry is not named."""
    from rsarchive.law import load_basis

    basis = load_basis()
    letter = letters.RefusalLetter.of(refused("Khu vực cấm / restricted zone"))
    html = letters.render_html(letter)
    text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(letters.render_pdf(letter))).pages).split())
    for page in (html, text):
        assert "Bộ Nông nghiệp và Môi trường" in page and "Ministry of Agriculture and Environment" in page
        assert "Bộ Tài nguyên và Môi trường" not in page
        assert f"Căn cứ {basis.rule('request.reply').cite('vi')}" in page
        assert f"Under {basis.rule('request.reply').cite('en')}" in page


# Payment gating (real PostgreSQL, the requests API) ------------------------------------------------------------

def _fulfilled(client: Any, archive: Any, user: str = "alice", **changes: Any) -> int:
    from reqfixtures import request_body

    created = client.post("/api/requests", json=request_body(**changes), headers=archive.headers(user))
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    officer = archive.headers("olga")
    assert client.post(f"/api/requests/{rid}/approve", headers=officer).status_code == 200
    assert client.post(f"/api/requests/{rid}/fulfil", headers=officer).status_code == 200
    return int(rid)


def _token_for(archive: Any, rid: int, user: str) -> str:
    from rsarchive.db import transaction
    from rsarchive.requests import downloads
    from rsarchive.users import identity

    with transaction(archive.settings) as conn:
        key = downloads.signing_key(conn)
        uid = identity.principal_by_name(conn, user).user_id
    return downloads.issue(key, rid, "VNR1_PRODUCT_A", "B1", uid)


def test_unpaid_delivery_is_not_released(client: Any, archive: Any) -> None:
    rid = _fulfilled(client, archive)
    alice, officer = archive.headers("alice"), archive.headers("olga")
    delivery = client.get(f"/api/requests/{rid}/delivery", headers=alice).json()
    due = delivery["payment"]["due"]
    assert due == delivery["fee_statement"]["total"] > 0 and not delivery["payment"]["released"]
    assert all("url" not in a for i in delivery["items"] for a in i["assets"])     # no links while unpaid
    # a link made anyway is refused, in both languages, naming the amount due
    held = client.get(f"/downloads/{_token_for(archive, rid, 'alice')}", headers=alice)
    assert held.status_code == 402
    answer = held.json()
    vi, en = answer["description_vi"], answer["description_en"]
    assert answer["description"] == vi  # Vietnamese unless asked otherwise
    assert f"{due:,}".replace(",", ".") + " đ" in vi and f"{due:,} VND" in en
    assert "chưa được cung cấp" in vi and "not released" in en
    # a requester cannot record a payment; bad payments are refused and nothing is stored
    body = {"amount": due // 2, "paid_on": "2026-01-05", "reference": "BL-17"}
    assert client.post(f"/api/requests/{rid}/payments", json=body, headers=alice).status_code == 403
    assert client.post(f"/api/requests/{rid}/payments", json={**body, "amount": due + 1},
                       headers=officer).status_code == 400
    assert client.post(f"/api/requests/{rid}/payments", json={**body, "reference": ""},
                       headers=officer).status_code == 422
    assert client.post(f"/api/requests/{rid}/payments", json={**body, "paid_on": "2999-01-01"},
                       headers=officer).status_code == 422
    # half paid: still held, the rest due
    half = client.post(f"/api/requests/{rid}/payments", json=body, headers=officer)
    assert half.status_code == 201 and half.json()["due"] == due - due // 2 and not half.json()["released"]
    assert client.get(f"/downloads/{_token_for(archive, rid, 'alice')}", headers=alice).status_code == 402
    # paid in full: released, links issued and served
    rest = client.post(f"/api/requests/{rid}/payments", headers=officer,
                       json={"amount": due - due // 2, "paid_on": "2026-01-06", "reference": "BL-18"})
    assert rest.json()["released"] and rest.json()["paid"] == due
    assert [p["reference"] for p in rest.json()["payments"]] == ["BL-17", "BL-18"]
    delivery = client.get(f"/api/requests/{rid}/delivery", headers=alice).json()
    url = delivery["items"][0]["assets"][0]["url"].removeprefix("http://testserver")
    assert client.get(url, headers=alice).status_code == 200
    history = client.get(f"/api/requests/{rid}", headers=officer).json()["history"]
    assert [e["action"] for e in history][-2:] == ["payment", "payment"]


def test_exempt_delivery_is_released_without_payment(client: Any, archive: Any) -> None:
    rid = _fulfilled(client, archive, purpose="party_state_leaders")
    alice = archive.headers("alice")
    delivery = client.get(f"/api/requests/{rid}/delivery", headers=alice).json()
    assert delivery["fee_statement"]["total"] == 0 and delivery["fee_statement"]["exempt"]
    assert "Art. 3.3, Circular 187/2016/TT-BTC" in delivery["fee_statement"]["basis"]
    assert delivery["payment"]["released"] and delivery["payment"]["due"] == 0
    url = delivery["items"][0]["assets"][0]["url"].removeprefix("http://testserver")
    assert client.get(url, headers=alice).status_code == 200
    nothing = client.post(f"/api/requests/{rid}/payments", headers=archive.headers("olga"),
                          json={"amount": 1000, "paid_on": "2026-01-05", "reference": "BL-1"})
    assert nothing.status_code == 400 and "owes no fee" in nothing.json()["description"]
