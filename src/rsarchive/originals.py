"""Foreign data as first received (Decision 81, Art. 5.1 b–d, Art. 13.4).

``register`` keeps the delivered files byte-exact as ``original`` objects with a
verified ``copy``, records the delivery, and catalogues it when its metadata is
given or the product's own metadata is recognised (:mod:`rsarchive.foreign`: Landsat C2,
Sentinel-2 SAFE, DIMAP V2 -- then its bands also get COGs in the product layout); the metadata of data bought abroad is due within three months of receipt,
so deliveries registered without it are listed by ``overdue`` once that passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rsarchive.catalog.records import keep as keep_record
from rsarchive.db import connect
from rsarchive.errors import NotFoundError, UsageError
from rsarchive.foreign.model import DeliveredFile, ForeignProduct
from rsarchive.foreign.recognise import ARCHIVE_SUFFIXES, Delivered
from rsarchive.jsoninput import read_model
from rsarchive.law import load_basis
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

Route = Literal["purchase", "exchange", "aid", "foreign-station"]
ROUTES: tuple[str, ...] = ("purchase", "exchange", "aid", "foreign-station")
"""Art. 5.1 b (purchase), c (exchange, cooperation, aid), d (foreign-operated or joint stations)."""


@dataclass(frozen=True)
class Funding:
    """How a purchase was paid for and the purchase opinion it rests on (Art. 10.2; Decree 03/2019, Art. 15.4),
    checked by the caller (``rsarchive.requests.purchase.check_for_registration``)."""

    funding: str | None = None
    opinion_id: int | None = None
    note: str = ""


class OriginalMetadata(BaseModel):
    """What the catalog needs of a foreign product (``--metadata JSON``)."""

    model_config = ConfigDict(extra="allow")

    datetime: dt.datetime
    geometry: dict[str, Any] | None = None
    bbox: tuple[float, float, float, float] | None = None
    platform: str
    instruments: list[str] = []
    product_level: str = "original"
    gsd: float | None = None
    cloud_cover: float | None = None
    title: str | None = None
    licence: str | None = None
    classification: Literal["unclassified", "confidential", "secret", "top-secret"] | None = None
    """No default (fail closed): without one the delivery is catalogued and held, never
    published, until an officer classifies it (``rsarchive catalog classify``)."""

    def footprint(self) -> dict[str, Any]:
        if self.geometry is not None:
            if self.geometry.get("type") not in ("Polygon", "MultiPolygon"):
                raise UsageError("metadata geometry must be a GeoJSON Polygon or MultiPolygon")
            return self.geometry
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise UsageError(f"metadata bbox {list(self.bbox)} is not west,south,east,north in degrees")
            return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        raise UsageError("metadata needs a geometry (GeoJSON) or a bbox")


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    provider: str
    route: str
    received: dt.date
    metadata_due: dt.date
    keys: list[str]
    item_id: str | None
    metadata_reported_at: dt.datetime | None

    @property
    def overdue(self) -> bool:
        return self.metadata_reported_at is None and dt.date.today() > self.metadata_due

    def to_dict(self) -> dict[str, Any]:
        return {"delivery_id": self.delivery_id, "provider": self.provider, "route": self.route,
                "received": self.received.isoformat(), "metadata_due": self.metadata_due.isoformat(),
                "keys": self.keys, "item_id": self.item_id,
                "metadata_reported_at": self.metadata_reported_at.isoformat() if self.metadata_reported_at else None,
                "overdue": self.overdue}


def metadata_due(received: dt.date) -> dt.date:
    """The end of the time limit of rule ``foreign.metadata`` of the legal basis after receipt (three calendar
    months: the last day of a shorter month when needed, moved off a day that is not a working day)."""
    from rsarchive.law import load_basis

    return load_basis().rule("foreign.metadata").period.end(received)


class MetadataOverrides(BaseModel):
    """``--metadata`` for a recognised product: any field of :class:`OriginalMetadata`, each
    overriding what the product's own metadata says (``classification`` among them)."""

    model_config = ConfigDict(extra="allow")

    datetime: dt.datetime | None = None
    geometry: dict[str, Any] | None = None
    bbox: tuple[float, float, float, float] | None = None
    platform: str | None = None
    instruments: list[str] | None = None
    product_level: str | None = None
    gsd: float | None = None
    cloud_cover: float | None = None
    title: str | None = None
    licence: str | None = None
    classification: Literal["unclassified", "confidential", "secret", "top-secret"] | None = None

    def complete(self) -> OriginalMetadata:
        """The metadata of a product whose format is not recognised: these fields must say it all."""
        from pydantic import ValidationError

        try:
            return OriginalMetadata.model_validate(self.model_dump(exclude_none=True))
        except ValidationError as exc:
            missing = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
            raise UsageError("the product's format is not recognised, so --metadata must give "
                             f"datetime, platform and a geometry or bbox (missing or invalid: {', '.join(missing)})") from None


