"""The clocks of issue #22, from the shipped legal basis: complaint acceptance (10 days, Law on Complaints
Art. 27), settlement (30 days, 45 for a complex case, Art. 28), capability answers (30 days, Decision 81
Art. 13a), foreign metadata (3 months, Art. 13.4) and paper requests (7 working days from the real day of
receipt, Art. 8.2(c)).

Each expected date was counted by hand on the calendar: the day of the event is not counted (Civil Code
Art. 147); a period in days or months ending on a day that is not a working day ends on the next working
day (Art. 148(5)); the holidays are those of the ``holidays`` VN table (Tết 2026: Mon 16 – Fri 20 Feb;
Hùng Kings 2026: Mon 27 Apr for Sun 26 Apr; 30 Apr, 1 May; National Day 2026: Mon 31 Aug swapped off,
Tue 1 and Wed 2 Sep; 1 January).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from rsarchive.law import calendar, load_basis
from rsarchive.requests.paper import receipt_moment


def _end(rule: str, event: date, extended: bool = False) -> date:
    r = load_basis().rule(rule)
    period = r.extended_period if extended else r.period
    assert period is not None
    return period.end(event)


@pytest.mark.parametrize(("received", "due"), [
    # Mon 7 Dec 2026 + 10 → Thu 17 Dec (a working day)
    (date(2026, 12, 7), date(2026, 12, 17)),
    # Fri 9 Jan 2026 + 10 → Mon 19 Jan
    (date(2026, 1, 9), date(2026, 1, 19)),
    # Thu 5 Feb 2026 + 10 → Sun 15 Feb; Tết Mon 16 – Fri 20, weekend 21–22 → Mon 23 Feb
    (date(2026, 2, 5), date(2026, 2, 23)),
    # Tue 21 Apr 2026 + 10 → Fri 1 May (holiday), Sat 2, Sun 3 → Mon 4 May
    (date(2026, 4, 21), date(2026, 5, 4)),
])
def test_complaint_acceptance_ten_days(received: date, due: date) -> None:
    assert _end("complaint.acceptance", received) == due


@pytest.mark.parametrize(("accepted", "due"), [
    # Tue 1 Dec 2026 + 30 → Thu 31 Dec
    (date(2026, 12, 1), date(2026, 12, 31)),
    # Wed 2 Dec 2026 + 30 → Fri 1 Jan 2027 (New Year), Sat 2, Sun 3 → Mon 4 Jan
    (date(2026, 12, 2), date(2027, 1, 4)),
    # Mon 19 Jan 2026 + 30 → Wed 18 Feb: Tết (16–20), weekend → Mon 23 Feb
    (date(2026, 1, 19), date(2026, 2, 23)),
])
def test_complaint_settlement_thirty_days(accepted: date, due: date) -> None:
    assert _end("complaint.settlement", accepted) == due


@pytest.mark.parametrize(("accepted", "due"), [
    # Mon 7 Dec 2026 + 45: 24 days to 31 Dec, 21 more → Thu 21 Jan 2027
    (date(2026, 12, 7), date(2027, 1, 21)),
    # Tue 6 Jan 2026 + 45: 25 days to 31 Jan, 20 more → Fri 20 Feb (Tết), weekend → Mon 23 Feb
    (date(2026, 1, 6), date(2026, 2, 23)),
])
def test_complaint_settlement_forty_five_days_when_complex(accepted: date, due: date) -> None:
    assert _end("complaint.settlement", accepted, extended=True) == due


@pytest.mark.parametrize(("received", "due"), [
    # Fri 20 Nov 2026 + 30 → Sun 20 Dec → Mon 21 Dec
    (date(2026, 11, 20), date(2026, 12, 21)),
    # Mon 3 Aug 2026 + 30 → Wed 2 Sep (National Day) → Thu 3 Sep
    (date(2026, 8, 3), date(2026, 9, 3)),
    # Thu 1 Oct 2026 + 30 → Sat 31 Oct → Mon 2 Nov
    (date(2026, 10, 1), date(2026, 11, 2)),
])
def test_capability_answer_thirty_days(received: date, due: date) -> None:
    assert _end("capability.answer", received) == due


@pytest.mark.parametrize(("received", "due"), [
    # Fri 30 Jan 2026 + 3 months → Thu 30 Apr (holiday), Fri 1 May (holiday), weekend → Mon 4 May
    (date(2026, 1, 30), date(2026, 5, 4)),
    # Mon 31 Aug 2026 + 3 months → no 31 Nov: Mon 30 Nov
    (date(2026, 8, 31), date(2026, 11, 30)),
])
def test_foreign_metadata_three_months(received: date, due: date) -> None:
    assert _end("foreign.metadata", received) == due


def test_paper_request_counts_from_the_day_of_receipt() -> None:
    """A letter received Tue 1 Dec 2026 and typed in a week later: 7 working days from 1 Dec
    (2, 3, 4, 7, 8, 9, 10) → Thu 10 Dec, whatever the day of entry."""
    moment = receipt_moment(date(2026, 12, 1))
    assert calendar.receipt_date(moment) == date(2026, 12, 1)
    assert load_basis().rule("request.reply").period.end(moment) == date(2026, 12, 10)
    assert isinstance(moment, datetime) and moment.utcoffset() is not None
