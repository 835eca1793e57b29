"""Every JSON error answer in Vietnamese first, English second (issue #21).

Whoever writes an error answer — the exception table (:mod:`rsarchive.api.errors`), the edge limits,
the token check, the requests routes, the tiles — writes ``{"code", "description", …}``, and where it
knows both languages also ``description_vi`` and ``description_en``.  :class:`LocalizedErrors`, the
outermost middleware, then gives every answer of status 400 or more with such a JSON body the same
form::

    {"code": "NotFoundError",                       # stable, the same in both languages
     "description": "<in the caller's language>",   # the STAC API error shape stays valid
     "description_vi": "…", "description_en": "…",  # both, Vietnamese first
     "lang": "vi", …}                               # other members (request_id, links …) kept

with ``Content-Language`` and ``Vary: Accept-Language``.  The language is ``?lang=vi|en``, else the
``rsarchive_lang`` cookie of the web pages, else ``Accept-Language``, else Vietnamese
(:func:`rsarchive.i18n.negotiate`).

A text given in one language only is English written by the archive's library or the STAC API
framework (never a database's or another library's words: :mod:`rsarchive.api.errors` keeps those out).
:func:`vietnamese` translates the known ones (:data:`_PATTERNS`), splits ``"vi — en"`` / ``"vi / en"``
texts, and otherwise puts a Vietnamese summary of the ``code`` in front of the English detail.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qs

from rsarchive.api.errors import http_code, validation_problems
from rsarchive.i18n import Lang, negotiate

__all__ = ["LocalizedErrors", "localize", "scope_lang", "split_bilingual", "vietnamese"]

_LANG_COOKIE = "rsarchive_lang"   # the web pages' choice (rsarchive.api.lang.LANG_COOKIE)

_SUMMARIES_VI: dict[str, str] = {
    "NotFound": "Không tìm thấy",
    "NotFoundError": "Không tìm thấy",
    "InvalidParameter": "Tham số không hợp lệ",
    "InvalidQueryParameter": "Tham số không hợp lệ",
    "UsageError": "Yêu cầu không hợp lệ",
    "InvalidRequest": "Yêu cầu không hợp lệ",
    "AuthError": "Cần mã truy cập hợp lệ",
    "TokenExpiredError": "Mã truy cập đã hết hạn",
    "PermissionDeniedError": "Không có quyền thực hiện",
    "ConflictError": "Không thực hiện được ở trạng thái hiện tại",
    "CatalogError": "Siêu dữ liệu không hợp lệ",
    "DecodeError": "Không giải mã được dữ liệu",
    "CalibrationError": "Tệp tham số hiệu chuẩn không hợp lệ",
    "RequestLimitExceeded": "Yêu cầu vượt quá giới hạn",
    "MethodNotAllowed": "Phương thức HTTP không được phép",
    "NotAcceptable": "Không có dạng trả lời được chấp nhận",
    "UnsupportedMediaType": "Kiểu nội dung không được hỗ trợ",
    "TooManyRequests": "Quá nhiều yêu cầu",
}
_SUMMARIES_BY_STATUS_VI = {400: "Yêu cầu không hợp lệ", 401: "Cần mã truy cập hợp lệ", 403: "Không có quyền thực hiện",
                           404: "Không tìm thấy", 409: "Không thực hiện được ở trạng thái hiện tại",
                           413: "Yêu cầu quá lớn", 422: "Dữ liệu không xử lý được"}

# English texts of the STAC API framework and of the archive → Vietnamese (whole text, groups kept).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.DOTALL), vi) for p, vi in (
    (r"Not Found", "Không tìm thấy"),
    (r"Method Not Allowed", "Phương thức HTTP không được phép"),
    (r"Item (?P<a>\S+) in Collection (?P<b>\S+) does not exist\.?", "Không có ảnh {a} trong bộ dữ liệu {b}"),
    (r"Item (?P<a>\S+) (?:does not exist|not found)\.?", "Không có ảnh {a}"),
    (r"Collection (?P<a>\S+) (?:does not exist|not found)\.?", "Không có bộ dữ liệu {a}"),
    (r"Catalog (?P<a>\S+) not found", "Không có danh mục {a}"),
    (r"invalid bbox: (?P<a>.*)", "bbox không hợp lệ: {a} (cần các số tây,nam,đông,bắc)"),
    (r"BBox '(?P<a>.*)' must have 4 or 6 values\.", "bbox '{a}' phải có 4 hoặc 6 số"),
    (r"Invalid RFC3339 datetime\.", "datetime không đúng định dạng RFC 3339"),
    (r"Invalid date format\.", "ngày không đúng định dạng"),
    (r"Empty interval string is invalid\.", "khoảng thời gian rỗng không hợp lệ"),
    (r"Interval string contains more than one forward slash\.", "khoảng thời gian có nhiều hơn một dấu /"),
    (r"Double open-ended intervals are not allowed\.", "khoảng thời gian không được để mở cả hai đầu"),
    (r"Start datetime cannot be before end datetime\.", "thời điểm đầu không được sau thời điểm cuối"),
    (r"Bounding box must be within \(-180, -90, 180, 90\)", "khung giới hạn phải nằm trong (-180, -90, 180, 90)"),
    (r"item (?P<a>'[^']*') not found in the archive", "không có ảnh {a} trong cơ sở dữ liệu"),
    (r"request (?P<a>\S+) not found", "không có yêu cầu {a}"),
    (r"error report (?P<a>\S+) not found", "không có báo lỗi {a}"),
    (r"item (?P<a>'[^']*') was not delivered for request (?P<b>\S+)",
     "ảnh {a} không được cung cấp theo yêu cầu {b}"),
    (r"item (?P<a>'[^']*') is not in the delivery of request (?P<b>\S+)",
     "ảnh {a} không có trong lần cung cấp của yêu cầu {b}"),
    (r"request (?P<a>\S+) has no delivery \(it is not fulfilled\)",
     "yêu cầu {a} chưa được cung cấp dữ liệu (chưa được đáp ứng)"),
    (r"request (?P<a>\S+) is (?P<b>\w+); it cannot become (?P<c>\w+)",
     "yêu cầu {a} đang ở trạng thái {b}; không chuyển sang {c} được"),
    (r"invalid or revoked API token", "mã truy cập API sai hoặc đã bị thu hồi"),
    (r"this route needs an API token \(Authorization: Bearer …\)",
     "thao tác này cần mã truy cập API (Authorization: Bearer …)"),
    (r"Authorization header must be 'Bearer <token>'", "tiêu đề Authorization phải có dạng 'Bearer <token>'"),
    (r"user (?P<a>'[^']*') \((?P<b>\w+)\) may not do this; (?P<c>.*)",
     "người dùng {a} (vai trò {b}) không được thực hiện thao tác này ({c})"),
    (r"download link is not valid", "đường dẫn tải xuống không hợp lệ"),
    (r"download link was issued to another user", "đường dẫn tải xuống được cấp cho người dùng khác"),
    (r"download link has expired; open the delivery again for a fresh one",
     "đường dẫn tải xuống đã hết hạn; mở lại lần cung cấp để nhận đường dẫn mới"),
    (r"downloads need the API token of the user the link was issued to",
     "tải xuống cần mã truy cập API của người dùng được cấp đường dẫn"),
    (r"the internal API is for officers, operators and administrators",
     "API nội bộ chỉ dành cho cán bộ, người vận hành và quản trị viên"),
    (r"fields: must be an object with include and/or exclude lists, not null",
     "fields: phải là một đối tượng có danh sách include và/hoặc exclude, không được là null"),
))

# Vietnamese letters that English never has (a text holding one is Vietnamese, not English).
_VIETNAMESE = set("ăâđêôơưĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
                  "ÀÁẢÃẠẰẮẲẴẶẦẤẨẪẬÈÉẺẼẸỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌỒỐỔỖỘỜỚỞỠỢÙÚỦŨỤỪỨỬỮỰỲÝỶỸỴ")


def _has_vietnamese(text: str) -> bool:
    return any(ch in _VIETNAMESE for ch in text)


def split_bilingual(text: str) -> tuple[str, str] | None:
    """``"vi — en"``, ``"vi / en"`` or ``"vi\\n\\nen"`` → ``(vi, en)`` when the first part is Vietnamese and the
    second is not; else None."""
    for sep in ("\n\n", " — ", " / "):
        parts = text.split(sep)
        for i in range(1, len(parts)):
            vi, en = sep.join(parts[:i]), sep.join(parts[i:])
            if _has_vietnamese(vi) and not _has_vietnamese(en) and en.strip():
                return vi.strip(), en.strip()
    return None


def vietnamese(code: str, english: str, status: int = 400) -> str:
    """The Vietnamese of an error text written in English (see the module's docstring)."""
    for pattern, vi in _PATTERNS:
        found = pattern.fullmatch(english.strip())
        if found:
            return vi.format(**found.groupdict())
    summary = _SUMMARIES_VI.get(code) or _SUMMARIES_BY_STATUS_VI.get(status) or "Yêu cầu không được chấp nhận"
    return f"{summary} (chi tiết bằng tiếng Anh: {english})" if english else summary


def localize(body: dict[str, Any], lang: Lang, status: int = 400) -> dict[str, Any]:
    """An error body ``{"code", "description", …}`` in ``lang``, with both languages (module docstring);
    any other body unchanged."""
    code, description = body.get("code"), body.get("description")
    vi, en = body.get("description_vi"), body.get("description_en")
    if code is None and "detail" in body:  # FastAPI's own shape (an app without the archive's handlers): kept
        code = http_code(status)
        if isinstance(body["detail"], list):
            vi, en = validation_problems(body["detail"])
            description = en
        else:
            description = str(body["detail"])
    if not isinstance(code, str) or not isinstance(description, str):
        return body
    if not (isinstance(vi, str) and isinstance(en, str) and vi and en):
        pair = split_bilingual(description)
        if pair is not None:
            vi, en = pair
        elif _has_vietnamese(description):  # Vietnamese only (should not happen): no English to give
            vi = en = description
        else:
            vi, en = vietnamese(code, description, status), description
    rest = {k: v for k, v in body.items() if k not in ("code", "description", "description_vi", "description_en")}
    return {"code": code, "description": vi if lang == "vi" else en, "description_vi": vi, "description_en": en,
            "lang": lang, **rest}


def scope_lang(scope: Any) -> Lang:
    """The language asked for by an ASGI request: ``?lang=``, the web pages' cookie, ``Accept-Language``."""
    chosen = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
    accept = remembered = None
    for name, value in scope.get("headers") or ():
        if name == b"accept-language":
            accept = value.decode("latin-1")
        elif name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == _LANG_COOKIE:
                    remembered = val
    return negotiate(accept, chosen=chosen, remembered=remembered)


class LocalizedErrors:
    """ASGI middleware: JSON error answers (status ≥ 400) in the caller's language, both languages given."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def send_localized(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or ())
                if message["status"] >= 400 and headers.get(b"content-type", b"").split(b";")[0].strip() in (
                        b"application/json", b"application/problem+json"):
                    held["start"] = message
                    return
            elif message["type"] == "http.response.body" and "start" in held:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                await self._send(held.pop("start"), b"".join(chunks), scope_lang(scope), send)
                return
            await send(message)

        await self.app(scope, receive, send_localized)

    @staticmethod
    async def _send(start: Any, body: bytes, lang: Lang, send: Any) -> None:
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        headers = list(start.get("headers") or ())
        if isinstance(data, dict) and (isinstance(data.get("code"), str) or "detail" in data):
            # a value echoed from the request may be ±inf or NaN (``bbox=inf,…``): strict JSON has no such number
            body = json.dumps(_finite(localize(data, lang, start["status"])), ensure_ascii=False,
                              allow_nan=False).encode("utf-8")
            headers = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-language")]
            headers += [(b"content-length", str(len(body)).encode()), (b"content-language", lang.encode()),
                        (b"vary", b"Accept-Language")]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float written as text (``"inf"``), so that it is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
