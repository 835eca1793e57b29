"""A body's item as an item of the national catalog (pure: dicts in, dicts out).

Decree 03/2019/NĐ-CP, Art. 17.1: the national database gathers the metadata of the ministries,
government agencies and provinces; the data stays with the body that holds it.  So a harvested
item is *metadata* (``rsarchive:form`` = ``metadata``; the source's own form is kept in
``rsarchive:source_form``): its public copy lists its files without offering them, and its
``via`` link leads to the item in the body's catalog.

Fields added (``rsarchive:`` prefix; :data:`HARVEST_FIELDS`):

* ``rsarchive:custodian`` -- the body that holds the item (``org``, ``name``, ``url``), also
  listed first in the item's ``providers`` with the STAC role ``host``;
* ``rsarchive:source_url``, ``rsarchive:source_collection``, ``rsarchive:source_id`` -- where it
  was harvested from; the ``via`` link is the item's own address there;
* ``rsarchive:harvested`` (when our copy last changed), ``rsarchive:submitted`` (first
  harvest: the day the metadata was submitted to the national database) and
  ``rsarchive:publication_due`` (the last day to publish it, rule
  ``metadata.publication.local`` of the legal basis).

A catalog read from a local path (an export a body delivered) puts no path in the item (no ``via``
link, no ``rsarchive:source_url``, no ``url`` of the custodian): the provenance stays in the internal
table ``rsarchive.harvested_items``.

The source's classification, ``rsarchive:security_classification``, is kept as it is: an item
the body marks classified stays internal, an item without a valid classification is held for
an officer (:mod:`rsarchive.catalog.publication`, fail closed).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlparse

from rsarchive.catalog.items import EXTENSIONS, LANGUAGE, LANGUAGES, collection_link
from rsarchive.errors import UsageError
from rsarchive.harvest.reader import SourceItem
from rsarchive.i18n import bilingual

__all__ = [
    "HARVESTED_FORM",
    "HARVEST_FIELDS",
    "Body",
    "check_org",
    "collection_id",
    "fingerprint",
    "national_collection",
    "national_item",
]

HARVESTED_FORM = "metadata"
HARVEST_FIELDS: dict[str, str] = {
    "rsarchive:custodian": "the body holding the item: org, name (vi / en), url of its catalog",
    "rsarchive:source_url": "the body's catalog (STAC API or static catalog) the item was harvested from",
    "rsarchive:source_collection": "the item's collection in the body's catalog",
    "rsarchive:source_id": "the item's id in the body's catalog",
    "rsarchive:source_form": "the item's rsarchive:form in the body's catalog, if it says one",
    "rsarchive:source_published": "when the body published it, if it says so",
    "rsarchive:harvested": "when the national copy last changed",
    "rsarchive:submitted": "first harvested: submission to the national database (Decree 03/2019, Art. 18.2)",
    "rsarchive:publication_due": "last day to publish it (rule metadata.publication.local)",
}
LINK_EXTENSIONS = ("/web-map-links/",)
"""Extensions about links of the source's item, which the national item does not keep (only its ``via``)."""
_ORG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_SLUG = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Body:
    """A ministry, government agency or province whose catalog is harvested."""

    org: str
    name_vi: str
    name_en: str
    url: str

    @property
    def name(self) -> str:
        return bilingual(self.name_vi, self.name_en)

    @property
    def public_url(self) -> str | None:
        """The catalog's URL when it is on the web; a local path is never published."""
        return web_url(self.url)

    def custodian(self) -> dict[str, str]:
        found = {"org": self.org, "name": self.name}
        return {**found, "url": self.public_url} if self.public_url else found

    def provider(self) -> dict[str, Any]:
        found = {"name": self.name, "roles": ["host"],
                 "description": bilingual("Cơ quan lưu giữ dữ liệu", "The body holding the data")}
        return {**found, "url": self.public_url} if self.public_url else found


def web_url(value: str | None) -> str | None:
    """``value`` when it is an http(s) URL: a catalog read from a local path (a delivered export)
    keeps its provenance in the internal table ``rsarchive.harvested_items`` only."""
    return value if value and urlparse(value).scheme in ("http", "https") else None


def check_org(org: str) -> str:
    """``org`` when it is a short lower-case id (``bo-quoc-phong``, ``ha-noi``), else :class:`UsageError`."""
    if not _ORG.match(org or ""):
        raise UsageError(f"body id {org!r} must be 1-40 lower-case letters, digits and hyphens, starting with a "
                         "letter or digit (e.g. 'ha-noi')")
    return org


def collection_id(org: str, source_collection: str | None) -> str:
    """``harvested-<org>-<source collection>`` (``harvested-<org>`` for items without one)."""
    if not source_collection:
        return f"harvested-{org}"
    slug = _SLUG.sub("-", source_collection.lower()).strip("-") or "items"
    return f"harvested-{org}-{slug}"


