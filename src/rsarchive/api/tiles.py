"""Web-map tiles of the archive's image products (:mod:`rsarchive.tiles`), with who may see what.

=========================================================  ===================================
``GET /tiles/{collection}/{item}/{z}/{x}/{y}.png``          one item's true colour (RGBA PNG)
``GET /tiles/{collection}/{item}/tilejson.json``            its TileJSON 3.0.0
``GET /tiles/mosaic/{z}/{x}/{y}.png?collections=&ids=&      a mosaic of a search, newest item on
datetime=&bbox=``                                           top (at most ``tiles_mosaic_max_items``)
``GET /tiles/mosaic/tilejson.json?…``                       its TileJSON
=========================================================  ===================================

* Anyone: published products only (the public catalog), down to ``tiles_public_max_zoom``
  (Decision 81/2010, Art. 8, 11: full resolution is supplied on request); a finer zoom is
  403 saying why and how to request the data, in Vietnamese then English.
* ``Authorization: Bearer <token>`` of an officer, operator or administrator (the internal
  API's tokens): every product of the internal catalog within the token's clearance, at
  every zoom.  A wrong, revoked or expired token is 401; a valid token of another role
  counts as the public.
* An item the caller may not see (classified above the clearance, held, withdrawn, unknown),
  or that has no true colour, is 404 -- the same answer for all.

The item lookups use the STAC APIs' connection pools; the COGs are read by rio-tiler in a
worker thread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from rsarchive.api.auth import ErrorTranslatingRoute
from rsarchive.api.query import clearance_filter
from rsarchive.catalog.webmap import tiles_base
from rsarchive.errors import AuthError, NotFoundError, UsageError
from rsarchive.threads import ThreadBudget
from rsarchive.tiles import (
    ReadEnv,
    draw_tile,
    read_mosaic,
    render_png,
    tile_source,
    tilejson,
)
from rsarchive.tiles.reader import TileSource, zoom_range
from rsarchive.tiles.zoom import VIETNAM_LATITUDES, ground_resolution_m
from rsarchive.users.identity import (
    CLASSIFICATION_PROPERTY,
    CLEARANCES,
    classification_rank,
    item_classification,
)
from rsarchive.users.tokens import lookup_token_async, refusal_async

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["FULL_MAX_ZOOM", "include_tiles", "tiles_router"]

FULL_MAX_ZOOM = 22
"""Finest zoom served to anyone (2.5 m PAN needs 16; beyond 22 tiles only repeat pixels)."""
PUBLIC_MAX_AGE = 3600
PRIVATE_MAX_AGE = 600
ATTRIBUTION = "© Cục Viễn thám quốc gia, Việt Nam / National Remote Sensing Department, Viet Nam"
VIETNAM_BOUNDS = (102.1, 8.2, 117.9, 23.4)
"""West, south, east, north (degrees): the mainland and the islands of the East Sea."""

Segment = Annotated[str, Path(min_length=1, max_length=500)]
Zoom = Annotated[int, Path(ge=0, le=FULL_MAX_ZOOM)]
Index = Annotated[int, Path(ge=0)]


@dataclass(frozen=True)
class Caller:
    """Who asks for tiles: the public, or a token holder who may read the internal catalog."""

    full: bool
    clearance: str = "unclassified"

    def may_see(self, item: dict[str, Any]) -> bool:
        rank = CLEARANCES.index(self.clearance) if self.clearance in CLEARANCES else 0
        return classification_rank(item_classification(item)) <= rank


PUBLIC = Caller(full=False)


def _pools(request: Request) -> tuple[Any, Any]:
    """(public, internal) asyncpg pools of the mounted STAC APIs."""
    state = request.app.state
    return state.public_api.app.state.readpool, state.internal_api.app.state.readpool


async def _caller(request: Request) -> Caller:
    header = request.headers.get("authorization")
    if header is None:
        return PUBLIC
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("tiêu đề Authorization phải có dạng 'Bearer <token>' — the Authorization header must be "
                        "'Bearer <token>'")
    _, internal = _pools(request)
    holder = await lookup_token_async(internal, token)
    if holder is None:
        reason_vi, _, reason_en = (await refusal_async(internal, token)).partition(" / ")
        raise AuthError(f"mã truy cập không hợp lệ: {reason_vi} — the token is not valid: {reason_en}")
    return Caller(full=True, clearance=holder.clearance) if holder.allowed else PUBLIC


def _is_product(item: Any) -> bool:
    return isinstance(item, dict) and (item.get("properties") or {}).get("rsarchive:form") == "product"


async def _published(request: Request, collection: str, item_id: str) -> bool:
    """Whether the item is in the public catalog."""
    public, _ = _pools(request)
    async with public.acquire() as conn:
        return bool(await conn.fetchval("SELECT true FROM pgstac.items WHERE collection = $1 AND id = $2",
                                        collection, item_id))


def _missing(collection: str, item_id: str) -> NotFoundError:
    return NotFoundError(f"không có ô bản đồ của ảnh {item_id!r} trong bộ {collection!r} — no map tiles of item "
                         f"{item_id!r} in collection {collection!r}")


async def _item(request: Request, caller: Caller, collection: str, item_id: str) -> dict[str, Any]:
    """The internal item behind a tile request, when the caller may have its tiles."""
    if not caller.full and not await _published(request, collection, item_id):
        raise _missing(collection, item_id)
    _, internal = _pools(request)
    async with internal.acquire() as conn:
        item = await conn.fetchval("SELECT pgstac.get_item($1, $2)", item_id, collection)
    if not _is_product(item) or not caller.may_see(item):  # the public: a published copy exists, so unclassified
        raise _missing(collection, item_id)
    return item


async def _check_item(request: Request, caller: Caller, collection: str, item_id: str) -> None:
    """:class:`NotFoundError` unless the caller may have the tiles of this product (asked of the
    catalogs on every request: a classification or publication change counts at once)."""
    if not caller.full and not await _published(request, collection, item_id):
        raise _missing(collection, item_id)
    _, internal = _pools(request)
    async with internal.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT content->'properties'->>'rsarchive:form' AS form, content->'properties'->$3 AS classification "
            "FROM pgstac.items WHERE collection = $1 AND id = $2", collection, item_id, CLASSIFICATION_PROPERTY)
    item = {"properties": {"rsarchive:form": row["form"], CLASSIFICATION_PROPERTY: row["classification"]}} if row else None
    if not _is_product(item) or not caller.may_see(item):  # type: ignore[arg-type]
        raise _missing(collection, item_id)


class SourceCache:
    """Recently drawn items' COG paths (a product's files do not change), kept ``ttl`` seconds:
    hydrating the whole item from pgSTAC costs more than reading a tile from GDAL's caches."""

    def __init__(self, size: int = 4096, ttl: float = 60.0) -> None:
        self.size, self.ttl = size, ttl
        self._held: OrderedDict[tuple[str, str], tuple[float, TileSource]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> TileSource | None:
        with self._lock:
            found = self._held.get(key)
            if found is None or time.monotonic() - found[0] > self.ttl:
                self._held.pop(key, None)
                return None
            self._held.move_to_end(key)
            return found[1]

    def put(self, key: tuple[str, str], source: TileSource) -> None:
        with self._lock:
            self._held[key] = (time.monotonic(), source)
            self._held.move_to_end(key)
            while len(self._held) > self.size:
                self._held.popitem(last=False)


def _check_tile(z: int, x: int, y: int) -> None:
    if x >= 2 ** z or y >= 2 ** z:
        raise UsageError(f"ô {z}/{x}/{y} không tồn tại: x và y nhỏ hơn {2 ** z} ở mức {z} — tile {z}/{x}/{y} does not "
                         f"exist: x and y are below {2 ** z} at zoom {z}")


def _beyond_preview(settings: Settings, z: int, what: str) -> JSONResponse:
    top = settings.tiles_public_max_zoom
    metres = ground_resolution_m(top, max(VIETNAM_LATITUDES))
    web = f"{settings.public_url}/web/requests/new"
    vi = (f"Bản đồ công khai của {what} chỉ hiển thị đến mức thu phóng {top} (mỗi điểm ảnh khoảng {metres:.0f} m "
          f"trở lên); mức {z} chi tiết hơn. Dữ liệu độ phân giải đầy đủ được cung cấp theo phiếu yêu cầu hoặc văn "
          f"bản yêu cầu (Điều 8, Điều 11, Quyết định 81/2010/QĐ-TTg): gửi yêu cầu tại {web}. Cán bộ có mã truy "
          "cập (token) của API nội bộ xem được mọi mức thu phóng trong phạm vi độ mật được phép.")
    en = (f"Public map tiles of {what} stop at zoom {top} (pixels of about {metres:.0f} m or more); zoom {z} is "
          f"finer. Full-resolution data is supplied on a written request (Decision 81/2010/QĐ-TTg, Art. 8 and 11): "
          f"submit one at {web}. Officers with an internal API token get every zoom within their clearance.")
    return JSONResponse({"code": "PreviewZoomExceeded", "description": f"{vi}\n\n{en}", "description_vi": vi,
                         "description_en": en, "max_zoom": top,
                         "links": [{"rel": "request-form", "href": web, "type": "text/html"}]},
                        status_code=403, headers={"Cache-Control": f"public, max-age={PUBLIC_MAX_AGE}",
                                                  "Vary": "Authorization"})


def _png(png: bytes, caller: Caller) -> Response:
    cache = f"private, max-age={PRIVATE_MAX_AGE}" if caller.full else f"public, max-age={PUBLIC_MAX_AGE}"
    return Response(png, media_type="image/png", headers={"Cache-Control": cache, "Vary": "Authorization"})


def _list(value: str | None) -> list[str] | None:
    parts = [p.strip() for p in (value or "").split(",") if p.strip()]
    return parts or None


@dataclass(frozen=True)
class MosaicSearch:
    """The search a mosaic draws: STAC search parameters (GET form)."""

    collections: list[str] | None
    ids: list[str] | None
    datetime: str | None
    bbox: list[float] | None

    @classmethod
    def of(cls, collections: str | None, ids: str | None, datetime: str | None, bbox: str | None) -> MosaicSearch:
        box = None
        if bbox:
            try:
                box = [float(v) for v in bbox.split(",")]
            except ValueError:
                box = []
            if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
                raise UsageError(f"bbox {bbox!r}: cần tây,nam,đông,bắc (độ) — expected west,south,east,north in degrees")
        return cls(_list(collections), _list(ids), datetime or None, box)

    def query(self) -> str:
        params = {"collections": ",".join(self.collections or []), "ids": ",".join(self.ids or []),
                  "datetime": self.datetime or "", "bbox": ",".join(f"{v:g}" for v in self.bbox or [])}
        return urlencode({k: v for k, v in params.items() if v})

    def body(self, tile_bounds: tuple[float, float, float, float], limit: int,
             caller: Caller) -> dict[str, Any]:
        """The pgSTAC search of one tile: items intersecting it, newest first."""
        west, south, east, north = tile_bounds
        if self.bbox:  # the tile cut to the search's box
            west, south = max(west, self.bbox[0]), max(south, self.bbox[1])
            east, north = min(east, self.bbox[2]), min(north, self.bbox[3])
        body: dict[str, Any] = {
            "intersects": {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north],
                                                               [west, north], [west, south]]]},
            "limit": limit, "sortby": [{"field": "datetime", "direction": "desc"}],
            "fields": {"include": ["id", "collection"]},
        }
        for key in ("collections", "ids", "datetime"):
            if getattr(self, key):
                body[key] = getattr(self, key)
        if caller.full and (restriction := clearance_filter(caller.clearance)) is not None:
            body["filter"], body["filter-lang"] = restriction, "cql2-json"
        return body


