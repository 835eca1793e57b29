"""The ONE table from exception types to HTTP status codes, and the handlers using it.

stac-fastapi's own defaults are kept (its ``NotFoundError`` → 404, ``InvalidQueryParameter``
→ 400 …) and extended with the archive's errors (each carries ``http_status``) and the
database errors that mean "the client sent something malformed" (a bad CQL2 filter, a
bad datetime or sort key reaching pgSTAC), which must be 400 and never 500.

What an answer says (error hygiene):

* a 4xx names the parameter at fault in the archive's own words; the text of a database,
  driver or library error never reaches the client (the database's message goes to the
  log only, at INFO, with the request id);
* a 5xx is generic — "internal error" or "service unavailable" and the request id
  (:mod:`rsarchive.api.request_id`) — and the server log has the id with the cause;
* a search cancelled by the API's ``statement_timeout`` (setting
  ``api_statement_timeout_ms``) is a 503 that says so, with ``Retry-After``.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from rsarchive import errors as rs
from rsarchive.api.lang import validation_message
from rsarchive.api.request_id import LOGGED_KEY, generic_error, request_id

log = logging.getLogger(__name__)

__all__ = ["SEARCH_PARAMS_KEY", "add_handlers", "http_code", "status_codes", "validation_problems"]

SEARCH_PARAMS_KEY = "search_params"
"""Request state: the names of a POST search body's members (set by :mod:`rsarchive.api.limits`)."""

_CLIENT_PARAMS = ("filter", "query", "sortby", "datetime", "intersects", "bbox", "fields", "q", "offset", "token")


@functools.cache
def _database_client_errors() -> dict[type[Exception], tuple[str, str]]:
    """Database errors caused by what a client sent → what to tell it (Vietnamese, English)."""
    import asyncpg.exceptions as pg

    return {
        # invalid_text_representation, datetime field overflow, …: a value of the wrong type
        pg.DataError: ("một giá trị không hợp với kiểu của thuộc tính được so sánh (ví dụ chữ so với số, "
                       "hoặc ngày không hợp lệ)",
                       "a value does not fit the type of the property it is compared with (e.g. text compared "
                       "with a number, or an invalid date)"),
        # the catalog's RAISE EXCEPTION on a filter or sort key it cannot evaluate
        pg.RaiseError: ("biểu thức không đánh giá được (toán tử dùng với giá trị nó không nhận, hoặc khoá sắp "
                        "xếp không hợp lệ)",
                        "the expression cannot be evaluated (an operator given values it does not take, or an "
                        "invalid sort key)"),
        pg.UndefinedFunctionError: ("một toán tử được dùng với kiểu giá trị nó không nhận",
                                    "an operator is applied to values of types it does not take"),
        pg.SyntaxOrAccessError: ("một thuộc tính không dùng được theo cách đã yêu cầu",
                                 "a property cannot be used as asked"),
    }


_DATABASE_MESSAGES: tuple[tuple[str, str, str, str], ...] = (
    # (start of the catalog's message, parameter, Vietnamese, English): the catalog's own checks
    ("Invalid offset", "offset", "phải là số nguyên không âm", "must be a non-negative integer"),
    ("Invalid paging token", "token", "không phải mã phân trang của API này",
     "is not a paging token of this API (follow the next/prev links)"),
    ("syntax error in tsquery", "q", "không đọc được các từ tìm kiếm (dùng từ, dấu ngoặc kép, AND, OR, NOT)",
     "the free-text terms cannot be read (use words, quoted phrases, AND, OR, NOT)"),
    ("The and operator requires", "query", "một điều kiện rỗng hoặc không có đối số",
     "an empty condition or one without arguments"),
    ("The or operator requires", "query", "một điều kiện rỗng hoặc không có đối số",
     "an empty condition or one without arguments"),
)


