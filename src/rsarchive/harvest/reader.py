"""Reading a body's catalog: a STAC API (pystac-client) or a static STAC catalog (pystac's I/O).

:func:`read_source` returns every item the catalog lists, as the JSON it serves, with the
address it was read from (the item's ``self`` link, the provenance kept in the national
catalog) and the collections' own descriptions.  Nothing is stored here; a catalog that
cannot be reached, is not STAC, or lists an item that is not a JSON object raises before the
caller writes anything.

* unreachable (refused, unknown host, timeout, HTTP error) → :class:`ServiceError`;
* not a STAC document, or not JSON → :class:`CatalogError`.

The item's STAC validity is checked later, on the national item (:mod:`rsarchive.harvest.convert`).
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.error import HTTPError, URLError
from urllib.parse import urljoin, urlparse
from urllib.request import Request, urlopen

from pystac.stac_io import DefaultStacIO

from rsarchive.errors import CatalogError, ServiceError

log = logging.getLogger(__name__)

__all__ = ["SourceCatalog", "SourceItem", "read_source"]

Kind = Literal["api", "static"]
MAX_ITEMS = 1_000_000
"""A guard against a catalog that never ends (a paging loop): more items than this is an error."""


@dataclass(frozen=True)
class SourceItem:
    """One item as the body's catalog serves it."""

    data: dict[str, Any]
    href: str
    """Where it was read (its ``self`` link, else the address it was fetched from)."""

    @property
    def id(self) -> str:
        return str(self.data.get("id"))

    @property
    def collection(self) -> str | None:
        value = self.data.get("collection")
        return value if isinstance(value, str) and value else None


@dataclass
class SourceCatalog:
    """What a body's catalog holds."""

    url: str
    kind: Kind
    items: list[SourceItem] = field(default_factory=list)
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Collection id → its JSON (title, description, licence, providers) where the catalog gives it."""


def _reason(exc: BaseException, timeout: float) -> str:
    """Why a catalog could not be read, in a few words (never the library's text)."""
    if isinstance(exc, HTTPError):
        return f"HTTP {exc.code}"
    inner = exc.reason if isinstance(exc, URLError) else exc
    if isinstance(inner, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused"
    if isinstance(inner, socket.gaierror):
        return "host not found"
    if isinstance(inner, FileNotFoundError):
        return "no such file"
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror.lower()
    return type(inner).__name__


class _TimedStacIO(DefaultStacIO):
    """pystac's I/O with a timeout on HTTP reads."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def read_text_from_href(self, href: str) -> str:
        if urlparse(href).scheme in ("http", "https"):
            request = Request(href, headers={"Accept": "application/json, application/geo+json"})
            with urlopen(request, timeout=self.timeout) as answer:
                return str(answer.read().decode("utf-8"))
        return str(super().read_text_from_href(href))


def _read_json(io: _TimedStacIO, href: str, what: str) -> dict[str, Any]:
    try:
        text = io.read_text_from_href(href)
    except (URLError, OSError) as exc:
        raise ServiceError(f"cannot read {what} at {href}: {_reason(exc, io.timeout)}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise CatalogError(f"{what} at {href} is not JSON") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{what} at {href} is not a JSON object")
    return data


def _self_href(data: Mapping[str, Any], fallback: str) -> str:
    for link in data.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") == "self" and isinstance(link.get("href"), str):
            return urljoin(fallback, link["href"])
    return fallback


def read_source(url: str, *, timeout: float = 30.0) -> SourceCatalog:
    """Every item of the STAC API or static catalog at ``url`` (a URL or a local path)."""
    io = _TimedStacIO(timeout)
    root = _read_json(io, url, "the catalog")
    if not isinstance(root.get("stac_version"), str) or root.get("type") not in ("Catalog", "Collection"):
        raise CatalogError(f"{url} is not a STAC catalog or STAC API: its root document has no stac_version "
                           "and type Catalog or Collection")
    conforms = [str(c) for c in root.get("conformsTo") or []]
    if any(c.rstrip("/").endswith("/item-search") for c in conforms):
        source = _read_api(url, timeout)
    else:
        source = SourceCatalog(url=url, kind="static")
        _walk_static(io, url, root, source, set())
    log.info("read %d item(s) of %d collection(s) from the %s catalog %s", len(source.items),
             len(source.collections), source.kind, url)
    return source


def _read_api(url: str, timeout: float) -> SourceCatalog:
    from pystac_client import Client
    from pystac_client.exceptions import APIError

    source = SourceCatalog(url=url, kind="api")
    try:
        client = Client.open(url, timeout=timeout)
        for collection in client.get_collections():
            source.collections[collection.id] = collection.to_dict(include_self_link=True, transform_hrefs=False)
        for data in client.search(limit=100, max_items=MAX_ITEMS + 1).items_as_dicts():
            if not isinstance(data, dict):
                raise CatalogError(f"the STAC API {url} answered a search with a feature that is not a JSON object")
            source.items.append(SourceItem(data, _self_href(data, _api_item_href(url, data))))
    except APIError as exc:
        status = getattr(exc, "status_code", None)
        raise ServiceError(f"the STAC API {url} answered with an error" + (f" (HTTP {status})" if status else "")) from None
    except (OSError, ConnectionError) as exc:
        raise ServiceError(f"cannot read the STAC API {url}: {_reason(exc, timeout)}") from None
    except CatalogError:
        raise
    except Exception as exc:  # pystac/pystac-client parse errors on what the API served
        log.debug("STAC API read failed", exc_info=True)
        raise CatalogError(f"the STAC API {url} served something that is not STAC ({type(exc).__name__})") from None
    if len(source.items) > MAX_ITEMS:
        raise CatalogError(f"the STAC API {url} lists more than {MAX_ITEMS} items; harvest it in parts")
    return source


def _api_item_href(url: str, data: Mapping[str, Any]) -> str:
    base = url if url.endswith("/") else url + "/"
    return urljoin(base, f"collections/{data.get('collection')}/items/{data.get('id')}")


def _links(data: Mapping[str, Any], rel: str, base: str) -> Iterator[str]:
    for link in data.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") == rel and isinstance(link.get("href"), str):
            yield urljoin(base, link["href"])


def _walk_static(io: _TimedStacIO, href: str, node: dict[str, Any], source: SourceCatalog, seen: set[str]) -> None:
    """Items and collections under ``node`` (a catalog or collection read from ``href``)."""
    if href in seen:
        return
    seen.add(href)
    if node.get("type") == "Collection" and isinstance(node.get("id"), str):
        source.collections[node["id"]] = node
    for item_href in _links(node, "item", href):
        data = _read_json(io, item_href, "item")
        if data.get("type") != "Feature":
            raise CatalogError(f"the item at {item_href} is not a STAC item (type {data.get('type')!r}, "
                               "expected 'Feature')")
        if "collection" not in data and node.get("type") == "Collection":
            data["collection"] = node.get("id")
        source.items.append(SourceItem(data, _self_href(data, item_href)))
        if len(source.items) > MAX_ITEMS:
            raise CatalogError(f"the catalog {source.url} lists more than {MAX_ITEMS} items")
    for child_href in _links(node, "child", href):
        child = _read_json(io, child_href, "child catalog")
        _walk_static(io, child_href, child, source, seen)
