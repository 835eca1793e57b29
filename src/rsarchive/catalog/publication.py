"""Publication: a sanitised copy of internal items goes to the public database.

Decision 81/2010, Art. 7: metadata is published regularly on the Internet, and what is
published must respect the law on state secrets.  Rules:

* Only items whose ``rsarchive:security_classification`` is ``unclassified`` are
  published.  Any other item is *withheld*: nothing of it is written to the public
  database (and a public copy left from before a reclassification is removed).  The
  public database, and so its search counts, extents, summaries, queryables and static
  export, therefore never sees a classified item.
* The public copy is *sanitised*: fields describing operations rather than data are
  removed (:data:`INTERNAL_PROPERTIES`: the acquisition plan or task reference -- which
  reveals who tasked the satellite and why -- the station pass id and the AOS/LOS contact
  times).  No asset keeps a store href (:mod:`rsarchive.catalog.assets`): files of the
  ``raw`` and ``product`` forms are listed on the archive's public URL (previews served
  to anyone, data on request under Art. 8); level-0 files and foreign originals -- by the
  form of the stored object, never by a role string -- are not offered at all, their
  sizes and checksums stay in ``rsarchive:files`` (Art. 5.2).  A copy that would still
  hold a ``file://`` or ``s3://`` URL is refused.  Kept: station, acquisition route,
  quality and accuracy, lineage.  The copy gets ``published`` (timestamps extension)
  set to the publication time.
* Fail closed: an item without a security classification (none stated by the reception
  record, the pipeline or the metadata) is *held*: withheld until an officer classifies
  it (:mod:`rsarchive.catalog.classification`).
* An item withdrawn from the public catalog (after an error report, Art. 9.4, or by
  :func:`withdraw`) stays withdrawn: while its latest withdraw/reinstate action in
  ``rsarchive.item_actions`` is a withdrawal, publishing it -- a re-publish or a
  re-ingest -- withholds it with reason ``withdrawn``.  An officer's reinstatement
  (``rsarchive reports reinstate``) lifts that.
* Every decision is logged in the internal database (``rsarchive.publications``) and
  every published item in the public database (``rsarchive.published_items``).

There is no distributed transaction between the two databases: the public write commits
first, then the log.  Publishing is idempotent, so a retry after a failure between the
two is harmless.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rsarchive.catalog.assets import object_records, public_assets, store_hrefs
from rsarchive.catalog.inputs import SECURITY_LEVELS
from rsarchive.catalog.loader import delete_items, fetch_items, load_items
from rsarchive.catalog.validation import SchemaStore
from rsarchive.catalog.webmap import with_web_map_links
from rsarchive.db import connect
from rsarchive.errors import CatalogError
from rsarchive.storage.records import ObjectRecord

log = logging.getLogger(__name__)

__all__ = [
    "HELD",
    "INTERNAL_PROPERTIES",
    "PublishReport",
    "is_held",
    "is_publishable",
    "publish",
    "publish_items",
    "republish",
    "sanitise",
    "withdraw",
    "withdraw_items",
    "withdrawn_items",
]

INTERNAL_PROPERTIES: frozenset[str] = frozenset({
    "rsarchive:plan_ref",
    "rsarchive:pass_id",
    "rsarchive:aos",
    "rsarchive:los",
})
PUBLIC_CLASSIFICATION = "unclassified"
WITHDRAWN = "withdrawn"
"""The reason logged when a withdrawn item is withheld."""
HELD = "held: no security classification; an officer classifies it (rsarchive catalog classify)"
"""The reason logged when an item without a classification is withheld."""
PUBLIC_LINK_RELS = ("collection", "via")
"""Links a public copy keeps: its collection, and ``via`` -- where a harvested item came from
(a ministry's or province's public catalog, :mod:`rsarchive.harvest`)."""


def classification_of(item: Mapping[str, Any]) -> str:
    """The item's security classification; a missing one counts as not publishable."""
    value = (item.get("properties") or {}).get("rsarchive:security_classification")
    return value if isinstance(value, str) else "unknown"


def is_publishable(item: Mapping[str, Any]) -> bool:
    """True when the item's classification allows publication."""
    return classification_of(item) == PUBLIC_CLASSIFICATION


def is_held(item: Mapping[str, Any]) -> bool:
    """True when the item carries no valid security classification (fail closed: held)."""
    return classification_of(item) not in SECURITY_LEVELS


