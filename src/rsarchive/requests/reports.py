"""Error reports (Art. 9.4): a requester reports a problem with a delivered item; officers
triage it — dismiss it, mark the item for reprocessing, or withdraw the item from the
public catalog (delete it from the PUBLIC pgSTAC database and record why).

A withdrawal is an ``rsarchive.item_actions`` row; publication withholds an item whose
latest withdraw/reinstate action is a withdrawal (a re-publish or re-ingest does not
bring it back).  :func:`reinstate` records the officer's decision to lift it and
publishes the item again (when its classification allows).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rsarchive.db import connect
from rsarchive.errors import ConflictError, NotFoundError, PermissionDeniedError
from rsarchive.requests import lifecycle
from rsarchive.requests.delivery import stored_delivery
from rsarchive.requests.models import ErrorReportForm, Reinstatement, Triage, TriageAction
from rsarchive.users.identity import Principal, require

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ErrorReport:
    id: int
    request_id: int
    item_id: str
    reporter: str
    organisation: str
    description: str
    status: str
    resolution: str | None
    created_at: datetime
    resolved_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "request_id": self.request_id, "item_id": self.item_id, "reporter": self.reporter,
                "organisation": self.organisation, "description": self.description, "status": self.status,
                "resolution": self.resolution, "created_at": self.created_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None}


_SELECT = ("SELECT e.id, e.request_id, e.item_id, u.name, coalesce(o.name, u.name), e.description, e.status, e.resolution, "
           "e.created_at, e.resolved_at FROM rsarchive.error_reports e JOIN rsarchive.users u ON u.id = e.reporter_id "
           "JOIN rsarchive.data_requests r ON r.id = e.request_id "
           "LEFT JOIN rsarchive.organisations o ON o.id = r.organisation_id ")


def report(conn: Any, principal: Principal, request_id: int, form: ErrorReportForm) -> ErrorReport:
    """Record a requester's report about an item delivered for ``request_id``."""
    require(principal, *lifecycle.REQUESTERS)
    if principal.user_id is None:
        raise PermissionDeniedError("error reports are made by user accounts: give the requester's --token")
    lifecycle.get(conn, principal, request_id)
    manifest, _ = stored_delivery(conn, request_id)
    if not any(entry["id"] == form.item_id and principal.may_see(entry.get("classification"))
               for entry in manifest["items"]):
        raise NotFoundError(f"item {form.item_id!r} was not delivered for request {request_id}")
    report_id = conn.execute(
        "INSERT INTO rsarchive.error_reports (request_id, item_id, reporter_id, description) VALUES (%s, %s, %s, %s) "
        "RETURNING id", (request_id, form.item_id, principal.user_id, form.description)).fetchone()[0]
    lifecycle.log_event(conn, principal, "error_report", request_id,
                        detail={"report_id": report_id, "item_id": form.item_id})
    return get_report(conn, principal, report_id)


def get_report(conn: Any, principal: Principal, report_id: int) -> ErrorReport:
    require(principal, *lifecycle.REQUESTERS, *lifecycle.OFFICERS)
    row = conn.execute(_SELECT + "WHERE e.id = %s", (report_id,)).fetchone()
    if row is None or (not principal.has_role(*lifecycle.OFFICERS) and row[4] != principal.organisation):
        raise NotFoundError(f"error report {report_id} not found")
    return ErrorReport(*row)


def list_reports(conn: Any, principal: Principal, status: str | None = None) -> list[ErrorReport]:
    """Reports visible to ``principal`` (its organisation's; all for officers), newest first."""
    require(principal, *lifecycle.REQUESTERS, *lifecycle.OFFICERS)
    where, params = [], []
    if not principal.has_role(*lifecycle.OFFICERS):
        clause, values = lifecycle.visible_to(principal)
        where.append(clause)
        params.extend(values)
    if status:
        where.append("e.status = %s")
        params.append(status)
    sql = _SELECT + (("WHERE " + " AND ".join(where)) if where else "") + " ORDER BY e.id DESC"
    return [ErrorReport(*row) for row in conn.execute(sql, params).fetchall()]


def _collection_of(conn: Any, request_id: int, item_id: str) -> str:
    manifest, _ = stored_delivery(conn, request_id)
    for entry in manifest["items"]:
        if entry["id"] == item_id:
            return str(entry.get("collection") or "")
    raise NotFoundError(f"item {item_id!r} is not in the delivery of request {request_id}")


def withdraw_from_public(settings: Settings, item_id: str, collection: str) -> bool:
    """Delete an item from the PUBLIC pgSTAC database; True when it was there."""
    with connect(settings.public_database_dsn) as pub:
        pub.execute("SET LOCAL search_path TO pgstac, public")
        present = pub.execute("SELECT 1 FROM pgstac.items WHERE id = %s AND collection = %s",
                              (item_id, collection)).fetchone()
        if present:
            pub.execute("SELECT pgstac.delete_item(%s, %s)", (item_id, collection))
        if pub.execute("SELECT to_regclass('rsarchive.published_items')").fetchone()[0]:
            pub.execute("DELETE FROM rsarchive.published_items WHERE item_id = %s AND collection = %s",
                        (item_id, collection))
        pub.commit()
    return bool(present)


