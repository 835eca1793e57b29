"""The archive's item of a foreign product: the reader's item (the field library's fields
kept as they are) with the archive's assets and fields.

* Assets: every delivered file as an ``original`` asset (href into the original store,
  checksum, size; the library's title, type and roles where it described the file), and
  per band written as a COG the library's band asset (eo:bands, raster:bands with scale
  and offset) pointing at the COG, with the COG's own grid (``proj:*``).  Assets the
  library describes but that were not delivered are left out.
* Archive fields: form ``original``, acquisition route and article, provider, date
  received, the three-month metadata deadline and whether it was met, the security
  classification when one is stated (none: the item is held, fail closed), the product's
  own quality fields (``rsarchive:product_quality``), ``processing:level``.
* Extensions: those whose schema the archive can validate offline are declared; the
  fields of the others (``landsat:*``, ``s2:*``, ``grid:*``, ``mgrs:*``) stay, undeclared.

Pure: dicts in, a dict out (no I/O).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import mapping, shape

from rsarchive.catalog.inputs import ACQUISITION_ROUTES
from rsarchive.catalog.items import EXTENSIONS, collection_link
from rsarchive.errors import CatalogError
from rsarchive.foreign.cogs import BandGrid
from rsarchive.foreign.model import ForeignProduct

log = logging.getLogger(__name__)

__all__ = ["OVERRIDABLE", "ArchiveFields", "StoredCog", "StoredOriginal", "archive_item"]

COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
OVERRIDABLE = ("datetime", "platform", "instruments", "gsd", "cloud_cover", "title", "licence", "product_level")
"""Fields of ``--metadata`` that override what the product's metadata says."""


@dataclass(frozen=True)
class StoredOriginal:
    """A delivered file as stored: its name in the delivery, store href, checksum, size."""

    name: str
    path: Path                                  # where it was read (matches the library's hrefs)
    href: str
    checksum: str
    size: int


@dataclass(frozen=True)
class StoredCog:
    """A band's COG as stored."""

    key: str                                    # the library's asset key ("red", "B2")
    href: str
    checksum: str
    size: int
    grid: BandGrid


@dataclass(frozen=True)
class ArchiveFields:
    """What the archive adds: how and when the product came, and its classification."""

    delivery_id: str
    provider: str
    route: str
    received: dt.date
    metadata_due: dt.date
    registered: dt.date
    classification: str | None
    overrides: Mapping[str, Any]
    custodian: Mapping[str, Any] | None = None
    """The archive as custodian (a STAC ``contacts`` entry, Circular 09/2017/TT-BTNMT Art. 7.1(y))."""


def _level(product: ForeignProduct) -> str:
    props = product.item["properties"]
    if props.get("processing:level"):
        return str(props["processing:level"])
    if props.get("landsat:correction"):
        return str(props["landsat:correction"])
    product_type = str(props.get("s2:product_type") or "")
    return product_type.replace("S2MSI", "L") if product_type else "original"


def _overrides(props: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    names = {"cloud_cover": "eo:cloud_cover", "product_level": "processing:level", "licence": "rsarchive:licence"}
    for key, value in overrides.items():
        if key not in OVERRIDABLE or value is None:
            continue
        if key == "datetime":
            value = value.isoformat().replace("+00:00", "Z") if isinstance(value, dt.datetime) else str(value)
        props[names.get(key, key)] = list(value) if isinstance(value, (list, tuple)) else value


def archive_item(product: ForeignProduct, originals: Sequence[StoredOriginal], cogs: Sequence[StoredCog],
                 fields: ArchiveFields, known_schema: Callable[[str], bool]) -> dict[str, Any]:
    """The archive item of ``product`` (not yet validated); ``known_schema(url)`` says whether
    an extension schema is available offline."""
    source = product.item
    item = copy.deepcopy({k: source[k] for k in ("type", "stac_version", "id", "geometry", "properties")})
    item["collection"] = product.collection
    geom = shape(item["geometry"])
    if geom.is_empty or not geom.is_valid:
        raise CatalogError(f"product {product.item_id}: its footprint is empty or not a valid polygon")
    item["geometry"] = mapping(geom)
    item["bbox"] = list(geom.bounds)
    item["links"] = [collection_link(product.collection)]
    props = item["properties"]
    props["processing:level"] = _level(product)
    _overrides(props, fields.overrides)

    by_path = {str(Path(a["href"]).resolve()): (k, a) for k, a in (source.get("assets") or {}).items()
               if isinstance(a.get("href"), str)}
    assets: dict[str, Any] = {}
    for stored in originals:
        key, described = by_path.get(str(stored.path.resolve()), (None, {}))
        asset = {"href": stored.href, "title": stored.name, "roles": ["original"],
                 "file:checksum": stored.checksum, "file:size": stored.size}
        if described.get("type"):
            asset["type"] = described["type"].replace("; profile=cloud-optimized", "")
        if described and "data" not in (described.get("roles") or ()):
            asset["roles"] = ["original", *[r for r in described.get("roles") or () if r != "original"]]
        if described.get("description"):
            asset["description"] = described["description"]
        if key is None or key in {c.key for c in cogs}:
            key = f"original:{stored.name}"
        assets[key] = asset
    for cog in cogs:
        described = dict((source.get("assets") or {}).get(cog.key) or {})
        described.pop("alternate", None)
        for stale in ("proj:shape", "proj:transform", "proj:code", "proj:epsg", "proj:bbox", "proj:wkt2"):
            described.pop(stale, None)
        assets[cog.key] = {**described, "href": cog.href, "type": COG_TYPE,
                           "roles": list(dict.fromkeys([*(described.get("roles") or ["data"])])),
                           "file:checksum": cog.checksum, "file:size": cog.size, **cog.grid.as_properties()}
    item["assets"] = assets

    props["rsarchive:form"] = "original"
    props["rsarchive:format"] = product.format
    props["rsarchive:acquisition_route"] = fields.route
    props["rsarchive:acquisition_article"] = ACQUISITION_ROUTES[fields.route]
    props["rsarchive:provider"] = fields.provider
    props["rsarchive:received"] = f"{fields.received.isoformat()}T00:00:00Z"
    props["rsarchive:delivery_id"] = fields.delivery_id
    props["rsarchive:metadata_due"] = fields.metadata_due.isoformat()
    props["rsarchive:metadata_deadline_met"] = fields.registered <= fields.metadata_due
    if product.quality:
        props["rsarchive:product_quality"] = dict(product.quality)
    if fields.classification is not None:  # none stated: held until an officer classifies it
        props["rsarchive:security_classification"] = fields.classification
    if fields.custodian is not None:  # the provider's own contacts stay, the archive is added as custodian
        props["contacts"] = [*(c for c in props.get("contacts") or [] if c != fields.custodian), dict(fields.custodian)]
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    props.setdefault("created", now)
    props["updated"] = now

    wanted = [url for url in source.get("stac_extensions") or []]
    wanted += [EXTENSIONS["file"], EXTENSIONS["processing"], EXTENSIONS["timestamps"]]
    if fields.custodian is not None:
        wanted.append(EXTENSIONS["contacts"])
    declared = []
    for url in dict.fromkeys(wanted):
        if known_schema(url):
            declared.append(url)
        else:
            log.info("item %s: extension %s has no offline schema; its fields are kept undeclared", item["id"], url)
    item["stac_extensions"] = declared
    return item
