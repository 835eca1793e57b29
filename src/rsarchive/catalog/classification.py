"""Security classification of catalogued items: held items, an officer's classification,
and keeping the public copy in step with it (Decision 81/2010, Art. 7; issue #26).

Fail closed: there is no code default.  An item catalogued without a classification
(the reception record, the pipeline or the delivery's metadata stated none) is *held*:
it is in the internal catalog, never in the public one, and :func:`held_items` lists it
for an officer.  :func:`classify` sets the classification and publishes or withholds in
the same operation: an unclassified item is published, any other one loses its public
copy (public database first), and the next static export drops it.  Loading items by
hand (``rsarchive catalog load``) goes through :func:`sync_public`, so an item
reclassified upward that way loses its public copy too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rsarchive.catalog.inputs import SECURITY_LEVELS
from rsarchive.catalog.loader import fetch_items
from rsarchive.catalog.publication import PublishReport, classification_of, publish_items
from rsarchive.db import connect
from rsarchive.errors import UsageError

log = logging.getLogger(__name__)

__all__ = ["HeldItem", "check_classification", "classify", "held_items", "sync_public"]

PROPERTY = "rsarchive:security_classification"


@dataclass(frozen=True)
class HeldItem:
    """An item of the internal catalog that has no security classification."""

    collection: str
    item_id: str
    datetime: dt.datetime | None
    form: str | None
    found: str | None
    """What the item carries instead of a classification (None: nothing)."""

    def to_dict(self) -> dict[str, Any]:
        return {"collection": self.collection, "id": self.item_id,
                "datetime": self.datetime.isoformat() if self.datetime else None, "form": self.form,
                "found": self.found}


def held_items(conn: Any, limit: int = 1000) -> list[HeldItem]:
    """Items of the internal catalog (``conn``) held for want of a valid classification, oldest first."""
    rows = conn.execute(
        "SELECT collection, id, datetime, content->'properties'->>'rsarchive:form', "
        f"content->'properties'->>'{PROPERTY}' FROM pgstac.items "
        f"WHERE coalesce(content->'properties'->>'{PROPERTY}', '') <> ALL(%s) "
        "ORDER BY datetime, collection, id LIMIT %s", (list(SECURITY_LEVELS), limit)).fetchall()
    return [HeldItem(*row) for row in rows]


def check_classification(value: str) -> str:
    """``value`` when it is a classification, else :class:`UsageError`."""
    if value not in SECURITY_LEVELS:
        raise UsageError(f"classification {value!r} is not one of {', '.join(SECURITY_LEVELS)}")
    return value


def classify(internal_dsn: str, public_dsn: str, ids: Iterable[str], classification: str, *,
             collection: str | None = None, actor_id: int | None = None, note: str = "",
             public_url: str | None = None) -> PublishReport:
    """Set the classification of items of the internal catalog and publish or withhold them
    accordingly, in one operation: the public database commits first (an item classified
    upward has no public copy from then on), then the internal one (items, the action, the log)."""
    check_classification(classification)
    ids = list(ids)
    if not ids:
        raise UsageError("name at least one item to classify")
    when = dt.datetime.now(dt.timezone.utc)
    now = when.isoformat().replace("+00:00", "Z")
    with connect(internal_dsn) as internal, connect(public_dsn) as public:
        items = fetch_items(internal, ids, collection)
        changed = []
        for item in items:
            before = classification_of(item)
            props = dict(item["properties"], **{PROPERTY: classification, "updated": now})
            changed.append({**item, "properties": props})
            internal.execute(
                "INSERT INTO rsarchive.item_actions (item_id, collection, action, actor_id, reason) "
                "VALUES (%s, %s, 'classified', %s, %s)",
                (item["id"], item["collection"], actor_id, f"{before} → {classification}" + (f": {note}" if note else "")))
            # The one capability the internal API's role has on the internal catalog (migration
            # 0110): the item's classification and `updated`, and the delivery's classification.
            internal.execute("SELECT rsarchive.set_item_classification(%s, %s, %s, %s)",
                             (item["collection"], item["id"], classification, when))
        report = publish_items(internal, public, changed, public_url=public_url)
        public.commit()
        internal.commit()
    log.info("classified %s as %s: %d published, %d withheld", ", ".join(ids), classification,
             len(report.published), len(report.withheld))
    return report


def sync_public(internal_dsn: str, public_dsn: str, items: Iterable[Mapping[str, Any]], *,
                public_url: str | None = None) -> PublishReport:
    """After items were (re)loaded into the internal catalog: those that have a public copy
    are published again -- which refreshes the copy of an unclassified item and removes that
    of an item now classified, held or withdrawn.  Items never published are left alone."""
    items = list(items)
    with connect(internal_dsn) as internal, connect(public_dsn) as public:
        pairs = sorted({(str(i.get("collection")), str(i.get("id"))) for i in items})
        rows = public.execute(
            "SELECT p.collection, p.item_id FROM rsarchive.published_items p "
            "JOIN unnest(%s::text[], %s::text[]) AS t(c, i) ON p.collection = t.c AND p.item_id = t.i",
            ([c for c, _ in pairs], [i for _, i in pairs])).fetchall()
        public_now = {(c, i) for c, i in rows}
        ids = [i for c, i in pairs if (c, i) in public_now]
        report = PublishReport()
        for name in sorted({c for c, _ in public_now}):
            stored = fetch_items(internal, [i for c, i in pairs if c == name and (c, i) in public_now], name)
            part = publish_items(internal, public, stored, public_url=public_url)
            report.published += part.published
            report.withheld += part.withheld
            report.reasons.update(part.reasons)
        public.commit()
        internal.commit()
    if ids:
        log.info("public copies brought in step: %d refreshed, %d removed (%s)", len(report.published),
                 len(report.withheld), ", ".join(report.withheld) or "none")
    return report

