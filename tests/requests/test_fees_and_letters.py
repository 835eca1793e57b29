"""Fee statements (Art. 11) from config/fees.toml, and refusal letters (Art. 8.2(c))."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader

from rsarchive.errors import ConfigError, ConflictError
from rsarchive.requests import letters
from rsarchive.requests.fees import FeeSchedule, load_schedule
from rsarchive.requests.lifecycle import RequestRecord

ITEMS = [{"level": "product", "area_km2": 100.0}, {"level": "product", "area_km2": 50.5},
         {"level": "raw", "area_km2": 120.0}]


def test_schedule_fee() -> None:
    fee = load_schedule().statement("commercial_other", ITEMS)
    assert fee["currency"] == "VND" and fee["basis"].startswith("Art. 11.2")
    # 200 000 + product 2 × 2 500 000 + 150.5 km² × 3 500 + raw 1 × 1 500 000 + 120 km² × 2 000
    assert fee["total"] == 200_000 + 5_000_000 + 526_750 + 1_500_000 + 240_000
    assert [line["amount"] for line in fee["lines"]] == [200_000, 5_000_000, 526_750, 1_500_000, 240_000]


def test_cost_only_for_security_defence_emergency() -> None:
    fee = load_schedule().statement("security_defence_emergency", ITEMS)
    assert fee["basis"].startswith("Art. 11.1")
    assert fee["total"] == 200_000 + 3 * 50_000


def test_bad_schedule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        FeeSchedule.load(tmp_path / "fees.toml")
    (tmp_path / "fees.toml").write_text("currency = 'VND'\n[cost_only]\npurposes = []\n")
    with pytest.raises(ConfigError, match="missing or has a bad value"):
        FeeSchedule.load(tmp_path / "fees.toml")


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
