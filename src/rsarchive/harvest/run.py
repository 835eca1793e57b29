"""One harvest of a body's catalog into the national one (``rsarchive harvest URL --org ORG``).

Steps: read the whole catalog (:func:`~rsarchive.harvest.reader.read_source`); build and
validate every new or changed national item and collection (nothing is written before all of
them are valid); then, in one transaction per database (public first, then internal, as
:func:`~rsarchive.catalog.publication.publish_items` does):

* new and changed items are loaded into the internal catalog and published at once -- Decree
  03/2019, Art. 18.2(b): within 30 working days of submission (the rule
  ``metadata.publication.local`` of the legal basis); an item the body marks classified is
  withheld, one without a classification is held for an officer (``rsarchive catalog
  classify``) and listed by :func:`~rsarchive.harvest.registry.overdue` once its due date passes;
* an item the source serves unchanged (same fingerprint) is not touched: re-running a harvest
  changes nothing;
* an item the source no longer lists (deleted, or now classified and gone from its public
  endpoint) is withdrawn from the public catalog and marked (``withdrawn_at``; an
  ``item_actions`` withdrawal); listed again, it is reinstated.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from rsarchive.catalog.classification import PROPERTY as CLASSIFICATION
from rsarchive.catalog.inputs import SECURITY_LEVELS
from rsarchive.catalog.loader import fetch_items, load_items
from rsarchive.catalog.publication import publish_items, withdraw_items
from rsarchive.catalog.validation import (
    SchemaStore,
    default_store,
    validate_collection,
    validate_item,
)
from rsarchive.db import connect
from rsarchive.errors import CatalogError, UsageError
from rsarchive.harvest.convert import (
    Body,
    check_org,
    collection_id,
    fingerprint,
    national_collection,
    national_item,
)
from rsarchive.harvest.reader import SourceCatalog, read_source
from rsarchive.law import load_basis
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["LOCAL_RULE", "HarvestReport", "harvest", "store_harvest"]

LOCAL_RULE = "metadata.publication.local"
"""The rule of the legal basis that sets when a body's metadata must be published."""
BASIS_RULE = "database.local-metadata"
"""The rule under which the national database gathers the bodies' metadata (cited by collections)."""


@dataclass
class HarvestReport:
    """What one harvest did."""

    org: str
    url: str
    kind: str
    harvested_at: dt.datetime
    listed: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    reinstated: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    collections: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["harvested_at"] = self.harvested_at.isoformat()
        return data

    def summary(self) -> str:
        return (f"{self.org}: {self.listed} listed, {len(self.added)} new, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged, {len(self.withdrawn)} withdrawn, {len(self.published)} published, "
                f"{len(self.withheld)} withheld")


def _known_extension(store: SchemaStore) -> Any:
    def known(url: str) -> bool:
        try:
            store.contents(url)
            return True
        except CatalogError:
            log.info("extension %s is not available offline: left undeclared on the harvested item", url)
            return False
    return known


def body_of(conn: Any, org: str, url: str, name_vi: str | None, name_en: str | None) -> Body:
    """The body ``org``: its registered names unless new ones are given (a new body needs ``name_vi``)."""
    check_org(org)
    row = conn.execute("SELECT name_vi, name_en FROM rsarchive.harvest_sources WHERE org = %s", (org,)).fetchone()
    if row is None and not name_vi:
        raise UsageError(f"body {org!r} is not registered: give its name (--name-vi, --name-en) or register it "
                         "with `rsarchive harvest add`")
    vi = name_vi or row[0]
    en = name_en or (row[1] if row else vi)
    return Body(org=org, name_vi=vi, name_en=en, url=url)


def harvest(settings: Settings, url: str, org: str, *, name_vi: str | None = None, name_en: str | None = None,
            now: dt.datetime | None = None) -> HarvestReport:
    """Harvest the STAC API or static catalog at ``url`` as body ``org`` (registered, or named here)."""
    check_org(org)
    with connect(settings.internal_database_dsn) as conn:
        body = body_of(conn, org, url, name_vi, name_en)
    source = read_source(url, timeout=settings.harvest_timeout)
    return store_harvest(settings, body, source, now=now)


