"""Who is calling: organisations, users, roles, security clearance and API tokens.

Roles
    ``public`` (anonymous, no token), ``requester`` (belongs to an organisation;
    submits data requests), ``officer`` (archive officer: reviews, refuses,
    fulfils, triages error reports), ``operator`` (runs the ground station and
    ingest; reads the internal catalog), ``admin`` (everything).

Clearance
    Ordered like the items' ``rsarchive:security_classification``:
    ``unclassified`` < ``confidential`` (mật) < ``secret`` (tối mật) <
    ``top-secret`` (tuyệt mật), the three levels of the Law on Protection of
    State Secrets 2018 above unclassified.  Fail closed: an item whose
    classification is missing, or is not one of these words (or an exact alias
    of :data:`CLASSIFICATION_ALIASES`), ranks as ``top-secret``, so only the
    highest clearance sees it.  Everything that decides visibility uses the
    same rule: :meth:`Principal.may_see` here, the requests search, and the
    internal STAC API through :func:`visible_classifications` (a CQL2 ``in``
    over exactly these spellings; no case folding, so both agree).

Tokens
    ``rsa_`` + 43 url-safe characters (32 random bytes).  Only the sha256 of the
    token is stored; a token is looked up by its digest (an attacker cannot
    steer a digest, so the lookup leaks nothing useful) and the digest is then
    compared again in constant time.  A token is shown once, when issued.  It
    expires ``token_lifetime_days`` (a setting) after it is issued or renewed
    (:func:`renew_token`); an expired token is refused with
    :class:`~rsarchive.errors.TokenExpiredError` naming the moment it expired.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from rsarchive.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    TokenExpiredError,
    UsageError,
)

log = logging.getLogger(__name__)

ROLES: tuple[str, ...] = ("requester", "officer", "operator", "admin")
"""Roles a user account can hold (``public`` is the absence of an account)."""

PUBLIC = "public"

CLEARANCES: tuple[str, ...] = ("unclassified", "confidential", "secret", "top-secret")
"""Clearance levels, lowest first; the same words as items' ``rsarchive:security_classification``."""

CLASSIFICATION_PROPERTY = "rsarchive:security_classification"
"""The item property holding its security classification (written by ``rsarchive.catalog.items``)."""

CLASSIFICATION_ALIASES: dict[str, str] = {
    "unclassified": "unclassified", "public": "unclassified",
    "confidential": "confidential", "restricted": "confidential", "mat": "confidential", "mật": "confidential",
    "secret": "secret", "toi-mat": "secret", "tối mật": "secret",
    "top-secret": "top-secret", "top_secret": "top-secret", "tuyet-mat": "top-secret", "tuyệt mật": "top-secret",
}
"""Exact spellings of a classification (the catalog writes only the canonical words)."""

TOKEN_PREFIX = "rsa_"

DEFAULT_TOKEN_LIFETIME_DAYS = 90
"""Days a token lasts when the caller does not say (the setting ``token_lifetime_days``
is what the CLI passes)."""


def classification_rank(value: Any) -> int:
    """Rank of an item's classification in :data:`CLEARANCES`.

    Fail closed: a missing (None) or unknown value ranks as the highest level, so
    only a ``top-secret`` clearance sees such an item."""
    name = CLASSIFICATION_ALIASES.get(value) if isinstance(value, str) else None
    return CLEARANCES.index(name) if name else len(CLEARANCES) - 1


def visible_classifications(clearance: str) -> tuple[str, ...] | None:
    """The classification values an item may carry to be visible at ``clearance``, or
    None when everything is (the highest clearance: missing and unknown values included)."""
    level = CLEARANCES.index(check_clearance(clearance))
    if level == len(CLEARANCES) - 1:
        return None
    return tuple(sorted(v for v, name in CLASSIFICATION_ALIASES.items() if CLEARANCES.index(name) <= level))


