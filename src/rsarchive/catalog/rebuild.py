"""``rsarchive catalog rebuild``: both catalogs from the object stores alone (issue 19, part 7).

Reads every catalog record of the stores (:mod:`rsarchive.catalog.records`) and, into
migrated databases (empty ones, or ones restored from an older backup):

1. records the objects each usable record lists (size, sha256, copies, stores,
   publication and the time they were stored, as committed; the fixity state starts
   afresh), the record itself, and every ``level0``/``original``/``backup`` object present
   in both stores with the same size and sha256 (an immutable object or a dump describes
   itself: its record is its key, size, checksum and the two stores), and marks the
   publications committed;
2. loads the items into the internal catalog (collections from the shipped definitions),
   a later record of an item winning over an earlier one;
3. restores the rows of registered deliveries;
4. publishes the items by the publication rules: only unclassified ones, never a
   classified, held (no classification) or withdrawn one.

What the databases already hold wins: an object record, item or delivery that is there
is left as it is (it may carry an officer's later decision), so rebuilding into a
database restored from an older backup adds only what was committed since, and running
rebuild again changes nothing.  A record whose objects are not all in the primary store
with their recorded size and checksum is skipped and reported (see
:mod:`rsarchive.catalog.records` for why that is the rule).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rsarchive.catalog.collections import ensure_collections
from rsarchive.catalog.loader import delete_items, load_items
from rsarchive.catalog.publication import is_publishable, publish_items, withdrawn_items
from rsarchive.catalog.records import CatalogRecord, read_records
from rsarchive.db import connect
from rsarchive.errors import NotFoundError, StorageError, UsageError
from rsarchive.storage.keys import Form
from rsarchive.storage.records import ObjectRecord

if TYPE_CHECKING:
    from rsarchive.storage.archive import Archive

log = logging.getLogger(__name__)

__all__ = ["RebuildReport", "rebuild", "reconcile_public"]


@dataclass
class RebuildReport:
    records: int = 0
    objects_recorded: int = 0
    items_loaded: list[str] = field(default_factory=list)
    items_kept: int = 0
    """Items the internal database already held (left as they were)."""
    deliveries: int = 0
    published: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Record key → why it was not used."""

    def summary(self) -> str:
        return (f"{self.records} catalog record(s) read: {self.objects_recorded} object record(s) added, "
                f"{len(self.items_loaded)} item(s) loaded ({self.items_kept} already there), "
                f"{self.deliveries} deliveries, {len(self.published)} published, {len(self.withheld)} withheld; "
                f"{len(self.skipped)} record(s) skipped")


_INSERT_OBJECT = """INSERT INTO rsarchive.objects (key, form, size, sha256, stored_at, copies, primary_store, copy_store,
                                             publication)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING"""


def _check_migrated(conn: Any, which: str) -> None:
    row = conn.execute("SELECT to_regclass('pgstac.items'), to_regclass('rsarchive.schema_migrations')").fetchone()
    if row[0] is None or row[1] is None:
        raise UsageError(f"the {which} database is not migrated: run `rsarchive services up` (or create and migrate "
                         "it) before `rsarchive catalog rebuild`")


def _intact(archive: Archive, record: CatalogRecord) -> str | None:
    """Why the objects ``record`` lists are not all whole in the primary store (None: they are)."""
    for obj in record.objects:
        try:
            info = archive.primary.head(obj.key)
        except NotFoundError:
            return f"{obj.key} is not in the primary store"
        if info.size != obj.size or (info.sha256 is not None and info.sha256 != obj.sha256):
            return f"{obj.key} in the primary store is not the recorded object ({info.size} bytes, sha256 {info.sha256})"
    return None


def _immutable_objects(archive: Archive, known: set[str]) -> list[ObjectRecord]:
    """``level0``/``original``/``backup`` objects in both stores, not yet recorded, whose copy matches."""
    import datetime as dt

    found = []
    copies = {}
    for form in (Form.LEVEL0, Form.ORIGINAL, Form.BACKUP):
        copies.update({i.key: i for i in archive.copy.list(form.value + "/")})
        for info in archive.primary.list(form.value + "/"):
            twin = copies.get(info.key)
            if info.key in known or twin is None or twin.size != info.size:
                continue
            sha = info.sha256 or archive.primary.head(info.key).sha256 or archive.primary.get(info.key, None).sha256
            twin_sha = twin.sha256 or archive.copy.head(info.key).sha256 or archive.copy.get(info.key, None).sha256
            if twin_sha != sha:
                log.warning("%s: primary and copy differ; not recorded (run the audit after the rebuild)", info.key)
                continue
            found.append(ObjectRecord(key=info.key, form=form, size=info.size, sha256=sha,
                                      stored_at=info.modified or dt.datetime.now(dt.timezone.utc), copies=2,
                                      primary_store=archive.primary.url, copy_store=archive.copy.url))
    return found


