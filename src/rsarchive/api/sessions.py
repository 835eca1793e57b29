"""Web sessions: the login form exchanges an API token for a session.

The browser holds only the session's random secret, in an HttpOnly cookie
(:data:`SESSION_COOKIE`); the database holds its sha256 (``rsarchive.web_sessions``).
The API token itself never reaches a cookie, so a stolen cookie is worth one session,
not the token's months.

A session ends, whichever comes first:

* ``session_lifetime_minutes`` after login — an **absolute** lifetime, not an idle
  timeout (nothing is written per request, and a session cannot be kept alive forever);
* when its token expires (the session's expiry is never later than the token's);
* at logout, or when its token or its user is revoked (checked on every request).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime
from typing import Any, Literal

from fastapi import Request, Response

from rsarchive.errors import AuthError, TokenExpiredError
from rsarchive.users import identity
from rsarchive.users.identity import Principal

log = logging.getLogger(__name__)

__all__ = ["SESSION_COOKIE", "end_session", "is_https", "session_principal", "set_cookie", "start_session"]

SESSION_COOKIE = "rsarchive_session"
"""The web pages' cookie: the session secret (HttpOnly, SameSite=Lax, Secure over https)."""

SESSION_PREFIX = "rss_"

KEEP_ENDED_DAYS = 30
"""Ended and expired sessions are deleted this many days later (at a later login)."""

_SESSION_SQL = (
    "SELECT u.id, u.name, u.role, u.organisation_id, o.name, u.clearance, s.secret_sha256, "
    "  s.expires_at, s.expires_at <= now(), t.expires_at, t.expires_at <= now() "
    "FROM rsarchive.web_sessions s JOIN rsarchive.api_tokens t ON t.id = s.token_id "
    "JOIN rsarchive.users u ON u.id = t.user_id LEFT JOIN rsarchive.organisations o ON o.id = u.organisation_id "
    "WHERE s.secret_sha256 = %s AND s.ended_at IS NULL AND t.revoked_at IS NULL AND u.revoked_at IS NULL")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start_session(conn: Any, name: str, token: str, lifetime_minutes: int) -> tuple[str, Principal, datetime]:
    """Log user ``name`` in with ``token``: the new session's secret, the user and the
    session's expiry.  :class:`AuthError` when the token is wrong, revoked, has no user or
    belongs to another user; :class:`TokenExpiredError` when it has expired."""
    principal = identity.authenticate(conn, token)
    if principal.user_id is None or principal.name != name.strip():
        raise AuthError("tên người dùng hoặc mã truy cập không đúng, hoặc đã bị thu hồi / "
                        "wrong user name or token, or the token is revoked")
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    conn.execute("DELETE FROM rsarchive.web_sessions "
                 "WHERE coalesce(ended_at, expires_at) < now() - make_interval(days => %s)", (KEEP_ENDED_DAYS,))
    expires = conn.execute(
        "INSERT INTO rsarchive.web_sessions (secret_sha256, token_id, expires_at) "
        "SELECT %s, t.id, least(now() + make_interval(mins => %s), t.expires_at) "
        "FROM rsarchive.api_tokens t WHERE t.token_sha256 = %s RETURNING expires_at",
        (_digest(secret), lifetime_minutes, identity.token_digest(token))).fetchone()[0]
    log.info("web session started for %s until %s", principal.name, expires)
    return secret, principal, expires


def session_principal(conn: Any, secret: str | None) -> Principal:
    """The user of a live session; :data:`~rsarchive.users.identity.ANONYMOUS` without a secret;
    :class:`TokenExpiredError` when the session or its token has expired; :class:`AuthError`
    for an unknown, ended or revoked one."""
    if not secret:
        return identity.ANONYMOUS
    digest = _digest(secret)
    row = conn.execute(_SESSION_SQL, (digest,)).fetchone() if secret.startswith(SESSION_PREFIX) else None
    if row is None or not hmac.compare_digest(row[6], digest):
        raise AuthError("phiên đăng nhập không hợp lệ hoặc đã kết thúc / invalid or ended web session")
    if row[10]:
        raise identity.token_expired(row[9])
    if row[8]:
        when = identity.expiry_text(row[7])
        raise TokenExpiredError(f"phiên đăng nhập đã hết hạn lúc {when}; hãy đăng nhập lại / "
                                f"web session expired at {when}; log in again")
    return Principal(user_id=row[0], name=row[1], role=row[2], organisation_id=row[3], organisation=row[4],
                     clearance=row[5])


def end_session(conn: Any, secret: str | None) -> None:
    """End the session (logout); nothing for an unknown one."""
    if secret:
        conn.execute("UPDATE rsarchive.web_sessions SET ended_at = now() WHERE secret_sha256 = %s AND ended_at IS NULL",
                     (_digest(secret),))


def is_https(request: Request) -> bool:
    """True when the client reached us over https: the connection's scheme, or
    X-Forwarded-Proto when uvicorn believes the peer (setting ``trusted_proxies``)."""
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None,
               samesite: Literal["lax", "strict"] = "lax", path: str = "/") -> None:
    """Set a cookie the way every cookie of the web pages is set: HttpOnly, ``samesite``,
    Secure whenever the request came over https."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite=samesite, secure=is_https(request),
                        path=path)