def parse_metadata(value: str | None) -> MetadataOverrides | None:
    """``--metadata``: a JSON file or a JSON object; None when not given."""
    if value is None:
        return None
    return read_model(value, MetadataOverrides, "metadata")


def _delivery_id(provider: str, received: dt.date, files: Sequence[DeliveredFile]) -> str:
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.name):
        digest.update(file.name.encode() + b"\0")
        with open(file.path, "rb") as handle:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
    return f"{provider.lower()}-{received:%Y%m%d}-{digest.hexdigest()[:12]}"


def _check_delivery(route: str, received: dt.date) -> None:
    if route not in ROUTES:
        raise UsageError(f"route {route!r} is not one of {', '.join(ROUTES)}")
    if received > dt.date.today():
        raise UsageError(f"received date {received} is in the future")


def register(settings: Settings, files: Sequence[str | Path], *, provider: str, route: Route,
             received: dt.date, metadata: OriginalMetadata | MetadataOverrides | None = None,
             funding: Funding | None = None) -> Delivery:
    """Store the delivery ``files`` (files, product directories, SAFE folders, ``.tar``/``.tar.gz``/
    ``.zip`` archives) as originals (+ verified copies) and record it.

    A product whose own metadata is recognised (:data:`rsarchive.foreign.FORMATS`) is catalogued
    from it, ``metadata`` overriding fields, and its bands get COGs; otherwise ``metadata`` must
    say everything (:class:`OriginalMetadata`), or, for loose files only, is reported later
    (three months).  A directory or archive that is not recognised, without metadata, is an
    error naming the formats recognised.  Nothing is stored when the input is bad.
    Registering the same files again returns the same delivery."""
    from rsarchive.foreign import open_delivery, recognise, unrecognised_message

    _check_delivery(route, received)
    with open_delivery(files) as delivered:
        product = recognise(delivered.readable)
        if product is not None:
            overrides = metadata if isinstance(metadata, MetadataOverrides) else (
                MetadataOverrides.model_validate(metadata.model_dump()) if metadata is not None else MetadataOverrides())
            return _register_product(settings, delivered, product, provider=provider, route=route,
                                     received=received, overrides=overrides, funding=funding)
        packaged = any(Path(f).is_dir() or Path(f).name.lower().endswith(ARCHIVE_SUFFIXES) for f in files)
        if metadata is None and packaged:
            raise UsageError(unrecognised_message(delivered.readable))
        full = metadata.complete() if isinstance(metadata, MetadataOverrides) else metadata
        if full is not None:
            full.footprint()  # validate before storing anything
        delivery_id = _delivery_id(provider, received, delivered.stored)
        keys = _store_originals(settings, delivered.stored, provider, received, delivery_id)
    _record_delivery(settings, delivery_id, provider, route, received, keys, funding)
    log.info("registered delivery %s (%d file(s)) from %s", delivery_id, len(keys), provider)
    if full is not None:
        return add_metadata(settings, delivery_id, full)  # writes the delivery's catalog record
    from rsarchive.storage import Archive

    with connect(settings.internal_database_dsn) as conn:
        _keep_delivery(Archive.from_settings(settings), conn, delivery_id, [], keys)
        conn.commit()
    return get(settings, delivery_id)


def _store_originals(settings: Settings, files: Sequence[DeliveredFile], provider: str, received: dt.date,
                     delivery_id: str) -> list[str]:
    from rsarchive.storage import Archive, original_key

    archive = Archive.from_settings(settings)
    keys = []
    for file in files:
        key = original_key(provider, received, delivery_id, file.name)
        archive.store(key, file.path)
        keys.append(key)
    return keys


def _keep_delivery(archive: Any, conn: Any, delivery_id: str, items: list[dict[str, Any]], keys: list[str]) -> None:
    """The delivery's catalog record in the stores (its row, item and object records), written in
    ``conn``'s transaction before the caller commits it (``rsarchive catalog rebuild``)."""
    from rsarchive.storage.records import fetch_many

    row = conn.execute("SELECT to_jsonb(o) FROM rsarchive.originals o WHERE delivery_id = %s",
                       (delivery_id,)).fetchone()[0]
    keep_record(archive, "delivery", delivery_id, items, list(fetch_many(conn, keys).values()), conn, delivery=row)


