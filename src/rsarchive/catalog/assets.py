"""What the public catalog says about an item's files (Decision 81/2010, Art. 5.2, 7, 8).

An internal item's asset hrefs point into the archive's stores (``file:///…/primary/<key>``,
``s3://bucket/<key>``).  None of that reaches the public: what an asset *is* is decided by
the stored object it points at -- its record in ``rsarchive.objects`` and its key, whose
first segment is the form of the law (:mod:`rsarchive.storage.keys`) -- never by a role
string.

* Objects of the ``raw`` and ``product`` forms, in a raw or product item, are listed with
  what they are (type, bands, grid, size, checksum) and an href on the archive's public
  URL, ``<public_url>/assets/<collection>/<item>/<asset>``.  That route
  (:mod:`rsarchive.api.public_assets`) serves a preview (:data:`PREVIEW_ASSETS`) to anyone,
  and a data file to a caller whose delivery includes it; an anonymous caller is told
  how to request it (Art. 8).
* ``level0`` and ``original`` objects (and anything in a level-0 or original item, or in
  an item of unknown form) are not offered at all: the item keeps their sizes and
  checksums in ``rsarchive:files`` and no asset.
* An href that names no recorded object and no form is judged by the item's form (a raw
  or product item's file is listed; the route then finds nothing to serve).

:func:`store_hrefs` finds any store URL left in a document (the last check before
anything is written to the public database or a static export).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlparse

from rsarchive.errors import NotFoundError, UsageError
from rsarchive.storage.keys import Form, check_key
from rsarchive.storage.records import ObjectRecord, fetch_many

__all__ = ["PREVIEW_ASSETS", "PUBLIC_FORMS", "PublishedFile", "asset_form", "published_file", "candidate_keys", "object_records", "public_asset_href",
           "public_assets", "store_hrefs"]

PUBLIC_FORMS = frozenset({Form.RAW, Form.PRODUCT})
"""Forms whose files are listed in the public catalog (served on request, Art. 8)."""

PREVIEW_ASSETS = frozenset({"thumbnail", "quicklook"})
"""Asset keys of a raw or product item that anyone may fetch (small browse images)."""

_FORM_NAMES = frozenset(f.value for f in (Form.LEVEL0, Form.RAW, Form.PRODUCT, Form.ORIGINAL))
_STORE_URL = re.compile(r"(?:file|s3)://[^\"\s]*")


def candidate_keys(href: str) -> list[str]:
    """The object keys ``href`` may name, longest first: every tail of its path that starts
    with a form segment and is a valid key (``…/primary/product/vnredsat1/…`` → ``product/…``)."""
    parsed = urlparse(href)
    parts = [p for p in unquote(parsed.path).split("/") if p]
    found = []
    for index, part in enumerate(parts):
        if part in _FORM_NAMES:
            key = "/".join(parts[index:])
            try:
                found.append(check_key(key))
            except UsageError:
                continue
    return found


def object_records(conn: Any, items: Iterable[Mapping[str, Any]]) -> dict[str, ObjectRecord]:
    """href → the stored object it points at, for every asset of ``items`` that points at a
    recorded object (one query on the internal database ``conn``)."""
    hrefs = {str(a.get("href") or "") for item in items for a in (item.get("assets") or {}).values()}
    candidates = {href: candidate_keys(href) for href in hrefs}
    recorded = fetch_many(conn, {k for keys in candidates.values() for k in keys})
    found: dict[str, ObjectRecord] = {}
    for href, keys in candidates.items():
        for key in keys:
            if key in recorded:
                found[href] = recorded[key]
                break
    return found


def asset_form(href: str, records: Mapping[str, ObjectRecord], item_form: str | None) -> str | None:
    """The form of the object at ``href``: its record's, else its key's, else the item's."""
    record = records.get(href)
    if record is not None:
        return record.form.value
    keys = candidate_keys(href)
    if keys:
        return keys[0].split("/", 1)[0]
    return item_form


