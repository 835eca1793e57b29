"""Who may submit a request: a member of an organisation, or an individual requester.

An individual requester is a user with role ``requester``, no organisation, and an identity-document
number and a contact (``rsarchive users add NAME --role requester --id-number … --contact …``); the
database refuses a requester that is neither (constraint ``users_requester_party``).  An individual sees
only its own requests (:func:`rsarchive.requests.lifecycle.visible_to`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rsarchive.errors import UsageError
from rsarchive.users.identity import Principal


@dataclass(frozen=True)
class Individual:
    """An individual requester's particulars."""

    name: str
    id_number: str
    contact: str


def individual(conn: Any, principal: Principal) -> Individual | None:
    """The particulars of ``principal`` when it is an individual requester, else None."""
    if principal.user_id is None or principal.organisation_id is not None:
        return None
    row = conn.execute("SELECT kind, id_number, contact FROM rsarchive.users WHERE id = %s",
                       (principal.user_id,)).fetchone()
    if row is None or row[0] != "individual":
        return None
    return Individual(principal.name, row[1], row[2])


def require_individual(conn: Any, principal: Principal) -> Individual:
    """``principal``'s particulars as an individual requester, or :class:`UsageError` (a user without an
    organisation that is not an individual requester may not submit)."""
    found = individual(conn, principal)
    if found is None:
        raise UsageError(f"người dùng {principal.name!r} không thuộc tổ chức nào và không phải người yêu cầu cá nhân / "
                         f"user {principal.name!r} belongs to no organisation and is not an individual requester")
    return found
