"""The cache of the internal API's per-clearance collection extents (rsarchive.api.extents):
reused while young, refreshed in the background when half-expired, recomputed when
expired — on a database of its own, with items loaded between the reads."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from rsarchive.api.extents import ExtentCache
from rsarchive.catalog import init_catalogs, load_items
from rsarchive.db import connect
from rsarchive.settings import Settings
from rsarchive.testing.items import synthetic_item

PRODUCTS = "vnredsat1-product"
UNCLASSIFIED = ("public", "unclassified")


def _load(settings: Settings, *items: dict[str, Any]) -> None:
    with connect(settings.internal_database_dsn) as conn:
        load_items(conn, list(items))
        conn.commit()


def _east(extents: dict[str, dict[str, Any]]) -> float:
    return extents[PRODUCTS]["spatial"]["bbox"][0][2]


def test_extent_cache_refreshes_ahead_and_expires(fresh_settings: Settings) -> None:
    init_catalogs(fresh_settings)
    _load(fresh_settings, synthetic_item(1, lon=104.0, lat=12.0))
    ttl = 2.0

    async def scenario() -> None:
        pool = await asyncpg.create_pool(fresh_settings.internal_database_dsn, min_size=1, max_size=2)
        cache = ExtentCache(ttl=ttl)

        async def east(with_pool: bool = True) -> float:
            async with pool.acquire() as conn:
                return _east(await cache.get(conn, UNCLASSIFIED, [PRODUCTS], pool if with_pool else None))

        try:
            first = await east()
            assert 104.0 < first < 104.2
            # young: reused, even though an item further east is now loaded; a secret one
            # never counts for this clearance
            _load(fresh_settings, synthetic_item(2, lon=106.0, lat=12.0),
                  synthetic_item(3, lon=108.5, lat=12.0, security="secret"))
            assert await east() == first
            # half-expired: still the cached answer, and a refresh starts in the background
            await asyncio.sleep(ttl / 2 + 0.1)
            assert await east() == first
            deadline = time.monotonic() + ttl / 2 - 0.2
            refreshed = first
            while refreshed == first and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                refreshed = await east(with_pool=False)
            assert 106.0 < refreshed < 106.2
            # expired: recomputed before answering (no background refresh asked for)
            _load(fresh_settings, synthetic_item(4, lon=107.0, lat=12.0))
            await asyncio.sleep(ttl + 0.1)
            assert 107.0 < await east(with_pool=False) < 107.2
            # a collection the cache does not know yet is computed at once, never guessed
            async with pool.acquire() as conn:
                extents = await cache.get(conn, UNCLASSIFIED, ["no-such-collection"])
            assert extents["no-such-collection"]["spatial"]["bbox"] == [[-180.0, -90.0, 180.0, 90.0]]
        finally:
            await pool.close()

    asyncio.run(scenario())
