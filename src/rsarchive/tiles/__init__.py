"""Web-map tiles of the archive's image products, read from the COGs in its stores by rio-tiler.

* :mod:`rsarchive.tiles.zoom`: ground resolution of a web-map zoom, the public preview zoom;
* :mod:`rsarchive.tiles.reader`: an item's true-colour COGs → an XYZ tile (one item, or a
  mosaic of several, newest first), rendered as PNG; TileJSON documents.

The web routes (who may have which zoom of which item) are :mod:`rsarchive.api.tiles`.
"""

from rsarchive.tiles.reader import (
    TRUE_COLOUR_RANGE,
    ReadEnv,
    TileSource,
    draw_tile,
    read_mosaic,
    read_tile,
    render_png,
    tile_source,
    tilejson,
)
from rsarchive.tiles.zoom import (
    VIETNAM_LATITUDES,
    ground_resolution_m,
    preview_max_zoom,
)

__all__ = [
    "TRUE_COLOUR_RANGE",
    "VIETNAM_LATITUDES",
    "ReadEnv",
    "TileSource",
    "draw_tile",
    "ground_resolution_m",
    "preview_max_zoom",
    "read_mosaic",
    "read_tile",
    "render_png",
    "tile_source",
    "tilejson",
]
