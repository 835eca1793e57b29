"""Authentication and roles for the API: bearer tokens (JSON API), a web session cookie
(web pages, :mod:`rsarchive.api.sessions`), ``require_role(...)`` as a FastAPI dependency,
and the table that turns archive errors into HTTP answers for these routes.

A wrong, revoked or expired token (or session) is 401; a known user without the role is
403; no token on a non-public route is 401.  Every non-public route depends on
:func:`require_role`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rsarchive.api.sessions import SESSION_COOKIE, session_principal
from rsarchive.db import transaction
from rsarchive.errors import AuthError, RsArchiveError, ServiceError
from rsarchive.users import identity
from rsarchive.users.identity import Principal

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

bearer = HTTPBearer(auto_error=False, description="API token from `rsarchive users add`")


def token_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The bearer token a request presents, None without an Authorization header."""
    if credentials is not None:
        return credentials.credentials
    header = request.headers.get("authorization")
    if header is not None:  # present but not a Bearer token
        raise AuthError("Authorization header must be 'Bearer <token>'")
    return None


def principal_for(settings: Settings, token: str | None) -> Principal:
    with transaction(settings) as conn:
        return identity.authenticate(conn, token)


def session_user(settings: Settings, request: Request) -> Principal:
    """The user of the request's web session cookie (anonymous without one)."""
    with transaction(settings) as conn:
        return session_principal(conn, request.cookies.get(SESSION_COOKIE))


def require_role(settings: Settings, *roles: str, cookie: bool = False) -> Callable[..., Principal]:
    """A dependency giving the caller's :class:`Principal` when it holds one of ``roles``
    (admin always does): 401 without a valid token, 403 without the role."""

    def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        token = token_of(request, credentials)
        if token is None and cookie and SESSION_COOKIE in request.cookies:
            principal = session_user(settings, request)
        else:
            principal = principal_for(settings, token)
        return identity.require(principal, *roles)

    return dependency


def internal_catalog_principal(settings: Settings, token: str | None) -> Principal:
    """For the internal STAC API: the caller when it may read the internal catalog
    (officer, operator, admin, or a token made before roles existed); else 401/403
    (401 naming the expiry for an expired token)."""
    with transaction(settings) as conn:
        return identity.check_internal_token(conn, token)


def error_response(exc: RsArchiveError, request: Request | None = None) -> JSONResponse:
    """The JSON answer for an archive error: status from its ``http_status``, body
    ``{"code", "description"}`` like the rest of the app (``rsarchive.api.errors``); a 5xx
    says nothing of its cause (which the log has, with the request id)."""
    from rsarchive.api.request_id import generic_error, request_id

    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    if exc.http_status >= 500:
        rid = request_id(request) if request is not None else "-"
        log.error("request %s failed: %s", rid, exc)
        if exc.http_status == 503:
            headers = {"Retry-After": "5"}
        return JSONResponse(generic_error(exc.http_status, rid), status_code=exc.http_status, headers=headers)
    return JSONResponse({"code": type(exc).__name__, "description": str(exc)}, status_code=exc.http_status,
                        headers=headers)


class ErrorTranslatingRoute(APIRoute):
    """Routes of these routers answer archive errors themselves (so the routers work in any app)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            import psycopg

            try:
                return await handler(request)
            except RsArchiveError as exc:
                return error_response(exc, request)
            except psycopg.DataError as exc:  # a value PostgreSQL cannot store (safety net): not its words
                from rsarchive.api.request_id import request_id

                log.info("request %s: a value the database cannot store: %s", request_id(request), exc)
                return JSONResponse({"code": "InvalidParameter", "description": "một giá trị không lưu được (ký tự "
                                     "hoặc số ngoài phạm vi) — a value cannot be stored (a character or a number "
                                     "out of range)"}, status_code=400)
            except psycopg.errors.QueryCanceled:  # statement_timeout
                return error_response(ServiceError("statement timeout"), request)
            except psycopg.OperationalError as exc:
                log.error("database unavailable: %s", exc)
                return error_response(ServiceError("database unavailable"), request)
            except HTTPException:
                raise

        return route