def triage(conn: Any, settings: Settings, principal: Principal, report_id: int, decision: Triage) -> ErrorReport:
    """An officer's decision on an open report."""
    require(principal, *lifecycle.OFFICERS)
    current = get_report(conn, principal, report_id)
    if current.status != "open":
        raise ConflictError(f"error report {report_id} is already {current.status}")
    status = {TriageAction.dismiss: "dismissed", TriageAction.reprocess: "reprocess",
              TriageAction.withdraw: "withdrawn"}[decision.action]
    detail: dict[str, Any] = {"report_id": report_id, "item_id": current.item_id, "action": status}
    if decision.action in (TriageAction.reprocess, TriageAction.withdraw):
        collection = _collection_of(conn, current.request_id, current.item_id)
        if decision.action is TriageAction.withdraw:
            detail["was_public"] = withdraw_from_public(settings, current.item_id, collection)
            if conn.execute("SELECT to_regclass('rsarchive.publications')").fetchone()[0]:
                conn.execute(
                    "INSERT INTO rsarchive.publications (item_id, collection, action, classification, reason) "
                    "VALUES (%s, %s, 'withdrawn', %s, %s)",
                    (current.item_id, collection, "unclassified", f"error report {report_id}: {decision.note}"))
        conn.execute("INSERT INTO rsarchive.item_actions (item_id, collection, action, report_id, actor_id, reason) "
                     "VALUES (%s, %s, %s, %s, %s, %s)",
                     (current.item_id, collection, status, report_id, principal.user_id, decision.note))
    conn.execute("UPDATE rsarchive.error_reports SET status = %s, resolution = %s, resolved_at = now(), "
                 "resolved_by = %s WHERE id = %s", (status, decision.note, principal.user_id, report_id))
    lifecycle.log_event(conn, principal, f"error_report.{status}", current.request_id, detail=detail)
    log.info("error report %d: %s by %s", report_id, status, principal.name)
    return get_report(conn, principal, report_id)


@dataclass
class ItemAction:
    """The latest withdraw/reinstate action on an item."""

    item_id: str
    collection: str
    action: str
    reason: str
    actor: str | None
    report_id: int | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "collection": self.collection, "action": self.action,
                "reason": self.reason, "actor": self.actor, "report_id": self.report_id, "at": self.at.isoformat()}


_LATEST = ("SELECT DISTINCT ON (a.collection, a.item_id) a.item_id, a.collection, a.action, a.reason, u.name, "
           "a.report_id, a.at FROM rsarchive.item_actions a LEFT JOIN rsarchive.users u ON u.id = a.actor_id "
           "WHERE a.action IN ('withdrawn', 'reinstated') ")


def withdrawn_items(conn: Any, principal: Principal) -> list[ItemAction]:
    """Items withdrawn from the public catalog and not reinstated (officers), newest first."""
    require(principal, *lifecycle.OFFICERS)
    rows = conn.execute(_LATEST + "ORDER BY a.collection, a.item_id, a.id DESC").fetchall()
    return sorted((ItemAction(*r) for r in rows if r[2] == "withdrawn"), key=lambda a: a.at, reverse=True)


def reinstate(conn: Any, settings: Settings, principal: Principal, collection: str, item_id: str,
              decision: Reinstatement) -> dict[str, Any]:
    """Lift the withdrawal of an item and publish it again (officers).

    The item is published through :func:`rsarchive.catalog.publication.publish_items`, so a
    classified item stays out of the public catalog.  The public database commits first; if
    the internal commit then failed, the next publication would withhold it again (the
    reinstatement is not recorded): it fails closed."""
    from rsarchive.catalog.loader import fetch_items
    from rsarchive.catalog.publication import publish_items

    require(principal, *lifecycle.OFFICERS)
    row = conn.execute(_LATEST + "AND a.collection = %s AND a.item_id = %s ORDER BY a.collection, a.item_id, a.id DESC",
                       (collection, item_id)).fetchone()
    if row is None or row[2] != "withdrawn":
        raise ConflictError(f"item {item_id!r} of collection {collection!r} is not withdrawn; nothing to reinstate")
    conn.execute("INSERT INTO rsarchive.item_actions (item_id, collection, action, actor_id, reason) "
                 "VALUES (%s, %s, 'reinstated', %s, %s)", (item_id, collection, principal.user_id, decision.note))
    items = fetch_items(conn, [item_id], collection)
    with connect(settings.public_database_dsn) as pub:
        published = publish_items(conn, pub, items, public_url=settings.public_url)
        pub.commit()
    detail = {"item_id": item_id, "collection": collection, "published": bool(published.published),
              "withheld_reason": published.reasons.get(item_id), "note": decision.note}
    lifecycle.log_event(conn, principal, "item.reinstated", None, detail=detail)
    log.info("item %s/%s reinstated by %s", collection, item_id, principal.name)
    return {"item_id": item_id, "collection": collection, "action": "reinstated",
            "published": bool(published.published), "withheld_reason": published.reasons.get(item_id)}
