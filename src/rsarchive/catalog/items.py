"""STAC Items from :class:`~rsarchive.catalog.inputs.SceneMetadata`, built with pystac.

STAC 1.1 with the extension versions below.  Versions are chosen so that every
schema is available offline (``../shared/stac-schemas``) and readers load the items:

* projection **v1.2.0** -- the one version whose schema allows both ``proj:code``
  and ``proj:epsg`` (v2.0.0 forbids ``proj:epsg``; odc-stac and stackstac still read it);
  per-asset ``proj:shape``/``proj:transform``;
* raster **v1.1.0** (``raster:bands`` with scale/offset/nodata, what odc-stac reads);
* classification **v1.1.0** (bitfields of the QA band, inside its ``raster:bands``);
* eo v1.1.0, view v1.0.0, sat v1.0.0, file v2.1.0, processing v1.2.0, timestamps v1.1.0;
* language **v1.0.0** (shipped in ``data/stac-schemas``): public text is Vietnamese first, English
  second (``"vi / en"``, issue #21), so ``language`` is Vietnamese and ``languages`` adds English.

Archive fields use the ``rsarchive:`` prefix (see :data:`ARCHIVE_FIELDS`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pystac
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from pystac.extensions.sat import OrbitState, SatExtension
from pystac.extensions.view import ViewExtension
from shapely.geometry import mapping, shape

from rsarchive.catalog.inputs import ACQUISITION_ROUTES, AssetInput, SceneMetadata
from rsarchive.errors import CatalogError
from rsarchive.i18n import bilingual, item_title
from rsarchive.law import load_basis

__all__ = ["ARCHIVE_FIELDS", "CIRCULAR_09_FIELDS", "EXTENSIONS", "QA_BITFIELDS", "build_item", "collection_link", "item_dict", "with_collection_link"]

EXTENSIONS: dict[str, str] = {
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "projection": "https://stac-extensions.github.io/projection/v1.2.0/schema.json",
    "view": "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "sat": "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "file": "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "classification": "https://stac-extensions.github.io/classification/v1.1.0/schema.json",
    "timestamps": "https://stac-extensions.github.io/timestamps/v1.1.0/schema.json",
    "language": "https://stac-extensions.github.io/language/v1.0.0/schema.json",
    "contacts": "https://stac-extensions.github.io/contacts/v0.1.1/schema.json",
}
"""Extension name → the schema URL the archive declares (all resolvable offline)."""

ARCHIVE_FIELDS: dict[str, str] = {
    "rsarchive:form": "level0 | raw | product | original (Decision 81, Art. 3)",
    "rsarchive:acquisition_route": "station | purchase | exchange | aid | foreign-station",
    "rsarchive:acquisition_article": "the clause of Art. 5.1 (5.1a … 5.1d)",
    "rsarchive:station": "receiving ground station id",
    "rsarchive:pass_id": "pass (contact) id at the station  [internal]",
    "rsarchive:plan_ref": "acquisition plan or ad-hoc task reference  [internal]",
    "rsarchive:aos": "acquisition of signal  [internal]",
    "rsarchive:los": "loss of signal  [internal]",
    "rsarchive:provider": "foreign provider of an original",
    "rsarchive:received": "date an original was received (Art. 13.4 deadline)",
    "rsarchive:security_classification": "unclassified | confidential | secret | top-secret",
    "rsarchive:level0_quality": "counts from the level-0 quality record",
    "rsarchive:geometric_accuracy": "measured accuracy: rmse_m, ce90_m, gcp_count, method",
    "rsarchive:cpf_version": "calibration parameter file version used",
    "rsarchive:scene_id": "scene within its datastrip",
    "rsarchive:datastrip_id": "id of the level-0 item the scene came from",
    "rsarchive:imaging_mode": "imaging mode (chế độ chụp, Circular 09/2017/TT-BTNMT Art. 7.1(d)): pan+ms | ms | pan, "
                              "from the bands the pass delivered",
}

CIRCULAR_09_FIELDS: dict[str, str] = {
    "a satellite (tên vệ tinh)": "platform",
    "b sensor (tên bộ cảm)": "instruments",
    "c scene name (tên cảnh ảnh)": "id",
    "d imaging mode (chế độ chụp)": "rsarchive:imaging_mode",
    "đ processing level (mức xử lý)": "processing:level",
    "e, g date and time (ngày, giờ chụp)": "datetime",
    "h cloud cover (độ che phủ mây)": "eo:cloud_cover",
    "i incidence angle (góc tới)": "view:incidence_angle",
    "k sun elevation (cao độ mặt trời)": "view:sun_elevation",
    "l sun azimuth (góc phương vị mặt trời)": "view:sun_azimuth",
    "m geometric accuracy, if any (độ chính xác hình học)": "rsarchive:accuracy (summary), rsarchive:geometric_accuracy "
                                                             "(when measured against a reference)",
    "n ground resolution (độ phân giải mặt đất)": "gsd",
    "o bit count (số lượng bit)": "raster:bands[].data_type",
    "p, q centre latitude/longitude (tọa độ tâm ảnh)": "proj:centroid",
    "r–u corner coordinates (tọa độ góc)": "geometry, bbox",
    "v location map (sơ đồ vị trí ảnh)": "geometry (drawn by the STAC Browser)",
    "x quicklook (ảnh xem nhanh)": "assets with role overview or thumbnail",
    "y custodian (cơ quan quản lý dữ liệu)": "contacts (role custodian)",
}
"""Circular 09/2017/TT-BTNMT, Art. 7.1 (legal basis rule ``metadata.fields``): each field → where an item holds it."""

QA_BITFIELDS: list[dict[str, Any]] = [
    {"offset": bit, "length": 1, "name": name, "description": bilingual(vi, en),
     "classes": [{"value": 0, "name": f"not_{name}", "description": bilingual(vi_not, f"not {en.lower()}")},
                 {"value": 1, "name": name, "description": bilingual(vi, en)}]}
    for bit, name, vi, en, vi_not in (
        (0, "nodata", "Không có dữ liệu", "No data", "Có dữ liệu"),
        (1, "lost", "Mất: thiếu gói tin hoặc dòng quét", "Lost: missing packet or line", "Không mất gói tin hay dòng quét"),
        (2, "defective_detector", "Đầu thu hỏng, đã bù", "Defective detector, filled", "Đầu thu tốt"),
        (3, "saturated", "Bão hòa", "Saturated", "Không bão hòa"),
        (4, "ancillary_degraded", "Dữ liệu phụ trợ suy giảm: lịch vệ tinh/tư thế nội suy qua khoảng trống",
         "Ancillary degraded: ephemeris/attitude interpolated over a gap", "Dữ liệu phụ trợ đầy đủ"),
        (5, "terrain_occlusion", "Bị địa hình che khuất", "Terrain occlusion", "Không bị địa hình che khuất"),
        (6, "cloud", "Mây (mức sản phẩm)", "Cloud (product level)", "Không có mây (mức sản phẩm)"),
    )
]
"""The uint16 quality bitfield of ARCHITECTURE.md (bits 7–15 reserved)."""

LANGUAGE: dict[str, str] = {"code": "vi", "name": "Tiếng Việt", "alternate": "Vietnamese"}
LANGUAGES: list[dict[str, str]] = [{"code": "en", "name": "English", "alternate": "Tiếng Anh"}]
"""The language extension's fields of every collection and item: Vietnamese text first, then English."""


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise CatalogError(f"datetime {value.isoformat()} has no time zone; UTC expected")
    return value.astimezone(dt.timezone.utc)


