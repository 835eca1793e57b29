"""Searching the INTERNAL catalog (pgSTAC) for items that meet a request or a coverage query.

The spatial and temporal part goes to ``pgstac.search``; what STAC search cannot
express portably (level, gsd, cloud cover, the caller's clearance) is filtered
here, item by item, so a classified item is simply never returned to someone
without the clearance for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from psycopg.types.json import Jsonb

from rsarchive.users.identity import Principal, item_classification

log = logging.getLogger(__name__)

PAGE = 500
MAX_ITEMS = 5000

_PROCESSING_LEVELS = {"l0": "level0", "l1a": "raw", "l1": "raw", "l2a": "product", "l2": "product"}
_LEVEL_WORDS = ("level0", "raw", "product", "original", "copy")


@dataclass(frozen=True)
class Criteria:
    """What items must meet: area (lon/lat shapely geometry), period, levels and quality."""

    area: Any
    start: date
    end: date
    levels: tuple[str, ...] = ("raw", "product", "original")
    max_gsd: float | None = None
    max_cloud_cover: float | None = None
    item_ids: tuple[str, ...] = ()


def item_level(item: dict[str, Any]) -> str | None:
    """The archive level of an item: ``rsarchive:level``/``rsarchive:form``, else
    ``processing:level`` (L1A → raw, L2A → product), else a level word in the collection id."""
    props = item.get("properties") or {}
    for key in ("rsarchive:level", "rsarchive:form"):
        value = props.get(key)
        if isinstance(value, str) and value.lower() in _LEVEL_WORDS:
            return value.lower()
    value = props.get("processing:level")
    if isinstance(value, str) and value.lower() in _PROCESSING_LEVELS:
        return _PROCESSING_LEVELS[value.lower()]
    collection = str(item.get("collection") or "").lower()
    for word in _LEVEL_WORDS:
        if word in collection.replace("_", "-").split("-"):
            return word
    return None


def item_gsd(item: dict[str, Any]) -> float | None:
    """The finest ground sample distance the item declares (item, band or asset ``gsd``)."""
    props = item.get("properties") or {}
    values = [props.get("gsd")]
    values += [b.get("gsd") for b in props.get("eo:bands") or [] if isinstance(b, dict)]
    values += [a.get("gsd") for a in (item.get("assets") or {}).values() if isinstance(a, dict)]
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return min(numbers) if numbers else None


def classification_of(item: dict[str, Any]) -> Any:
    """An item's security classification (``rsarchive:security_classification``); None when unset.

    Only that property counts (as in publication and the internal STAC API): an item
    without it is visible to the highest clearance only (:func:`rsarchive.users.identity.classification_rank`)."""
    return item_classification(item)


def meets(item: dict[str, Any], criteria: Criteria, principal: Principal) -> bool:
    """True when ``item`` meets the non-spatial criteria and the principal may see it."""
    if not principal.may_see(classification_of(item)):
        return False
    if item_level(item) not in criteria.levels:
        return False
    if criteria.max_gsd is not None:
        gsd = item_gsd(item)
        if gsd is None or gsd > criteria.max_gsd:
            return False
    if criteria.max_cloud_cover is not None:
        cloud = (item.get("properties") or {}).get("eo:cloud_cover")
        if isinstance(cloud, (int, float)) and cloud > criteria.max_cloud_cover:
            return False
    return True


def _search(conn: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    body = dict(body, limit=PAGE)
    conn.execute("SET LOCAL search_path TO pgstac, public")  # pgSTAC's functions expect it (this transaction only)
    conn.execute("SET LOCAL pgstac.readonly = 'true'")  # no search cache: the API's role may not write it
    while len(found) < MAX_ITEMS:
        page = conn.execute("SELECT pgstac.search(%s)", (Jsonb(body),)).fetchone()[0] or {}
        features = page.get("features") or []
        found.extend(features)
        token = page.get("next")
        if not token:
            for link in page.get("links") or []:
                if link.get("rel") == "next":
                    token = (link.get("body") or {}).get("token")
        if not features or not token:
            break
        body["token"] = token if str(token).startswith(("next:", "prev:")) else f"next:{token}"
    return found[:MAX_ITEMS]


def find_items(conn: Any, criteria: Criteria, principal: Principal) -> list[dict[str, Any]]:
    """Items of the internal catalog that intersect the area, overlap the period, meet the
    level/quality criteria and that ``principal`` is cleared to see."""
    from rsarchive.requests.geometry import to_geojson

    body: dict[str, Any] = {
        "intersects": to_geojson(criteria.area),
        "datetime": f"{criteria.start.isoformat()}T00:00:00Z/{criteria.end.isoformat()}T23:59:59Z",
    }
    if criteria.item_ids:
        body["ids"] = list(criteria.item_ids)
    items = [item for item in _search(conn, body) if meets(item, criteria, principal)]
    items.sort(key=lambda it: ((it.get("properties") or {}).get("datetime") or "", it.get("id", "")))
    log.info("catalog search found %d items for %s", len(items), principal.name)
    return items


def visible_items(conn: Any, ids: list[str], principal: Principal) -> dict[str, dict[str, Any]]:
    """The items among ``ids`` that exist AND that ``principal`` may see (by id).

    A classified item is left out exactly like a missing one, so a caller cannot
    tell them apart."""
    if not ids:
        return {}
    items = _search(conn, {"ids": list(ids)})
    return {it["id"]: it for it in items if principal.may_see(classification_of(it))}
