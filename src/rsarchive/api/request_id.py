"""A request id on every answer, and the last line of defence for 5xx answers.

Every HTTP request gets a fresh id (``X-Request-ID`` on the answer; clients' own ids are
not trusted).  The error handlers (:mod:`rsarchive.api.errors`) put it in the body of a
5xx answer and in the server log beside the cause, so an operator can find the cause
from what a user quotes, while the answer itself says nothing about the server's
insides.  An exception that no handler took becomes the same generic 500 here (or, when
the answer had already started, is only logged): it never reaches uvicorn, and the
process goes on serving.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["HEADER", "LOGGED_KEY", "RequestContext", "generic_error", "request_id"]

HEADER = "X-Request-ID"
_STATE_KEY = "request_id"
LOGGED_KEY = "error_logged"
"""Set in the request state by an error handler that logged the cause."""


def request_id(request: Any) -> str:
    """The id of ``request`` (a Starlette request), or ``-`` outside :class:`RequestContext`."""
    return str(getattr(request.state, _STATE_KEY, "-"))


def generic_error(status: int, rid: str) -> dict[str, str]:
    """The body of a 5xx answer: nothing of the cause, the id to quote."""
    if status == 503:
        vi, en = "Dịch vụ tạm thời không sẵn sàng; xin thử lại sau", "service temporarily unavailable; try again later"
    else:
        vi, en = "Lỗi nội bộ của máy chủ", "internal server error"
    return {"code": "ServerError" if status != 503 else "ServiceUnavailable",
            "description": f"{vi} (mã yêu cầu {rid}) — {en} (request id {rid})", "request_id": rid}


class RequestContext:
    """ASGI middleware: the request id, and a generic 500 for anything unhandled."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = secrets.token_hex(8)
        state = scope.setdefault("state", {})
        state[_STATE_KEY] = rid
        started = False

        async def send_with_id(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER.lower().encode()]
                message = dict(message, headers=headers + [(HEADER.lower().encode(), rid.encode())])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # the last line: log the cause with the id, answer nothing of it
            if not state.get(LOGGED_KEY):  # a handler that answered already logged it
                log.exception("request %s: %s %s failed", rid, scope.get("method"), scope.get("path"))
            if started:
                return
            from starlette.responses import JSONResponse

            await JSONResponse(generic_error(500, rid), status_code=500)(scope, receive, send_with_id)
