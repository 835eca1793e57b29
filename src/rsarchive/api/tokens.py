"""API tokens for the internal STAC API: a simple table, tokens hashed at rest.

A token is shown once, when it is created; only its sha256 is stored
(``rsarchive.api_tokens`` in the internal database).  The requests issue adds users,
roles and clearances on top of this table.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rsarchive.db import connect
from rsarchive.errors import ConflictError, NotFoundError, UsageError
from rsarchive.identity import INTERNAL_CATALOG_ROLES

__all__ = ["TokenInfo", "create_token", "list_tokens", "lookup_token_async", "revoke_token", "token_hash"]

PREFIX = "rsa_"


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def create_token(internal_dsn: str, name: str) -> str:
    """Create a token called ``name``; return the token (the only time it is visible)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise UsageError("token name must be 1–100 characters")
    token = PREFIX + secrets.token_urlsafe(32)
    with connect(internal_dsn) as conn:
        if conn.execute("SELECT 1 FROM rsarchive.api_tokens WHERE name = %s", (name,)).fetchone():
            raise ConflictError(f"a token named {name!r} already exists; revoke it or choose another name")
        conn.execute("INSERT INTO rsarchive.api_tokens (name, token_sha256) VALUES (%s, %s)", (name, token_hash(token)))
        conn.commit()
    return token


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
            "SELECT name, created_at, revoked_at, last_used_at FROM rsarchive.api_tokens ORDER BY name"
        ).fetchall()
    return [TokenInfo(*row) for row in rows]


async def lookup_token_async(pool: Any, token: str) -> str | None:
    """The name of an active token (asyncpg pool of the internal database), or None;
    "" for a user's token whose role may not read the internal catalog."""
    if not token.startswith(PREFIX):
        return None
    # A token with an owner (``rsarchive users``, migration 0040) counts only while the user is
    # active; its role must allow the internal catalog (rsarchive.identity.INTERNAL_CATALOG_ROLES),
    # else the name comes back as "" (known, but forbidden: 403).
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "UPDATE rsarchive.api_tokens t SET last_used_at = now() "
            "WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND (t.user_id IS NULL OR EXISTS "
            "(SELECT 1 FROM rsarchive.users u WHERE u.id = t.user_id AND u.revoked_at IS NULL)) "
            "RETURNING t.name, (t.user_id IS NULL OR EXISTS (SELECT 1 FROM rsarchive.users u "
            "WHERE u.id = t.user_id AND u.role = ANY($2::text[]))) AS allowed",
            token_hash(token), list(INTERNAL_CATALOG_ROLES),
        )
    if row is None:
        return None
    return str(row["name"]) if row["allowed"] else ""
