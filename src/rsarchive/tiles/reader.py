"""XYZ tiles of an image product's true colour, read from its COGs in the archive's stores by
rio-tiler (``Reader.tile`` per band, ``mosaic_reader`` across items), rendered as PNG.

An internal item's asset hrefs are store URLs (``file:///…/primary/<key>``,
``s3://bucket/<key>``); only hrefs inside one of the archive's stores are read (``s3://`` as
GDAL ``/vsis3/`` in a :class:`ReadEnv`), never a path an item names elsewhere.  Each band is read in the tile matrix of Web Mercator
(``WebMercatorQuad``, 256 px) from the COG's overview nearest the zoom, and the counts
(TOA reflectance × 10 000) are drawn from :data:`TRUE_COLOUR_RANGE`: fixed, so neighbouring
scenes of a mosaic match.  No data (0 in the COGs) is transparent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from rasterio.errors import RasterioIOError
from rio_tiler.errors import EmptyMosaicError, TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader
from rio_tiler.mosaic.methods.defaults import FirstMethod

from rsarchive.catalog.webmap import TRUE_COLOUR, true_colour_assets
from rsarchive.cube.access import gdal_options
from rsarchive.errors import NotFoundError, StorageError

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["TRUE_COLOUR", "TRUE_COLOUR_RANGE", "ReadEnv", "TileSource", "draw_tile", "gdal_path", "read_mosaic", "read_tile",
           "render_png", "tile_source", "tilejson", "zoom_range"]

TRUE_COLOUR_RANGE = (0.0, 3000.0)
"""Counts shown from black to white in every band: TOA reflectance 0 to 0.30."""
TILE_SIZE = 256


@dataclass(frozen=True)
class TileSource:
    """What one item's tiles are read from: the GDAL paths of its red, green and blue COGs."""

    collection: str
    item_id: str
    paths: tuple[str, str, str]
    bbox: tuple[float, float, float, float] | None


class ReadEnv:
    """The GDAL environment the tiles are read in: the non-secret options of
    :func:`rsarchive.cube.access.gdal_options` and, for S3 stores, one rasterio ``AWSSession``
    made once (a session per read would build a boto3 session each time: a third of a tile's
    time).  The keys stay in the session object: never in a log line or an exception."""

    def __init__(self, options: Mapping[str, str], access_key: str = "", secret_key: str = "",
                 region: str | None = None) -> None:
        self.options = dict(options)
        self.session: Any = None
        if access_key and secret_key:
            from rasterio.session import AWSSession

            self.session = AWSSession(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                      region_name=region)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadEnv:
        """For the stores of ``settings`` (its S3 identity, when it has one)."""
        return cls(gdal_options(settings), settings.s3_access_key, settings.s3_secret_key, settings.s3_region)

    def __repr__(self) -> str:
        return f"ReadEnv(options={self.options!r}, credentials={'yes' if self.session else 'no'})"

    def __call__(self) -> Any:
        """A ``rasterio.Env`` to read in (GDAL options are per thread: enter it in the reading thread)."""
        import rasterio

        return rasterio.Env(session=self.session, **self.options)


def gdal_path(href: str, stores: Sequence[str]) -> str:
    """The path GDAL reads ``href`` at: ``file:///p`` → ``/p``, ``s3://bucket/key`` →
    ``/vsis3/bucket/key``; :class:`NotFoundError` unless ``href`` is inside one of
    ``stores`` (the archive's store URLs)."""
    inside = any(href.startswith(store.rstrip("/") + "/") for store in stores if store)
    parsed = urlparse(href)
    if not inside or parsed.scheme not in ("file", "s3") or ".." in href.split("/"):
        raise NotFoundError("tệp ngoài kho lưu trữ không được đọc — an asset outside the archive's stores is not read")
    if parsed.scheme == "file":
        return unquote(parsed.path)
    return f"/vsis3/{parsed.netloc}{unquote(parsed.path)}"


