"""Vietnamese first, English second (issue #21): language choice, and dates and amounts the
Vietnamese way in Vietnamese (rsarchive.i18n, pure functions)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rsarchive.i18n import (
    bilingual,
    format_amount,
    format_date,
    format_datetime,
    item_title,
    negotiate,
)


@pytest.mark.parametrize(("header", "chosen", "remembered", "expected"), [
    (None, None, None, "vi"),                                   # nothing said: Vietnamese
    ("en-US,en;q=0.9", None, None, "en"),
    ("fr-FR,fr;q=0.9,en;q=0.5,vi;q=0.8", None, None, "vi"),    # by quality, not by order
    ("en;q=0.5,vi;q=0.5", None, None, "en"),                   # equal quality: first named
    ("vi;q=0,en", None, None, "en"),                           # q=0 means "not this one"
    ("de-DE", None, None, "vi"),                               # nothing we have: the default
    ("*", None, None, "vi"),
    ("vi-VN", "en", None, "en"),                               # ?lang= beats the header
    ("en", None, "vi", "vi"),                                  # the cookie beats the header
    ("en", "xx", "vi", "vi"),                                  # an unknown choice is ignored
    ("vi;q=abc, en;q=0.3", None, None, "en"),                  # a malformed quality counts as 0
])
def test_negotiate(header, chosen, remembered, expected) -> None:
    assert negotiate(header, chosen=chosen, remembered=remembered) == expected


def test_dates_vietnamese_way() -> None:
    day = dt.date(2026, 12, 7)
    assert format_date(day, "vi") == "07/12/2026" and format_date(day, "en") == "2026-12-07"
    assert format_date("2026-12-07T10:00:00Z", "vi") == "07/12/2026"
    when = dt.datetime(2026, 12, 7, 10, 5, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert format_datetime(when, "vi") == "07/12/2026 03:05 UTC"
    assert format_datetime(when, "en") == "2026-12-07 03:05 UTC"


@pytest.mark.parametrize(("value", "lang", "currency", "expected"), [
    (1500000, "vi", "VND", "1.500.000 đ"),
    (1500000, "en", "VND", "1,500,000 VND"),
    (999, "vi", "VND", "999 đ"),
    (0, "vi", "VND", "0 đ"),
    (Decimal("1234567.4"), "vi", "VND", "1.234.567 đ"),        # đồng are whole
    (1234.5, "vi", "USD", "1.234,5 USD"),
    (1234.5, "en", "USD", "1,234.5 USD"),
    (-2500000, "vi", "VND", "-2.500.000 đ"),
])
def test_amounts_vietnamese_way(value, lang, currency, expected) -> None:
    assert format_amount(value, lang, currency) == expected


def test_bilingual_titles() -> None:
    assert bilingual("Ảnh thu nhỏ", "Thumbnail") == "Ảnh thu nhỏ / Thumbnail"
    assert bilingual("SPOT", "SPOT") == "SPOT"
    title = item_title("product", "vnredsat-1", "L2A", dt.datetime(2026, 12, 7, 3, 15, tzinfo=dt.timezone.utc))
    assert title == ("Sản phẩm ảnh VNREDSat-1 (L2A), chụp 07/12/2026 03:15 UTC / "
                     "Image product VNREDSat-1 (L2A), acquired 2026-12-07 03:15 UTC")