def rebuild(archive: Archive, internal_dsn: str, public_dsn: str, *, public_url: str | None = None,
            publish: bool = True) -> RebuildReport:
    """Recreate both catalogs from the stores (see the module's documentation).  ``publish=False``:
    the internal catalog only (an officer reviews and publishes: ``rsarchive catalog publish``)."""
    report = RebuildReport()
    usable: list[tuple[str, CatalogRecord, Any]] = []
    for key, record in read_records(archive):
        if isinstance(record, StorageError):
            report.skipped[key] = str(record)
            continue
        why = _intact(archive, record)
        if why is not None:
            report.skipped[key] = why
            continue
        usable.append((key, record, archive.primary.head(key)))
    report.records = len(usable) + len(report.skipped)
    usable.sort(key=lambda entry: (entry[1].written_at, entry[0]))
    for key, why in report.skipped.items():
        log.warning("catalog record %s skipped: %s", key, why)

    with connect(internal_dsn) as internal, connect(public_dsn) as public:
        _check_migrated(internal, "internal")
        _check_migrated(public, "public")
        known = {r[0] for r in internal.execute("SELECT key FROM rsarchive.objects")}
        objects: dict[str, ObjectRecord] = {}
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for key, record, info in usable:
            for obj in record.objects:
                objects[obj.key] = obj
            objects[key] = ObjectRecord(key=key, form=Form.CATALOG, size=info.size,
                                        sha256=info.sha256 or archive.primary.get(key, None).sha256,
                                        stored_at=record.written_at, copies=2, primary_store=archive.primary.url,
                                        copy_store=archive.copy.url)
            for item in record.items:
                items[(item["collection"], item["id"])] = item
        for obj in _immutable_objects(archive, known | set(objects)):
            objects[obj.key] = obj
        for obj in objects.values():
            if obj.key in known:
                continue
            internal.execute(_INSERT_OBJECT, (obj.key, obj.form.value, obj.size, obj.sha256, obj.stored_at, obj.copies,
                                              obj.primary_store, obj.copy_store, obj.publication))
            report.objects_recorded += 1
        for key, record, _ in usable:
            if record.kind == "publication":
                internal.execute("INSERT INTO rsarchive.storage_txns (txn_id, state, created_at, committed_at) "
                                 "VALUES (%s, 'committed', %s, %s) ON CONFLICT (txn_id) DO NOTHING",
                                 (record.name, record.written_at, record.written_at))
            if record.delivery is not None:
                done = internal.execute(
                    "INSERT INTO rsarchive.originals SELECT * FROM jsonb_populate_record(NULL::rsarchive.originals, "
                    "%s::jsonb) ON CONFLICT (delivery_id) DO NOTHING", (json.dumps(record.delivery),))
                report.deliveries += done.rowcount

        present = {(c, i) for c, i in internal.execute("SELECT collection, id FROM pgstac.items")}
        new = [item for pair, item in sorted(items.items()) if pair not in present]
        report.items_kept = len(items) - len(new)
        if new:
            ensure_collections(internal, sorted({i["collection"] for i in new}))
            load_items(internal, new)
            if publish:
                published = publish_items(internal, public, new, public_url=public_url)
                report.published, report.withheld = published.published, published.withheld
        report.items_loaded = [i["id"] for i in new]
        public.commit()  # the public copies first, then the internal catalog (a re-run publishes again)
        internal.commit()
    log.info("catalog rebuild: %s", report.summary())
    return report


def reconcile_public(internal_dsn: str, public_dsn: str, *, public_url: str | None = None) -> list[str]:
    """Remove every public copy the internal catalog does not allow (an item it does not hold, or
    one classified, held or withdrawn); return their ids.  Run after restoring both databases."""
    removed: list[str] = []
    with connect(internal_dsn) as internal, connect(public_dsn) as public:
        held: dict[str, list[str]] = {}
        for collection, item_id in public.execute("SELECT collection, id FROM pgstac.items ORDER BY 1, 2"):
            held.setdefault(collection, []).append(item_id)
        for collection, ids in held.items():
            known = {r[0]: r[1] for r in internal.execute(
                "SELECT id, pgstac.get_item(id, collection) FROM pgstac.items WHERE collection = %s AND id = ANY(%s)",
                (collection, ids))}
            gone = [i for i in ids if i not in known]
            if gone:
                _remove(public, collection, gone)
                removed += gone
            present = [known[i] for i in ids if i in known]
            withdrawn = withdrawn_items(internal, present)
            refused = [i for i in present if not is_publishable(i) or (collection, i["id"]) in withdrawn]
            if refused:
                removed += publish_items(internal, public, refused, public_url=public_url).withheld
        public.commit()
        internal.commit()
    if removed:
        log.warning("public copies removed after the restore (not allowed by the internal catalog): %s",
                    ", ".join(removed))
    return removed


def _remove(public: Any, collection: str, ids: Iterable[str]) -> None:
    ids = list(ids)
    delete_items(public, collection, ids)
    public.execute("DELETE FROM rsarchive.published_items WHERE collection = %s AND item_id = ANY(%s)",
                   (collection, ids))

