"""Catalog records: the catalog kept in the object stores as well as in the databases
(issue 19, part 7), so that ``rsarchive catalog rebuild`` can recreate both catalogs
from the stores alone (:mod:`rsarchive.catalog.rebuild`).

Every commit that adds items to the internal catalog writes **one** small JSON document,
``catalog/<kind>/<name>.json`` (:func:`rsarchive.storage.keys.catalog_key`):

* ``publication/<txn-id>`` -- a scene of an ingest: its raw and product items and the
  object records of the publication's files;
* ``level0/<datastrip>`` -- a pass's level-0 item and the level-0 object's record;
* ``delivery/<delivery-id>`` -- a registered foreign delivery: its row, its item (when it
  is catalogued) and the records of its originals and band COGs.

The document is an archive object like the others: written to the primary store, copied,
both read back against its sha256, and recorded in ``rsarchive.objects`` (form
``catalog``) *inside the transaction that commits the items*, after the document is in
both stores.  So a committed item always has its record in the stores; a crash between
the write and the database commit leaves a record whose items the database does not hold.

Which is the truth: while the internal database is there, it is (it also holds what
happened after the commit: an officer's classification, withdrawals, requests).  When
it is lost, a record counts when every object it lists is in the primary store with the
recorded size (and sha256, when the store reports one): a record left by a crash before
the database commit then describes objects that are whole and in place -- exactly what
re-running the job would commit -- and is rebuilt like the others; one whose objects
were never promoted or were removed since (``storage gc``) is skipped and reported.
The items in a record are the internal items as committed; the public copies are made
again from them by the publication rules (never a classified, held or withdrawn item).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from rsarchive.errors import IntegrityError, NotFoundError, StorageError
from rsarchive.storage.keys import Form, catalog_key
from rsarchive.storage.records import ObjectRecord

if TYPE_CHECKING:
    from rsarchive.storage.archive import Archive

log = logging.getLogger(__name__)

__all__ = ["FORMAT", "CatalogRecord", "Kind", "keep", "read_records"]

FORMAT = "rsarchive-catalog-record/1"
Kind = Literal["publication", "level0", "delivery"]


class CatalogRecord(BaseModel):
    """What one commit added to the catalogs (see the module's documentation)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["rsarchive-catalog-record/1"] = FORMAT
    kind: Kind
    name: str
    written_at: dt.datetime
    items: list[dict[str, Any]]
    objects: list[ObjectRecord]
    """Their rows of ``rsarchive.objects`` (without the fixity state: it starts afresh after a rebuild)."""
    delivery: dict[str, Any] | None = None
    """The row of ``rsarchive.originals`` of a delivery (JSON values)."""

    @property
    def key(self) -> str:
        return catalog_key(self.kind, self.name)

    def to_bytes(self) -> bytes:
        return json.dumps(json.loads(self.model_dump_json()), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode()


def keep(archive: Archive, kind: Kind, name: str, items: Sequence[Mapping[str, Any]],
         objects: Sequence[ObjectRecord], conn: Any, *, delivery: Mapping[str, Any] | None = None) -> ObjectRecord:
    """Write the catalog record of one commit (primary + verified copy) and record it in ``conn``'s
    transaction, which the caller then commits with the items."""
    record = CatalogRecord(kind=kind, name=name, written_at=dt.datetime.now(dt.timezone.utc),
                           items=[dict(i) for i in items],
                           objects=[dataclasses.replace(o, last_checked_at=None, last_status=None) for o in objects],
                           delivery=json.loads(json.dumps(dict(delivery), default=str)) if delivery else None)
    stored = archive.store(record.key, record.to_bytes(), conn=conn)
    log.debug("catalog record %s kept (%d item(s), %d object(s))", record.key, len(items), len(objects))
    return stored


def _read(archive: Archive, key: str) -> CatalogRecord:
    """One record, from the primary or the copy (:meth:`Archive.read_unrecorded`)."""
    try:
        return CatalogRecord.model_validate_json(archive.read_unrecorded(key))
    except (NotFoundError, IntegrityError) as exc:
        raise StorageError(f"catalog record {key!r} is unusable: {exc}") from None
    except ValidationError as exc:
        raise StorageError(f"{key!r} is not a catalog record ({exc.error_count()} error(s), first: "
                           f"{exc.errors()[0]['msg']})") from None


def read_records(archive: Archive) -> Iterator[tuple[str, CatalogRecord | StorageError]]:
    """Every catalog record of the stores (primary and copy: a record missing from one is read
    from the other), in key order; an unusable one is yielded as its error."""
    prefix = Form.CATALOG.value + "/"
    keys = {info.key for info in archive.primary.list(prefix)} | {info.key for info in archive.copy.list(prefix)}
    for key in sorted(keys):
        if not key.endswith(".json"):
            continue
        try:
            yield key, _read(archive, key)
        except StorageError as exc:
            yield key, exc