def _record_delivery(settings: Settings, delivery_id: str, provider: str, route: str, received: dt.date,
                     keys: list[str], funding: Funding | None = None) -> None:
    funding = funding or Funding()
    with connect(settings.internal_database_dsn) as conn:
        conn.execute(
            "INSERT INTO rsarchive.originals (delivery_id, provider, route, received, metadata_due, keys, funding, "
            "opinion_id, opinion_note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (delivery_id) DO NOTHING",
            (delivery_id, provider, route, received, metadata_due(received), keys, funding.funding,
             funding.opinion_id, funding.note or None),
        )
        conn.commit()


_PLACEHOLDER = "1220" + "0" * 64


def _register_product(settings: Settings, delivered: Delivered, product: ForeignProduct, *, provider: str,
                      route: str, received: dt.date, overrides: MetadataOverrides,
                      funding: Funding | None = None) -> Delivery:
    """Catalogue a recognised product: COGs of its bands written and the item built and validated
    first (a bad product stores nothing), then originals, COGs, delivery, item."""
    import tempfile

    from rsarchive.catalog import (
        ensure_collections,
        load_items,
        publish_items,
        validate_item,
    )
    from rsarchive.catalog.validation import default_store
    from rsarchive.errors import CatalogError
    from rsarchive.foreign.cogs import write_band_cog
    from rsarchive.foreign.item import (
        ArchiveFields,
        StoredCog,
        StoredOriginal,
        archive_item,
    )
    from rsarchive.storage import Archive, original_key, product_key

    store = default_store()

    def known(url: str) -> bool:
        try:
            store.contents(url)
            return True
        except CatalogError:
            return False

    delivery_id = _delivery_id(provider, received, delivered.stored)
    archive = Archive.from_settings(settings)
    acquired = dt.datetime.fromisoformat(str(product.item["properties"]["datetime"]))
    fields = ArchiveFields(delivery_id=delivery_id, provider=provider, route=route, received=received,
                           metadata_due=metadata_due(received), registered=dt.date.today(),
                           classification=overrides.classification,
                           overrides=overrides.model_dump(exclude_none=True),
                           custodian=load_basis().authority.custodian_contact())
    originals = [StoredOriginal(f.name, f.path, f"{archive.primary.url}/{original_key(provider, received, delivery_id, f.name)}",
                                _PLACEHOLDER, f.path.stat().st_size) for f in delivered.stored]
    with tempfile.TemporaryDirectory(prefix="rsarchive-cogs-") as tmp:
        cogs: list[tuple[StoredCog, Path]] = []
        for key, (path, index) in product.bands.items():
            raster = ((product.item["assets"].get(key) or {}).get("raster:bands") or [{}])[0]
            dest = Path(tmp) / f"{key}.tif"
            grid = write_band_cog(path, index, dest, physical="scale" in raster)
            if grid is None:
                continue
            cog_key = product_key(product.mission, acquired, product.item_id, f"{key}.tif")
            cogs.append((StoredCog(key, f"{archive.primary.url}/{cog_key}", _PLACEHOLDER, dest.stat().st_size, grid),
                         dest))
        item = archive_item(product, originals, [c for c, _ in cogs], fields, known)
        validate_item(item, store)  # before anything is stored
        checksums: dict[str, tuple[str, int]] = {}
        for original in originals:
            record = archive.store(original.href[len(archive.primary.url) + 1:], original.path)
            checksums[original.href] = (record.checksum, record.size)
        for cog, path in cogs:
            record = archive.store(cog.href[len(archive.primary.url) + 1:], path)
            checksums[cog.href] = (record.checksum, record.size)
    for asset in item["assets"].values():
        asset["file:checksum"], asset["file:size"] = checksums[asset["href"]]
    keys = [o.href[len(archive.primary.url) + 1:] for o in originals]
    _record_delivery(settings, delivery_id, provider, route, received, keys, funding)
    with connect(settings.internal_database_dsn) as internal, connect(settings.public_database_dsn) as public:
        ensure_collections(internal, [product.collection])  # publish_items does the public one
        load_items(internal, [item])
        internal.execute(
            "UPDATE rsarchive.originals SET metadata = %s, item_id = %s, classification = %s, "
            "metadata_reported_at = coalesce(metadata_reported_at, now()) WHERE delivery_id = %s",
            (json.dumps(_summary(product, overrides)), product.item_id, overrides.classification, delivery_id),
        )
        _keep_delivery(archive, internal, delivery_id, [item], keys + [c.href[len(archive.primary.url) + 1:]
                                                                       for c, _ in cogs])
        publish_items(internal, public, [item], public_url=settings.public_url)
        public.commit()
        internal.commit()
    log.info("registered %s product %s (delivery %s: %d file(s), %d COG(s)) from %s", product.format,
             product.item_id, delivery_id, len(keys), len(cogs), provider)
    return get(settings, delivery_id)


