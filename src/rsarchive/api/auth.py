"""Authentication and roles for the API: bearer tokens (JSON API), a cookie (web pages),
``require_role(...)`` as a FastAPI dependency, and the table that turns archive errors
into HTTP answers for these routes.

A wrong or revoked token is 401; a known user without the role is 403; no token on a
non-public route is 401.  Every non-public route depends on :func:`require_role`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rsarchive import identity
from rsarchive.db import connect
from rsarchive.errors import AuthError, RsArchiveError
from rsarchive.identity import Principal

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

COOKIE = "rsarchive_token"
"""The web pages' cookie holding the API token (HttpOnly, SameSite=Strict)."""

bearer = HTTPBearer(auto_error=False, description="API token from `rsarchive users add`")


@contextmanager
def transaction(settings: Settings) -> Iterator[Any]:
    """A connection to the internal database, committed when the block succeeds."""
    with connect(settings.internal_database_dsn) as conn:
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def token_of(request: Request, credentials: HTTPAuthorizationCredentials | None, cookie: bool) -> str | None:
    """The token a request presents: the bearer header, else (when allowed) the web cookie."""
    if credentials is not None:
        return credentials.credentials
    header = request.headers.get("authorization")
    if header is not None:  # present but not a Bearer token
        raise AuthError("Authorization header must be 'Bearer <token>'")
    return request.cookies.get(COOKIE) if cookie else None


def principal_for(settings: Settings, token: str | None) -> Principal:
    with transaction(settings) as conn:
        return identity.authenticate(conn, token)


def require_role(settings: Settings, *roles: str, cookie: bool = False) -> Callable[..., Principal]:
    """A dependency giving the caller's :class:`Principal` when it holds one of ``roles``
    (admin always does): 401 without a valid token, 403 without the role."""

    def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        principal = principal_for(settings, token_of(request, credentials, cookie))
        return identity.require(principal, *roles)

    return dependency


def internal_catalog_principal(settings: Settings, token: str | None) -> Principal:
    """For the internal STAC API: the caller when it may read the internal catalog
    (officer, operator, admin, or a token made before roles existed); else 401/403."""
    with transaction(settings) as conn:
        return identity.check_internal_token(conn, token)


def error_response(exc: RsArchiveError) -> JSONResponse:
    """The JSON answer for an archive error: status from its ``http_status``, body
    ``{"code", "description"}`` like the rest of the app (``rsarchive.api.errors``)."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    if exc.http_status >= 500:
        log.error("request failed: %s", exc)
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
                return error_response(exc)
            except psycopg.DataError as exc:  # a value PostgreSQL cannot store (safety net)
                return JSONResponse({"code": "DataError", "description": f"invalid value: {str(exc).splitlines()[0]}"},
                                    status_code=400)
            except HTTPException:
                raise

        return route