def _iso(value: dt.datetime | None) -> str | None:
    value = _utc(value)
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _asset(item: pystac.Item, spec: AssetInput) -> dict[str, str]:
    """Add one asset; return the extensions it used."""
    asset = pystac.Asset(href=spec.href, media_type=spec.media_type, roles=list(spec.roles), title=spec.title)
    item.add_asset(spec.key, asset)
    used: dict[str, str] = {}
    if spec.checksum is not None or spec.size is not None:
        file_ext = FileExtension.ext(asset, add_if_missing=True)
        if spec.checksum is not None:
            if not spec.checksum.startswith("1220") or len(spec.checksum) != 68:
                raise CatalogError(f"asset {spec.key!r}: checksum must be a sha2-256 multihash '1220<64 hex>'")
            file_ext.checksum = spec.checksum
        if spec.size is not None:
            file_ext.size = int(spec.size)
        used["file"] = EXTENSIONS["file"]
    if spec.bands:
        if any(b.common_name or b.center_wavelength for b in spec.bands):
            EOExtension.ext(asset, add_if_missing=True).bands = [
                Band.create(
                    name=b.name, common_name=b.common_name, center_wavelength=b.center_wavelength,
                    full_width_half_max=b.full_width_half_max, solar_illumination=b.solar_illumination,
                )
                for b in spec.bands
            ]
            used["eo"] = EXTENSIONS["eo"]
        raster_bands = []
        for b in spec.bands:
            band = RasterBand.create(
                data_type=DataType(b.data_type), nodata=b.nodata, scale=b.scale, offset=b.offset,
                unit=b.unit, spatial_resolution=b.spatial_resolution,
            )
            if spec.quality_band:
                # a quality band has no eo:bands: its name (the data band it describes) is said here
                band.properties["name"] = b.name
                band.properties["description"] = bilingual(f"Các bit chất lượng của kênh {b.name}",
                                                           f"quality bitfield of band {b.name}")
                band.properties["classification:bitfields"] = QA_BITFIELDS
            raster_bands.append(band)
        RasterExtension.ext(asset, add_if_missing=True).bands = raster_bands
        used["raster"] = EXTENSIONS["raster"]
        if spec.quality_band:
            asset.extra_fields["classification:bitfields"] = QA_BITFIELDS
            used["classification"] = EXTENSIONS["classification"]
    if spec.grid is not None:
        asset.extra_fields["proj:shape"] = [int(spec.grid.shape[0]), int(spec.grid.shape[1])]
        if spec.grid.transform is not None:
            asset.extra_fields["proj:transform"] = [float(v) for v in spec.grid.transform]
        used["projection"] = EXTENSIONS["projection"]
    return used


