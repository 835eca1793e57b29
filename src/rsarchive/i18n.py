"""Vietnamese first, English second (issue #21): the two languages of everything the public reads.

Pure functions, no I/O, usable from every layer:

* :func:`negotiate` picks the language of a page from an explicit choice (``?lang=``, a cookie)
  and the ``Accept-Language`` header; Vietnamese when nothing says otherwise.
* :func:`format_date`, :func:`format_datetime`, :func:`format_amount` write dates and amounts the
  Vietnamese way in Vietnamese (``07/12/2026``, ``1.500.000 đ``) and the international way in English
  (``2026-12-07``, ``1,500,000 VND``).  A small formatter rather than Babel: two languages, three
  patterns, no locale database to ship.
* :func:`bilingual` writes one public text in both languages, Vietnamese first (``"vi / en"``), the
  form of collection titles, item titles and asset titles.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

__all__ = ["DEFAULT", "LANGUAGES", "Lang", "bilingual", "format_amount", "format_date", "format_datetime",
           "item_title", "negotiate", "parse_lang", "platform_name"]

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")
DEFAULT: Lang = "vi"

LANGUAGE_NAMES: dict[Lang, str] = {"vi": "Tiếng Việt", "en": "English"}


def parse_lang(value: str | None) -> Lang | None:
    """``"vi"``, ``"vi-VN"``, ``"EN"`` → the language; anything else (or nothing) → None."""
    if not value:
        return None
    primary = value.strip().split("-", 1)[0].split("_", 1)[0].lower()
    return primary if primary in LANGUAGES else None  # type: ignore[return-value]


def _accepted(header: str) -> list[tuple[float, int, str]]:
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip():
            ranked.append((quality, position, tag.strip()))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return ranked


def negotiate(accept_language: str | None = None, *, chosen: str | None = None, remembered: str | None = None) -> Lang:
    """The language of a page: an explicit choice (``?lang=``), else the one remembered (a cookie),
    else the first of ``vi``/``en`` the ``Accept-Language`` header accepts (by quality, then order),
    else Vietnamese.  ``*`` in the header means the default."""
    for explicit in (chosen, remembered):
        lang = parse_lang(explicit)
        if lang:
            return lang
    for quality, _, tag in _accepted(accept_language or ""):
        if quality <= 0:
            continue
        if tag == "*":
            return DEFAULT
        lang = parse_lang(tag)
        if lang:
            return lang
    return DEFAULT


def format_date(value: dt.date | dt.datetime | str, lang: Lang = DEFAULT) -> str:
    """``07/12/2026`` in Vietnamese, ``2026-12-07`` in English (a date, a datetime or an ISO string)."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    day = value.date() if isinstance(value, dt.datetime) else value
    return day.strftime("%d/%m/%Y") if lang == "vi" else day.isoformat()


def format_datetime(value: dt.datetime | str, lang: Lang = DEFAULT) -> str:
    """``07/12/2026 03:15 UTC`` in Vietnamese, ``2026-12-07 03:15 UTC`` in English (naive = UTC)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc)
    return f"{format_date(value, lang)} {value:%H:%M} UTC"


def _grouped(value: Decimal, thousands: str, decimal: str) -> str:
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    fraction = fraction.rstrip("0")
    return sign + thousands.join(groups) + (decimal + fraction if fraction else "")


def format_amount(value: int | float | Decimal, lang: Lang = DEFAULT, currency: str = "VND") -> str:
    """An amount of money: ``1.500.000 đ`` in Vietnamese, ``1,500,000 VND`` in English (đồng are whole;
    other currencies keep two decimals)."""
    amount = Decimal(str(value))
    places = Decimal(1) if currency == "VND" else Decimal("0.01")
    amount = amount.quantize(places, rounding=ROUND_HALF_UP)
    if lang == "vi":
        text = _grouped(amount, ".", ",")
        return f"{text} đ" if currency == "VND" else f"{text} {currency}"
    return f"{_grouped(amount, ',', '.')} {currency}"


def bilingual(vi: str, en: str) -> str:
    """One public text in both languages, Vietnamese first: ``"vi / en"`` (just one when they are equal)."""
    return vi if vi == en else f"{vi} / {en}"


_FORMS_VI = {"level0": "Dữ liệu mức 0", "raw": "Dữ liệu ảnh thô", "product": "Sản phẩm ảnh",
             "original": "Dữ liệu gốc"}
_FORMS_EN = {"level0": "Level-0 downlink", "raw": "Raw image data", "product": "Image product",
             "original": "Original"}


_PLATFORM_NAMES = {"vnredsat-1": "VNREDSat-1"}


def platform_name(platform: str) -> str:
    """A platform as people write it (``vnredsat-1`` → ``VNREDSat-1``)."""
    return _PLATFORM_NAMES.get(platform.lower(), platform)


def item_title(form: str, platform: str, level: str | None, when: dt.datetime) -> str:
    """The title of a scene's item, Vietnamese first: ``"Sản phẩm ảnh VNREDSat-1 (L2A), chụp 07/12/2026
    03:15 UTC / Image product VNREDSat-1 (L2A), acquired 2026-12-07 03:15 UTC"``."""
    name = platform_name(platform)
    what = f" ({level})" if level else ""
    vi = f"{_FORMS_VI.get(form, form)} {name}{what}, chụp {format_datetime(when, 'vi')}"
    en = f"{_FORMS_EN.get(form, form)} {name}{what}, acquired {format_datetime(when, 'en')}"
    return bilingual(vi, en)
