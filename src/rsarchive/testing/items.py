"""Synthetic scene metadata and STAC items for tests, benchmarks and the demo.

:func:`synthetic_scene` gives a plausible VNREDSat-1 scene (17.5 km square over
Vietnam, UTM grid, four MS bands + PAN, QA band, thumbnail) for each index, fully
determined by ``(index, seed)``.  No files are written: checksums and sizes are made up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Iterator
from typing import Any

from rsarchive.catalog.inputs import (
    AssetInput,
    BandInfo,
    Form,
    GeometricAccuracy,
    Grid,
    Level0Quality,
    Orbit,
    ProcessingInfo,
    Reception,
    SceneMetadata,
    SecurityClassification,
    ViewGeometry,
)
from rsarchive.i18n import bilingual

__all__ = ["MS_BANDS", "synthetic_item", "synthetic_items", "synthetic_scene"]

MS_BANDS: tuple[tuple[str, str, float, float], ...] = (
    ("B1", "blue", 0.485, 0.07),
    ("B2", "green", 0.56, 0.08),
    ("B3", "red", 0.66, 0.06),
    ("B4", "nir", 0.83, 0.14),
)
_LEVEL0_TITLE = bilingual("Dữ liệu thu mức 0 (CADU), giữ nguyên từng byte", "Level-0 downlink (CADU), byte-exact")
_THUMBNAIL_TITLE = bilingual("Ảnh thu nhỏ", "Thumbnail")
_COMMON_VI = {"blue": "lam", "green": "lục", "red": "đỏ", "nir": "cận hồng ngoại"}
_EPOCH = dt.datetime(2014, 1, 1, 3, 0, tzinfo=dt.timezone.utc)


def _checksum(text: str) -> str:
    return "1220" + hashlib.sha256(text.encode()).hexdigest()


def _utm_epsg(lon: float, lat: float) -> int:
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + zone


def synthetic_scene(
    index: int,
    *,
    seed: int = 0,
    form: Form = "product",
    security: SecurityClassification = "unclassified",
    collection: str | None = None,
    href_base: str = "s3://rsarchive-primary",
    thumbnail_href: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    when: dt.datetime | None = None,
    cloud_cover: float | None = None,
) -> SceneMetadata:
    """One synthetic scene of ``form``; position, time and cloud derive from ``(index, seed)``."""
    rng = random.Random(seed * 1_000_003 + index)
    lon = lon if lon is not None else rng.uniform(102.5, 109.0)
    lat = lat if lat is not None else rng.uniform(8.8, 23.0)
    when = when or _EPOCH + dt.timedelta(days=rng.uniform(0, 3650), seconds=rng.uniform(0, 3600))
    half_lat = 17.5 / 2 / 111.32
    half_lon = half_lat / max(math.cos(math.radians(lat)), 0.2)
    footprint = {
        "type": "Polygon",
        "coordinates": [[
            [lon - half_lon, lat - half_lat], [lon + half_lon, lat - half_lat],
            [lon + half_lon, lat + half_lat], [lon - half_lon, lat + half_lat],
            [lon - half_lon, lat - half_lat],
        ]],
    }
    collection = collection or f"vnredsat1-{form}"
    item_id = f"VNR1_{form.upper()}_{when:%Y%m%dT%H%M%S}_{index:07d}"
    base = f"{href_base}/{collection}/{item_id}"
    orbit = Orbit(absolute_orbit=1000 + int((when - _EPOCH).total_seconds() // 5880),
                  orbit_state="descending", platform_international_designator="2013-021B")
    reception = Reception(route="station", station="VNSC-HN", pass_id=f"P{index:07d}",
                          plan_ref=f"PLAN-{when:%Y}-{index % 97:03d}", aos=when - dt.timedelta(minutes=4),
                          los=when + dt.timedelta(minutes=6))
    view = ViewGeometry(sun_azimuth=rng.uniform(100, 160), sun_elevation=rng.uniform(35, 70),
                        off_nadir=rng.uniform(0, 25), azimuth=rng.uniform(0, 360))
    software = {"rsarchive": "0.1.0"}
    assets: list[AssetInput] = []
    epsg = _utm_epsg(lon, lat)
    x0 = 166_000.0 + rng.uniform(0, 600_000)
    y0 = lat * 110_574.0 + half_lat * 110_574.0
    processing: ProcessingInfo | None
    if form == "level0":
        assets.append(AssetInput(key="level0", href=f"{base}.cadu", media_type="application/octet-stream",
                                 roles=("data", "archive"), title=_LEVEL0_TITLE,
                                 checksum=_checksum(item_id + "cadu"), size=92_000_000))
        processing = ProcessingInfo(level="L0", software=software, lineage="Received at VNSC-HN, stored byte-exact")
    else:
        raw = form == "raw"
        level = "L1A" if raw else "L2A"
        processing = ProcessingInfo(
            level=level, software=software | {"gdal": "3.6.2"}, cpf_version="vnredsat1-2024.1",
            lineage=f"{'Radiometric equalisation' if raw else 'TOA reflectance, orthorectified'} from level-0 {item_id}",
            facility="rsarchive", datetime=when + dt.timedelta(hours=2),
        )
        for name, common, wl, fwhm in MS_BANDS:
            scale, unit = (0.01, "W m-2 sr-1 um-1") if raw else (1e-4, None)
            grid = Grid(epsg=None if raw else epsg, transform=None if raw else (10.0, 0.0, x0, 0.0, -10.0, y0),
                        shape=(1750, 1750))
            assets.append(AssetInput(
                key=name, href=f"{base}_{name}.tif", title=bilingual(f"Kênh {name} ({_COMMON_VI[common]})",
                                                                   f"Band {name} ({common})"),
                media_type="image/tiff; application=geotiff; profile=cloud-optimized", roles=("data",),
                checksum=_checksum(item_id + name), size=2_400_000,
                bands=(BandInfo(name=name, common_name=common, center_wavelength=wl, full_width_half_max=fwhm,
                                scale=scale, offset=0.0, nodata=0, unit=unit, spatial_resolution=10.0),),
                grid=grid,
            ))
        assets.append(AssetInput(
            key="qa", href=f"{base}_QA.tif", title=bilingual("Trường bit chất lượng",
                                                              f"Quality bitfield ({', '.join(b[0] for b in MS_BANDS)})"),
            media_type="image/tiff; application=geotiff; profile=cloud-optimized", roles=("quality", "qa"),
            checksum=_checksum(item_id + "qa"), size=300_000,
            bands=tuple(BandInfo(name=b[0], data_type="uint16", nodata=None, spatial_resolution=10.0)
                        for b in MS_BANDS),
            grid=Grid(epsg=None if raw else epsg, transform=None if raw else (10.0, 0.0, x0, 0.0, -10.0, y0),
                      shape=(1750, 1750)),
            quality_band=True,
        ))
        if not raw:
            assets.append(AssetInput(key="thumbnail", href=thumbnail_href or f"{base}_thumb.png",
                                     media_type="image/png", roles=("thumbnail",), title=_THUMBNAIL_TITLE,
                                     checksum=_checksum(item_id + "thumb"), size=40_000))
    cloud = None if form == "level0" else (cloud_cover if cloud_cover is not None else round(rng.uniform(0, 100), 1))
    return SceneMetadata(
        item_id=item_id, collection=collection, form=form, datetime=when, footprint=footprint,
        assets=tuple(assets), reception=reception, security=security, orbit=orbit, view=view,
        processing=processing, cloud_cover=cloud, gsd=None if form == "level0" else 10.0,
        level0_quality=Level0Quality(cadus=90_000, frames_lost=index % 3, packets_lost=index % 5,
                                     lines_expected=7000, lines_missing=index % 4),
        geometric_accuracy=None if form != "product" else GeometricAccuracy(rmse_m=round(rng.uniform(3, 12), 2),
                                                                             ce90_m=15.0, gcp_count=12),
        scene_id=None if form == "level0" else f"S{index % 10:02d}",
        datastrip_id=None if form == "level0" else f"VNR1_LEVEL0_{when:%Y%m%dT%H%M%S}",
        created=when + dt.timedelta(hours=3),
    )


def synthetic_item(index: int, **kwargs: Any) -> dict[str, Any]:
    """The STAC Item dict of :func:`synthetic_scene` ``(index, **kwargs)``."""
    from rsarchive.catalog.items import item_dict

    return item_dict(synthetic_scene(index, **kwargs))


def synthetic_items(count: int, start: int = 0, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """``count`` synthetic Item dicts (lazily)."""
    for index in range(start, start + count):
        yield synthetic_item(index, **kwargs)
