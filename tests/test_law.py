"""The legal basis: shipped configuration checked against the law's own text, and the period arithmetic
against hand-counted calendars (Civil Code 2015, Art. 147–148, as the module docstring states it)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rsarchive.errors import ConfigError
from rsarchive.law import LegalBasis, Period, load_basis

VN_NUMBERS = {"bảy (07)": 7, "ba mươi (30)": 30, "ba (03)": 3, "sáu (06)": 6}


def _article(text: str, number: str) -> str:
    """The text of Điều ``number`` (up to the next Điều) in the consolidated Vietnamese text."""
    start = re.search(rf"^Điều {re.escape(number)}\. ", text, re.M)
    assert start, f"Điều {number} not found"
    nxt = re.search(r"^Điều \d+[a-z]?\. ", text[start.end():], re.M)
    return text[start.start(): start.end() + (nxt.start() if nxt else len(text))]


@pytest.mark.parametrize(("rule", "article", "phrase", "unit_word"), [
    ("request.reply", "8", "bảy (07)", "ngày làm việc"),
    ("capability.answer", "13a", "ba mươi (30)", "ngày"),
    ("foreign.metadata", "13", "ba (03)", "tháng"),
])
def test_confirmed_time_limits_are_the_decisions_words(shared_dir: Path, rule: str, article: str, phrase: str,
                                                       unit_word: str) -> None:
    text = (shared_dir / "mission" / "decision-81-2010-vi.txt").read_text(encoding="utf-8")
    body = _article(text, article)
    assert f"{phrase} {unit_word}" in body, f"{phrase} {unit_word} not in Điều {article}"
    r = load_basis().rule(rule)
    assert r.confirmed and r.instrument == "decision-81-2010" and r.article.startswith(article)
    unit = {"ngày làm việc": "working_days", "ngày": "days", "tháng": "months"}[unit_word]
    assert (r.period.count, r.period.unit) == (VN_NUMBERS[phrase], unit)


def test_every_rule_cites_an_instrument_in_both_languages() -> None:
    basis = load_basis()
    assert basis.authority.ministry_vi == "Bộ Nông nghiệp và Môi trường"
    assert basis.authority.ministry_since == date(2025, 3, 1)
    for key, rule in basis.rules.items():
        assert rule.text_vi and rule.text_en, key
        assert rule.cite("vi").split()[-1] == rule.cite("en").split()[-1], key  # the same number
    assert basis.rule("request.reply").cite("vi") == "Điều 8.2(c) Quyết định 81/2010/QĐ-TTg"
    assert basis.rule("request.reply").cite("en") == "Art. 8.2(c), Decision 81/2010/QĐ-TTg"
    unconfirmed = basis.unconfirmed()
    assert all((f"rule {k}" in unconfirmed) != r.confirmed for k, r in basis.rules.items())
    # read on the legal-text sites in session 11 (the search tool): Decree 03 Art. 15.4, Law on Complaints Art. 27-28
    for key in ("purchase.opinion", "complaint.acceptance", "complaint.settlement"):
        assert basis.rule(key).confirmed and basis.rule(key).source, key


@pytest.mark.parametrize(("period", "event", "end"), [
    # 30 days after Mon 7 Dec 2026 → Wed 6 Jan 2027 (a working day)
    (Period(30, "days"), date(2026, 12, 7), date(2027, 1, 6)),
    # 10 days after Wed 21 Jan 2026 → Sat 31 Jan → Mon 2 Feb
    (Period(10, "days"), date(2026, 1, 21), date(2026, 2, 2)),
    # 3 months after 30 Nov 2026 → Sun 28 Feb 2027 (no 30 Feb: the month's last day) → Mon 1 Mar
    (Period(3, "months"), date(2026, 11, 30), date(2027, 3, 1)),
    # 1 month after 31 Jan 2025 → Fri 28 Feb 2025
    (Period(1, "months"), date(2025, 1, 31), date(2025, 2, 28)),
    # 30 days after 2 Jan 2026 → Sun 1 Feb 2026 → Mon 2 Feb
    (Period(30, "days"), date(2026, 1, 2), date(2026, 2, 2)),
    # 5 working days after Fri 24 Apr 2026: Mon 27 Apr is the day off for the Hùng Kings' day (Sun 26 Apr,
    # 10/3 lunar), 30 Apr and 1 May are holidays: 28, 29 Apr, 4, 5, 6 May
    (Period(5, "working_days"), date(2026, 4, 24), date(2026, 5, 6)),
    (Period(0, "year_end"), date(2026, 3, 1), date(2026, 12, 31)),
])
def test_period_end(period: Period, event: date, end: date) -> None:
    assert period.end(event) == end


def test_period_from_a_moment_counts_from_the_vietnamese_day() -> None:
    late = datetime(2026, 12, 6, 18, 0, tzinfo=timezone.utc)  # already Mon 7 Dec in Hà Nội
    assert Period(30, "days").end(late) == date(2027, 1, 6)
    assert Period(30, "days").end(late - timedelta(hours=2)) == date(2027, 1, 5)


def test_bad_legal_basis_is_refused_naming_what(tmp_path: Path) -> None:
    shipped = load_basis().path
    assert shipped is not None
    text = shipped.read_text(encoding="utf-8")
    bad = tmp_path / "law" / "legal-basis.toml"
    bad.parent.mkdir()
    bad.write_text(text.replace('instrument = "decree-03-2019"', 'instrument = "decree-99-2099"', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="decree-99-2099"):
        LegalBasis.load(bad)
    bad.write_text(text.replace('unit = "working_days"', 'unit = "fortnights"', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="legal basis .* is not valid"):
        load_basis(tmp_path)
    with pytest.raises(ConfigError, match="no rule 'nope'"):
        load_basis().rule("nope")
