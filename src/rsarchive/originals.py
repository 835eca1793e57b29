"""Foreign data as first received (Decision 81, Art. 5.1 b–c, Art. 13.4).

``register`` keeps the delivered files byte-exact as ``original`` objects with a
verified ``copy``, records the delivery, and catalogues it when its metadata is
given; the metadata of data bought abroad is due within three months of receipt,
so deliveries registered without it are listed by ``overdue`` once that passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rsarchive.db import connect
from rsarchive.errors import NotFoundError, UsageError
from rsarchive.jsoninput import read_model
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

Route = Literal["purchase", "exchange", "aid"]
METADATA_MONTHS = 3


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
    """Three calendar months after receipt (the last day of a shorter month when needed)."""
    from dateutil.relativedelta import relativedelta

    return received + relativedelta(months=METADATA_MONTHS)


def parse_metadata(value: str | None) -> OriginalMetadata | None:
    """``--metadata``: a JSON file or a JSON object; None when not given."""
    if value is None:
        return None
    return read_model(value, OriginalMetadata, "metadata")


def _delivery_id(provider: str, received: dt.date, files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
    return f"{provider.lower()}-{received:%Y%m%d}-{digest.hexdigest()[:12]}"


def register(settings: Settings, files: Sequence[str | Path], *, provider: str, route: Route,
             received: dt.date, metadata: OriginalMetadata | None = None) -> Delivery:
    """Store ``files`` as originals (+ verified copies), record the delivery, catalogue it
    when ``metadata`` is given.  Registering the same files again returns the same delivery."""
    from rsarchive.storage import Archive, original_key

    paths = [Path(f) for f in files]
    if not paths:
        raise UsageError("give at least one file to register")
    for path in paths:
        if not path.is_file():
            raise UsageError(f"cannot register {path}: no such file")
    if len({p.name for p in paths}) != len(paths):
        raise UsageError("two files of one delivery have the same name")
    if route not in ("purchase", "exchange", "aid"):
        raise UsageError(f"route {route!r} is not one of purchase, exchange, aid")
    if received > dt.date.today():
        raise UsageError(f"received date {received} is in the future")
    if metadata is not None:
        metadata.footprint()  # validate before storing anything
    delivery_id = _delivery_id(provider, received, paths)
    archive = Archive.from_settings(settings)
    keys = []
    for path in paths:
        key = original_key(provider, received, delivery_id, path.name)
        archive.store(key, path)
        keys.append(key)
    with connect(settings.internal_database_dsn) as conn:
        conn.execute(
            "INSERT INTO rsarchive.originals (delivery_id, provider, route, received, metadata_due, keys) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (delivery_id) DO NOTHING",
            (delivery_id, provider, route, received, metadata_due(received), keys),
        )
        conn.commit()
    log.info("registered delivery %s (%d file(s)) from %s", delivery_id, len(keys), provider)
    if metadata is not None:
        return add_metadata(settings, delivery_id, metadata)
    return get(settings, delivery_id)


def add_metadata(settings: Settings, delivery_id: str, metadata: OriginalMetadata) -> Delivery:
    """Catalogue a registered delivery with its metadata (and publish it when it is unclassified;
    without a classification it is held)."""
    from rsarchive.catalog import AssetInput, ProcessingInfo, Reception, SceneMetadata, ensure_collections
    from rsarchive.catalog import item_dict, load_items, publish_items
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
    received = dt.datetime.combine(delivery.received, dt.time(0), dt.timezone.utc)
    when = metadata.datetime if metadata.datetime.tzinfo else metadata.datetime.replace(tzinfo=dt.timezone.utc)
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


__all__ = ["Delivery", "OriginalMetadata", "add_metadata", "get", "list_deliveries", "metadata_due", "overdue",
           "parse_metadata", "register"]
