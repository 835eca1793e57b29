"""Vietnamese working days, on which the law's clocks in working days run (:mod:`rsarchive.law.periods`).

The rule applied
----------------
* **Working day**: what ``holidays.country_holidays("VN")`` (the ``holidays``
  package, public category, ``observed=True``) calls a working day
  (``HolidayBase.is_working_day``): Monday–Friday that is not a public holiday,
  *plus* a Saturday that the Government swapped into a working day.  The table
  includes the lunar holidays (Tết: from the 29th/30th of the last lunar month to
  the 4th/5th of the first, with the days a weekend pushes out — Tết's
  Saturday goes to the working day before and its Sunday to the one after since
  2014; the Hùng Kings' day on 10/3 lunar since 2007), 1 January, 30 April,
  1 May, National Day (2 September only, moved off a weekend, until 2020; two
  days — 2 September plus 1 or 3 September — from 2021 under the Labour Code
  2019), the compensatory days (“nghỉ bù”) for holidays falling on a weekend,
  the government's swapped days off (e.g. Monday 29 April 2024, worked on
  Saturday 4 May 2024; Friday 2 May 2025 worked on Saturday 26 April 2025;
  Monday 31 August 2026 worked on Saturday 22 August 2026), and Vietnam
  Cultural Day (24 November) from 2026.  The swapped Saturdays count as working
  days: civil servants work them, so the archive's clock runs on them.
* **After receipt**: the day of receipt is never counted, whatever the hour
  (Civil Code 2015, Art. 147(1): a period counted in days starts on the day
  after the event).  The first working day strictly after the day of receipt is
  day 1; the due date is day 7, and the reply is on time when it is given by
  the end of that day.  The day of receipt is the calendar date in
  Asia/Ho_Chi_Minh (UTC+7) of the moment the request reached the archive.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

RULE = ("day of receipt (Asia/Ho_Chi_Minh) not counted; day 1 = next working day; due = day N; "
        "working day = holidays.country_holidays('VN').is_working_day (Mon-Fri minus public, lunar, "
        "compensatory and swapped holidays, plus swapped working Saturdays)")


@lru_cache(maxsize=64)
def _calendar(year: int) -> Any:
    import holidays

    # Neighbouring years too: a swap recorded in one year can move a working day into the next.
    return holidays.country_holidays("VN", years=range(year - 1, year + 2), observed=True, language="vi")


def is_working_day(day: date) -> bool:
    """True when ``day`` is a Vietnamese working day (see the module docstring)."""
    cal = _calendar(day.year)
    return bool(cal.is_working_day(day))


def holiday_name(day: date) -> str | None:
    """The holiday's name on ``day`` (Vietnamese), or None."""
    name = _calendar(day.year).get(day)
    return str(name) if name else None


def add_working_days(start: date, count: int) -> date:
    """The ``count``-th working day strictly after ``start`` (``count`` ≥ 1)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    day = start
    for _ in range(count):
        day += timedelta(days=1)
        while not is_working_day(day):
            day += timedelta(days=1)
    return day


def receipt_date(received_at: datetime) -> date:
    """The calendar day of receipt in Vietnam (a naive datetime is taken as UTC)."""
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=timezone.utc)
    return received_at.astimezone(VN_TZ).date()


def today_vn(now: datetime | None = None) -> date:
    """Today's date in Vietnam."""
    return (now or datetime.now(timezone.utc)).astimezone(VN_TZ).date()


def working_days_left(due: date, today: date) -> int:
    """Working days from ``today`` (exclusive) up to ``due`` (inclusive); negative when overdue
    (minus the working days elapsed since ``due``); 0 when ``today`` is the due date."""
    if today == due:
        return 0
    step = 1 if due > today else -1
    lo, hi = (today, due) if step == 1 else (due, today)
    count = 0
    day = lo + timedelta(days=1)
    while day <= hi:
        if is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return step * count