def item_classification(item: Any) -> Any:
    """An item's (dict) classification, None when it has none."""
    props = item.get("properties") if isinstance(item, dict) else None
    return props.get(CLASSIFICATION_PROPERTY) if isinstance(props, dict) else None


def check_clearance(value: str) -> str:
    """A valid clearance name, or :class:`UsageError`."""
    if value not in CLEARANCES:
        raise UsageError(f"clearance {value!r} is not one of {', '.join(CLEARANCES)}")
    return value


def check_role(value: str) -> str:
    """A valid role name, or :class:`UsageError`."""
    if value not in ROLES:
        raise UsageError(f"role {value!r} is not one of {', '.join(ROLES)}")
    return value


@dataclass(frozen=True)
class Principal:
    """The authenticated caller (or the anonymous public)."""

    user_id: int | None
    name: str
    role: str
    organisation_id: int | None = None
    organisation: str | None = None
    clearance: str = "unclassified"

    @property
    def is_anonymous(self) -> bool:
        return self.role == PUBLIC

    def has_role(self, *roles: str) -> bool:
        """True when the principal holds one of ``roles`` (admin holds every role)."""
        return self.role in roles or self.role == "admin"

    def may_see(self, classification: Any) -> bool:
        """True when this principal's clearance covers an item's classification."""
        return classification_rank(classification) <= CLEARANCES.index(self.clearance)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.user_id, "name": self.name, "role": self.role,
                "organisation": self.organisation, "clearance": self.clearance}


ANONYMOUS = Principal(user_id=None, name="anonymous", role=PUBLIC)


@dataclass(frozen=True)
class UserRecord:
    """A user account as listed by ``rsarchive users list``."""

    id: int
    name: str
    role: str
    organisation: str | None
    clearance: str
    created_at: datetime
    revoked_at: datetime | None
    active_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role, "organisation": self.organisation,
                "clearance": self.clearance, "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
                "active_tokens": self.active_tokens}


