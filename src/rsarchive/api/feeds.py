"""Feeds of new acquisitions (Atom, :mod:`rsarchive.catalog.feed`): ``GET /feeds/acquisitions.atom``
(every public collection) and ``GET /feeds/{collection}.atom``, newest first (by the items'
``created``).  Public items only: the feeds read the public database."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from rsarchive.api.auth import ErrorTranslatingRoute
from rsarchive.catalog.feed import FeedInfo, atom_feed
from rsarchive.errors import NotFoundError

if TYPE_CHECKING:
    from rsarchive.settings import Settings

__all__ = ["FEED_TYPE", "feeds_router", "include_feeds", "newest_first"]

FEED_TYPE = "application/atom+xml"
FEED_MAX_AGE = 300
Limit = Annotated[int, Query(ge=1, le=200, description="most entries")]


def newest_first(collections: list[str] | None, limit: int) -> dict[str, Any]:
    """The pgSTAC search of a feed: newest ``created`` first (acquisition time breaks ties)."""
    body: dict[str, Any] = {"limit": limit, "sortby": [{"field": "created", "direction": "desc"},
                                                       {"field": "datetime", "direction": "desc"}]}
    if collections:
        body["collections"] = collections
    return body


async def _items(request: Request, collections: list[str] | None, limit: int) -> list[dict[str, Any]]:
    pool = request.app.state.public_api.app.state.readpool
    async with pool.acquire() as conn:
        found = await conn.fetchval("SELECT pgstac.search($1::text::jsonb)",
                                    json.dumps(newest_first(collections, limit)))
    return list((found or {}).get("features") or [])


def feeds_router(settings: Settings) -> APIRouter:
    """The routes ``/feeds/…``."""
    router = APIRouter(route_class=ErrorTranslatingRoute, tags=["feeds"])
    base = settings.public_url
    atom = {200: {"content": {FEED_TYPE: {}}}}

    def answer(info: FeedInfo, items: list[dict[str, Any]]) -> Response:
        return Response(atom_feed(info, items, base), media_type=FEED_TYPE,
                        headers={"Cache-Control": f"public, max-age={FEED_MAX_AGE}"})

    @router.get("/feeds/acquisitions.atom", response_class=Response, responses=atom,
                summary="Atom feed of everything newly published, newest first")
    async def acquisitions(request: Request, limit: Limit = 50) -> Response:
        info = FeedInfo(f"{base}/feeds/acquisitions.atom",
                        "Dữ liệu mới — Lưu trữ dữ liệu viễn thám quốc gia / New acquisitions — national "
                        "remote-sensing archive", f"{base}/browser/")
        return answer(info, await _items(request, None, limit))

    @router.get("/feeds/{collection}.atom", response_class=Response, responses={
        **atom, 404: {"description": "no such public collection"}},
        summary="Atom feed of one collection, newest first")
    async def collection_feed(collection: Annotated[str, Path(min_length=1, max_length=200)], request: Request,
                              limit: Limit = 50) -> Response:
        pool = request.app.state.public_api.app.state.readpool
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT id, content->>'title' AS title FROM pgstac.collections WHERE id = $1",
                                      collection)
        if row is None:
            raise NotFoundError(f"không có bộ dữ liệu công khai {collection!r} — no public collection {collection!r}")
        title = row["title"] or collection
        info = FeedInfo(f"{base}/feeds/{collection}.atom", f"Dữ liệu mới / New items — {title}", f"{base}/browser/")
        return answer(info, await _items(request, [collection], limit))

    return router


def include_feeds(app: Any, settings: Settings) -> None:
    """Add ``/feeds/…`` to ``app`` (after its STAC APIs: the routes use the public pool)."""
    app.include_router(feeds_router(settings))
