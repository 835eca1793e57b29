"""PostgreSQL connections: one place that opens them and turns connection
failures into :class:`~rsarchive.errors.ServiceError` without leaking secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rsarchive.errors import ServiceError

if TYPE_CHECKING:
    from rsarchive.settings import Settings


def redact(dsn: str) -> str:
    """The DSN with any password removed, for messages and logs."""
    dsn = re.sub(r"(postgres(?:ql)?://[^:/@]+):[^@]*@", r"\1:***@", dsn)
    return re.sub(r"(password=)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)


def connect(dsn: str, *, autocommit: bool = False, connect_timeout: int = 5, **kwargs: Any) -> Any:
    """Open a psycopg connection; a failure becomes one clear :class:`ServiceError`."""
    import psycopg

    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=connect_timeout, **kwargs)
    except psycopg.OperationalError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = lines[0] if lines else type(exc).__name__
        raise ServiceError(f"cannot connect to PostgreSQL at {redact(dsn)}: {reason}") from None


@contextmanager
def transaction(settings: Settings) -> Iterator[Any]:
    """A connection to the internal database, committed when the block succeeds (rolled back
    when it raises); its statements run under the query budget of a request
    (``api_statement_timeout_ms``), for the API and the CLI commands that do the same work."""
    with connect(settings.internal_database_dsn,
                 options=f"-c statement_timeout={int(settings.api_statement_timeout_ms)}") as conn:
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def with_database(dsn: str, database: str) -> str:
    """The same server DSN pointing at another database."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["dbname"] = database
    return make_conninfo(**params)  # type: ignore[arg-type]