def tile_source(item: Mapping[str, Any], stores: Sequence[str]) -> TileSource:
    """The red, green and blue COGs of an internal ``item``
    (:func:`rsarchive.catalog.webmap.true_colour_assets`); :class:`NotFoundError` when it has
    not all three, or one outside ``stores``."""
    keys = true_colour_assets(item)
    if len(keys) < len(TRUE_COLOUR):
        raise NotFoundError(f"ảnh {item.get('id')!r} không có kênh đỏ, lục, lam để hiển thị màu thật — item "
                            f"{item.get('id')!r} has no true-colour (red, green, blue) image to draw")
    assets = item["assets"]
    paths = tuple(gdal_path(str(assets[keys[c]].get("href") or ""), stores) for c in TRUE_COLOUR)
    bbox = item.get("bbox")
    return TileSource(str(item.get("collection")), str(item.get("id")), paths,  # type: ignore[arg-type]
                      tuple(float(v) for v in bbox[:4]) if bbox else None)  # type: ignore[arg-type]


def _read(source: TileSource, x: int, y: int, z: int, env: ReadEnv) -> ImageData:
    """rio-tiler's tile of each band, stacked (:class:`TileOutsideBounds` outside the item)."""
    with env():
        images = []
        for path in source.paths:
            with Reader(path) as src:
                images.append(src.tile(x, y, z, tilesize=TILE_SIZE))
    return ImageData.create_from_list(images)


def read_tile(source: TileSource, z: int, x: int, y: int, env: ReadEnv) -> ImageData:
    """The true-colour tile ``z/x/y`` of one item (counts, masked where there is no data);
    :class:`NotFoundError` for a tile outside the item."""
    try:
        return _read(source, x, y, z, env)
    except TileOutsideBounds:
        raise NotFoundError(f"ô {z}/{x}/{y} nằm ngoài ảnh {source.item_id!r} — tile {z}/{x}/{y} is outside item "
                            f"{source.item_id!r}") from None
    except RasterioIOError as exc:  # the store: logged here, not told to the caller
        log.error("tile %s/%s/%s of item %s: a COG could not be read: %s", z, x, y, source.item_id, exc)
        raise StorageError(f"hiện không đọc được ảnh {source.item_id!r} — the images of item {source.item_id!r} cannot "
                           "be read now") from None


def read_mosaic(sources: Sequence[TileSource], z: int, x: int, y: int, env: ReadEnv,
                threads: int) -> ImageData | None:
    """The tile ``z/x/y`` of a mosaic: each pixel from the first of ``sources`` (newest first)
    that has data there; items stop being read once the tile is full.  None when no item has data."""
    if not sources:
        return None
    try:
        image, used = mosaic_reader(list(sources), _read, x, y, z, env, pixel_selection=FirstMethod(),
                                    threads=threads, allowed_exceptions=(TileOutsideBounds,))
    except EmptyMosaicError:
        return None
    except RasterioIOError as exc:
        log.error("mosaic tile %s/%s/%s: a COG could not be read: %s", z, x, y, exc)
        raise StorageError(f"hiện không đọc được các ảnh của ô {z}/{x}/{y} — the images of tile {z}/{x}/{y} cannot be "
                           "read now") from None
    log.debug("mosaic tile %s/%s/%s from %d item(s)", z, x, y, len(used))
    return image


def draw_tile(source: TileSource, z: int, x: int, y: int, env: ReadEnv) -> bytes:
    """:func:`read_tile` rendered by :func:`render_png` (one call for a worker thread)."""
    return render_png(read_tile(source, z, x, y, env))


def render_png(image: ImageData) -> bytes:
    """An RGBA PNG of true-colour counts: :data:`TRUE_COLOUR_RANGE` → 0-255, no data transparent."""
    return image.rescale(in_range=(TRUE_COLOUR_RANGE,) * image.count).render(img_format="PNG")


def zoom_range(source: TileSource, env: ReadEnv) -> tuple[int, int]:
    """The web-map zooms of the item's COGs (rio-tiler: coarsest overview … full resolution)."""
    with env(), Reader(source.paths[0]) as src:
        return int(src.minzoom), int(src.maxzoom)


def tilejson(tiles_url: str, *, name: str, bounds: Sequence[float] | None, minzoom: int, maxzoom: int,
             attribution: str, description: str | None = None) -> dict[str, Any]:
    """A TileJSON 3.0.0 document for the XYZ template ``tiles_url``."""
    west, south, east, north = (list(bounds) if bounds else [-180.0, -85.0511287798066, 180.0, 85.0511287798066])
    doc: dict[str, Any] = {
        "tilejson": "3.0.0", "name": name, "scheme": "xyz", "tiles": [tiles_url], "minzoom": minzoom,
        "maxzoom": maxzoom, "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, minzoom], "attribution": attribution,
    }
    if description:
        doc["description"] = description
    return doc
