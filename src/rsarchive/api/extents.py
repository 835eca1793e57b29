"""Collection extents as a caller's clearance sees them (the internal STAC API).

A collection's stored ``extent`` (``pgstac.collections``, kept by
:func:`rsarchive.catalog.collections.update_extents`) covers every item of the database
it is in.  In the public database that is harmless (no classified item is ever there);
in the internal one it would show an officer the footprint and dates of items above
their clearance.  So, for a caller who does not see everything, the internal API never
shows the stored extent: each collection's extent is computed from the items visible at
that clearance — ``ST_Extent(geometry)``, ``min(datetime)``, ``max(end_datetime)`` of the
items whose ``rsarchive:security_classification`` is one of the spellings the clearance
covers (the rule of :func:`rsarchive.api.query.clearance_filter`) — and a collection
without visible items shows the default extent of its definition in ``catalog/*.json``.

The extents come from one aggregate query over ``pgstac.items`` for all collections
at once (``GROUP BY collection`` and classification value: the bounds of each group, which
combine exactly into the extent of any set of classification values, so one scan serves
every clearance).  Its answer is reused for :data:`EXTENT_TTL` (60) seconds
(:class:`ExtentCache`): after half of that, a request still gets the cached answer while
a new one is computed in the background, so under steady traffic nobody waits for the
scan (which reads the classification from each item's JSON; why: docs/DECISIONS.md, STAC
API searches: where the time went); after the full 60 s the answer is recomputed before
replying.  An item loaded, withdrawn or
reclassified therefore shows in the extents seen by a restricted clearance at most 60 s
after the change (the stored extents, which the highest clearance sees, are updated by
the loader).

Collection search (``GET /collections`` with ``bbox``, ``datetime``, ``filter``,
``sortby``…) is evaluated by pgSTAC's own clause builders (``stac_search_to_where``,
``sort_sqlorderby``) over the collections *with the visible extents substituted*
(:func:`search_collections`), so that neither the matches, their count nor their order
(pgSTAC sorts collections by their start date by default) depends on a hidden item.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["EXTENT_TTL", "UNKNOWN_EXTENT", "ExtentCache", "extents_for", "item_aggregates", "search_collections",
           "visible_extents"]

EXTENT_TTL = 60.0
"""Seconds the item aggregates behind the computed extents are reused (a background
refresh starts after half of it)."""

UNKNOWN_EXTENT: dict[str, Any] = {"spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                                  "temporal": {"interval": [[None, None]]}}
"""The extent of a collection that has neither visible items nor a definition."""

_AGGREGATES_SQL = """
SELECT c.id, a.classification, st_xmin(a.box), st_ymin(a.box), st_xmax(a.box), st_ymax(a.box), a.first, a.last
FROM pgstac.collections c
LEFT JOIN (
    SELECT collection, content->'properties'->>'rsarchive:security_classification' AS classification,
           st_extent(geometry) AS box, min(datetime) AS first, max(end_datetime) AS last
    FROM pgstac.items
    GROUP BY 1, 2
) a ON a.collection = c.id
"""

Group = tuple[str, float, float, float, float, Any, Any]
"""(classification, xmin, ymin, xmax, ymax, first datetime, last end_datetime) of some items."""


@functools.lru_cache(maxsize=1)
def _default_extents() -> dict[str, dict[str, Any]]:
    """The extent of each collection definition in ``catalog/`` (read once per process)."""
    from rsarchive.catalog.collections import collection_definitions

    return {cid: definition["extent"] for cid, definition in collection_definitions().items()}


async def item_aggregates(conn: Any) -> dict[str, list[Group]]:
    """Every collection's item bounds per classification value (one query on ``conn``, an
    asyncpg connection); a collection without items has an empty list.  Items without a
    classification form a group of None, which no clearance's spellings contain."""
    groups: dict[str, list[Group]] = {}
    for cid, classification, xmin, ymin, xmax, ymax, first, last in await conn.fetch(_AGGREGATES_SQL):
        found = groups.setdefault(cid, [])
        if xmin is not None:
            found.append((classification, xmin, ymin, xmax, ymax, first, last))
    return groups


def extents_for(groups: dict[str, list[Group]], allowed: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Every collection's extent over its items whose classification is one of ``allowed``
    (the test of :func:`rsarchive.api.query.clearance_filter`: exact spellings), or its
    definition's default extent when there are none (:data:`UNKNOWN_EXTENT` without a
    definition)."""
    from rsarchive.catalog.collections import extent_from_aggregate

    allowed = frozenset(allowed)
    defaults = _default_extents()
    extents: dict[str, dict[str, Any]] = {}
    for cid, found in groups.items():
        seen = [g for g in found if g[0] is not None and g[0] in allowed]
        if not seen:
            extents[cid] = defaults.get(cid, UNKNOWN_EXTENT)
            continue
        extents[cid] = extent_from_aggregate(
            min(g[1] for g in seen), min(g[2] for g in seen), max(g[3] for g in seen), max(g[4] for g in seen),
            min(g[5] for g in seen), max(g[6] for g in seen))
    return extents


async def visible_extents(conn: Any, allowed: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Every collection's extent as seen by a clearance whose visible classification
    spellings are ``allowed`` (uncached)."""
    return extents_for(await item_aggregates(conn), allowed)


