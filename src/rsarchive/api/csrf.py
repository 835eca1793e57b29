"""Cross-site request forgery tokens for the web pages' forms.

Every form of the web pages carries a hidden ``csrf_token`` field, and every POST
(and other unsafe method) to a route of the web router is refused with 403 when the field
is missing or wrong (:func:`csrf_route_class`), before the route runs:

* logged in, the token is an HMAC of the session's secret (:func:`session_token`): only
  a page rendered for this session knows it, and it needs no storage;
* the login form is posted before there is a session: its token is a random value also
  held in a pre-session cookie (:data:`CSRF_COOKIE`, HttpOnly, SameSite=Strict) that the
  login page sets — a double submit, so another site can neither post a login nor log a
  visitor in with the attacker's own token.

Templates get the right value as ``{{ csrf_token }}`` (:func:`template_context`, a
Jinja2 context processor); a form needs
``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from rsarchive.api.sessions import SESSION_COOKIE, set_cookie

__all__ = ["CSRF_COOKIE", "FIELD", "csrf_route_class", "keep_login_token", "login_token", "session_token",
           "template_context"]

CSRF_COOKIE = "rsarchive_csrf"
"""The pre-session cookie holding the login form's token."""

FIELD = "csrf_token"
"""The hidden form field."""

LOGIN_PATH = "/web/login"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

REFUSAL = ("Yêu cầu bị từ chối: thiếu hoặc sai mã chống giả mạo (CSRF). Hãy tải lại trang rồi gửi lại. / "
           "Request refused: the anti-forgery (CSRF) token is missing or wrong. Reload the page and send it again.")


def session_token(secret: str) -> str:
    """The forms' token for the session whose secret is ``secret``."""
    return hmac.new(secret.encode("utf-8"), b"rsarchive web form", hashlib.sha256).hexdigest()


def login_token(request: Request) -> str:
    """The login form's token: the pre-session cookie's value, or a new one when the
    browser has none yet; kept in ``request.state`` for the template and
    :func:`keep_login_token`."""
    value = request.cookies.get(CSRF_COOKIE, "")
    if len(value) < 32:
        value = secrets.token_urlsafe(32)
    request.state.csrf_token = value
    return value


def keep_login_token(request: Request, response: Response) -> None:
    """Set the pre-session cookie on ``response`` when :func:`login_token` made a new value."""
    value = getattr(request.state, "csrf_token", None)
    if value and value != request.cookies.get(CSRF_COOKIE):
        set_cookie(response, request, CSRF_COOKIE, value, max_age=None, samesite="strict", path=LOGIN_PATH)


def template_context(request: Request) -> dict[str, Any]:
    """Jinja2 context processor: ``csrf_token`` for the forms of the page being rendered."""
    value = getattr(request.state, "csrf_token", None)
    if value is None:
        secret = request.cookies.get(SESSION_COOKIE)
        value = session_token(secret) if secret else ""
    return {"csrf_token": value}


def _expected(request: Request) -> str | None:
    if request.url.path == LOGIN_PATH:
        return request.cookies.get(CSRF_COOKIE) or None
    secret = request.cookies.get(SESSION_COOKIE)
    return session_token(secret) if secret else None


async def form_is_genuine(request: Request) -> bool:
    """True when the posted form's ``csrf_token`` is the one this browser was given."""
    expected = _expected(request)
    if expected is None:
        return False
    try:
        form = await request.form()  # parsed once: the route reads the same cached form
    except Exception:  # noqa: BLE001 — an unreadable body cannot carry a valid token
        return False
    given = form.get(FIELD)
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def csrf_route_class(refuse: Callable[[Request], Response]) -> type[APIRoute]:
    """A route class checking the CSRF token of every unsafe request before the route
    runs; ``refuse(request)`` answers the forged ones (status 403)."""

    class CsrfCheckedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def route(request: Request) -> Response:
                if request.method not in SAFE_METHODS and not await form_is_genuine(request):
                    return refuse(request)
                return await handler(request)

            return route

    return CsrfCheckedRoute