def new_token() -> str:
    """A fresh random API token (32 bytes of entropy)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The sha256 hex digest stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _audit(conn: Any, actor_id: int | None, action: str, detail: dict[str, Any]) -> None:
    from psycopg.types.json import Jsonb

    conn.execute("INSERT INTO rsarchive.audit_log (actor_id, action, detail) VALUES (%s, %s, %s)",
                 (actor_id, action, Jsonb(detail)))


def ensure_organisation(conn: Any, name: str) -> int:
    """The id of organisation ``name``, created when missing."""
    name = name.strip()
    if not name:
        raise UsageError("organisation name is empty")
    row = conn.execute(
        "INSERT INTO rsarchive.organisations (name) VALUES (%s) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name "
        "RETURNING id", (name,)).fetchone()
    return int(row[0])


def add_user(conn: Any, name: str, role: str, organisation: str | None = None,
             clearance: str = "unclassified", actor_id: int | None = None,
             lifetime_days: int = DEFAULT_TOKEN_LIFETIME_DAYS, *, id_number: str | None = None,
             contact: str | None = None) -> str:
    """Create a user and return its first API token (shown once; only its digest is stored).

    A requester belongs to an organisation, or is an individual: no organisation, and then an
    identity-document number (``id_number``) and a contact (address, e-mail or telephone) are required."""
    check_role(role)
    check_clearance(clearance)
    name = name.strip()
    if not name:
        raise UsageError("user name is empty")
    id_number, contact = (id_number or "").strip() or None, (contact or "").strip() or None
    individual = role == "requester" and not organisation
    if individual and not (id_number and contact):
        raise UsageError(f"a requester belongs to an organisation (--org) or is an individual with an identity "
                         f"number and a contact (--id-number, --contact): user {name!r} has neither")
    if (id_number or contact) and not individual:
        raise UsageError("--id-number and --contact are for individual requesters (role requester, no --org)")
    if conn.execute("SELECT 1 FROM rsarchive.users WHERE name = %s", (name,)).fetchone():
        raise ConflictError(f"user {name!r} already exists (revoke it or choose another name)")
    org_id = ensure_organisation(conn, organisation) if organisation else None
    user_id = conn.execute(
        "INSERT INTO rsarchive.users (name, role, organisation_id, clearance, kind, id_number, contact) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (name, role, org_id, clearance, "individual" if individual else "organisation", id_number, contact)).fetchone()[0]
    token = issue_token(conn, name, actor_id=actor_id, lifetime_days=lifetime_days)
    _audit(conn, actor_id, "user.add", {"user": name, "role": role, "organisation": organisation,
                                        "clearance": clearance, "user_id": user_id,
                                        **({"kind": "individual"} if individual else {})})
    log.info("added user %s (%s)", name, role)
    return token


def issue_token(conn: Any, name: str, actor_id: int | None = None,
                lifetime_days: int = DEFAULT_TOKEN_LIFETIME_DAYS) -> str:
    """A new token for an active user, valid for ``lifetime_days`` (earlier tokens stay
    valid until they expire or are revoked)."""
    row = conn.execute("SELECT id FROM rsarchive.users WHERE name = %s AND revoked_at IS NULL", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"no active user named {name!r}")
    token = new_token()
    conn.execute("INSERT INTO rsarchive.api_tokens (name, user_id, token_sha256, expires_at) "
                 "VALUES (%s, %s, %s, now() + make_interval(days => %s))",
                 (f"{name}/{secrets.token_hex(4)}", row[0], token_digest(token), check_lifetime(lifetime_days)))
    _audit(conn, actor_id, "token.issue", {"user": name, "lifetime_days": lifetime_days})
    return token


def check_lifetime(days: int) -> int:
    """A valid token lifetime in days (1–3650), or :class:`UsageError`."""
    if not 1 <= days <= 3650:
        raise UsageError(f"a token lifetime must be 1–3650 days, not {days}")
    return days


def renew_token(conn: Any, name: str, days: int, actor_id: int | None = None) -> datetime:
    """Make the active (unrevoked) token called ``name`` valid for ``days`` from now, expired
    or not; return its new expiry.  Tokens of users are named ``<user>/<hex>`` (``tokens list``)."""
    row = conn.execute("UPDATE rsarchive.api_tokens SET expires_at = now() + make_interval(days => %s) "
                       "WHERE name = %s AND revoked_at IS NULL RETURNING expires_at",
                       (check_lifetime(days), name)).fetchone()
    if row is None:
        raise NotFoundError(f"no active token named {name!r} (see `rsarchive tokens list`)")
    _audit(conn, actor_id, "token.renew", {"token": name, "days": days})
    log.info("renewed token %s for %d days", name, days)
    return row[0]


def expiry_text(moment: datetime) -> str:
    """A moment as the messages about expiry write it (UTC, to the minute)."""
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def token_expired(moment: datetime) -> TokenExpiredError:
    """The error for a token that expired at ``moment`` (Vietnamese first)."""
    when = expiry_text(moment)
    return TokenExpiredError(f"mã truy cập API đã hết hạn lúc {when}; hãy nhờ quản trị viên gia hạn "
                             f"(rsarchive tokens renew) / API token expired at {when}; ask an administrator "
                             "to renew it (rsarchive tokens renew)")


def revoke_user(conn: Any, name: str, actor_id: int | None = None) -> int:
    """Revoke a user and all its tokens; return how many tokens were revoked."""
    row = conn.execute("SELECT id FROM rsarchive.users WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"no user named {name!r}")
    conn.execute("UPDATE rsarchive.users SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s", (row[0],))
    count = conn.execute("UPDATE rsarchive.api_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                         (row[0],)).rowcount
    _audit(conn, actor_id, "user.revoke", {"user": name, "tokens": count})
    log.info("revoked user %s (%d tokens)", name, count)
    return int(count)


def list_users(conn: Any) -> list[UserRecord]:
    """Every user account, active or revoked."""
    rows = conn.execute(
        "SELECT u.id, u.name, u.role, o.name, u.clearance, u.created_at, u.revoked_at, "
        "  (SELECT count(*) FROM rsarchive.api_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL "
        "   AND t.expires_at > now()) "
        "FROM rsarchive.users u LEFT JOIN rsarchive.organisations o ON o.id = u.organisation_id ORDER BY u.name").fetchall()
    return [UserRecord(*row) for row in rows]


_PRINCIPAL_SQL = (
    "SELECT u.id, coalesce(u.name, t.name), u.role, u.organisation_id, o.name, u.clearance, t.token_sha256, "
    "t.expires_at, t.expires_at <= now() "
    "FROM rsarchive.api_tokens t LEFT JOIN rsarchive.users u ON u.id = t.user_id "
    "LEFT JOIN rsarchive.organisations o ON o.id = u.organisation_id "
    "WHERE t.token_sha256 = %s AND t.revoked_at IS NULL AND (t.user_id IS NULL OR u.revoked_at IS NULL)")

LEGACY_TOKEN_ROLE = "operator"
"""Role of a token without a user (made for the internal STAC API before roles existed):
it may read the internal catalog and nothing else, with no clearance above unclassified."""

LEGACY_TOKEN_CLEARANCE = "unclassified"
"""Clearance of a token without a user (``rsarchive tokens add``): a token nobody is
accountable for sees unclassified items only; give a person an account to see more."""


def authenticate(conn: Any, token: str | None) -> Principal:
    """The principal holding ``token``; :data:`ANONYMOUS` for no token; :class:`AuthError`
    for a wrong or revoked one (the message does not say which), :class:`TokenExpiredError`
    for an expired one."""
    if token is None or token == "":
        return ANONYMOUS
    digest = token_digest(token)
    row = conn.execute(_PRINCIPAL_SQL, (digest,)).fetchone()
    if row is None or not hmac.compare_digest(row[6], digest):
        raise AuthError("invalid or revoked API token")
    if row[8]:
        raise token_expired(row[7])
    if row[0] is None:
        return Principal(user_id=None, name=row[1], role=LEGACY_TOKEN_ROLE, clearance=LEGACY_TOKEN_CLEARANCE)
    return Principal(user_id=row[0], name=row[1], role=row[2], organisation_id=row[3],
                     organisation=row[4], clearance=row[5])


def principal_by_name(conn: Any, name: str) -> Principal:
    """An active user by name (for the CLI acting as a named officer)."""
    row = conn.execute(
        "SELECT u.id, u.name, u.role, u.organisation_id, o.name, u.clearance FROM rsarchive.users u "
        "LEFT JOIN rsarchive.organisations o ON o.id = u.organisation_id "
        "WHERE u.name = %s AND u.revoked_at IS NULL", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"no active user named {name!r}")
    return Principal(*row)


def require(principal: Principal, *roles: str) -> Principal:
    """``principal`` when it holds one of ``roles``: anonymous → :class:`AuthError` (401),
    known but without the role → :class:`PermissionDeniedError` (403)."""
    if PUBLIC in roles:
        return principal
    if principal.is_anonymous:
        raise AuthError("this route needs an API token (Authorization: Bearer …)")
    if not principal.has_role(*roles):
        raise PermissionDeniedError(f"user {principal.name!r} ({principal.role}) may not do this; "
                                    f"needs role {' or '.join(roles)}")
    return principal


INTERNAL_CATALOG_ROLES = ("officer", "operator", "admin")
"""Roles allowed to read the internal STAC API."""


def check_internal_token(conn: Any, token: str | None) -> Principal:
    """For the internal STAC API: the principal for ``token`` when it may read the internal
    catalog (officer, operator, admin); 401 for a missing/wrong/revoked token, 403 otherwise."""
    return require(authenticate(conn, token), *INTERNAL_CATALOG_ROLES)