def _unavailable() -> tuple[type[Exception], ...]:
    """Exceptions that mean the database (or another service) cannot answer now → 503."""
    import asyncpg.exceptions as pg

    return (pg.PostgresConnectionError, pg.InterfaceError, pg.TooManyConnectionsError,
            pg.CannotConnectNowError, ConnectionError, TimeoutError)


def status_codes() -> dict[type[Exception], int]:
    """Exception type → HTTP status."""
    import asyncpg.exceptions as pg
    from stac_fastapi.api.errors import DEFAULT_STATUS_CODES

    table: dict[type[Exception], int] = dict(DEFAULT_STATUS_CODES)
    for cls in (
        rs.UsageError, rs.NotFoundError, rs.ConflictError, rs.CatalogError, rs.AuthError,
        rs.PermissionDeniedError, rs.ServiceError, rs.StorageError, rs.ConfigError,
    ):
        table[cls] = cls.http_status
    for cls in _database_client_errors():
        table[cls] = 400
    table[pg.QueryCanceledError] = 503  # statement_timeout
    for cls in _unavailable():
        table[cls] = 503
    table[ValueError] = 400           # pydantic / parsers on request parameters
    return table


def _params_named(request: Any) -> list[str]:
    """The search parameters this request gave (query string, or a POST search body)."""
    given = set(request.query_params.keys()) | set(getattr(request.state, SEARCH_PARAMS_KEY, ()) or ())
    return [p for p in _CLIENT_PARAMS if p in given]


def _own(exc: Exception) -> bool:
    """An error whose text is written for clients: the archive's own, or the STAC API framework's."""
    return isinstance(exc, rs.RsArchiveError) or type(exc).__module__.startswith("stac_fastapi")


def _description(request: Any, exc: Exception, status: int, timeout_ms: int | None) -> tuple[str, dict[str, Any]]:
    """What the answer says (and extra body members) for ``exc``."""
    import asyncpg.exceptions as pg
    import pydantic

    rid = request_id(request)
    if isinstance(exc, pg.QueryCanceledError):
        seconds = f"{(timeout_ms or 0) / 1000:g}"
        return (f"Truy vấn vượt quá thời gian cho phép ({seconds} s); hãy thu hẹp tìm kiếm (bbox, datetime, "
                f"collections) hoặc thử lại sau (mã yêu cầu {rid}) — the search took longer than the server "
                f"allows ({seconds} s); narrow it (bbox, datetime, collections) or try again later "
                f"(request id {rid})", {"request_id": rid})
    if status >= 500:
        return generic_error(status, rid)["description"], {"request_id": rid}
    client_errors = _database_client_errors()
    if isinstance(exc, tuple(client_errors)):
        message = str(exc)
        for start, param, vi, en in _DATABASE_MESSAGES:
            if message.startswith(start):
                return f"{param}: {vi} — {param}: {en}", {}
    for cls, (vi, en) in client_errors.items():
        if isinstance(exc, cls):
            named = ", ".join(_params_named(request)) or "request"
            return f"{named}: {vi} — {named}: {en}", {}
    if isinstance(exc, pydantic.ValidationError):
        vi, en = validation_problems(exc.errors(), ())
        return en, {"description_vi": vi, "description_en": en}
    if _own(exc):
        text = str(exc).strip()
        return (text.splitlines()[0] if text else type(exc).__name__), {}
    # any other library's ValueError: its text is not for clients
    named = ", ".join(_params_named(request)) or "request"
    return (f"{named}: giá trị không hợp lệ — {named}: invalid value", {})


_HTTP_CODES = {400: "InvalidParameter", 401: "AuthError", 403: "PermissionDeniedError", 404: "NotFound",
               405: "MethodNotAllowed", 406: "NotAcceptable", 409: "ConflictError", 413: "RequestLimitExceeded",
               415: "UnsupportedMediaType", 422: "InvalidParameter", 429: "TooManyRequests"}