def fingerprint(data: Mapping[str, Any]) -> str:
    """sha256 of the item as the source serves it (canonical JSON): unchanged means untouched."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _split(title: str) -> tuple[str, str]:
    """A ``"vi / en"`` title as its two halves (both the same when it has one language)."""
    vi, sep, en = title.partition(" / ")
    return (vi, en) if sep else (title, title)


def national_item(source: SourceItem, body: Body, *, source_url: str, harvested: dt.datetime,
                  submitted: dt.datetime, due: dt.date, known_extension: Callable[[str], bool]) -> dict[str, Any]:
    """The national catalog's item for ``source`` (not yet validated).

    ``known_extension(url)``: whether an extension's schema is available offline; one that is not
    is left undeclared (its fields stay, core STAC still checks the item)."""
    data = copy.deepcopy(source.data)
    if not isinstance(data.get("id"), str) or not data["id"]:
        raise UsageError(f"the item at {source.href} has no id")
    props = data.get("properties")
    if not isinstance(props, dict):
        raise UsageError(f"item {data['id']!r} at {source.href} has no properties object")
    props = dict(props)
    form = props.pop("rsarchive:form", None)
    if isinstance(form, str):
        props["rsarchive:source_form"] = form
    if "published" in props:
        props["rsarchive:source_published"] = props.pop("published")
    vi, en = _split(str(props.get("title") or data["id"]))
    props["title"] = bilingual(f"{vi} — {body.name_vi}", f"{en} — {body.name_en}")
    props["language"] = dict(LANGUAGE)
    props["languages"] = [dict(lang) for lang in LANGUAGES]
    providers = [p for p in props.get("providers") or [] if isinstance(p, dict) and p.get("name") != body.name]
    props["providers"] = [body.provider(), *providers]
    props.setdefault("created", _iso(harvested))
    props["updated"] = _iso(harvested)
    props["rsarchive:form"] = HARVESTED_FORM
    props["rsarchive:custodian"] = body.custodian()
    if web_url(source_url):
        props["rsarchive:source_url"] = source_url
    if source.collection:
        props["rsarchive:source_collection"] = source.collection
    props["rsarchive:source_id"] = data["id"]
    props["rsarchive:harvested"] = _iso(harvested)
    props["rsarchive:submitted"] = _iso(submitted)
    props["rsarchive:publication_due"] = due.isoformat()
    assets = {}
    for key, asset in (data.get("assets") or {}).items():
        if isinstance(asset, dict) and isinstance(asset.get("href"), str):
            assets[key] = {**asset, "href": urljoin(source.href, asset["href"])}
    declared = [u for u in data.get("stac_extensions") or [] if isinstance(u, str) and known_extension(u)
                and not any(part in u for part in LINK_EXTENSIONS)]
    for name in ("timestamps", "language"):
        if EXTENSIONS[name] not in declared:
            declared.append(EXTENSIONS[name])
    item: dict[str, Any] = {
        "type": "Feature",
        "stac_version": data.get("stac_version"),
        "stac_extensions": declared,
        "id": data["id"],
        "collection": collection_id(body.org, source.collection),
        "geometry": data.get("geometry"),
        "properties": props,
        "links": [collection_link(collection_id(body.org, source.collection))],
        "assets": assets,
    }
    if web_url(source.href):
        item["links"].append({"rel": "via", "href": source.href, "type": "application/geo+json",
                              "title": bilingual(f"Bản gốc tại {body.name_vi}", f"The original at {body.name_en}")})
    if "bbox" in data:
        item["bbox"] = data["bbox"]
    return item


def national_collection(body: Body, source_collection: str | None, described: Mapping[str, Any] | None, *,
                        basis_cite: tuple[str, str]) -> dict[str, Any]:
    """The national catalog's collection of a body's items of ``source_collection``.

    ``described``: the body's own collection JSON, if its catalog gives it; ``basis_cite``: the
    article (vi, en) under which the national database gathers the body's metadata."""
    described = described or {}
    vi, en = _split(str(described.get("title") or source_collection or "Siêu dữ liệu / Metadata"))
    cid = collection_id(body.org, source_collection)
    others = [p for p in described.get("providers") or []
              if isinstance(p, dict) and p.get("name") != body.name and "host" not in (p.get("roles") or [])]
    where_vi = body.public_url or "danh mục do cơ quan này giao nộp"
    where_en = body.public_url or "a catalog the body delivered"
    collection: dict[str, Any] = {
        "type": "Collection",
        "stac_version": "1.1.0",
        "stac_extensions": [EXTENSIONS["language"]],
        "id": cid,
        "title": bilingual(f"{vi} — {body.name_vi}", f"{en} — {body.name_en}"),
        "description": (
            f"Siêu dữ liệu viễn thám do {body.name_vi} lưu giữ, tập hợp vào cơ sở dữ liệu viễn thám quốc gia "
            f"({basis_cite[0]}) từ {where_vi}"
            + (f" (bộ sưu tập “{source_collection}”)" if source_collection else "") + ". Dữ liệu do cơ quan này cung cấp."
            f"\n\nRemote-sensing metadata held by {body.name_en}, gathered into the national remote-sensing database "
            f"({basis_cite[1]}) from {where_en}" + (f" (collection '{source_collection}')" if source_collection else "")
            + ". The data is supplied by that body."),
        "language": dict(LANGUAGE),
        "languages": [dict(lang) for lang in LANGUAGES],
        "keywords": ["siêu dữ liệu", "metadata", body.name_vi, body.name_en, "viễn thám", "remote sensing"],
        "license": described.get("license") if isinstance(described.get("license"), str) else "other",
        "providers": [body.provider(), *others],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}},
        "summaries": {"rsarchive:form": [HARVESTED_FORM], "rsarchive:custodian": [body.custodian()]},
        "links": [],
    }
    via = web_url(next((link.get("href") for link in described.get("links") or []
                        if isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str)),
                       None))
    if via:
        collection["links"].append({"rel": "via", "href": via, "type": "application/json",
                                    "title": bilingual(f"Bộ sưu tập gốc tại {body.name_vi}",
                                                       f"The original collection at {body.name_en}")})
    return collection