def _summary(product: ForeignProduct, overrides: MetadataOverrides) -> dict[str, Any]:
    """What ``rsarchive.originals.metadata`` keeps of a recognised product."""
    props = product.item["properties"]
    return {"format": product.format, "metadata_file": product.metadata_file.name, "collection": product.collection,
            "datetime": props.get("datetime"), "platform": props.get("platform"),
            "overrides": json.loads(overrides.model_dump_json(exclude_none=True))}


def add_metadata(settings: Settings, delivery_id: str, metadata: OriginalMetadata) -> Delivery:
    """Catalogue a registered delivery with its metadata (and publish it when it is unclassified;
    without a classification it is held)."""
    from rsarchive.catalog import (
        AssetInput,
        ProcessingInfo,
        Reception,
        SceneMetadata,
        ensure_collections,
        item_dict,
        load_items,
        publish_items,
    )
    from rsarchive.storage import Archive

    delivery = get(settings, delivery_id)
    archive = Archive.from_settings(settings)
    assets = []
    for index, key in enumerate(delivery.keys):
        record = archive.record(key)
        assets.append(AssetInput(key=f"file{index + 1}" if len(delivery.keys) > 1 else "data",
                                 href=f"{archive.primary.url}/{key}", media_type="application/octet-stream",
                                 roles=("data", "original"), title=key.rsplit("/", 1)[-1],
                                 checksum=record.checksum, size=record.size))
    received = dt.datetime.combine(delivery.received, dt.time(0), dt.UTC)
    when = metadata.datetime if metadata.datetime.tzinfo else metadata.datetime.replace(tzinfo=dt.UTC)
    extra = {k: v for k, v in (metadata.model_extra or {}).items()}
    scene = SceneMetadata(
        item_id=delivery_id, collection="foreign-original", form="original", datetime=when,
        footprint=metadata.footprint(), assets=tuple(assets),
        reception=Reception(route=delivery.route, provider=delivery.provider, received=received),  # type: ignore[arg-type]
        platform=metadata.platform, instruments=tuple(metadata.instruments), mission=None,
        security=metadata.classification, gsd=metadata.gsd, cloud_cover=metadata.cloud_cover,
        processing=ProcessingInfo(level=metadata.product_level, software={},
                                  lineage=f"received from {delivery.provider} on {delivery.received} "
                                          f"({delivery.route}); kept byte-exact as original + copy"),
        extra_properties={"rsarchive:metadata_due": delivery.metadata_due.isoformat(),
                          **({"title": metadata.title} if metadata.title else {}), **extra},
    )
    item = item_dict(scene)
    with connect(settings.internal_database_dsn) as internal, connect(settings.public_database_dsn) as public:
        ensure_collections(internal, ["foreign-original"])
        load_items(internal, [item])
        internal.execute(
            "UPDATE rsarchive.originals SET metadata = %s, item_id = %s, classification = %s, "
            "metadata_reported_at = coalesce(metadata_reported_at, now()) WHERE delivery_id = %s",
            (metadata.model_dump_json(), delivery_id, metadata.classification, delivery_id),
        )
        _keep_delivery(archive, internal, delivery_id, [item], list(delivery.keys))
        publish_items(internal, public, [item], public_url=settings.public_url)
        public.commit()
        internal.commit()
    return get(settings, delivery_id)


def get(settings: Settings, delivery_id: str) -> Delivery:
    rows = _select(settings, "WHERE delivery_id = %s", (delivery_id,))
    if not rows:
        raise NotFoundError(f"no registered delivery {delivery_id!r}")
    return rows[0]


def list_deliveries(settings: Settings) -> list[Delivery]:
    return _select(settings, "", ())


def overdue(settings: Settings, today: dt.date | None = None) -> list[Delivery]:
    """Deliveries whose metadata was due (three months after receipt) and is still missing."""
    return _select(settings, "WHERE metadata_reported_at IS NULL AND metadata_due < %s",
                   (today or dt.date.today(),))


def _select(settings: Settings, where: str, params: tuple[Any, ...]) -> list[Delivery]:
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute(
            "SELECT delivery_id, provider, route, received, metadata_due, keys, item_id, metadata_reported_at "
            f"FROM rsarchive.originals {where} ORDER BY metadata_due, delivery_id", params).fetchall()
    return [Delivery(*row) for row in rows]


__all__ = ["Delivery", "MetadataOverrides", "OriginalMetadata", "add_metadata", "get", "list_deliveries", "metadata_due", "overdue",
           "parse_metadata", "register"]
