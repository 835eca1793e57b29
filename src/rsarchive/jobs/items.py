"""From the stages' typed scene metadata and stored object records to the catalog's typed
inputs (:class:`rsarchive.catalog.SceneMetadata`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyproj import Geod
from shapely.geometry import shape

import rsarchive
from rsarchive.catalog import (
    AssetInput,
    BandInfo,
    GeometricAccuracy,
    Grid,
    Level0Quality,
    ProcessingInfo,
    Reception,
    SceneMetadata,
    ViewGeometry,
)
from rsarchive.errors import UsageError
from rsarchive.i18n import bilingual
from rsarchive.storage.records import ObjectRecord

if TYPE_CHECKING:
    from rsarchive.level0.quality import QualityRecord
    from rsarchive.product.metadata import Accuracy, ProductMetadata
    from rsarchive.raw.metadata import RawSceneMetadata

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
RADIANCE_UNIT = "W m-2 sr-1 um-1"
MISSION_PLATFORM = {"vnredsat1": "vnredsat-1"}


def level0_counts(quality: QualityRecord) -> dict[str, int]:
    """The catalog's level-0 quality counts from the decoder's quality record."""
    return Level0Quality.from_record(quality).as_dict()


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _platform(mission: str) -> str:
    return MISSION_PLATFORM.get(mission, mission)


def _file_asset(key: str, name: str, record: ObjectRecord, href: str, media_type: str, roles: tuple[str, ...],
                title: str | None = None, bands: tuple[BandInfo, ...] = (), grid: Grid | None = None,
                quality_band: bool = False) -> AssetInput:
    return AssetInput(key=key, href=href, media_type=media_type, roles=roles, title=title or name,
                      checksum=record.checksum, size=record.size, bands=bands, grid=grid, quality_band=quality_band)


def _qa_title(bands: list[str]) -> str:
    """Vietnamese first; ends with the band list in parentheses, which :mod:`rsarchive.cube.bands` reads."""
    return bilingual("Trường bit chất lượng", f"Quality bitfield ({', '.join(bands)})")


def _qa_bands(names: list[str], resolution_m: float | None) -> tuple[BandInfo, ...]:
    """The bands of a QA file: one uint16 bitfield per data band it describes, in file order (no nodata
    value: bit 0 says where there is no data)."""
    return tuple(BandInfo(name=str(b), data_type="uint16", nodata=None, spatial_resolution=resolution_m)
                 for b in names)


def level0_scene(*, item_id: str, mission: str, href: str, record: ObjectRecord, reception: Reception,
                 quality: QualityRecord, start: dt.datetime, end: dt.datetime, footprint: dict[str, Any],
                 security: str | None, profile: str) -> SceneMetadata:
    """The level-0 item: the downlink as received (never served as imagery, Art. 5.2)."""
    asset = AssetInput(key="level0", href=href, media_type="application/octet-stream", roles=("data", "level0"),
                       title=bilingual(f"Dòng CADU mức 0 (cấu hình {profile})", f"Level-0 CADU stream ({profile} profile)"), checksum=record.checksum, size=record.size)
    return SceneMetadata(
        item_id=item_id, collection=f"{mission}-level0", form="level0", datetime=start, start_datetime=start,
        end_datetime=end, footprint=footprint, assets=(asset,), reception=reception,
        platform=_platform(mission), mission=_platform(mission), security=security,  # type: ignore[arg-type]
        processing=ProcessingInfo(level="L0", software={"rsarchive": rsarchive.__version__},
                                  lineage=f"received at {reception.station or 'the ground station'}; "
                                          f"sha256 {record.sha256}"),
        datastrip_id=item_id, extra_properties={"rsarchive:level0_quality": level0_counts(quality)},
    )


def raw_scene(meta: RawSceneMetadata, records: Mapping[str, ObjectRecord], hrefs: Mapping[str, str],
              reception: Reception, security: str | None, level0_item: str) -> SceneMetadata:
    """The raw (L1A) item of one scene from its metadata."""
    assets: list[AssetInput] = []
    for band in meta.bands:
        info = BandInfo(name=band.name, common_name=band.common_name, center_wavelength=band.center_wavelength_um,
                        full_width_half_max=band.full_width_half_max_um, data_type=band.data_type,
                        nodata=band.nodata, scale=band.scale, offset=band.offset, unit=RADIANCE_UNIT,
                        solar_illumination=band.esun_w_m2_um)
        grid = Grid(epsg=None, transform=None, shape=(band.lines.count, band.detectors))
        assets.append(_file_asset(band.name, band.file, records[band.file], hrefs[band.file], COG,
                                  ("data", "radiance"), bilingual(f"{band.name} bức xạ (hình học ảnh chụp, RPC)",
                                            f"{band.name} radiance (sensor geometry, RPC)"),
                                  (info,), grid))
    for qa in meta.qa.files:
        name = qa.file
        key = "qa" if name == "QA.tif" else name.removesuffix(".tif").lower()
        assets.append(_file_asset(key, name, records[name], hrefs[name], COG, ("quality", "qa"),
                                  _qa_title(qa.bands), _qa_bands(qa.bands, None),
                                  quality_band=True))
    assets.append(_file_asset("metadata", "metadata.json", records["metadata.json"], hrefs["metadata.json"],
                              "application/json", ("metadata",), bilingual("Siêu dữ liệu xử lý", "Processing metadata (rsarchive-raw/1)")))
    if meta.geometry is None:
        raise UsageError(f"raw scene {meta.scene_id} has no footprint (its ancillary could not locate it)")
    sun = meta.sun
    view = ViewGeometry(sun_azimuth=sun.azimuth_deg, sun_elevation=90.0 - sun.zenith_deg) if sun else None
    mission = meta.mission
    return SceneMetadata(
        gsd=nominal_gsd(meta),
        item_id=meta.scene_id, collection=f"{mission}-raw", form="raw", datetime=_time(meta.centre_utc),
        start_datetime=_time(meta.start_utc), end_datetime=_time(meta.end_utc),
        footprint=meta.geometry.footprint, assets=tuple(assets), reception=reception, platform=_platform(mission),
        mission=_platform(mission), security=security, view=view,  # type: ignore[arg-type]
        processing=ProcessingInfo(
            level="L1A", software={"rsarchive": rsarchive.__version__}, cpf_version=meta.cpf.version,
            lineage=f"level-0 {level0_item} (sha256 {meta.downlink.sha256}) decoded, equalised with "
                    f"CPF {meta.cpf.version}, dead detectors filled"),
        scene_id=meta.scene_id, datastrip_id=level0_item,
        extra_properties={"rsarchive:level0_quality": level0_counts(meta.level0_quality),
                          "rsarchive:partial": meta.partial},
    )


def nominal_gsd(meta: RawSceneMetadata) -> float | None:
    """The finest band's ground sample distance (m), estimated from the approximate footprint (ellipsoid, h = 0)
    and the band's lines × detectors: √(footprint area / pixels), to 0.1 m.  Circular 09/2017/TT-BTNMT, Art. 7.1(n)
    asks the ground resolution of raw data too; the product's grid gives the exact one."""
    if meta.geometry is None:
        return None
    area_m2 = abs(Geod(ellps="WGS84").geometry_area_perimeter(shape(meta.geometry.footprint))[0])
    pixels = [band.lines.count * band.detectors for band in meta.bands if band.lines.count and band.detectors]
    if not area_m2 or not pixels:
        return None
    return round((area_m2 / max(pixels)) ** 0.5, 1)