async def _mosaic_items(request: Request, caller: Caller, search: MosaicSearch, z: int, x: int, y: int,
                        limit: int) -> list[dict[str, Any]]:
    """The internal items of a mosaic tile the caller may see, newest first."""
    import morecantile

    bounds = morecantile.tms.get("WebMercatorQuad").bounds(morecantile.Tile(x, y, z))
    if search.bbox and (bounds.left >= search.bbox[2] or bounds.right <= search.bbox[0]
                        or bounds.bottom >= search.bbox[3] or bounds.top <= search.bbox[1]):
        return []
    public, internal = _pools(request)
    body = search.body((bounds.left, bounds.bottom, bounds.right, bounds.top), limit, caller)
    async with (internal if caller.full else public).acquire() as conn:
        found = await conn.fetchval("SELECT pgstac.search($1::text::jsonb)", json.dumps(body))
    keys = [(f["id"], f["collection"]) for f in (found or {}).get("features") or []]
    if not keys:
        return []
    async with internal.acquire() as conn:
        rows = await conn.fetch("SELECT pgstac.get_item(i, c) FROM unnest($1::text[], $2::text[]) "
                                "WITH ORDINALITY AS t(i, c, n) ORDER BY n", [k[0] for k in keys], [k[1] for k in keys])
    return [r[0] for r in rows if _is_product(r[0]) and caller.may_see(r[0])]


