"""Failed web logins are slowed down: after ``login_max_failures`` failures within
``login_window_seconds`` — counted separately for the client address and for the account
(user name) tried — further logins for that address or account are refused (429 with
Retry-After) until the oldest of those failures leaves the window (a sliding lockout window).

The failures live in the internal database (``rsarchive.login_failures``), not in memory:
with several uvicorn workers (``rsarchive serve --workers N``) each worker must see every
failure, and a restart must not reset the count.  Nothing sleeps: a locked-out attempt is
answered at once, and the database calls run off the event loop (the login route calls these
in a thread).

A login refused while locked is not counted again, so a lock ends on time; a successful login
clears its account's failures, not its address's (one valid account must not reset the count
of an address that is guessing others).  The per-account count lets anyone delay one account's
logins by failing on purpose; the window bounds that delay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["LoginLimits", "clear_account", "keys_for", "record_failure", "retry_after"]


@dataclass(frozen=True)
class LoginLimits:
    max_failures: int
    window_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        return cls(settings.login_max_failures, settings.login_window_seconds)


def keys_for(address: str | None, account: str) -> list[str]:
    """The counters a login attempt counts against: its client address and its account."""
    keys = [f"account:{account.strip().lower()[:200]}"]
    if address:
        keys.append(f"address:{address}")
    return keys


def retry_after(conn: Any, keys: list[str], limits: LoginLimits) -> int:
    """Seconds until a login may be tried for ``keys`` (0: now)."""
    row = conn.execute(
        "SELECT max(ceil(extract(epoch FROM f.at + make_interval(secs => %(w)s) - now())))::int FROM ("
        "  SELECT at, row_number() OVER (PARTITION BY key ORDER BY at DESC) AS n FROM rsarchive.login_failures"
        "  WHERE key = ANY(%(keys)s) AND at > now() - make_interval(secs => %(w)s)) f WHERE f.n = %(n)s",
        {"w": limits.window_seconds, "keys": keys, "n": limits.max_failures}).fetchone()
    return max(int(row[0] or 0), 0)


def record_failure(conn: Any, keys: list[str], limits: LoginLimits) -> None:
    """Count one failed login against ``keys`` (and forget failures older than the window)."""
    conn.execute("DELETE FROM rsarchive.login_failures WHERE at <= now() - make_interval(secs => %s)",
                 (limits.window_seconds,))
    for key in keys:
        conn.execute("INSERT INTO rsarchive.login_failures (key) VALUES (%s)", (key,))
    log.warning("failed web login (%s)", ", ".join(keys))


def clear_account(conn: Any, keys: list[str]) -> None:
    """Forget the account's failures after a successful login."""
    conn.execute("DELETE FROM rsarchive.login_failures WHERE key = ANY(%s) AND key LIKE 'account:%%'", (keys,))
