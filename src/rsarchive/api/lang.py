"""The language of the web pages (issue #21): Vietnamese by default, English on request.

A page's language is ``?lang=vi|en`` (the visible switch in every page's header), remembered in the
``rsarchive_lang`` cookie, else the ``Accept-Language`` header, else Vietnamese
(:func:`rsarchive.i18n.negotiate`).  Templates get:

* ``lang`` — ``"vi"`` or ``"en"``; ``t(vi, en)`` — the text in the page's language;
* ``status_label(status)`` — a request's or error report's status in words;
* ``localized(mapping, key)`` — ``mapping["<key>_vi"]`` on Vietnamese pages when present (fee lines);
* filters ``date`` / ``datetime`` / ``amount`` — ``07/12/2026``, ``1.500.000 đ`` in Vietnamese;
* ``switch_url(lang)`` — this page in the other language.

Library messages are written in English; :func:`error_message` puts a Vietnamese summary (by the
error's type) in front of them on Vietnamese pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from rsarchive.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RsArchiveError,
    UsageError,
)
from rsarchive.i18n import (
    LANGUAGE_NAMES,
    Lang,
    format_amount,
    format_date,
    format_datetime,
    negotiate,
    parse_lang,
)

__all__ = ["LANG_COOKIE", "STATUS_LABELS", "error_message", "install", "remember", "request_lang", "text",
           "validation_message"]

LANG_COOKIE = "rsarchive_lang"

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "submitted": ("Đã nộp", "Submitted"),
    "in_review": ("Đang xét duyệt", "In review"),
    "approved": ("Đã chấp thuận", "Approved"),
    "fulfilled": ("Đã cung cấp", "Fulfilled"),
    "refused": ("Đã từ chối", "Refused"),
    "cancelled": ("Đã hủy", "Cancelled"),
    # error reports
    "open": ("Chưa xử lý", "Open"),
    "dismissed": ("Đã bác", "Dismissed"),
    "reprocessed": ("Đã xử lý lại", "Reprocessed"),
    "withdrawn": ("Đã rút khỏi danh mục công khai", "Withdrawn from the public catalogue"),
    # history actions besides the statuses
    "error_report": ("Báo lỗi dữ liệu", "Error report"),
    "item": ("Ảnh", "Item"),
    "reinstated": ("Đã khôi phục", "Reinstated"),
    # complaints (Art. 9.5) and paper requests
    "complaint": ("Khiếu nại", "Complaint"),
    "received": ("Đã nhận", "Received"),
    "accepted": ("Đã thụ lý", "Accepted"),
    "not_accepted": ("Không thụ lý", "Not accepted"),
    "settled": ("Đã giải quyết", "Settled"),
    "entered_from_paper": ("Nhập từ văn bản giấy", "Entered from a paper letter"),
}

_ERROR_SUMMARIES: tuple[tuple[type[Exception], str, str], ...] = (
    (NotFoundError, "Không tìm thấy", "Not found"),
    (PermissionDeniedError, "Không có quyền thực hiện", "Not allowed"),
    (AuthError, "Cần đăng nhập", "Login needed"),
    (ConflictError, "Không thực hiện được ở trạng thái hiện tại", "Not possible in the current state"),
    (UsageError, "Yêu cầu không hợp lệ", "Invalid request"),
)


_VALIDATION_VI: dict[str, str] = {
    "missing": "bắt buộc phải điền",
    "string_too_short": "quá ngắn",
    "string_too_long": "quá dài",
    "too_short": "quá ít giá trị",
    "too_long": "quá nhiều giá trị",
    "enum": "không thuộc các giá trị cho phép",
    "literal_error": "không thuộc các giá trị cho phép",
    "float_parsing": "không phải là số",
    "int_parsing": "không phải là số nguyên",
    "finite_number": "không phải là số hữu hạn",
    "greater_than": "nhỏ hơn mức cho phép",
    "greater_than_equal": "nhỏ hơn mức cho phép",
    "less_than": "lớn hơn mức cho phép",
    "less_than_equal": "lớn hơn mức cho phép",
    "date_parsing": "không phải là ngày hợp lệ (năm-tháng-ngày)",
    "date_from_datetime_parsing": "không phải là ngày hợp lệ (năm-tháng-ngày)",
    "extra_forbidden": "trường không được phép",
    "dict_type": "sai kiểu dữ liệu",
    "list_type": "sai kiểu dữ liệu",
    "string_type": "sai kiểu dữ liệu",
}


def validation_message(lang: Lang, error: dict[str, Any]) -> str:
    """One pydantic error of a form in the page's language: in Vietnamese, a summary by the error's type
    (the English detail follows for checks written in the library, ``value_error``)."""
    english = str(error.get("msg", ""))
    if lang != "vi":
        return english
    kind = str(error.get("type", ""))
    if kind in _VALIDATION_VI:
        return _VALIDATION_VI[kind]
    detail = english.removeprefix("Value error, ")
    return f"giá trị không hợp lệ ({detail})"


def request_lang(request: Request) -> Lang:
    """The language of the page answering ``request``."""
    return negotiate(request.headers.get("accept-language"), chosen=request.query_params.get("lang"),
                     remembered=request.cookies.get(LANG_COOKIE))


def remember(request: Request, response: Response) -> Response:
    """Keep an explicit ``?lang=`` choice in a cookie (a year), so the next pages follow it."""
    chosen = parse_lang(request.query_params.get("lang"))
    if chosen and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, path="/", samesite="lax",
                            secure=request.url.scheme == "https")
    return response


def text(lang: Lang, vi: str, en: str) -> str:
    """``vi`` or ``en``."""
    return vi if lang == "vi" else en


def error_message(lang: Lang, exc: RsArchiveError) -> str:
    """The message of an error shown on a page: a summary in the page's language, then the detail."""
    for kind, vi, en in _ERROR_SUMMARIES:
        if isinstance(exc, kind):
            return f"{text(lang, vi, en)}: {exc}"
    return str(exc)