def public_asset_href(public_url: str, collection: str, item_id: str, asset: str) -> str:
    """``<public_url>/assets/<collection>/<item>/<asset>`` (each segment URL-quoted)."""
    return (f"{public_url.rstrip('/')}/assets/{quote(collection, safe='')}/{quote(item_id, safe='')}/"
            f"{quote(asset, safe='')}")


def public_assets(item: Mapping[str, Any], records: Mapping[str, ObjectRecord],
                  public_url: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The public assets of an internal ``item`` and the files it describes without offering them.

    Returns ``(assets, files)``: ``assets`` keyed as in the item, hrefs on ``public_url``;
    ``files`` the title, type, size and checksum of each file not offered (level-0, originals)."""
    item_form = (item.get("properties") or {}).get("rsarchive:form")
    listable_item = item_form in {f.value for f in PUBLIC_FORMS}
    assets: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    for key, asset in sorted((item.get("assets") or {}).items()):
        href = str(asset.get("href") or "")
        form = asset_form(href, records, item_form if isinstance(item_form, str) else None)
        if listable_item and form in {f.value for f in PUBLIC_FORMS}:
            public = {k: v for k, v in asset.items() if k not in ("href", "alternate")}
            assets[key] = {"href": public_asset_href(public_url, item["collection"], item["id"], key), **public}
            continue
        record = records.get(href)
        entry: dict[str, Any] = {"title": asset.get("title") or key}
        if asset.get("type"):
            entry["type"] = asset["type"]
        size = record.size if record is not None else asset.get("file:size")
        checksum = record.checksum if record is not None else asset.get("file:checksum")
        if size is not None:
            entry["file:size"] = size
        if checksum is not None:
            entry["file:checksum"] = checksum
        files.append(entry)
    return assets, files


def store_hrefs(document: Any, stores: Iterable[str] = ()) -> list[str]:
    """Every ``file://`` or ``s3://`` URL, and every occurrence of one of ``stores`` (store
    URLs, endpoints, bucket names), in the JSON of ``document``."""
    text = json.dumps(document, ensure_ascii=False)
    found = _STORE_URL.findall(text)
    found += [s for s in stores if s and s in text]
    return found


@dataclass(frozen=True)
class PublishedFile:
    """A file the public catalog lists: the stored object behind one public asset href."""

    collection: str
    item_id: str
    asset: str
    record: ObjectRecord
    media_type: str
    preview: bool
    """True for a browse image anyone may fetch; False for data supplied on request."""


def published_file(internal_conn: Any, public_conn: Any, collection: str, item_id: str, asset: str) -> PublishedFile:
    """The stored object behind ``<public_url>/assets/<collection>/<item>/<asset>``.

    :class:`NotFoundError` unless the item is in the public catalog (published: unclassified,
    classified, not held, not withdrawn) with that asset, and the asset is a recorded object
    of a public form (raw, product).  The same answer for every such case: nothing about an
    unpublished item is told."""
    from rsarchive.catalog.loader import fetch_items

    missing = NotFoundError(f"no published file {asset!r} of item {item_id!r} in collection {collection!r}")
    row = public_conn.execute("SELECT pgstac.get_item(%s, %s)->'assets'->%s FROM pgstac.items "
                              "WHERE collection = %s AND id = %s", (item_id, collection, asset, collection,
                                                                    item_id)).fetchone()
    if row is None or not row[0]:
        raise missing
    try:
        (item,) = fetch_items(internal_conn, [item_id], collection)
    except NotFoundError:
        raise missing from None
    internal_asset = (item.get("assets") or {}).get(asset)
    if not internal_asset:
        raise missing
    href = str(internal_asset.get("href") or "")
    record = object_records(internal_conn, [{"assets": {asset: internal_asset}}]).get(href)
    item_form = (item.get("properties") or {}).get("rsarchive:form")
    if record is None or record.form not in PUBLIC_FORMS or item_form not in {f.value for f in PUBLIC_FORMS}:
        raise missing
    media_type = str(internal_asset.get("type") or "application/octet-stream")
    preview = asset in PREVIEW_ASSETS and media_type.startswith("image/")
    return PublishedFile(collection, item_id, asset, record, media_type, preview)