def build_item(scene: SceneMetadata) -> pystac.Item:
    """The STAC Item of one scene (not yet validated: see :func:`~rsarchive.catalog.validation.validate_item`)."""
    geom = shape(scene.footprint)
    if geom.is_empty or not geom.is_valid:
        raise CatalogError(f"scene {scene.item_id!r}: footprint is empty or not a valid polygon")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise CatalogError(f"scene {scene.item_id!r}: footprint is not in lon/lat degrees (bounds {geom.bounds})")
    now = dt.datetime.now(dt.timezone.utc)
    item = pystac.Item(
        id=scene.item_id,
        geometry=mapping(geom),
        bbox=[minx, miny, maxx, maxy],
        datetime=_utc(scene.datetime),
        start_datetime=_utc(scene.start_datetime),
        end_datetime=_utc(scene.end_datetime),
        properties={},
        collection=scene.collection,
    )
    used: dict[str, str] = {"timestamps": EXTENSIONS["timestamps"], "language": EXTENSIONS["language"]}
    props = item.properties
    level = scene.processing.level if scene.processing is not None else None
    props["title"] = item_title(scene.form, scene.platform, level, _utc(scene.datetime) or now)
    props["language"] = dict(LANGUAGE)
    props["languages"] = [dict(lang) for lang in LANGUAGES]
    props["created"] = _iso(scene.created or now)
    props["updated"] = _iso(now)
    props["platform"] = scene.platform
    props["instruments"] = list(scene.instruments)
    if scene.constellation:
        props["constellation"] = scene.constellation
    if scene.mission:
        props["mission"] = scene.mission
    if scene.gsd is not None:
        props["gsd"] = float(scene.gsd)

    for spec in scene.assets:
        used.update(_asset(item, spec))

    epsgs = {a.grid.epsg for a in scene.assets if a.grid is not None}
    if epsgs:
        used["projection"] = EXTENSIONS["projection"]
        if len(epsgs) == 1:
            epsg = epsgs.pop()
            props["proj:epsg"] = epsg
            props["proj:code"] = f"EPSG:{epsg}" if epsg is not None else None
        for spec in scene.assets:
            if spec.grid is not None and len({a.grid.epsg for a in scene.assets if a.grid}) > 1:
                asset = item.assets[spec.key]
                asset.extra_fields["proj:epsg"] = spec.grid.epsg
                asset.extra_fields["proj:code"] = f"EPSG:{spec.grid.epsg}" if spec.grid.epsg else None
            if spec.grid is not None and spec.grid.epsg is None and spec.grid.wkt2:
                item.assets[spec.key].extra_fields["proj:wkt2"] = spec.grid.wkt2

    if scene.cloud_cover is not None:
        props["eo:cloud_cover"] = float(scene.cloud_cover)
        used["eo"] = EXTENSIONS["eo"]
    if scene.view is not None:
        view = ViewExtension.ext(item, add_if_missing=True)
        view.sun_azimuth = scene.view.sun_azimuth % 360.0
        view.sun_elevation = scene.view.sun_elevation
        view.off_nadir = scene.view.off_nadir
        view.incidence_angle = scene.view.incidence_angle
        view.azimuth = None if scene.view.azimuth is None else scene.view.azimuth % 360.0
        used["view"] = EXTENSIONS["view"]
    if scene.orbit is not None:
        sat = SatExtension.ext(item, add_if_missing=True)
        sat.orbit_state = OrbitState(scene.orbit.orbit_state)
        sat.absolute_orbit = scene.orbit.absolute_orbit
        sat.relative_orbit = scene.orbit.relative_orbit
        sat.platform_international_designator = scene.orbit.platform_international_designator
        if scene.orbit.anx_datetime is not None:
            sat.anx_datetime = _utc(scene.orbit.anx_datetime)
        used["sat"] = EXTENSIONS["sat"]
    if scene.processing is not None:
        p = scene.processing
        props["processing:level"] = p.level
        props["processing:software"] = dict(p.software)
        props["processing:lineage"] = p.lineage
        if p.facility:
            props["processing:facility"] = p.facility
        if p.datetime is not None:
            props["processing:datetime"] = _iso(p.datetime)
        if p.cpf_version:
            props["rsarchive:cpf_version"] = p.cpf_version
        used["processing"] = EXTENSIONS["processing"]

    r = scene.reception
    props["rsarchive:form"] = scene.form
    props["rsarchive:acquisition_route"] = r.route
    props["rsarchive:acquisition_article"] = ACQUISITION_ROUTES[r.route]
    optional = {
        "rsarchive:station": r.station, "rsarchive:pass_id": r.pass_id, "rsarchive:plan_ref": r.plan_ref,
        "rsarchive:aos": _iso(r.aos), "rsarchive:los": _iso(r.los), "rsarchive:provider": r.provider,
        "rsarchive:received": _iso(r.received), "rsarchive:scene_id": scene.scene_id,
        "rsarchive:datastrip_id": scene.datastrip_id,
    }
    props.update({k: v for k, v in optional.items() if v is not None})
    if scene.security is not None:  # none: the item is held until an officer classifies it
        props["rsarchive:security_classification"] = scene.security
    if scene.level0_quality is not None:
        props["rsarchive:level0_quality"] = scene.level0_quality.as_dict()
    if scene.geometric_accuracy is not None:
        props["rsarchive:geometric_accuracy"] = scene.geometric_accuracy.as_dict()
    mode = imaging_mode(scene)
    if mode is not None:
        props["rsarchive:imaging_mode"] = mode
    centre = geom.centroid
    props["proj:centroid"] = {"lat": round(centre.y, 7), "lon": round(centre.x, 7)}
    used["projection"] = EXTENSIONS["projection"]
    props["contacts"] = [load_basis().authority.custodian_contact()]
    used["contacts"] = EXTENSIONS["contacts"]
    for key, value in scene.extra_properties.items():
        if key in props:
            raise CatalogError(f"scene {scene.item_id!r}: extra property {key!r} would overwrite a built one")
        props[key] = value

    item.stac_extensions = [EXTENSIONS[name] for name in EXTENSIONS if name in used]
    return item


