"""The STAC API *query* extension, complete.

stac-fastapi-pgstac accepts only the comparison operators of the query extension
(``eq ne neq lt lte gt gte``); the extension also defines ``startsWith``, ``endsWith``,
``contains`` and ``in``.  Here the request model accepts all of them and the client
rewrites a ``query`` into the equivalent CQL2-JSON ``filter`` (ANDed with any filter
already given), which pgSTAC evaluates with its indexes.  Everything else is
stac-fastapi-pgstac's own code path.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from enum import Enum
from typing import Any

from pydantic import BaseModel
from stac_fastapi.extensions.query import QueryExtension as QueryExtensionBase
from stac_fastapi.pgstac.core import CoreCrudClient

from rsarchive.api.framework_texts import bilingual_titles

__all__ = ["ClearanceFilterClient", "FullQueryExtension", "QueryToFilterClient", "clearance_filter",
           "query_to_cql2", "visible_to", "with_filter"]


class Operator(str, Enum):
    eq = "eq"
    ne = "ne"
    neq = "neq"
    lt = "lt"
    lte = "lte"
    gt = "gt"
    gte = "gte"
    startsWith = "startsWith"
    endsWith = "endsWith"
    contains = "contains"
    in_ = "in"


class QueryPostRequest(BaseModel):
    """Query extension POST body: ``{"query": {property: {operator: value}}}``."""

    query: dict[str, dict[Operator, Any]] | None = None


class FullQueryExtension(QueryExtensionBase):
    """The query extension with every operator of its specification."""

    POST = QueryPostRequest


_COMPARE = {"eq": "=", "ne": "<>", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _like_escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _array_properties() -> frozenset[str]:
    """Queryables declared as arrays in ``catalog/queryables.json`` (``in`` means overlap there)."""
    import json

    from rsarchive.catalog.collections import catalog_file

    path = catalog_file("queryables.json")
    if not path.is_file():
        return frozenset()
    data = json.loads(path.read_text(encoding="utf-8"))
    return frozenset(k for k, v in data.items() if isinstance(v, dict) and v.get("definition", {}).get("type") == "array")


def query_to_cql2(query: dict[str, dict[Any, Any]], arrays: frozenset[str] | None = None) -> dict[str, Any] | None:
    """The CQL2-JSON equivalent of a query-extension object (None when empty).

    ``in`` on an array-valued property (``arrays``) means "shares a value" (``a_overlaps``)."""
    arrays = _array_properties() if arrays is None else arrays
    args: list[dict[str, Any]] = []
    for name, ops in query.items():
        prop = {"property": name}
        for raw_op, value in ops.items():
            op = raw_op.value if isinstance(raw_op, Enum) else str(raw_op)
            if op in _COMPARE:
                args.append({"op": _COMPARE[op], "args": [prop, value]})
            elif op == "startsWith":
                args.append({"op": "like", "args": [prop, _like_escape(value) + "%"]})
            elif op == "endsWith":
                args.append({"op": "like", "args": [prop, "%" + _like_escape(value)]})
            elif op == "contains":
                args.append({"op": "like", "args": [prop, "%" + _like_escape(value) + "%"]})
            elif op == "in":
                values = value if isinstance(value, list) else [value]
                if name in arrays:
                    args.append({"op": "a_overlaps", "args": [prop, values]})
                else:
                    args.append({"op": "in", "args": [prop, values]})
    if not args:
        return None
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


def _geojson(result: Any) -> Any:
    """A search's answer as an ``application/geo+json`` response rendered by orjson.

    stac-fastapi returns a search as a dict (rendered here by orjson, not FastAPI's
    ``jsonable_encoder``), and a search with ``fields`` as plain JSON; both leave here as
    GeoJSON (pgSTAC and the hydration give JSON types only).
    (why: docs/DECISIONS.md, STAC API searches: where the time went)"""
    from starlette.responses import JSONResponse
    from stac_fastapi.api.models import GeoJSONResponse

    if isinstance(result, dict):
        return FastGeoJSONResponse(content=result)
    if isinstance(result, JSONResponse) and not isinstance(result, GeoJSONResponse):
        import orjson

        return GeoJSONResponse(content=orjson.loads(bytes(result.body)), status_code=result.status_code)
    return result


def _json(result: Any) -> Any:
    """A collections answer (a dict) as an ``application/json`` response rendered by orjson
    instead of FastAPI's ``jsonable_encoder``."""
    return FastJSONResponse(content=result) if isinstance(result, dict) else result