def store_harvest(settings: Settings, body: Body, source: SourceCatalog, *,
                  now: dt.datetime | None = None) -> HarvestReport:
    """Write what :func:`~rsarchive.harvest.reader.read_source` read into both catalogs (see the module)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    basis = load_basis(settings.site_dir)
    period = basis.rule(LOCAL_RULE).period
    gathered = basis.rule(BASIS_RULE)
    store = default_store()
    known = _known_extension(store)
    report = HarvestReport(org=body.org, url=source.url, kind=source.kind, harvested_at=now, listed=len(source.items))
    seen: set[tuple[str, str]] = set()
    with connect(settings.internal_database_dsn) as internal, connect(settings.public_database_dsn) as public:
        previous = {(r[0], r[1]): r[2:] for r in internal.execute(
            "SELECT collection, item_id, fingerprint, submitted_at, withdrawn_at FROM rsarchive.harvested_items "
            "WHERE org = %s", (body.org,))}
        changed: list[dict[str, Any]] = []
        rows: list[tuple[Any, ...]] = []
        reinstated: list[tuple[str, str]] = []
        for source_item in source.items:
            key = (collection_id(body.org, source_item.collection), source_item.id)
            if key in seen:
                raise CatalogError(f"the catalog {source.url} lists item {key[1]!r} of collection "
                                   f"{source_item.collection!r} twice")
            seen.add(key)
            mark = fingerprint(source_item.data)
            before = previous.get(key)
            if before is not None and before[2] is not None:
                reinstated.append(key)
            elif before is not None and before[0] == mark:
                report.unchanged.append(key[1])
                continue
            submitted = before[1] if before is not None else now
            due = period.end(submitted)
            try:
                item = national_item(source_item, body, source_url=source.url, harvested=now, submitted=submitted,
                                     due=due, known_extension=known)
                validate_item(item, store)
            except (CatalogError, UsageError) as exc:
                raise CatalogError(f"item {source_item.id!r} at {source_item.href} cannot be harvested: {exc}") from None
            (report.updated if before is not None else report.added).append(key[1])
            changed.append(item)
            classification = item["properties"].get(CLASSIFICATION)
            rows.append((key[0], key[1], body.org, source.url, source_item.collection, source_item.id, source_item.href,
                         mark, classification if classification in SECURITY_LEVELS else None, submitted, due, now))
        collections = {}
        for cid in sorted({i["collection"] for i in changed}):
            source_collection = next(r[4] for r in rows if r[0] == cid)
            collection = national_collection(body, source_collection, source.collections.get(source_collection or ""),
                                             basis_cite=(gathered.cite("vi"), gathered.cite("en")))
            validate_collection(collection, store)
            collections[cid] = collection
        gone = [key for key, before in previous.items() if key not in seen and before[2] is None]

        # Everything is valid: write.
        _register(internal, body, now)
        for conn in (internal, public):
            for collection in collections.values():
                _upsert_collection(conn, collection)
        report.collections = sorted(collections)
        for cid, item_id in reinstated:
            internal.execute("INSERT INTO rsarchive.item_actions (item_id, collection, action, reason) "
                             "VALUES (%s, %s, 'reinstated', %s)", (item_id, cid, f"listed again by {source.url}"))
            report.reinstated.append(item_id)
        if changed:
            load_items(internal, changed, validate=False)
            internal.cursor().executemany(
                "INSERT INTO rsarchive.harvested_items (collection, item_id, org, source_url, source_collection, "
                "source_id, source_href, fingerprint, classification, submitted_at, publication_due, harvested_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (collection, item_id) DO UPDATE SET "
                "source_url = EXCLUDED.source_url, source_href = EXCLUDED.source_href, fingerprint = EXCLUDED.fingerprint, "
                "classification = EXCLUDED.classification, harvested_at = EXCLUDED.harvested_at, withdrawn_at = NULL",
                rows)
            published = publish_items(internal, public, changed, public_url=settings.public_url)
            report.published, report.withheld, report.reasons = published.published, published.withheld, published.reasons
            done = [(i["collection"], i["id"]) for i in changed if i["id"] in set(published.published)]
            internal.execute(
                "UPDATE rsarchive.harvested_items h SET first_published_at = %s FROM unnest(%s::text[], %s::text[]) "
                "AS t(c, i) WHERE h.collection = t.c AND h.item_id = t.i AND h.first_published_at IS NULL",
                (now, [c for c, _ in done], [i for _, i in done]))
        if gone:
            for cid in sorted({c for c, _ in gone}):
                items = fetch_items(internal, [i for c, i in gone if c == cid], cid)
                withdraw_items(internal, public, items, f"no longer listed by {body.name} ({source.url})")
            internal.execute(
                "UPDATE rsarchive.harvested_items h SET withdrawn_at = %s FROM unnest(%s::text[], %s::text[]) AS t(c, i) "
                "WHERE h.collection = t.c AND h.item_id = t.i", (now, [c for c, _ in gone], [i for _, i in gone]))
            report.withdrawn = [i for _, i in gone]
        internal.execute("UPDATE rsarchive.harvest_sources SET last_run_at = %s, last_status = 'ok', last_error = NULL "
                         "WHERE org = %s", (now, body.org))
        public.commit()
        internal.commit()
    log.info("harvest of %s: %s", source.url, report.summary())
    return report


def _register(conn: Any, body: Body, now: dt.datetime) -> None:
    """Add the body to the source registry, or bring its URL and names up to date (interval kept)."""
    conn.execute(
        "INSERT INTO rsarchive.harvest_sources (org, name_vi, name_en, url, created_at) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (org) DO UPDATE SET name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en, url = EXCLUDED.url",
        (body.org, body.name_vi, body.name_en, body.url, now))


def _upsert_collection(conn: Any, collection: dict[str, Any]) -> None:
    """Create the collection, or update it keeping its stored extent (computed from its items)."""
    row = conn.execute("SELECT content FROM pgstac.collections WHERE id = %s", (collection["id"],)).fetchone()
    content = dict(collection, extent=row[0].get("extent", collection["extent"])) if row else collection
    if row is not None and row[0] == content:
        return
    conn.execute("SELECT pgstac.upsert_collection(%s::jsonb)", (json.dumps(content),))
