"""``load()``: STAC search on the archive's API → a lazy ``xarray.Dataset`` (odc-stac + Dask).

::

    from rsarchive.cube import load
    ds = load(bbox=(105.80, 21.00, 105.90, 21.07), datetime="2026-03-01/2026-03-31",
              bands=("red", "nir"), resolution=10, crs="EPSG:32648")
    ndvi = (ds.nir - ds.red) / (ds.nir + ds.red)

Each STAC item becomes one time slice; items with the same timestamp (or the same solar day
with ``groupby="solar_day"``: one mosaic per pass) are fused by odc-stac, first valid pixel
wins.  QA masking is done while each item is read, before fusing, so a pixel's value and
its quality always come from the same scene.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rsarchive.cube.bands import BandPlan, plan_bands, qa_mask_value, with_qa_bands
from rsarchive.errors import AuthError, NotFoundError, ServiceError, UsageError
from rsarchive.settings import Settings

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger(__name__)

__all__ = ["load", "search_items", "api_url_for", "check_bbox", "check_datetime", "DEFAULT_CHUNKS"]

DEFAULT_CHUNKS: dict[str, int] = {"x": 4096, "y": 4096}
"""Output chunks (a multiple of the COGs' 512-pixel tiles) when a band must be reprojected or
resampled.  At the products' native grid the default chunks are about as many pixels but cut
along the items' tiles (:func:`rsarchive.cube.grid.plan_chunks`), so that no tile is decompressed
by two chunks (why: docs/DECISIONS.md, Cube loading: chunks along the COG tiles, only the assets
read)."""

GROUPBY = ("time", "solar_day", "id")


def api_url_for(settings: Settings, *, internal: bool = False) -> str:
    """The STAC API of ``settings``: public ``/stac``, or internal ``/internal/stac``."""
    return f"http://{settings.api_host}:{settings.api_port}{'/internal/stac' if internal else '/stac'}"


def check_bbox(bbox: Sequence[float] | str) -> tuple[float, float, float, float]:
    """``(W, S, E, N)`` in degrees from a sequence or ``"W,S,E,N"``; anything else → UsageError."""
    if isinstance(bbox, str):
        parts: Sequence[Any] = [p for p in bbox.replace(" ", "").split(",") if p != ""]
    else:
        parts = list(bbox)
    try:
        w, s, e, n = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise UsageError(f"bbox {bbox!r} must be four numbers W,S,E,N in degrees (e.g. 105.8,21.0,105.9,21.1)") from None
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        raise UsageError(f"bbox {bbox!r} must be finite numbers")
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise UsageError(f"bbox {w},{s},{e},{n} must have -180 ≤ W < E ≤ 180 and -90 ≤ S < N ≤ 90 (W,S,E,N in degrees)")
    return w, s, e, n


def _instant(text: str) -> dt.datetime | None:
    if text in ("", ".."):
        return None
    value = text.strip().replace("z", "Z").replace("Z", "+00:00")
    try:
        if len(value) == 4 and value.isdigit():
            return dt.datetime(int(value), 1, 1, tzinfo=dt.timezone.utc)
        if len(value) == 7:
            return dt.datetime.strptime(value, "%Y-%m").replace(tzinfo=dt.timezone.utc)
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"datetime {text!r} is not an ISO 8601 date or date-time (e.g. 2026-03-15 or "
                         "2026-03-15T03:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def check_datetime(value: str | None) -> str | None:
    """A STAC ``datetime`` (``A``, ``A/B``, ``A/..``, ``../B``) checked; ``None`` → no time filter."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    parts = text.split("/")
    if len(parts) > 2 or (len(parts) == 2 and parts == ["..", ".."]) or (len(parts) == 1 and parts[0] == ".."):
        raise UsageError(f"datetime {text!r} must be A, A/B, A/.. or ../B (ISO 8601)")
    bounds = [_instant(p) for p in parts]
    if len(bounds) == 2 and bounds[0] and bounds[1] and bounds[0] > bounds[1]:
        raise UsageError(f"datetime {text!r}: the start is after the end")
    return text


def _client(api_url: str, token: str | None) -> Any:
    import pystac_client
    from pystac_client.exceptions import APIError

    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        return pystac_client.Client.open(api_url, headers=headers)
    except APIError as exc:
        status = getattr(exc, "status_code", None)
        if isinstance(exc.__context__, OSError):  # requests' ConnectionError, wrapped by pystac-client
            raise ServiceError(f"cannot reach the STAC API at {api_url}; is `rsarchive serve` running, "
                               "or is --api right?") from None
        if status in (401, 403):
            raise AuthError(f"the STAC API at {api_url} refused the request ({status}): "
                            f"{'a valid token is needed' if not token else 'the token is invalid or not allowed'}") from None
        raise ServiceError(f"the STAC API at {api_url} answered with an error: {str(exc)[:200]}") from None
    except OSError as exc:  # requests' ConnectionError is an OSError
        raise ServiceError(f"cannot reach the STAC API at {api_url} ({type(exc).__name__}); is "
                           "`rsarchive serve` running, or is --api right?") from None


def search_items(*, collection: str, bbox: tuple[float, float, float, float], datetime: str | None,
                 api_url: str, token: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Item dicts of ``collection`` over ``bbox`` and ``datetime`` from the STAC API at ``api_url``.

    One request to ``/search`` when it finds items.  When it finds nothing, the API's landing page
    and collections say whether the collection is unknown; when it fails, the search is tried once
    more through them (with retries) to say why (unreachable, refused, unknown collection)."""
    from pystac_client import ItemSearch
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO

    query: dict[str, Any] = dict(collections=[collection], bbox=list(bbox), datetime=datetime, limit=limit,
                                 sortby=[{"field": "properties.datetime", "direction": "asc"}])
    headers = {"Authorization": f"Bearer {token}"} if token else None
    items: list[dict[str, Any]] | None
    try:
        io = StacApiIO(headers=headers, max_retries=0)  # a failure is looked into below, with retries
        items = list(ItemSearch(f"{api_url}/search", stac_io=io, **query).items_as_dicts())
    except (APIError, OSError):
        items = None
    if not items:
        client = _client(api_url, token)
        if items is None:
            try:
                items = list(client.search(**query).items_as_dicts())
            except APIError as exc:
                _check_collection(client, collection, api_url)
                raise ServiceError(f"the STAC API at {api_url} failed the search: {str(exc)[:200]}") from None
            except OSError as exc:
                raise ServiceError(f"the STAC search at {api_url} failed ({type(exc).__name__}: {exc})") from None
        if not items:  # nothing found: say so if the collection itself is unknown
            _check_collection(client, collection, api_url)
    log.info("%d item(s) of %s found at %s", len(items), collection, api_url)
    return items


def _check_collection(client: Any, collection: str, api_url: str) -> None:
    """UsageError listing the API's collections unless it has ``collection``."""
    from pystac_client.exceptions import APIError

    try:
        found = client.get_collection(collection)
    except APIError as exc:
        if getattr(exc, "status_code", None) != 404 and "not found" not in str(exc).lower():
            raise ServiceError(f"the STAC API at {api_url} failed reading collection {collection!r}: "
                               f"{str(exc)[:200]}") from None
        found = None
    if found is None:  # pystac-client returns None for a 404
        known = sorted(c.id for c in client.get_collections())
        raise UsageError(f"unknown collection {collection!r} at {api_url}; it has {', '.join(known) or 'none'}")


def _native_crs(items: Sequence[Mapping[str, Any]]) -> str:
    codes: Counter[str] = Counter()
    for item in items:
        props = item.get("properties") or {}
        code = props.get("proj:code") or (f"EPSG:{props['proj:epsg']}" if props.get("proj:epsg") else None)
        if code:
            codes[str(code)] += 1
    if not codes:
        raise UsageError("the items do not say their CRS (proj:code); pass crs=…")
    return codes.most_common(1)[0][0]


def decode_block(dn: Any, qa: Any = None, *, scale: float, offset: float, nodata: float | int | None, mask: int,
                 to_float: bool) -> Any:
    """One chunk: stored values (+ its QA bitfield) → float32 reflectance with NaN where nodata or
    flagged (``to_float``), else the stored values with nodata where flagged.  One pass; an
    all-nodata chunk (outside every scene) costs one comparison."""
    import numpy as np

    invalid = dn == nodata if nodata is not None else np.zeros(dn.shape, bool)
    if qa is not None and mask:
        invalid |= (qa & np.uint16(mask)) != 0
    bad = int(np.count_nonzero(invalid))
    if not to_float:
        return np.where(invalid, dn.dtype.type(nodata if nodata is not None else 0), dn) if bad else dn
    if bad == invalid.size:
        return np.full(dn.shape, np.nan, dtype=np.float32)
    out = np.multiply(dn, np.float32(scale), dtype=np.float32)  # one pass: convert and scale
    if offset:
        out += np.float32(offset)
    if bad:
        np.copyto(out, np.float32(np.nan), where=invalid)
    return out


def _decode(ds: xr.Dataset, plan: BandPlan, *, scale: bool, mask: int, native: Mapping[str, Any]) -> xr.Dataset:
    """Scale/offset to float32 reflectance (nodata → NaN), lazily, one kernel per chunk (QA masking
    happened while reading, before fusing: :class:`rsarchive.cube.access.ArchiveReader`).  Bands
    in ``native`` (asset → Dask array) were read, masked and decoded by :mod:`rsarchive.cube.mosaic`
    (``ds`` need not have them: it gives the coordinates)."""
    import dask.array as da
    import numpy as np
    import xarray as xr

    template = next(iter(ds.data_vars.values()))
    out = {}
    for spec in plan.bands:
        raw = ds.get(spec.asset)
        attrs = {k: v for k, v in (raw.attrs if raw is not None else {}).items() if k not in ("nodata",)}
        attrs.update({"rsarchive:asset": spec.asset, "rsarchive:qa_mask": int(mask if spec.qa else 0)})
        if spec.asset in native:
            data = native[spec.asset]
        else:
            assert raw is not None  # load() gave odc-stac every band that is not native
            data = raw.data
            if scale and isinstance(data, da.Array):
                data = da.map_blocks(decode_block, data, dtype=np.float32, scale=spec.scale, offset=spec.offset,
                                     nodata=spec.nodata, mask=0, to_float=True)
            elif scale:
                data = decode_block(data, scale=spec.scale, offset=spec.offset, nodata=spec.nodata, mask=0,
                                    to_float=True)
        if scale:
            attrs.update(units="1", long_name=f"TOA reflectance ({spec.asset})")
        else:
            attrs.update(nodata=spec.nodata if spec.nodata is not None else 0, scale_factor=spec.scale,
                         add_offset=spec.offset)
        out[spec.name] = (template.dims, data, attrs)
    return xr.Dataset(out, coords=template.coords, attrs=dict(ds.attrs))


_TILE_ROWS: dict[str, int] = {}


def _tile_rows(href: str, env: dict[str, Any]) -> int:
    """The tile height of a COG (the archive's default when it cannot be asked); archive objects
    do not change, so each is asked once per process."""
    if href in _TILE_ROWS:
        return _TILE_ROWS[href]
    import rasterio

    from rsarchive.cube.access import gdal_env
    from rsarchive.cube.grid import TILE

    try:
        with gdal_env(env), rasterio.open(href, "r", sharing=False) as src:
            rows = int(src.block_shapes[0][0])
    except (rasterio.errors.RasterioError, IndexError):
        return TILE
    if len(_TILE_ROWS) > 4096:
        _TILE_ROWS.clear()
    _TILE_ROWS[href] = rows
    return rows


def _native(raw: xr.Dataset, items: Sequence[Mapping[str, Any]], plan: BandPlan, links: Mapping[str, Any], *,
            crs: str, scale: bool, mask: int, chunks: Mapping[str, int] | None, env: dict[str, Any]) -> dict[str, Any]:
    """Dask arrays (asset → array) for the bands whose cube grid is their products' own grid,
    read by :mod:`rsarchive.cube.mosaic`; the other bands stay with odc-stac."""
    import dask.base
    import numpy as np

    from rsarchive.cube.grid import plan_chunks, placement
    from rsarchive.cube.mosaic import NativeBand, native_array

    debug = raw.encoding.get("debug")
    if debug is None or not plan.bands:
        return {}
    groups = [list(g) for g in debug.grouped_idx]
    geobox = raw.odc.geobox
    transform = tuple(geobox.transform)[:6]
    specs: dict[str, tuple[NativeBand, dict[int, tuple[Any, ...]]]] = {}
    for spec in plan.bands:
        if spec.asset in specs:
            continue
        sources: dict[int, tuple[Any, ...]] = {}
        dtype = None
        for index, item in enumerate(items):
            asset = (item.get("assets") or {}).get(spec.asset)
            if asset is None:
                continue
            props = item.get("properties") or {}
            item_crs = props.get("proj:code") or (f"EPSG:{props['proj:epsg']}" if props.get("proj:epsg") else None)
            where = placement(asset, transform, crs, item_crs)
            raster = (asset.get("raster:bands") or [{}])
            kind = raster[0].get("data_type")
            if where is None or len(raster) != 1 or kind is None or (dtype is not None and kind != dtype) \
                    or not np.issubdtype(np.dtype(kind), np.integer):
                break
            dtype = kind
            qa_href, qa_band = None, 0
            link = links.get(asset["href"])
            if link is not None:
                qa_asset = next((a for a in item["assets"].values() if a.get("href") == link[0]), None)
                if qa_asset is None or placement(qa_asset, transform, crs, item_crs) != where:
                    break
                qa_href, qa_band = link[0], link[1]
            sources[index] = (asset["href"], 1, *where, qa_href, qa_band, 0)
        else:
            if sources and dtype is not None:
                band = NativeBand(spec.asset, str(dtype), spec.scale, spec.offset, spec.nodata, scale,
                                  mask if spec.qa else 0)
                specs[spec.asset] = (band, sources)
    if not specs:
        return {}
    tiles = {a: _tile_rows(next(iter(src.values()))[0], env) for a, (_, src) in specs.items()}
    for asset, (_, sources) in specs.items():
        for index, src in sources.items():
            sources[index] = (*src[:-1], tiles[asset])
    every = {s.asset for s in plan.bands} <= set(specs)
    ntime = raw.sizes["time"]
    if every and chunks is None:
        rows = [(s[2], s[2] + s[4]) for _, src in specs.values() for s in src.values()]
        cols = [(s[3], s[3] + s[5]) for _, src in specs.values() for s in src.values()]
        ys, xs = plan_chunks((geobox.shape.y, geobox.shape.x), rows, cols, min(tiles.values()),
                             max(DEFAULT_CHUNKS.values()))
        layout = ((1,) * ntime, ys, xs)
    else:  # the same chunks as odc-stac's bands
        layout = raw[plan.bands[0].asset].data.chunks
    # a QA COG used by two bands or more is read once per item and chunk, for all of them
    users: dict[str, set[int]] = {}
    uses: Counter[str] = Counter()
    for band, sources in specs.values():
        for src in sources.values():
            if band.mask and src[6] is not None:
                users.setdefault(src[6], set()).add(src[7])
                uses[src[6]] += 1
    token = dask.base.tokenize(sorted(specs), {a: sorted(s.items()) for a, (_, s) in specs.items()}, groups,
                               layout, env, scale, mask)
    shared = {href: (f"cube-qa-{dask.base.tokenize(href, token)}", tuple(sorted(bands)))
              for href, bands in users.items() if uses[href] > 1}
    return {asset: native_array(band, sources, groups, layout, env, token, shared)
            for asset, (band, sources) in specs.items()}


def _qa_links(items: Sequence[Mapping[str, Any]], plan: BandPlan, mask: int) -> dict[str, tuple[str, int, int, int]]:
    """data COG href → (QA COG href, QA band, mask, nodata) for every item and planned band."""
    links: dict[str, tuple[str, int, int, int]] = {}
    if not mask:
        return links
    for item in items:
        assets = item.get("assets") or {}
        for spec in plan.bands:
            if not spec.qa or spec.asset not in assets:
                continue
            qa_asset, _, index = spec.qa.partition(".")
            if qa_asset not in assets:
                continue
            links[assets[spec.asset]["href"]] = (assets[qa_asset]["href"], int(index or 1), mask,
                                                 int(spec.nodata if spec.nodata is not None else 0))
    return links


def load(
    bbox: Sequence[float] | str,
    datetime: str | None = None,
    bands: str | Iterable[str] | None = ("red", "nir"),
    resolution: float | None = 10,
    crs: str | int | None = None,
    collection: str = "vnredsat1-product",
    *,
    api_url: str | None = None,
    token: str | None = None,
    scale: bool = True,
    mask_qa: bool | int | str | Iterable[str] = True,
    chunks: Mapping[str, int] | None = None,
    groupby: str = "time",
    resampling: str = "nearest",
    settings: Settings | None = None,
) -> xr.Dataset:
    """A lazy cube (dims ``time, y, x``) of ``bands`` over ``bbox`` (W, S, E, N degrees).

    ``bands``: asset keys (``B3``, ``PAN``) or eo common names (``red``, ``nir``, ``pan``);
    the variables are named as asked.  ``resolution`` in units of ``crs`` (default: the
    items' most common ``proj:code``).  ``api_url`` defaults to the public API of the
    settings, or the internal one when a ``token`` is given.  ``scale``: apply the
    ``raster:bands`` scale/offset → float32 reflectance with NaN for nodata (else the stored
    uint16).  ``mask_qa``: drop pixels whose QA band has any of the bits (``True``: no data,
    lost, saturated, terrain occlusion, cloud; an int bitmask; bit names).  ``chunks``:
    output chunks (default about 4096 × 4096, along the COGs' tiles when every band is on its
    products' grid: :data:`DEFAULT_CHUNKS`).  Nothing is read until the data is computed.

    Bands at their products' resolution and CRS are read straight from the COG windows
    (:mod:`rsarchive.cube.mosaic`); the others through odc-stac's reader.
    """
    import odc.stac
    import pystac

    from rsarchive.cube.access import ArchiveRioDriver, gdal_options, register_credentials

    if settings is None:
        from rsarchive.settings import load_settings

        settings = load_settings()
    box = check_bbox(bbox)
    when = check_datetime(datetime)
    if groupby not in GROUPBY:
        raise UsageError(f"groupby {groupby!r} must be one of {', '.join(GROUPBY)}")
    if resolution is not None and not (isinstance(resolution, (int, float)) and math.isfinite(resolution)
                                       and resolution > 0):
        raise UsageError(f"resolution {resolution!r} must be a positive number (units of the CRS)")
    names = [bands] if isinstance(bands, str) else (list(bands) if bands is not None else None)
    mask = qa_mask_value(mask_qa)
    url = (api_url or api_url_for(settings, internal=bool(token))).rstrip("/")

    items = search_items(collection=collection, bbox=box, datetime=when, api_url=url, token=token)
    if not items:
        raise NotFoundError(f"no {collection} items at {url} over bbox {','.join(f'{v:g}' for v in box)}"
                            + (f" for datetime {when}" if when else ""))
    items = [with_qa_bands(item) for item in items]
    plan = plan_bands(items, names, want_qa=bool(mask))
    out_crs = _output_crs(crs, items)

    links = _qa_links(items, plan, mask)
    driver = ArchiveRioDriver(gdal_options(settings), register_credentials(settings), links)
    assets = list(dict.fromkeys(b.asset for b in plan.bands))
    # odc-stac is given only the assets it may read (the QA is applied by the driver; parsing the others
    # is costly); items already of pystac's STAC version are not "migrated" (a deep copy that changes nothing)
    stac_items = [pystac.Item.from_dict({**item, "assets": {k: item["assets"][k] for k in assets if k in item["assets"]}},
                                        migrate=item.get("stac_version") != pystac.get_stac_version(),
                                        preserve_dict=False) for item in items]

    def odc_load(names: list[str]) -> xr.Dataset:
        try:
            return odc.stac.load(stac_items, bands=names, bbox=box, crs=out_crs, resolution=resolution,
                                 chunks=dict(chunks or DEFAULT_CHUNKS), groupby=groupby, resampling=resampling,
                                 driver=driver, debug=True)
        except ValueError as exc:
            raise UsageError(f"cannot build the cube: {exc}") from None

    # with the resolution given, the grid does not depend on the bands: odc-stac builds one band's
    # graph for the grid and the items' grouping, and the others only if they are not native
    raw = odc_load(assets[:1] if resolution is not None else assets)
    native = _native(raw, items, plan, links, crs=out_crs, scale=scale, mask=mask, chunks=chunks,
                     env=driver.capture_env())
    if any(a not in native and a not in raw.data_vars for a in assets):
        raw = odc_load(assets)
    raw.encoding.pop("debug", None)
    cube = _decode(raw, plan, scale=scale, mask=mask, native=native)
    cube.attrs.update({
        "collection": collection, "stac_api": url, "bbox": ",".join(f"{v:g}" for v in box),
        "datetime": when or "", "items": ",".join(str(i["id"]) for i in items),
        "qa_mask": int(mask), "scaled": int(bool(scale)),
    })
    log.info("cube %s: %s", collection, dict(cube.sizes))
    return cube


def _output_crs(crs: str | int | None, items: Sequence[Mapping[str, Any]]) -> str:
    if crs is None:
        return _native_crs(items)
    text = f"EPSG:{crs}" if isinstance(crs, int) or str(crs).isdigit() else str(crs)
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(text)
    except CRSError:
        raise UsageError(f"crs {crs!r} is not a CRS (e.g. EPSG:32648)") from None
    return text