"""The ``code`` of an HTTP error raised by a route (never a class name of the framework)."""



def http_code(status: int) -> str:
    """The ``code`` of an error answer of HTTP ``status`` that names no error type."""
    return _HTTP_CODES.get(status, "InvalidRequest")


_PYDANTIC_LOC = re.compile(r"^[A-Za-z_][\w.\-\[\]]*$")
_REWORDED = {
    "Query extension is not available when using pgstac with cql2":
        "query cannot be combined with a cql2 filter-lang",
}


def _clean_detail(detail: str) -> str:
    """A route's error text without a validation library's report format (model names,
    ``[type=…, input_value=…]``, documentation links) or the catalog software's name."""
    for text, ours in _REWORDED.items():
        detail = detail.replace(text, ours)
    if "validation error" not in detail:
        return detail
    head, _, report = detail.partition("validation error")
    problems: list[str] = []
    loc = ""
    for line in report.splitlines()[1:]:
        if line.startswith("  ") and not line.startswith("    "):
            problems.append(f"{loc}: {line.strip().split(' [type=')[0]}" if loc else line.strip().split(" [type=")[0])
        elif _PYDANTIC_LOC.match(line.strip()):
            loc = line.strip()
    prefix = re.sub(r"\s*\d+\s*$", "", head).strip()
    return "; ".join(problems) if not prefix else f"{prefix}: " + "; ".join(problems)


def validation_problems(errors: Any, hidden: tuple[str, ...] = ("query", "body")) -> tuple[str, str]:
    """A validation library's errors as one line in Vietnamese and one in English, each naming the
    parameter (:func:`rsarchive.api.lang.validation_message` words the Vietnamese by the error's type)."""
    vi, en = [], []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in hidden)
        clean = dict(err, msg=_clean_detail(str(err.get("msg"))))
        en.append(f"{where}: {clean['msg'].removeprefix('Value error, ')}")
        vi.append(f"{where}: {validation_message('vi', clean)}")
    return "; ".join(vi), "; ".join(en)


def add_handlers(app: Any, statement_timeout_ms: int | None = None) -> None:
    """Install the table on a FastAPI app (errors as ``{"code", "description"}``)."""
    from starlette.requests import Request
    from stac_fastapi.api.models import JSONResponse

    def make(status: int) -> Any:
        def handler(request: Request, exc: Exception) -> JSONResponse:
            rid = request_id(request)
            if status >= 500:
                log.error("request %s: %s %s failed (%d)", rid, request.method, request.url.path, status,
                          exc_info=exc)
                setattr(request.state, LOGGED_KEY, True)
            else:
                log.info("request %s: %s %s: %s %s: %s", rid, request.method, request.url.path, status,
                         type(exc).__name__, exc)
            description, extra = _description(request, exc, status, statement_timeout_ms)
            code = ("ServiceUnavailable" if status == 503 else "ServerError" if status >= 500
                    else type(exc).__name__ if _own(exc) else "InvalidParameter")
            headers = {"Retry-After": "5"} if status == 503 else None
            return JSONResponse(status_code=status, content={"code": code, "description": description, **extra},
                                headers=headers)

        return handler

    for cls, status in status_codes().items():
        app.add_exception_handler(cls, make(status))
    app.add_exception_handler(Exception, make(500))

    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        vi, en = validation_problems(exc.errors())
        return JSONResponse(status_code=400, content={"code": "InvalidParameter", "description": en,
                                                      "description_vi": vi, "description_en": en})

    def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code >= 500:
            log.error("request %s: %s %s: %d %s", request_id(request), request.method, request.url.path,
                      exc.status_code, detail)
            body = generic_error(exc.status_code, request_id(request))
        else:
            body = {"code": http_code(exc.status_code), "description": _clean_detail(detail)}
        return JSONResponse(status_code=exc.status_code, content=body, headers=getattr(exc, "headers", None))

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(HTTPException, http_error)