def _keeping_id(fields: list[str] | None) -> list[str] | None:
    """A collection search's ``fields`` without any exclusion of ``id``: every collection
    keeps its id (its links are built from it; stac-fastapi-pgstac answered 500 for
    ``fields=-id``)."""
    return [f for f in fields if f.strip() != "-id"] if fields else fields


def _render(content: Any) -> bytes:
    import orjson

    try:
        return orjson.dumps(content)
    except orjson.JSONEncodeError:
        # orjson refuses integers beyond 64 bits, which a POST search body may hold
        # (its unknown keys are echoed in the paging links); the stdlib writes them.
        import json

        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def _fast_responses() -> tuple[type, type]:
    from stac_fastapi.api.models import GeoJSONResponse, JSONResponse

    class FastGeoJSONResponse(GeoJSONResponse):  # type: ignore[misc]
        def render(self, content: Any) -> bytes:
            return _render(content)

    class FastJSONResponse(JSONResponse):  # type: ignore[misc]
        def render(self, content: Any) -> bytes:
            return _render(content)

    return FastGeoJSONResponse, FastJSONResponse


FastGeoJSONResponse, FastJSONResponse = _fast_responses()


def with_filter(search_request: Any, expr: dict[str, Any] | None) -> Any:
    """``search_request`` with its ``query`` rewritten as CQL2 and ``expr`` AND-ed to its filter.

    pgSTAC takes either ``query`` or ``filter``; once a filter is added the query becomes
    part of it (an empty query has no conditions and is dropped)."""
    query = getattr(search_request, "query", None)
    converted = query_to_cql2(query) if query else None
    if converted is None and expr is None:
        return search_request
    existing = getattr(search_request, "filter_expr", None) or getattr(search_request, "filter", None)
    parts = [p for p in (existing, converted, expr) if p]
    combined = parts[0] if len(parts) == 1 else {"op": "and", "args": parts}
    fields = type(search_request).model_fields
    update: dict[str, Any] = {"query": None} if "query" in fields else {}
    for attr in ("filter_expr", "filter"):
        if attr in fields:
            update[attr] = combined
            break
    else:  # a request model without the filter extension cannot carry the restriction
        raise RuntimeError(f"{type(search_request).__name__} has no filter field")
    if "filter_lang" in fields:
        update["filter_lang"] = "cql2-json"
    return search_request.model_copy(update=update)