def imaging_mode(scene: SceneMetadata) -> str | None:
    """``pan+ms``, ``ms`` or ``pan`` from the image bands of the scene's data assets (None without any)."""
    names = {(b.common_name or b.name).lower() for a in scene.assets if "data" in a.roles and not a.quality_band
             for b in a.bands}
    if not names:
        return None
    pan, ms = "pan" in names, bool(names - {"pan"})
    return "pan+ms" if pan and ms else ("pan" if pan else "ms")


def collection_link(collection: str) -> dict[str, str]:
    """The item's ``collection`` link (STAC 1.1 requires one when ``collection`` is set).

    Relative, as in the static export (``<collection>/<item>/<item>.json``); the API
    replaces it with its own absolute link."""
    return {"rel": "collection", "href": "../collection.json", "type": "application/json"}


def with_collection_link(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with a ``collection`` link added when it has a collection and no such link."""
    links = list(item.get("links") or [])
    if item.get("collection") and not any(link.get("rel") == "collection" for link in links):
        links.append(collection_link(item["collection"]))
    return {**item, "links": links}


def item_dict(scene: SceneMetadata) -> dict[str, Any]:
    """The Item as a JSON-ready dict (plain lists, no tuples), with only its collection link."""
    data = build_item(scene).to_dict(include_self_link=False, transform_hrefs=False)
    data["links"] = [collection_link(scene.collection)]
    data["geometry"] = json.loads(json.dumps(data["geometry"]))
    return data
