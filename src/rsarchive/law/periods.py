"""Time limits of the law: when a period that starts with an event ends.

Every period starts on the day after the event (Civil Code 2015, Art. 147(1)), the event's day being its
calendar date in Vietnam (:func:`rsarchive.law.calendar.receipt_date`):

* ``working_days``: the ``count``-th Vietnamese working day after that day (:mod:`rsarchive.law.calendar`);
* ``days``: ``count`` calendar days; when the last day is not a working day the period ends on the next
  working day (Civil Code 2015, Art. 148(5));
* ``months``: the same day of the ``count``-th month after (the month's last day when it has no such day,
  Art. 148(3)), moved to the next working day like ``days``;
* ``year_end``: 31 December of the year of the event (a yearly duty "before 31 December").
"""

from __future__ import annotations

import calendar as _gregorian
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from rsarchive.errors import ConfigError
from rsarchive.law import calendar

Unit = Literal["working_days", "days", "months", "year_end"]
UNITS: tuple[str, ...] = ("working_days", "days", "months", "year_end")

_UNIT_WORDS: dict[str, tuple[str, str]] = {
    "working_days": ("ngày làm việc", "working days"),
    "days": ("ngày", "days"),
    "months": ("tháng", "months"),
}


@dataclass(frozen=True)
class Period:
    """A time limit: ``count`` ``unit`` after an event."""

    count: int
    unit: Unit

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ConfigError(f"unknown period unit {self.unit!r} (one of {', '.join(UNITS)})")
        if self.count < 0 or (self.count == 0 and self.unit != "year_end"):
            raise ConfigError(f"a period of {self.count} {self.unit} is not a time limit")

    def end(self, event: date | datetime) -> date:
        """The last day of the period for an event at ``event`` (a datetime is taken in Vietnam's time)."""
        day = calendar.receipt_date(event) if isinstance(event, datetime) else event
        if self.unit == "working_days":
            return calendar.add_working_days(day, self.count)
        if self.unit == "year_end":
            return date(day.year, 12, 31)
        last = self.calendar_end(day)
        while not calendar.is_working_day(last):
            last += timedelta(days=1)
        return last

    def calendar_end(self, day: date) -> date:
        """``count`` days or months after ``day`` on the calendar, not moved off a day off (an age, such as
        "36 months old", is reached on that day whatever day of the week it is)."""
        if self.unit == "days":
            return day + timedelta(days=self.count)
        if self.unit != "months":
            raise ConfigError(f"a period in {self.unit} has no calendar end")
        month0 = day.month - 1 + self.count
        year, month = day.year + month0 // 12, month0 % 12 + 1
        return date(year, month, min(day.day, _gregorian.monthrange(year, month)[1]))

    def describe(self, lang: str = "vi") -> str:
        """``7 ngày làm việc`` / ``7 working days``; ``trước 31/12`` / ``by 31 December``."""
        if self.unit == "year_end":
            return "trước ngày 31 tháng 12" if lang == "vi" else "by 31 December"
        vi, en = _UNIT_WORDS[self.unit]
        return f"{self.count} {vi if lang == 'vi' else en}"