class QueryToFilterClient(CoreCrudClient):  # type: ignore[misc]
    """stac-fastapi-pgstac's client, with ``query`` rewritten as a CQL2 ``filter`` and
    ``application/geo+json`` kept for searches with ``fields``."""

    async def post_search(self, *args: Any, **kwargs: Any) -> Any:
        return _geojson(await super().post_search(*args, **kwargs))

    async def get_search(self, *args: Any, **kwargs: Any) -> Any:
        return _geojson(await super().get_search(*args, **kwargs))

    async def item_collection(self, *args: Any, **kwargs: Any) -> Any:
        return _geojson(await super().item_collection(*args, **kwargs))

    async def get_item(self, *args: Any, **kwargs: Any) -> Any:
        return _geojson(await super().get_item(*args, **kwargs))

    async def all_collections(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["fields"] = _keeping_id(kwargs.get("fields"))
        return _json(bilingual_titles(await super().all_collections(*args, **kwargs)))

    async def get_collection(self, *args: Any, **kwargs: Any) -> Any:
        return bilingual_titles(await super().get_collection(*args, **kwargs))

    async def landing_page(self, **kwargs: Any) -> Any:
        return bilingual_titles(await super().landing_page(**kwargs))

    def restriction(self, request: Any) -> dict[str, Any] | None:
        """A CQL2 expression every item this caller reads must meet (None: no restriction)."""
        return None

    def _clean_search_args(self, base_args: dict[str, Any], *args: Any, filter_query: str | None = None,
                           filter_lang: str | None = None, **kwargs: Any) -> dict[str, Any]:
        # GET filters: parsed and checked once here (rsarchive.api.filters) instead of by
        # cql2's schema validation (why: docs/DECISIONS.md, STAC API searches: where the time went)
        if filter_query:
            from rsarchive.api.filters import parse_filter

            base_args = dict(base_args, filter=parse_filter(filter_query, filter_lang), filter_lang="cql2-json")
        if kwargs.get("fields"):  # "fields=a,,b" or "fields=,": stac-fastapi-pgstac reads field[0] of each entry
            kwargs["fields"] = [f for f in kwargs["fields"] if f]
        return super()._clean_search_args(base_args, *args, filter_query=None, filter_lang=None, **kwargs)

    async def _search_base(self, search_request: Any, request: Any) -> Any:
        # Every item read goes through here: /search (GET, POST), /collections/{c}/items and
        # /collections/{c}/items/{id} (stac-fastapi-pgstac's get_item searches by id).
        given = getattr(search_request, "filter_expr", None) or getattr(search_request, "filter", None)
        if isinstance(given, (dict, bool)):  # POST bodies: the same check as GET filters
            from rsarchive.api.filters import check_predicate

            check_predicate(given)
        return await super()._search_base(with_filter(search_request, self.restriction(request)), request)


def visible_to(clearance: str | None) -> tuple[str, ...] | None:
    """The classification spellings an item may carry to be visible at a caller's
    clearance; None for the highest clearance (it sees everything).  No or an unknown
    clearance counts as ``unclassified`` (fail closed)."""
    from rsarchive.users.identity import CLEARANCES, visible_classifications

    return visible_classifications(clearance if clearance in CLEARANCES else CLEARANCES[0])


def clearance_filter(clearance: str | None) -> dict[str, Any] | None:
    """The CQL2-JSON restriction for a caller's clearance: the item's classification is one
    of the spellings that clearance covers (missing or unknown values never match); None
    for the highest clearance (it sees everything).  No or an unknown clearance counts as
    ``unclassified`` (fail closed)."""
    from rsarchive.users.identity import CLASSIFICATION_PROPERTY

    allowed = visible_to(clearance)
    if allowed is None:
        return None
    return {"op": "in", "args": [{"property": CLASSIFICATION_PROPERTY}, list(allowed)]}


_EXISTENCE_CHECK: contextvars.ContextVar[bool] = contextvars.ContextVar("rsarchive_existence_check", default=False)
"""Set while stac-fastapi-pgstac's item routes call ``get_collection`` only to answer 404
for a missing collection (the document itself is thrown away: no extent needed)."""


@contextlib.contextmanager
def _existence_check() -> Iterator[None]:
    token = _EXISTENCE_CHECK.set(True)
    try:
        yield
    finally:
        _EXISTENCE_CHECK.reset(token)


class ClearanceFilterClient(QueryToFilterClient):
    """The internal API's client: every item read is restricted to the caller's clearance
    (``request.state.clearance``, set by :class:`rsarchive.api.app.TokenAuth`).

    An item above the clearance is not in search results or their ``numberMatched``,
    not in item lists, and ``/collections/{c}/items/{id}`` answers 404 for it exactly as
    for a missing item.  Nor does it show in collections: below the highest clearance a
    collection's extent (``/collections``, ``/collections/{c}``, collection search) is
    that of the items the caller may see, computed in the database and reused for up to
    60 s (:mod:`rsarchive.api.extents`); the highest clearance gets the stored
    extent.  (Collection ``summaries`` are the definitions' in ``catalog/``, never computed
    from items.)"""

    def restriction(self, request: Any) -> dict[str, Any] | None:
        return clearance_filter(getattr(request.state, "clearance", None))

    # -- collections: extents from the visible items only (rsarchive.api.extents) ----------

    @property
    def extent_cache(self) -> Any:
        """This API's :class:`rsarchive.api.extents.ExtentCache` (60 s)."""
        cache = self.__dict__.get("_extent_cache")
        if cache is None:
            from rsarchive.api.extents import ExtentCache

            cache = self.__dict__["_extent_cache"] = ExtentCache()
        return cache

    async def get_collection(self, collection_id: str, request: Any, **kwargs: Any) -> Any:
        """``/collections/{id}``; below the highest clearance its extent is that of the
        items the caller may see (the definition's default when there are none)."""
        collection = await super().get_collection(collection_id, request, **kwargs)
        allowed = visible_to(getattr(request.state, "clearance", None))
        if allowed is not None and not _EXISTENCE_CHECK.get():
            async with request.app.state.get_connection(request, "r") as conn:
                extents = await self.extent_cache.get(conn, allowed, [collection_id], request.app.state.readpool)
            collection["extent"] = extents[collection_id]
        return collection

    async def item_collection(self, *args: Any, **kwargs: Any) -> Any:
        with _existence_check():
            return await super().item_collection(*args, **kwargs)

    async def get_item(self, *args: Any, **kwargs: Any) -> Any:
        with _existence_check():
            return await super().get_item(*args, **kwargs)

    async def all_collections(self, request: Any, bbox: Any = None, datetime: str | None = None,
                              limit: int | None = None, offset: int | None = None, query: str | None = None,
                              fields: list[str] | None = None, sortby: str | None = None,
                              filter_expr: str | None = None, filter_lang: str | None = None, **kwargs: Any) -> Any:
        """``/collections`` and collection search; below the highest clearance every
        collection carries the extent of the items the caller may see, and ``bbox``,
        ``datetime``, filters and sorting are evaluated against that extent, not the stored
        one (:func:`rsarchive.api.extents.search_collections`)."""
        allowed = visible_to(getattr(request.state, "clearance", None))
        fields = _keeping_id(fields)
        if allowed is None:
            return await super().all_collections(
                request, bbox=bbox, datetime=datetime, limit=limit, offset=offset, query=query, fields=fields,
                sortby=sortby, filter_expr=filter_expr, filter_lang=filter_lang, **kwargs)
        return _json(await self._restricted_collections(
            request, allowed, bbox=bbox, datetime=datetime, limit=limit, offset=offset, query=query,
            fields=fields, sortby=sortby, filter_expr=filter_expr, filter_lang=filter_lang, **kwargs))

    async def _restricted_collections(self, request: Any, allowed: tuple[str, ...], *, bbox: Any,
                                      datetime: str | None, limit: int | None, offset: int | None,
                                      query: str | None, fields: list[str] | None, sortby: str | None,
                                      filter_expr: str | None, filter_lang: str | None, **kwargs: Any) -> Any:
        # stac-fastapi-pgstac 7.2's CoreCrudClient.all_collections, with pgSTAC's
        # collection_search(...) replaced by rsarchive.api.extents.search_collections.
        from urllib.parse import unquote_plus, urljoin

        import orjson
        from stac_fastapi.api.models import JSONResponse
        from stac_fastapi.pgstac.core import join_free_text_query
        from stac_fastapi.pgstac.models.links import CollectionLinks, CollectionSearchPagingLinks
        from stac_fastapi.types.core import Relations
        from stac_fastapi.types.errors import InvalidQueryParameter
        from stac_fastapi.types.requests import get_base_url
        from stac_pydantic.shared import MimeTypes

        from rsarchive.api.extents import search_collections

        if query and filter_expr:
            raise InvalidQueryParameter("The 'query' and 'filter' parameters are mutually exclusive.")
        base_url = get_base_url(request)
        if self.extension_is_enabled("CollectionSearchExtension"):
            base_args = {"bbox": bbox, "limit": limit, "offset": offset,
                         "query": orjson.loads(unquote_plus(query)) if query else query}
            clean_args = self._clean_search_args(base_args=base_args, datetime=datetime, fields=fields,
                                                 sortby=sortby, filter_query=filter_expr, filter_lang=filter_lang,
                                                 **kwargs)
        else:
            clean_args = {"limit": limit or 10000, "offset": offset or 0}
        is_collection = {"op": "=", "args": [{"property": "type"}, "Collection"]}
        if "query" in clean_args and "filter" not in clean_args:
            if isinstance(clean_args["query"], str):
                clean_args["query"] = orjson.loads(clean_args["query"])
            clean_args["query"]["type"] = {"eq": "Collection"}
        elif "filter" in clean_args:
            clean_args["filter"] = {"op": "and", "args": [clean_args["filter"], is_collection]}
        else:
            clean_args["filter"] = is_collection
        join_free_text_query(clean_args)

        async with request.app.state.get_connection(request, "r") as conn:
            collections = await search_collections(conn, clean_args, self.extent_cache, allowed,
                                                   request.app.state.readpool)

        links = {link["rel"]: link for link in collections["links"]}
        filtering = self.extension_is_enabled("FilterExtension") or self.extension_is_enabled(
            "ItemCollectionFilterExtension")
        for collection in collections["collections"]:
            collection["links"] = await CollectionLinks(collection_id=collection["id"], request=request).get_links(
                extra_links=collection.get("links"))
            if filtering:
                collection["links"].append({
                    "rel": Relations.queryables.value, "type": MimeTypes.jsonschema.value, "title": "Queryables",
                    "href": urljoin(base_url, f"collections/{collection['id']}/queryables")})
            collection.pop("parent_ids", None)
        collections["links"] = await CollectionSearchPagingLinks(
            request=request, next=links.get("next"), prev=links.get("prev")).get_links()
        if fields:
            return JSONResponse(collections)
        return collections