def product_scene(meta: ProductMetadata, records: Mapping[str, ObjectRecord], hrefs: Mapping[str, str],
                  reception: Reception, security: str | None, level0_item: str) -> SceneMetadata:
    """The product (L2A) item of one scene from its metadata."""
    grids = {name: Grid(epsg=g.epsg, transform=tuple(g.transform), shape=tuple(g.shape))  # type: ignore[arg-type]
             for name, g in meta.grids.items()}
    assets: list[AssetInput] = []
    for band in meta.bands:
        info = BandInfo(name=band.name, common_name=band.common_name, center_wavelength=band.center_wavelength_um,
                        full_width_half_max=band.full_width_half_max_um, data_type=band.data_type,
                        nodata=band.nodata, scale=band.scale, offset=band.offset, unit=None,
                        spatial_resolution=band.resolution_m, solar_illumination=band.esun_w_m2_um)
        assets.append(_file_asset(band.name, band.file, records[band.file], hrefs[band.file], COG,
                                  ("data", "reflectance"), bilingual(f"{band.name} phản xạ đỉnh khí quyển", f"{band.name} TOA reflectance"), (info,),
                                  grids[band.grid]))
    for qa in meta.qa.files:
        name = qa.file
        key = "qa" if name == "QA.tif" else name.removesuffix(".tif").lower()
        resolution = qa.resolution_m if qa.resolution_m is not None else 10
        grid = grids["pan"] if resolution < 5 else grids["ms"]
        assets.append(_file_asset(key, name, records[name], hrefs[name], COG, ("quality", "qa"),
                                  _qa_title(qa.bands), _qa_bands(qa.bands, qa.resolution_m),
                                  grid, quality_band=True))
    if meta.thumbnail is not None:
        name = meta.thumbnail.file
        assets.append(_file_asset("thumbnail", name, records[name], hrefs[name], "image/png", ("thumbnail",),
                                  bilingual("Ảnh thu nhỏ màu tự nhiên", "True-colour thumbnail")))
    if meta.quicklook is not None:
        name = meta.quicklook.file
        assets.append(_file_asset("quicklook", name, records[name], hrefs[name], meta.quicklook.media_type,
                                  ("overview",), bilingual("Ảnh xem nhanh màu tự nhiên", "True-colour quicklook")))
    assets.append(_file_asset("metadata", "metadata.json", records["metadata.json"], hrefs["metadata.json"],
                              "application/json", ("metadata",), bilingual("Siêu dữ liệu xử lý", "Processing metadata (rsarchive-product/1)")))
    v = meta.view
    view = ViewGeometry(sun_azimuth=v.sun_azimuth, sun_elevation=v.sun_elevation, off_nadir=v.off_nadir,
                        incidence_angle=v.incidence_angle, azimuth=v.azimuth)
    geo = meta.accuracy.geolocation
    accuracy = GeometricAccuracy(rmse_m=geo.rmse_m, gcp_count=geo.count,  # type: ignore[arg-type]
                                 method=geo.method or "reference-image") if geo is not None else None
    mission = meta.mission or ""
    return SceneMetadata(
        item_id=meta.product_id, collection=f"{mission}-product", form="product", datetime=_time(meta.datetime),
        start_datetime=_time(meta.start_utc), end_datetime=_time(meta.end_utc), footprint=meta.footprint,  # type: ignore[arg-type]
        assets=tuple(assets), reception=reception, platform=_platform(mission), mission=_platform(mission),
        security=security, view=view, cloud_cover=meta.eo_cloud_cover,  # type: ignore[arg-type]
        gsd=meta.grids["ms"].resolution_m, geometric_accuracy=accuracy,
        processing=ProcessingInfo(
            level="L2A", software=dict(meta.lineage.software), cpf_version=meta.lineage.cpf_version,
            lineage=f"raw scene {meta.scene_id} → TOA reflectance, orthorectified to {meta.proj_code} "
                    f"({meta.refinement})"),
        scene_id=meta.scene_id, datastrip_id=level0_item,
        extra_properties={
            "rsarchive:cloud_class": meta.cloud.class_,
            "rsarchive:refinement": meta.refinement,
            "rsarchive:degraded": meta.degraded,
            "rsarchive:accuracy": _accuracy_summary(meta.accuracy),
        },
    )


def _accuracy_summary(accuracy: Accuracy) -> dict[str, Any]:
    geo = accuracy.geolocation
    b2b = accuracy.band_to_band
    return {
        "rmse_m": geo and geo.rmse_m, "rmse_px": geo and geo.rmse_px, "ce90_m": geo and geo.ce90_m,
        "ce90_px": geo and geo.ce90_px, "band_to_band_max_rms_px": b2b.max_rms_px if b2b else None,
        "rpc_fit_max_rms_px": max((f.rms_px or 0.0 for f in accuracy.rpc_fit.values()), default=None),
        "reference": accuracy.reference.kind,
        # per band: absolute (against the reference orthoimage; null without one) and relative (band-to-band)
        "bands": {name: {"absolute_rmse_m": rec.absolute.rmse_m if rec.absolute else None,
                         "absolute_ce90_m": rec.absolute.ce90_m if rec.absolute else None,
                         "relative_rmse_m": rec.relative.rmse_m if rec.relative else None,
                         "relative_ce90_m": rec.relative.ce90_m if rec.relative else None}
                  for name, rec in accuracy.bands.items()},
    }
