"""API tokens for the internal STAC API: a simple table, tokens hashed at rest.

A token is shown once, when it is created; only its sha256 is stored
(``rsarchive.api_tokens`` in the internal database).  The requests issue adds users,
roles and clearances on top of this table.  Every token expires (``expires_at``,
``token_lifetime_days`` after it is created or renewed); an expired token is refused
like a revoked one until it is renewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsarchive.db import connect
from rsarchive.errors import ConflictError, NotFoundError, UsageError
from rsarchive.users.identity import (
    DEFAULT_TOKEN_LIFETIME_DAYS,
    INTERNAL_CATALOG_ROLES,
    LEGACY_TOKEN_CLEARANCE,
    TOKEN_PREFIX,
    check_lifetime,
    expiry_text,
    new_token,
    renew_token as _renew,
    token_digest,
)

__all__ = ["TokenCaller", "TokenInfo", "create_token", "list_tokens", "lookup_token_async", "refusal_async",
           "renew_token", "revoke_token"]


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime
    expired: bool
    """True when ``expires_at`` has passed (by the database's clock)."""


def create_token(internal_dsn: str, name: str, lifetime_days: int = DEFAULT_TOKEN_LIFETIME_DAYS) -> str:
    """Create a token called ``name``, valid for ``lifetime_days``; return the token (the
    only time it is visible)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise UsageError("token name must be 1–100 characters")
    token = new_token()
    with connect(internal_dsn) as conn:
        if conn.execute("SELECT 1 FROM rsarchive.api_tokens WHERE name = %s", (name,)).fetchone():
            raise ConflictError(f"a token named {name!r} already exists; revoke it or choose another name")
        conn.execute("INSERT INTO rsarchive.api_tokens (name, token_sha256, expires_at) "
                     "VALUES (%s, %s, now() + make_interval(days => %s))",
                     (name, token_digest(token), check_lifetime(lifetime_days)))
        conn.commit()
    return token


def renew_token(internal_dsn: str, name: str, days: int) -> datetime:
    """Make the active token called ``name`` valid for ``days`` from now; its new expiry."""
    with connect(internal_dsn) as conn:
        expires = _renew(conn, name, days)
        conn.commit()
    return expires


def revoke_token(internal_dsn: str, name: str) -> None:
    """Revoke the token called ``name`` (kept for the record)."""
    with connect(internal_dsn) as conn:
        cur = conn.execute(
            "UPDATE rsarchive.api_tokens SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", (name,)
        )
        if cur.rowcount == 0:
            raise NotFoundError(f"no active token named {name!r}")
        conn.commit()


def list_tokens(internal_dsn: str) -> list[TokenInfo]:
    with connect(internal_dsn) as conn:
        rows = conn.execute(
            "SELECT name, created_at, revoked_at, last_used_at, expires_at, expires_at <= now() "
            "FROM rsarchive.api_tokens ORDER BY name"
        ).fetchall()
    return [TokenInfo(*row) for row in rows]


@dataclass(frozen=True)
class TokenCaller:
    """Who holds a token presented to the internal STAC API."""

    name: str
    allowed: bool
    """False for a user whose role may not read the internal catalog (403)."""
    clearance: str
    """The user's clearance; ``unclassified`` for a token without a user
    (:data:`rsarchive.users.identity.LEGACY_TOKEN_CLEARANCE`)."""


LAST_USED_RESOLUTION_SECONDS = 60
"""``last_used_at`` is written at most this often per token: a read per request, not a write."""

_LOOKUP_SQL = (
    "WITH t AS ("
    "  SELECT t.id, t.name, t.last_used_at, t.user_id, u.role, u.clearance FROM rsarchive.api_tokens t"
    "  LEFT JOIN rsarchive.users u ON u.id = t.user_id"
    "  WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND (t.user_id IS NULL OR u.revoked_at IS NULL)"
    "    AND t.expires_at > now()"
    "), touched AS ("
    "  UPDATE rsarchive.api_tokens a SET last_used_at = now() FROM t WHERE a.id = t.id"
    f"  AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '{LAST_USED_RESOLUTION_SECONDS} seconds')"
    ") SELECT name, user_id, role, clearance FROM t"
)


async def lookup_token_async(pool: Any, token: str) -> TokenCaller | None:
    """The holder of an active token (asyncpg pool of the internal database), or None for a
    missing, wrong, revoked or expired token, or one of a revoked user (:func:`refusal_async`
    says which).

    Looked up on every request (no cache), so a revocation takes effect at once."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    # A token with an owner (``rsarchive users``, migration 0040) counts only while the user is
    # active; its role must allow the internal catalog (rsarchive.users.identity.INTERNAL_CATALOG_ROLES).
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_LOOKUP_SQL, token_digest(token))
    if row is None:
        return None
    if row["user_id"] is None:
        return TokenCaller(str(row["name"]), True, LEGACY_TOKEN_CLEARANCE)
    return TokenCaller(str(row["name"]), row["role"] in INTERNAL_CATALOG_ROLES, str(row["clearance"]))


async def refusal_async(pool: Any, token: str) -> str:
    """Why :func:`lookup_token_async` refused ``token``, for the 401 answer (Vietnamese
    first): its expiry when it is a known, unrevoked token that has expired, else that it
    is missing, invalid or revoked (which of these is not said)."""
    if not token:
        return "thiếu mã truy cập (Authorization: Bearer …) / missing bearer token"
    if token.startswith(TOKEN_PREFIX):
        async with pool.acquire() as conn:
            expired = await conn.fetchval(
                "SELECT t.expires_at FROM rsarchive.api_tokens t LEFT JOIN rsarchive.users u ON u.id = t.user_id "
                "WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND (t.user_id IS NULL OR u.revoked_at IS NULL) "
                "AND t.expires_at <= now()", token_digest(token))
        if expired is not None:
            when = expiry_text(expired)
            return f"mã truy cập đã hết hạn lúc {when} / token expired at {when}"
    return "mã truy cập sai hoặc đã bị thu hồi / invalid or revoked token"