def tiles_router(settings: Settings) -> APIRouter:
    """The routes ``/tiles/…``."""
    router = APIRouter(route_class=ErrorTranslatingRoute, tags=["tiles"])
    stores = (settings.primary_store, settings.copy_store)
    env = ReadEnv.from_settings(settings)
    cache = SourceCache()
    threads = ThreadBudget.from_settings(settings).io

    def draw_mosaic(found: list[TileSource], z: int, x: int, y: int) -> bytes | None:
        image = read_mosaic(found, z, x, y, env, threads)
        return None if image is None else render_png(image)

    def sources(items: list[dict[str, Any]]) -> list[TileSource]:
        found = []
        for item in items:
            try:
                found.append(tile_source(item, stores))
            except NotFoundError:
                continue  # no true colour: not drawn
        return found

    png_answers = {200: {"content": {"image/png": {}}, "description": "RGBA PNG, transparent where there is no data"},
           403: {"description": "finer than the public preview zoom (how to request the data)"},
           404: {"description": "no such tile, or not a product the caller may see"}}

    @router.get("/tiles/mosaic/{z}/{x}/{y}.png", response_class=Response, responses={
        **png_answers, 204: {"description": "no item of the search has data in the tile"}},
        summary="A tile of the mosaic of a search (newest on top)")
    async def mosaic_tile(z: Zoom, x: Index, y: Index, request: Request,
                          collections: Annotated[str | None, Query(max_length=2000)] = None,
                          ids: Annotated[str | None, Query(max_length=4000)] = None,
                          datetime: Annotated[str | None, Query(max_length=100)] = None,
                          bbox: Annotated[str | None, Query(max_length=200)] = None) -> Response:
        _check_tile(z, x, y)
        search = MosaicSearch.of(collections, ids, datetime, bbox)
        caller = await _caller(request)
        if not caller.full and z > settings.tiles_public_max_zoom:
            return _beyond_preview(settings, z, "các ảnh / the images")
        items = await _mosaic_items(request, caller, search, z, x, y, settings.tiles_mosaic_max_items)
        png = await run_in_threadpool(draw_mosaic, sources(items), z, x, y)
        if png is None:
            return Response(status_code=204, headers={"Cache-Control": f"max-age={PRIVATE_MAX_AGE}",
                                                      "Vary": "Authorization"})
        return _png(png, caller)

    @router.get("/tiles/mosaic/tilejson.json", summary="TileJSON of the mosaic of a search")
    async def mosaic_tilejson(request: Request, collections: Annotated[str | None, Query(max_length=2000)] = None,
                              ids: Annotated[str | None, Query(max_length=4000)] = None,
                              datetime: Annotated[str | None, Query(max_length=100)] = None,
                              bbox: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
        search = MosaicSearch.of(collections, ids, datetime, bbox)
        caller = await _caller(request)
        query = search.query()
        url = f"{settings.public_url}/tiles/mosaic/{{z}}/{{x}}/{{y}}.png" + (f"?{query}" if query else "")
        top = FULL_MAX_ZOOM if caller.full else settings.tiles_public_max_zoom
        return tilejson(url, name="rsarchive mosaic", bounds=search.bbox or VIETNAM_BOUNDS, minzoom=0,
                        maxzoom=top, attribution=ATTRIBUTION,
                        description="Ảnh màu thật, ảnh mới nhất ở trên / true colour, newest on top")

    @router.get("/tiles/{collection}/{item_id}/{z}/{x}/{y}.png", response_class=Response, responses=png_answers,
                summary="A tile of one product's true colour")
    async def item_tile(collection: Segment, item_id: Segment, z: Zoom, x: Index, y: Index,
                        request: Request) -> Response:
        _check_tile(z, x, y)
        caller = await _caller(request)
        await _check_item(request, caller, collection, item_id)
        if not caller.full and z > settings.tiles_public_max_zoom:
            return _beyond_preview(settings, z, f"ảnh {item_id} / item {item_id}")
        source = cache.get((collection, item_id))
        if source is None:
            source = tile_source(await _item(request, caller, collection, item_id), stores)
            cache.put((collection, item_id), source)
        return _png(await run_in_threadpool(draw_tile, source, z, x, y, env), caller)

    @router.get("/tiles/{collection}/{item_id}/tilejson.json", summary="TileJSON of one product's true colour")
    async def item_tilejson(collection: Segment, item_id: Segment, request: Request) -> dict[str, Any]:
        caller = await _caller(request)
        item = await _item(request, caller, collection, item_id)
        source = tile_source(item, stores)
        low, high = await run_in_threadpool(zoom_range, source, env)
        top = high if caller.full else min(high, settings.tiles_public_max_zoom)
        url = tiles_base(settings.public_url, collection, item_id) + "/{z}/{x}/{y}.png"
        return tilejson(url, name=item_id, bounds=item.get("bbox"), minzoom=min(low, top), maxzoom=top,
                        attribution=ATTRIBUTION, description=(item.get("properties") or {}).get("title"))

    return router


def include_tiles(app: Any, settings: Settings) -> None:
    """Add ``/tiles/…`` to ``app`` (after its STAC APIs: the routes use their connection pools)."""
    app.include_router(tiles_router(settings))
