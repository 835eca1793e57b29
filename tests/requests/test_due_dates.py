"""Art. 8.2(c) deadline: seven Vietnamese working days after receipt.

Every expected date below was counted by hand from the ``holidays`` VN table
(holidays 0.109), e.g. for a request received on Wednesday 7 February 2024:
8 Feb (29 Tết) … 14 Feb are holidays, 10–11 a weekend, so day 1 is Thu 15 Feb,
then 16, 19, 20, 21, 22 and day 7 is Fri 23 Feb.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from rsarchive.law import calendar, load_basis

VN = timezone(timedelta(hours=7))


def _due(at: datetime) -> date:
    """The reply deadline of a request received at ``at``, as the shipped legal basis sets it."""
    return load_basis().rule("request.reply").period.end(at)


@pytest.mark.parametrize(("received", "due"), [
    # an ordinary week: Monday → the Wednesday of the next week
    (date(2024, 6, 3), date(2024, 6, 12)),
    # Tết 2024 (Giáp Thìn): 8–14 February off
    (date(2024, 2, 7), date(2024, 2, 23)),
    (date(2024, 2, 2), date(2024, 2, 20)),   # Fri: 5,6,7 then Tết, then 15,16,19,20
    # Tết 2025 (Ất Tỵ): Mon 27 Jan – Sat 1 Feb off
    (date(2025, 1, 24), date(2025, 2, 11)),
    # Tết 2023 (Quý Mão): Fri 20 – Thu 26 Jan off
    (date(2023, 1, 18), date(2023, 2, 3)),   # 19, 27, 30, 31, 1, 2, 3
    # Tết 2026 (Bính Ngọ): Mon 16 – Fri 20 Feb off
    (date(2026, 2, 13), date(2026, 3, 3)),   # 23, 24, 25, 26, 27, 2, 3
    # 30 April / 1 May 2024: Mon 29 Apr swapped off, Sat 4 May worked instead
    (date(2024, 4, 26), date(2024, 5, 9)),   # 2, 3, Sat 4, 6, 7, 8, 9
    # 30 April / 1 May 2025: Fri 2 May swapped off (Sat 26 Apr worked)
    (date(2025, 4, 28), date(2025, 5, 12)),  # 29, 5, 6, 7, 8, 9, 12
    (date(2025, 4, 25), date(2025, 5, 8)),   # Sat 26 Apr worked: 26, 28, 29, 5, 6, 7, 8
    # 30 April / 1 May 2022 fell on Sat/Sun: compensatory Mon 2 and Tue 3 May
    (date(2022, 4, 29), date(2022, 5, 12)),  # 4, 5, 6, 9, 10, 11, 12
    # Hùng Kings 2023 (Sat 29 Apr) + 30 Apr (Sun) → off Tue 2 and Wed 3 May; 1 May Mon
    (date(2023, 4, 28), date(2023, 5, 12)),  # 4, 5, 8, 9, 10, 11, 12
    # 2 September, one day until 2020: 2019 Mon 2 Sep
    (date(2019, 8, 30), date(2019, 9, 11)),
    # 2020: Wed 2 Sep only
    (date(2020, 9, 1), date(2020, 9, 11)),   # 3, 4, 7, 8, 9, 10, 11
    # two days from 2021: 2022 Thu 1 + Fri 2 Sep
    (date(2022, 8, 31), date(2022, 9, 13)),  # 5, 6, 7, 8, 9, 12, 13
    # 2023: Fri 1, Sat 2 Sep and the compensatory Mon 4 Sep
    (date(2023, 8, 31), date(2023, 9, 13)),  # 5, 6, 7, 8, 11, 12, 13
    # 2025: Mon 1 + Tue 2 Sep
    (date(2025, 8, 29), date(2025, 9, 11)),
    # 2026: Mon 31 Aug swapped off (Sat 22 Aug worked), Tue 1 + Wed 2 Sep
    (date(2026, 8, 28), date(2026, 9, 11)),
    (date(2026, 8, 21), date(2026, 9, 3)),   # Sat 22 worked: 22, 24, 25, 26, 27, 28, 3 Sep
])
def test_due_date(received: date, due: date) -> None:
    at = datetime(received.year, received.month, received.day, 10, 0, tzinfo=VN)
    assert _due(at) == due


def test_receipt_day_is_the_vietnamese_calendar_day() -> None:
    # 18:30 UTC on Thursday 6 June 2024 is already Friday 7 June in Hà Nội: day 1 is Mon 10 June
    # (not Fri 7 June), so the due date is Tue 18 June (10, 11, 12, 13, 14, 17, 18), not Mon 17 June
    late = datetime(2024, 6, 6, 18, 30, tzinfo=timezone.utc)
    assert calendar.receipt_date(late) == date(2024, 6, 7)
    assert _due(late) == date(2024, 6, 18)
    # received on a Saturday that is not worked: counting starts on Monday
    assert _due(datetime(2024, 6, 8, 9, 0, tzinfo=VN)) == date(2024, 6, 18)
    # the hour does not matter within the day: 07:00 and 23:59 local give the same due date
    early = datetime(2024, 6, 3, 7, 0, tzinfo=VN)
    assert _due(early) == _due(early.replace(hour=23, minute=59)) == date(2024, 6, 12)


def test_working_day_table_facts() -> None:
    assert not calendar.is_working_day(date(2024, 2, 8))        # 29 Tết
    assert not calendar.is_working_day(date(2025, 4, 7))        # Hùng Kings (10/3 lunar)
    assert not calendar.is_working_day(date(2021, 5, 3))        # 1 May 2021 was a Saturday: compensated
    assert calendar.is_working_day(date(2020, 9, 3))            # before 2021, only 2 September
    assert not calendar.is_working_day(date(2021, 9, 3))        # from 2021, a second day
    assert calendar.is_working_day(date(2024, 5, 4))            # swapped Saturday, worked
    assert not calendar.is_working_day(date(2024, 5, 11))       # an ordinary Saturday
    assert calendar.holiday_name(date(2024, 2, 10)) == "Tết Nguyên Đán"


def test_working_days_left() -> None:
    due = date(2024, 2, 23)
    assert calendar.working_days_left(due, date(2024, 2, 7)) == 7
    assert calendar.working_days_left(due, due) == 0
    assert calendar.working_days_left(due, date(2024, 2, 27)) == -2  # 26, 27 elapsed
