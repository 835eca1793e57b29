"""Fulfilment: find the items that meet an approved request, freeze the delivery
(manifest with checksums and licence terms, fee statement), and show it to the
requester with signed links of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from rsarchive.errors import ConflictError, NotFoundError, PermissionDeniedError
from rsarchive.law import calendar, load_basis
from rsarchive.requests import downloads, lifecycle, payments
from rsarchive.requests.fees import load_schedule
from rsarchive.requests.geometry import area_from_form, area_km2
from rsarchive.requests.search import Criteria, classification_of, find_items, item_level
from rsarchive.users.identity import Principal, require

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

SKIPPED_ROLES = {"thumbnail", "overview", "metadata"}

@dataclass(frozen=True)
class FulfilResult:
    request: lifecycle.RequestRecord
    manifest: dict[str, Any]
    fee_statement: dict[str, Any]


def _requester(conn: Any, user_id: int) -> Principal:
    row = conn.execute(
        "SELECT u.id, u.name, u.role, u.organisation_id, o.name, u.clearance FROM rsarchive.users u "
        "LEFT JOIN rsarchive.organisations o ON o.id = u.organisation_id WHERE u.id = %s", (user_id,)).fetchone()
    return Principal(*row)


def criteria_of(form: dict[str, Any]) -> Criteria:
    """Search criteria from a stored request form."""
    return Criteria(area=area_from_form(form.get("aoi"), form.get("bbox")),
                    start=date.fromisoformat(form["start"]), end=date.fromisoformat(form["end"]),
                    levels=tuple(form["levels"]), max_cloud_cover=form.get("max_cloud_cover"),
                    item_ids=tuple(form.get("items") or ()))


def _assets(item: dict[str, Any], bands: list[str]) -> list[dict[str, Any]]:
    chosen = []
    wanted = {b.lower() for b in bands}
    for key, asset in sorted((item.get("assets") or {}).items()):
        roles = set(asset.get("roles") or [])
        if roles & SKIPPED_ROLES and "data" not in roles:
            continue
        names = {key.lower()} | {str(b.get(k, "")).lower() for b in (asset.get("eo:bands") or asset.get("bands") or [])
                                 if isinstance(b, dict) for k in ("name", "common_name")}
        if wanted and not (names & wanted) and "quality" not in roles:
            continue
        chosen.append({"key": key, "href": asset.get("href"), "type": asset.get("type"), "roles": sorted(roles),
                       "checksum": asset.get("file:checksum"), "size": asset.get("file:size")})
    return chosen


def licence(approval: dict[str, Any], organisation: str) -> dict[str, Any]:
    """The licence terms of a delivery: the rules of the legal basis on supplied data (no transfer to a third
    party unless the contract allows it; errors reported), issued in the name of the archive and its ministry."""
    basis = load_basis()
    transfer, errors = basis.rule("user.no-third-party"), basis.rule("user.error-report")
    who = basis.authority
    allowed = bool(approval.get("third_party_transfer_allowed") and approval.get("contract_ref"))
    terms_vi = (f"{who.archive('vi')} ({who.ministry('vi')}) cung cấp dữ liệu để sử dụng đúng mục đích đã nêu trong "
                f"yêu cầu. {transfer.text('vi')} ({transfer.cite('vi')}). {errors.text('vi')} ({errors.cite('vi')}).")
    terms_en = (f"{who.archive('en')} ({who.ministry('en')}) supplies the data for the purpose stated in the request "
                f"only. {transfer.text('en')} ({transfer.cite('en')}). {errors.text('en')} ({errors.cite('en')}).")
    if allowed:
        terms_vi += f" Hợp đồng {approval['contract_ref']} cho phép chuyển giao cho bên thứ ba."
        terms_en += f" Contract {approval['contract_ref']} allows transfer to third parties."
    else:
        terms_vi += " Không có hợp đồng cho phép chuyển giao cho bên thứ ba."
        terms_en += " No contract allows transfer to third parties."
    return {"licensee": organisation, "licensor_vi": who.archive("vi"), "licensor": who.archive("en"),
            "ministry_vi": who.ministry("vi"), "ministry": who.ministry("en"),
            "contract_ref": approval.get("contract_ref"), "third_party_transfer_allowed": allowed,
            "rules": [transfer.key, errors.key], "terms_vi": terms_vi, "terms_en": terms_en}


def fulfil(conn: Any, settings: Settings, principal: Principal, request_id: int) -> FulfilResult:
    """Search the internal catalog for an approved request, record the delivery, mark it fulfilled."""
    require(principal, *lifecycle.OFFICERS)
    record = lifecycle.get(conn, principal, request_id, for_update=True)
    if record.status != "approved":
        raise ConflictError(f"request {request_id} is {record.status}; only an approved request can be fulfilled")
    requester = _requester(conn, conn.execute("SELECT submitted_by FROM rsarchive.data_requests WHERE id = %s",
                                              (request_id,)).fetchone()[0])
    criteria = criteria_of(record.form)
    items = find_items(conn, criteria, requester)  # classification ≤ the requester's clearance
    if not items:
        raise ConflictError(f"no item in the archive meets request {request_id}; refuse it with a written reason")
    from shapely.geometry import shape

    entries = []
    for item in items:
        level = item_level(item) or "unknown"
        geom = shape(item["geometry"]) if item.get("geometry") else None
        entries.append({
            "id": item["id"], "collection": item.get("collection"), "level": level,
            "datetime": (item.get("properties") or {}).get("datetime"),
            "gsd": (item.get("properties") or {}).get("gsd"),
            "classification": classification_of(item),  # None stays None: top-secret only
            "area_km2": round(area_km2(geom), 3) if geom is not None else 0.0,
            "geometry": item.get("geometry"),
            "assets": _assets(item, list(record.form.get("bands") or [])),
        })
    schedule = load_schedule(settings.site_dir)
    fee = schedule.statement(record.purpose, entries, calendar.today_vn())
    manifest = {
        "request_id": request_id, "organisation": record.organisation, "purpose": record.purpose,
        "format": record.form.get("format"), "items": entries,
        "licence": licence(lifecycle.approval_of(record), record.organisation),
    }
    conn.execute("INSERT INTO rsarchive.deliveries (request_id, manifest, fee_statement) VALUES (%s, %s, %s)",
                 (request_id, Jsonb(manifest), Jsonb(fee)))
    updated = lifecycle.transition(conn, principal, request_id, "fulfilled",
                                   {"items": len(entries), "fee_total": fee["total"], "currency": fee["currency"]})
    log.info("request %d fulfilled: %d items, fee %s %s", request_id, len(entries), fee["total"], fee["currency"])
    return FulfilResult(updated, manifest, fee)


def stored_delivery(conn: Any, request_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    row = conn.execute("SELECT manifest, fee_statement FROM rsarchive.deliveries WHERE request_id = %s",
                       (request_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"request {request_id} has no delivery (it is not fulfilled)")
    return row[0], row[1]


def delivery_for(conn: Any, principal: Principal, request_id: int, base_url: str = "",
                 ttl_seconds: int = downloads.DEFAULT_TTL_SECONDS) -> dict[str, Any]:
    """The delivery as ``principal`` sees it: the manifest without storage hrefs, each asset
    with a download URL signed for this principal only, and the fee statement."""
    require(principal, *lifecycle.REQUESTERS, *lifecycle.OFFICERS)
    lifecycle.get(conn, principal, request_id)  # visibility: own organisation or officer
    manifest, fee = stored_delivery(conn, request_id)
    if principal.user_id is None:
        raise PermissionDeniedError("download links are issued to user accounts only")
    balance = payments.balance(conn, request_id)
    links = balance.released or principal.has_role(*lifecycle.OFFICERS)  # unpaid: no links for the requester
    key = downloads.signing_key(conn)
    items = []
    for entry in manifest["items"]:
        if not principal.may_see(entry.get("classification")):
            continue
        assets = []
        for asset in entry["assets"]:
            shown = {k: v for k, v in asset.items() if k != "href"}
            if links:
                token = downloads.issue(key, request_id, entry["id"], asset["key"], principal.user_id, ttl_seconds)
                shown["url"] = f"{base_url}/downloads/{token}"
            assets.append(shown)
        items.append(entry | {"assets": assets})
    return manifest | {"items": items, "fee_statement": fee, "payment": balance.to_dict(),
                       "links_valid_for_seconds": ttl_seconds}


def resolve_download(conn: Any, principal: Principal, token: str) -> tuple[downloads.Grant, dict[str, Any]]:
    """The grant and the manifest's asset for a signed token presented by ``principal``."""
    grant = downloads.Grant.verify(downloads.signing_key(conn), token, principal.user_id)
    lifecycle.get(conn, principal, grant.request_id)  # still a member of the organisation
    payments.require_released(conn, principal, grant.request_id)
    manifest, _ = stored_delivery(conn, grant.request_id)
    for entry in manifest["items"]:
        if entry["id"] == grant.item_id and principal.may_see(entry.get("classification")):
            for asset in entry["assets"]:
                if asset["key"] == grant.asset:
                    return grant, asset
    raise NotFoundError("the asset of this download link is not in the delivery")


def delivered_asset(conn: Any, principal: Principal, collection: str, item_id: str,
                    asset: str) -> tuple[downloads.Grant, dict[str, Any]] | None:
    """A grant and the manifest's asset when a delivery visible to ``principal`` (their
    organisation's fulfilled requests; an officer's: any) includes ``asset`` of the item,
    within the principal's clearance; None when none does."""
    require(principal, *lifecycle.REQUESTERS, *lifecycle.OFFICERS)
    if principal.user_id is None:
        return None
    officer = principal.has_role(*lifecycle.OFFICERS)
    for record in lifecycle.list_requests(conn, principal, "fulfilled"):
        if not officer and not payments.balance(conn, record.id).released:
            continue  # an unpaid delivery is not released
        manifest, _ = stored_delivery(conn, record.id)
        for entry in manifest["items"]:
            if entry["id"] != item_id or entry.get("collection") not in (collection, None):
                continue
            if not principal.may_see(entry.get("classification")):
                continue
            for found in entry["assets"]:
                if found["key"] == asset:
                    return downloads.Grant(record.id, item_id, asset, principal.user_id, 0), found
    return None
