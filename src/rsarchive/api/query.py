"""The STAC API *query* extension, complete.

stac-fastapi-pgstac accepts only the comparison operators of the query extension
(``eq ne neq lt lte gt gte``); the extension also defines ``startsWith``, ``endsWith``,
``contains`` and ``in``.  Here the request model accepts all of them and the client
rewrites a ``query`` into the equivalent CQL2-JSON ``filter`` (ANDed with any filter
already given), which pgSTAC evaluates with its indexes.  Everything else is
stac-fastapi-pgstac's own code path.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel
from stac_fastapi.extensions.query import QueryExtension as QueryExtensionBase
from stac_fastapi.pgstac.core import CoreCrudClient

__all__ = ["FullQueryExtension", "QueryToFilterClient", "query_to_cql2"]


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

    from rsarchive.catalog.collections import catalog_dir

    path = catalog_dir() / "queryables.json"
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
    """stac-fastapi answers a search with ``fields`` as plain JSON; an ItemCollection is GeoJSON."""
    from starlette.responses import JSONResponse
    from stac_fastapi.api.models import GeoJSONResponse

    if isinstance(result, JSONResponse) and not isinstance(result, GeoJSONResponse):
        import orjson

        return GeoJSONResponse(content=orjson.loads(bytes(result.body)), status_code=result.status_code)
    return result


class QueryToFilterClient(CoreCrudClient):  # type: ignore[misc]
    """stac-fastapi-pgstac's client, with ``query`` rewritten as a CQL2 ``filter`` and
    ``application/geo+json`` kept for searches with ``fields``."""

    async def post_search(self, *args: Any, **kwargs: Any) -> Any:
        return _geojson(await super().post_search(*args, **kwargs))

    async def get_search(self, *args: Any, **kwargs: Any) -> Any:
        return _geojson(await super().get_search(*args, **kwargs))

    async def item_collection(self, *args: Any, **kwargs: Any) -> Any:
        return _geojson(await super().item_collection(*args, **kwargs))

    async def _search_base(self, search_request: Any, request: Any) -> Any:
        query = getattr(search_request, "query", None)
        if query:
            converted = query_to_cql2(query)
            if converted is not None:
                existing = getattr(search_request, "filter_expr", None) or getattr(search_request, "filter", None)
                combined = converted if not existing else {"op": "and", "args": [existing, converted]}
                search_request = search_request.model_copy(update={"query": None})
                for attr in ("filter_expr", "filter"):
                    if attr in type(search_request).model_fields:
                        search_request = search_request.model_copy(update={attr: combined})
                        break
                for attr in ("filter_lang",):
                    if attr in type(search_request).model_fields:
                        search_request = search_request.model_copy(update={attr: "cql2-json"})
        return await super()._search_base(search_request, request)