class ExtentCache:
    """:func:`item_aggregates`, reused for ``ttl`` seconds and refreshed ahead.

    Younger than ``ttl / 2``: used as is.  Between ``ttl / 2`` and ``ttl``: used, and a
    refresh starts in the background on a connection of ``pool`` (when given).  Older, or
    not knowing a collection asked for (one created since): recomputed on the caller's
    connection before answering; concurrent callers wait for one computation.  A
    collection unknown even then gets :data:`UNKNOWN_EXTENT`, never its stored extent."""

    def __init__(self, ttl: float = EXTENT_TTL) -> None:
        self.ttl = ttl
        self._entry: tuple[float, dict[str, list[Group]]] | None = None
        self._lock: asyncio.Lock | None = None
        self._refresh: asyncio.Task[None] | None = None

    async def get(self, conn: Any, allowed: Iterable[str], ids: Iterable[str],
                  pool: Any = None) -> dict[str, dict[str, Any]]:
        """The extents for ``allowed`` of collections ``ids`` (and of any others known)."""
        wanted = set(ids)
        entry = self._entry
        if not self._usable(entry, wanted):
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                entry = self._entry
                if not self._usable(entry, wanted):
                    entry = await self._compute(conn)
        elif pool is not None and time.monotonic() - entry[0] > self.ttl / 2 and self._refresh is None:
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_from(pool))
        assert entry is not None
        extents = extents_for(entry[1], allowed)
        return {cid: extents.get(cid, UNKNOWN_EXTENT) for cid in wanted | extents.keys()}

    def _usable(self, entry: tuple[float, dict[str, list[Group]]] | None, wanted: set[str]) -> bool:
        return entry is not None and time.monotonic() - entry[0] <= self.ttl and wanted <= entry[1].keys()

    async def _compute(self, conn: Any) -> tuple[float, dict[str, list[Group]]]:
        taken, started = time.monotonic(), time.perf_counter()
        groups = await item_aggregates(conn)
        log.debug("item aggregates of %d collections in %.1f ms", len(groups), (time.perf_counter() - started) * 1000)
        entry = (taken, groups)
        if self._entry is None or self._entry[0] <= taken:
            self._entry = entry
        return entry

    async def _refresh_from(self, pool: Any) -> None:
        try:
            async with pool.acquire() as conn:
                await self._compute(conn)
        except Exception as exc:  # the next request recomputes when the entry expires
            log.warning("background refresh of the collection extents failed: %s", exc)
        finally:
            self._refresh = None

    def clear(self) -> None:
        self._entry = None


_SEARCH_PARTS_SQL = """
SELECT pgstac.stac_search_to_where($1::text::jsonb), pgstac.sort_sqlorderby($1::text::jsonb, FALSE, '{id}'),
       pgstac.search_limit($1::text::jsonb), pgstac.search_offset($1::text::jsonb),
       pgstac.base_url($1::text::jsonb->'conf'), ARRAY(SELECT id FROM pgstac.collections)
"""

# pgSTAC's collections_asitems view over the collections with their extents replaced (an
# inner join: a collection without a replacement is left out, never shown as stored), then
# collection_search_matched / collection_search_rows with pgSTAC's own WHERE and ORDER BY.
_SEARCH_ROWS_SQL = """
WITH visible(id, extent) AS (SELECT key, value FROM jsonb_each($1::text::jsonb)),
src AS (
    SELECT jsonb_set(c.content, '{{extent}}', v.extent) AS content
    FROM pgstac.collections c JOIN visible v ON v.id = c.id
),
collections_asitems AS (
    SELECT content->>'id' AS id, pgstac.collection_geom(content) AS geometry, 'collections'::text AS collection,
           pgstac.collection_datetime(content) AS datetime, pgstac.collection_enddatetime(content) AS end_datetime,
           jsonb_build_object(
               'properties', content - '{{links,assets,stac_version,stac_extensions}}'::text[],
               'links', content->'links', 'assets', content->'assets',
               'stac_version', content->'stac_version', 'stac_extensions', content->'stac_extensions'
           ) AS content,
           content AS collectionjson
    FROM src
),
matched AS (SELECT * FROM collections_asitems WHERE {where}),
page AS (
    SELECT pgstac.jsonb_fields(collectionjson, $2::text::jsonb) AS c, row_number() OVER (ORDER BY {orderby}) AS n
    FROM matched ORDER BY {orderby} LIMIT $3 OFFSET $4
)
SELECT (SELECT count(*) FROM matched), (SELECT coalesce(jsonb_agg(c ORDER BY n), '[]'::jsonb) FROM page)
"""


async def search_collections(conn: Any, search: dict[str, Any], cache: ExtentCache, allowed: Iterable[str],
                             pool: Any = None) -> dict[str, Any]:
    """pgSTAC's ``collection_search(search)`` answer (collections, numberMatched,
    numberReturned, prev/next links) with every collection's extent replaced by the one
    visible to ``allowed``, before matching, sorting and paging."""
    body = json.dumps(search)
    where, orderby, limit, offset, base_url, ids = await conn.fetchrow(_SEARCH_PARTS_SQL, body)
    extents = await cache.get(conn, allowed, ids, pool)
    # ``where`` and ``orderby`` are SQL that pgSTAC built (literals quoted with %L) for its
    # own EXECUTE in collection_search; they are run here exactly as there.
    sql = _SEARCH_ROWS_SQL.format(where=where, orderby=orderby)
    fields = search.get("fields") or {}
    matched, collections = await conn.fetchrow(sql, json.dumps(extents), json.dumps(fields), limit, offset)
    href = base_url.rstrip("/") + "/collections"
    links: list[dict[str, Any]] = []
    if offset > 0:  # the same paging links as collection_search
        prev_offset = max(min(offset, matched) - max(limit, 1), 0)
        links.append({"rel": "prev", "type": "application/json", "method": "GET", "href": href,
                      "body": {"offset": prev_offset}, "merge": True})
    if limit > 0 and offset + limit < matched:
        links.append({"rel": "next", "type": "application/json", "method": "GET", "href": href,
                      "body": {"offset": offset + limit}, "merge": True})
    return {"collections": collections, "numberMatched": matched, "numberReturned": len(collections), "links": links}
