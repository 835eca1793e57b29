"""The ONE table from exception types to HTTP status codes, and the handlers using it.

stac-fastapi's own defaults are kept (its ``NotFoundError`` → 404, ``InvalidQueryParameter``
→ 400 …) and extended with the archive's errors (each carries ``http_status``) and the
database errors that mean "the client sent something malformed" (a bad CQL2 filter, a
bad datetime or sort key reaching pgSTAC), which must be 400 and never 500.
"""

from __future__ import annotations

import logging
from typing import Any

from rsarchive import errors as rs

log = logging.getLogger(__name__)

__all__ = ["add_handlers", "status_codes"]


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
    # Malformed input that only pgSTAC notices (bad CQL2, bad property path, bad values).
    for cls in (
        pg.DataError,                 # invalid_text_representation, datetime field overflow, …
        pg.RaiseError,                # pgSTAC's RAISE EXCEPTION on bad filters / sort keys
        pg.UndefinedFunctionError,    # an operator applied to the wrong types in a filter
        pg.SyntaxOrAccessError,       # a column or property that cannot be used as asked
    ):
        table[cls] = 400
    table[ValueError] = 400           # pydantic / parsers on request parameters
    return table


def add_handlers(app: Any) -> None:
    """Install the table on a FastAPI app (errors as ``{"code", "description"}``)."""
    from starlette.requests import Request
    from stac_fastapi.api.models import JSONResponse

    def make(status: int) -> Any:
        def handler(request: Request, exc: Exception) -> JSONResponse:
            if status >= 500:
                log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
            else:
                log.info("%s %s: %s %s", request.method, request.url.path, status, exc)
            description = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return JSONResponse(status_code=status, content={"code": type(exc).__name__, "description": description})

        return handler

    for cls, status in status_codes().items():
        app.add_exception_handler(cls, make(status))

    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p not in ('query', 'body'))}: {err.get('msg')}"
            for err in exc.errors()
        )
        return JSONResponse(status_code=400, content={"code": "InvalidParameter", "description": problems})

    def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(status_code=exc.status_code, content={"code": type(exc).__name__, "description": detail},
                            headers=getattr(exc, "headers", None))

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(HTTPException, http_error)
