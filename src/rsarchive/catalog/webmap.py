"""Web-map links of a published image product (STAC web-map-links extension v1.2.0).

A product item whose true colour (red, green and blue COGs) can be drawn gets, in its public
copy, a link ``rel="tilejson"`` to its TileJSON on the archive's public URL (served by
:mod:`rsarchive.api.tiles`; its ``tiles`` is the XYZ template, its ``maxzoom`` the public
preview zoom), so map clients (STAC Browser, QGIS, Leaflet) show the image on the map.  No
``rel="xyz"`` link: see :func:`web_map_links`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["TRUE_COLOUR", "WEB_MAP_LINKS", "tiles_base", "true_colour_assets", "web_map_links", "with_web_map_links",
           "without_web_map"]

WEB_MAP_LINKS = "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json"
TRUE_COLOUR = ("red", "green", "blue")


def _common_name(asset: Mapping[str, Any]) -> str | None:
    bands = asset.get("eo:bands") or asset.get("bands") or []
    if len(bands) != 1 or not isinstance(bands[0], Mapping):
        return None
    name = bands[0].get("common_name") or bands[0].get("eo:common_name")
    return name if isinstance(name, str) else None


def true_colour_assets(item: Mapping[str, Any]) -> dict[str, str]:
    """Common name (red, green, blue) → key of the item's data COG of that band, for the ones it has."""
    found: dict[str, str] = {}
    for key, asset in sorted((item.get("assets") or {}).items()):
        if "data" not in (asset.get("roles") or ()) or "geotiff" not in str(asset.get("type") or ""):
            continue
        name = _common_name(asset)
        if name in TRUE_COLOUR and name not in found:
            found[name] = key
    return found


def tiles_base(public_url: str, collection: str, item_id: str) -> str:
    """``<public_url>/tiles/<collection>/<item>`` (segments URL-quoted)."""
    return f"{public_url.rstrip('/')}/tiles/{quote(collection, safe='')}/{quote(item_id, safe='')}"


def web_map_links(item: Mapping[str, Any], public_url: str) -> list[dict[str, Any]]:
    """The ``tilejson`` link of a product ``item`` with a true colour; [] otherwise."""
    if (item.get("properties") or {}).get("rsarchive:form") != "product" or \
            len(true_colour_assets(item)) < len(TRUE_COLOUR):
        return []
    base = tiles_base(public_url, str(item["collection"]), str(item["id"]))
    # The public's tiles stop at a zoom (tiles_public_max_zoom) that only the TileJSON can say: map
    # clients given an ``xyz`` link ask for every zoom, and STAC Browser prefers ``xyz`` to
    # ``tilejson`` when an item has both -- its map would be empty wherever it zooms past the limit.
    # So the item links the TileJSON (``maxzoom``: clients draw finer zooms from the coarsest
    # allowed tiles); the ``xyz`` template is the TileJSON's ``tiles``.
    return [{"rel": "tilejson", "href": base + "/tilejson.json", "type": "application/json",
             "title": "Ảnh màu thật trên bản đồ (TileJSON) / True colour on the map (TileJSON)"}]


def with_web_map_links(public: dict[str, Any], item: Mapping[str, Any], public_url: str) -> dict[str, Any]:
    """``public`` (the public copy of ``item``) with its web-map links and the extension declared."""
    links = web_map_links(item, public_url)
    if links:
        public["links"] = [link for link in public.get("links") or [] if link.get("rel") not in ("xyz", "tilejson")]
        public["links"] += links
        extensions = list(public.get("stac_extensions") or [])
        if WEB_MAP_LINKS not in extensions:
            public["stac_extensions"] = extensions + [WEB_MAP_LINKS]
    return public


def without_web_map(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` without its web-map links and the extension's declaration (a self-contained copy)."""
    item["links"] = [link for link in item.get("links") or [] if link.get("rel") not in ("xyz", "tilejson")]
    if WEB_MAP_LINKS in (item.get("stac_extensions") or []):
        item["stac_extensions"] = [e for e in item["stac_extensions"] if e != WEB_MAP_LINKS]
    return item