def _switch_url(request: Request, lang: str) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
    from urllib.parse import urlencode

    return f"{request.url.path}?{urlencode(query)}"


def _context(request: Request) -> dict[str, Any]:
    lang = request_lang(request)
    return {"lang": lang, "languages": LANGUAGE_NAMES,
            "switch_url": lambda other: _switch_url(request, other)}


def install(templates: Jinja2Templates) -> None:
    """Give ``templates`` the language helpers; pages need ``lang`` in their context
    (:func:`context_processor` adds it)."""
    env = templates.env

    @pass_context
    def t(ctx: Any, vi: str, en: str) -> str:
        return text(ctx.get("lang", "vi"), vi, en)

    @pass_context
    def status_label(ctx: Any, status: str) -> str:
        """A status (or a history action such as ``error_report.dismissed``) in words."""
        language = ctx.get("lang", "vi")
        return ": ".join(text(language, *STATUS_LABELS.get(part, (part, part))) for part in str(status).split("."))

    @pass_context
    def date_filter(ctx: Any, value: dt.date | str | None) -> str:
        return format_date(value, ctx.get("lang", "vi")) if value else "—"

    @pass_context
    def datetime_filter(ctx: Any, value: dt.datetime | str | None) -> str:
        return format_datetime(value, ctx.get("lang", "vi")) if value else "—"

    @pass_context
    def amount_filter(ctx: Any, value: Any, currency: str = "VND") -> str:
        return format_amount(value, ctx.get("lang", "vi"), currency)

    @pass_context
    def localized(ctx: Any, mapping: Any, key: str) -> Any:
        """``mapping[key + "_vi"]`` on Vietnamese pages when it has one, else ``mapping[key]``."""
        if ctx.get("lang", "vi") == "vi" and mapping.get(f"{key}_vi"):
            return mapping[f"{key}_vi"]
        return mapping.get(key)

    env.globals.update(t=t, status_label=status_label, localized=localized)
    env.filters.update(date=date_filter, datetime=datetime_filter, amount=amount_filter)


context_processor = _context
"""A Jinja2Templates context processor: ``lang``, ``languages``, ``switch_url``."""