def default_public_url() -> str:
    """The public URL of the deployment's settings (for callers that give none)."""
    from rsarchive.settings import load_settings

    return load_settings().public_url


def sanitise(item: Mapping[str, Any], published: dt.datetime | None = None, *, public_url: str,
             records: Mapping[str, ObjectRecord] | None = None) -> dict[str, Any]:
    """The public copy of an unclassified item (see the module's rules).

    ``records``: href → stored object of its assets (:func:`~rsarchive.catalog.assets.object_records`);
    ``public_url``: the archive's public URL, base of the public asset hrefs."""
    if not is_publishable(item):
        raise ValueError("sanitise() called on a classified item")  # a programming error, not a user's
    out = copy.deepcopy(dict(item))
    props = out["properties"]
    for key in INTERNAL_PROPERTIES:
        props.pop(key, None)
    out["assets"], files = public_assets(item, records or {}, public_url)
    if files:
        props["rsarchive:files"] = files
    when = (published or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    props["published"] = when.isoformat().replace("+00:00", "Z")
    out["links"] = [link for link in out.get("links") or [] if link.get("rel") in PUBLIC_LINK_RELS]
    with_web_map_links(out, item, public_url)  # tiles of the true colour (rsarchive.api.tiles)
    leaks = store_hrefs(out)
    if leaks:
        raise CatalogError(f"the public copy of item {item.get('id')!r} would hold store URL(s) "
                           f"{', '.join(sorted(set(leaks))[:3])}; it is not published")
    return out


@dataclass
class PublishReport:
    """The outcome of one publication run."""

    published: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    """Why each withheld item was withheld."""


def _log(internal_conn: Any, item: Mapping[str, Any], action: str, reason: str = "") -> None:
    internal_conn.execute(
        "INSERT INTO rsarchive.publications (item_id, collection, action, classification, reason) "
        "VALUES (%s, %s, %s, %s, %s)",
        (item["id"], item["collection"], action, classification_of(item), reason),
    )


def withdrawn_items(internal_conn: Any, items: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """``(collection, id)`` of those ``items`` whose latest withdraw/reinstate action
    (``rsarchive.item_actions``) is a withdrawal."""
    pairs = sorted({(str(i["collection"]), str(i["id"])) for i in items})
    if not pairs:
        return set()
    rows = internal_conn.execute(
        "SELECT DISTINCT ON (a.collection, a.item_id) a.collection, a.item_id, a.action "
        "FROM rsarchive.item_actions a JOIN unnest(%s::text[], %s::text[]) AS t(c, i) "
        "ON a.collection = t.c AND a.item_id = t.i WHERE a.action IN ('withdrawn', 'reinstated') "
        "ORDER BY a.collection, a.item_id, a.id DESC",
        ([c for c, _ in pairs], [i for _, i in pairs]),
    ).fetchall()
    return {(c, i) for c, i, action in rows if action == WITHDRAWN}


def publish_items(
    internal_conn: Any,
    public_conn: Any,
    items: Iterable[Mapping[str, Any]],
    *,
    store: SchemaStore | None = None,
    public_url: str | None = None,
) -> PublishReport:
    """Publish internal ``items`` (dicts) through two open connections; the caller commits both.

    Classified, held and withdrawn items are withheld (and a public copy of them removed).
    ``public_url``: the archive's public URL (default: the settings' ``public_url``).
    Commit ``public_conn`` first, then ``internal_conn`` (the log)."""
    from rsarchive.catalog.collections import ensure_collections

    items = list(items)
    report = PublishReport()
    public: list[dict[str, Any]] = []
    now = dt.datetime.now(dt.timezone.utc)
    withdrawn = withdrawn_items(internal_conn, items)
    base = public_url or default_public_url()
    records = object_records(internal_conn, [i for i in items if is_publishable(i)])
    for item in items:
        if is_held(item):
            reason = HELD
        elif not is_publishable(item):
            reason = f"security classification {classification_of(item)!r}"
        elif (item["collection"], item["id"]) in withdrawn:
            reason = WITHDRAWN
        else:
            public.append(sanitise(item, now, public_url=base, records=records))
            report.published.append(item["id"])
            _log(internal_conn, item, "published")
            continue
        existed = delete_items(public_conn, item["collection"], [item["id"]])
        public_conn.execute(
            "DELETE FROM rsarchive.published_items WHERE collection = %s AND item_id = %s",
            (item["collection"], item["id"]),
        )
        report.withheld.append(item["id"])
        report.reasons[item["id"]] = reason
        _log(internal_conn, item, "withheld", reason + ("; public copy removed" if existed else ""))
        log.info("item %s withheld: %s", item["id"], reason)
    if public:
        ensure_collections(public_conn, sorted({i["collection"] for i in public}))
        load_items(public_conn, public, store=store)
        public_conn.execute(
            "INSERT INTO rsarchive.published_items (item_id, collection, published_at) "
            "SELECT i, c, %s FROM unnest(%s::text[], %s::text[]) AS t(i, c) "
            "ON CONFLICT (collection, item_id) DO UPDATE SET published_at = EXCLUDED.published_at",
            (now, [i["id"] for i in public], [i["collection"] for i in public]),
        )
    return report


def publish(
    internal_dsn: str, public_dsn: str, ids: Iterable[str], collection: str | None = None, *,
    public_url: str | None = None,
) -> PublishReport:
    """Publish items of the internal catalog by id (the operators' ``rsarchive catalog publish``)."""
    with connect(internal_dsn) as internal, connect(public_dsn) as public:
        items = fetch_items(internal, ids, collection)
        report = publish_items(internal, public, items, public_url=public_url)
        public.commit()
        internal.commit()
    return report


def republish(internal_dsn: str, public_dsn: str, *, public_url: str | None = None,
              batch_size: int = 500) -> PublishReport:
    """Publish again every item the public database holds (``rsarchive catalog republish``):
    after an upgrade that changed what a public copy may hold, or a new ``public_base_url``.
    A public item that is no longer in the internal catalog is removed; classified, held and
    withdrawn ones lose their copy as in :func:`publish_items`.  One transaction per database."""
    report = PublishReport()
    with connect(internal_dsn) as internal, connect(public_dsn) as public:
        held: dict[str, list[str]] = {}
        for collection, item_id in public.execute("SELECT collection, id FROM pgstac.items ORDER BY 1, 2"):
            held.setdefault(collection, []).append(item_id)
        for collection, ids in held.items():
            known = {r[0] for r in internal.execute(
                "SELECT id FROM pgstac.items WHERE collection = %s AND id = ANY(%s)", (collection, ids))}
            gone = [i for i in ids if i not in known]
            if gone:
                delete_items(public, collection, gone)
                public.execute("DELETE FROM rsarchive.published_items WHERE collection = %s AND item_id = ANY(%s)",
                               (collection, gone))
                report.withheld += gone
                report.reasons.update({i: "not in the internal catalog" for i in gone})
            present = [i for i in ids if i in known]
            for start in range(0, len(present), batch_size):
                part = publish_items(internal, public, fetch_items(internal, present[start:start + batch_size],
                                                                   collection), public_url=public_url)
                report.published += part.published
                report.withheld += part.withheld
                report.reasons.update(part.reasons)
        public.commit()
        internal.commit()
    log.info("republished %d items, removed %d", len(report.published), len(report.withheld))
    return report


def withdraw(internal_dsn: str, public_dsn: str, collection: str, ids: Iterable[str], reason: str,
             actor_id: int | None = None) -> list[str]:
    """Remove items from the public database (e.g. after an error report); logged, and
    recorded in ``rsarchive.item_actions`` so that later publication withholds them
    until they are reinstated."""
    ids = list(ids)
    with connect(internal_dsn) as internal, connect(public_dsn) as public:
        withdraw_items(internal, public, fetch_items(internal, ids, collection), reason, actor_id)
        public.commit()
        internal.commit()
    return ids


def withdraw_items(internal_conn: Any, public_conn: Any, items: Iterable[Mapping[str, Any]], reason: str,
                   actor_id: int | None = None) -> None:
    """:func:`withdraw` through two open connections (the caller commits, public first)."""
    for item in items:
        delete_items(public_conn, item["collection"], [item["id"]])
        public_conn.execute("DELETE FROM rsarchive.published_items WHERE collection = %s AND item_id = %s",
                            (item["collection"], item["id"]))
        _log(internal_conn, item, "withdrawn", reason)
        internal_conn.execute(
            "INSERT INTO rsarchive.item_actions (item_id, collection, action, actor_id, reason) "
            "VALUES (%s, %s, 'withdrawn', %s, %s)", (item["id"], item["collection"], actor_id, reason or WITHDRAWN))
