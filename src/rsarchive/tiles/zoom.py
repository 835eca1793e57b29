"""How fine a web-map zoom is on the ground, and the finest zoom the public may have.

A Web Mercator (``WebMercatorQuad``) tile of zoom ``z`` is ``256`` pixels across
``2π·6 378 137 m / 2^z`` of the equator; at latitude φ a pixel covers
``cos φ`` times that on the ground::

    zoom   equator   8.2° N (Cà Mau)   23.4° N (Hà Giang)
    12     38.2 m    37.8 m            35.1 m
    13     19.1 m    18.9 m            17.5 m

Full-resolution products are supplied on request (Decision 81/2010/QĐ-TTg, Art. 8, 11), so
the public's tiles stop where pixels are still coarser than 20 m everywhere in Viet Nam:
zoom 12 (the setting ``tiles_public_max_zoom``).
"""

from __future__ import annotations

import math

__all__ = ["EARTH_RADIUS_M", "TILE_SIZE", "VIETNAM_LATITUDES", "ground_resolution_m", "preview_max_zoom"]

EARTH_RADIUS_M = 6_378_137.0
"""The sphere of Web Mercator (EPSG:3857)."""
TILE_SIZE = 256
VIETNAM_LATITUDES = (8.2, 23.4)
"""Southernmost (Cà Mau cape, 8.18° N) and northernmost (Lũng Cú, Hà Giang, 23.39° N) latitudes of Viet Nam."""


def ground_resolution_m(zoom: int, latitude: float, tile_size: int = TILE_SIZE) -> float:
    """Metres on the ground per pixel of a web-map tile of ``zoom`` at ``latitude`` (degrees)."""
    return 2 * math.pi * EARTH_RADIUS_M * math.cos(math.radians(latitude)) / (tile_size * 2 ** zoom)


def preview_max_zoom(coarsest_allowed_m: float, latitudes: tuple[float, float] = VIETNAM_LATITUDES,
                     tile_size: int = TILE_SIZE) -> int:
    """The finest zoom whose pixels are coarser than ``coarsest_allowed_m`` at every latitude of
    ``latitudes`` (pixels are smallest on the ground where the latitude is highest)."""
    worst = max(abs(latitudes[0]), abs(latitudes[1]))
    zoom = 0
    while ground_resolution_m(zoom + 1, worst, tile_size) > coarsest_allowed_m:
        zoom += 1
    return zoom
