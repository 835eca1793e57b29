"""Typed inputs of the item builders: what the pipeline knows about one scene.

The ingest pipeline (level-0 decoding, radiometry, geometry, storage) fills these
plain dataclasses; :mod:`rsarchive.catalog.items` turns them into STAC Items.  They
hold numbers and strings only (no arrays, no I/O), so tests and benchmarks build them
directly (:mod:`rsarchive.testing.items`).

Conventions
-----------
* Geometry is WGS84 longitude/latitude; ``footprint`` is a GeoJSON Polygon or
  MultiPolygon mapping (what ``shapely.geometry.mapping`` returns).
* ``Grid.transform`` is the affine of the raster in rasterio order
  ``(a, b, c, d, e, f)``: ``x = a*col + b*row + c``, ``y = d*col + e*row + f``.
  ``Grid.shape`` is ``(rows, cols)``.
* Checksums are multihash hex strings as the storage layer gives them:
  ``"1220" + sha256 hex`` (the STAC file extension's ``file:checksum``).
* Datetimes are timezone-aware (UTC).
* ``BandInfo.scale``/``offset``: physical value = ``scale * DN + offset`` -- the same
  numbers written in the COG (radiance for ``raw``, reflectance ×10 000 for ``product``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from rsarchive.errors import CatalogError

__all__ = [
    "ACQUISITION_ROUTES",
    "AcquisitionRoute",
    "AssetInput",
    "BandInfo",
    "Form",
    "GeometricAccuracy",
    "Grid",
    "Level0Quality",
    "Orbit",
    "ProcessingInfo",
    "Reception",
    "SECURITY_LEVELS",
    "SceneMetadata",
    "SecurityClassification",
    "ViewGeometry",
]

Form = Literal["level0", "raw", "product", "original"]
"""The forms of the law (ARCHITECTURE.md, 'Levels and forms'); ``copy`` is never catalogued apart."""

AcquisitionRoute = Literal["station", "purchase", "exchange", "aid", "foreign-station"]
ACQUISITION_ROUTES: dict[str, str] = {
    "station": "5.1a",          # received at a Vietnamese ground station (plans, ad-hoc tasks)
    "purchase": "5.1b",         # bought from abroad with state budget
    "exchange": "5.1c",         # exchange / cooperation
    "aid": "5.1c",              # aid
    "foreign-station": "5.1d",  # foreign-provided or joint-venture stations
}
"""Acquisition route → the clause of Decision 81/2010, Art. 5.1 it falls under."""

SecurityClassification = Literal["unclassified", "confidential", "secret", "top-secret"]
SECURITY_LEVELS: tuple[str, ...] = ("unclassified", "confidential", "secret", "top-secret")
"""Ordered: Vietnamese state-secret degrees Mật, Tối mật, Tuyệt mật above 'unclassified'.
Only ``unclassified`` metadata is ever published."""


@dataclass(frozen=True)
class BandInfo:
    """One spectral band of a raster asset (eo:bands + raster:bands)."""

    name: str                                  # "B1" … "PAN"
    common_name: str | None = None             # eo common name: blue, green, red, nir, pan
    center_wavelength: float | None = None     # µm
    full_width_half_max: float | None = None   # µm
    data_type: str = "uint16"                  # raster data type (numpy name)
    nodata: float | None = 0
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None                    # e.g. "W m-2 sr-1 um-1"; None for reflectance
    spatial_resolution: float | None = None    # metres
    solar_illumination: float | None = None    # W m-2 um-1 (eo)


@dataclass(frozen=True)
class Grid:
    """The raster grid of an asset: CRS, affine transform and shape."""

    epsg: int | None                           # None for sensor geometry (raw)
    transform: tuple[float, float, float, float, float, float] | None
    shape: tuple[int, int]                     # rows, cols
    wkt2: str | None = None                    # when there is no EPSG code


@dataclass(frozen=True)
class AssetInput:
    """One stored file of the scene (a COG, the QA band, the thumbnail, the level-0 file …)."""

    key: str                                   # asset key: "B1", "qa", "thumbnail", "level0"
    href: str                                  # where it is stored (storage key URL)
    media_type: str
    roles: tuple[str, ...] = ("data",)
    title: str | None = None
    checksum: str | None = None                # multihash "1220<sha256 hex>"
    size: int | None = None                    # bytes
    bands: tuple[BandInfo, ...] = ()
    grid: Grid | None = None
    quality_band: bool = False                 # the QA bitfield band (classification:bitfields)


@dataclass(frozen=True)
class Orbit:
    """Orbit of the acquisition (sat extension)."""

    absolute_orbit: int
    orbit_state: Literal["ascending", "descending", "geostationary"]
    relative_orbit: int | None = None
    platform_international_designator: str | None = None   # e.g. "2013-021B"
    anx_datetime: dt.datetime | None = None


@dataclass(frozen=True)
class ViewGeometry:
    """Sun and view angles at the scene centre, degrees (view extension)."""

    sun_azimuth: float
    sun_elevation: float
    off_nadir: float | None = None
    incidence_angle: float | None = None
    azimuth: float | None = None


@dataclass(frozen=True)
class Reception:
    """How the data reached the archive (the station's reception record, or a registration)."""

    route: AcquisitionRoute
    station: str | None = None                 # ground station id, e.g. "VNSC-HN"
    pass_id: str | None = None
    plan_ref: str | None = None                # acquisition plan or ad-hoc task reference
    aos: dt.datetime | None = None
    los: dt.datetime | None = None
    provider: str | None = None                # foreign provider (originals)
    received: dt.datetime | None = None        # date received (originals, Art. 13.4)


@dataclass(frozen=True)
class Level0Quality:
    """Counts from the level-0 quality record (``rsarchive.level0.quality.QualityRecord``)."""

    cadus: int = 0
    sync_losses: int = 0
    frames_bad_fecf: int = 0
    frames_lost: int = 0
    packets_lost: int = 0
    lines_expected: int = 0
    lines_missing: int = 0
    lines_unreadable: int = 0

    @classmethod
    def from_record(cls, record: Any) -> Level0Quality:
        """Sum the per-channel, per-APID and per-band counts of a level-0 ``QualityRecord``."""
        def total(group: str, name: str) -> int:
            values = getattr(record, group, {}) or {}
            items = values.values() if isinstance(values, dict) else values
            return int(sum(getattr(v, name, 0) or 0 for v in items))

        return cls(
            cadus=int(getattr(record, "cadus_found", 0)),
            sync_losses=int(getattr(record, "sync_losses", 0)),
            frames_bad_fecf=int(getattr(record, "frames_bad_fecf", 0)),
            frames_lost=total("vcs", "frames_lost"),
            packets_lost=total("apids", "packets_lost"),
            lines_expected=total("bands", "lines_expected"),
            lines_missing=total("bands", "lines_missing"),
            lines_unreadable=total("bands", "lines_unreadable"),
        )

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class GeometricAccuracy:
    """Measured geometric accuracy of a product (against GCPs or a reference)."""

    rmse_m: float
    ce90_m: float | None = None
    gcp_count: int = 0
    method: str = "gcp"                        # gcp | reference-image | model

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rmse_m": self.rmse_m, "gcp_count": self.gcp_count, "method": self.method}
        if self.ce90_m is not None:
            out["ce90_m"] = self.ce90_m
        return out


@dataclass(frozen=True)
class ProcessingInfo:
    """How the item was made (processing extension)."""

    level: str                                 # "L0", "L1A", "L2A", or the provider's level
    software: dict[str, str]                   # {"rsarchive": "0.1.0", "gdal": "3.6.2"}
    lineage: str                               # human-readable: inputs (with checksums) and steps
    cpf_version: str | None = None             # calibration parameter file version
    facility: str | None = None
    datetime: dt.datetime | None = None        # when it was processed


@dataclass(frozen=True)
class SceneMetadata:
    """Everything the item builders need for one scene (or one level-0 downlink, one original)."""

    item_id: str
    collection: str
    form: Form
    datetime: dt.datetime
    footprint: dict[str, Any]                  # GeoJSON Polygon/MultiPolygon, lon/lat
    assets: tuple[AssetInput, ...]
    reception: Reception
    platform: str = "vnredsat-1"
    instruments: tuple[str, ...] = ("naomi",)
    constellation: str | None = None
    mission: str | None = "vnredsat-1"
    start_datetime: dt.datetime | None = None
    end_datetime: dt.datetime | None = None
    security: SecurityClassification | None = None   # None: held, never published until classified
    orbit: Orbit | None = None
    view: ViewGeometry | None = None
    processing: ProcessingInfo | None = None
    cloud_cover: float | None = None           # percent, 0–100
    gsd: float | None = None                   # metres
    level0_quality: Level0Quality | None = None
    geometric_accuracy: GeometricAccuracy | None = None
    scene_id: str | None = None                # the scene in its datastrip (raw/product)
    datastrip_id: str | None = None            # the level-0 item it came from
    created: dt.datetime | None = None
    extra_properties: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if self.datetime.tzinfo is None:
            problems.append("datetime must be timezone-aware (UTC)")
        if self.security is not None and self.security not in SECURITY_LEVELS:
            problems.append(f"security {self.security!r} is not one of {', '.join(SECURITY_LEVELS)}")
        if self.reception.route not in ACQUISITION_ROUTES:
            problems.append(f"reception.route {self.reception.route!r} is not one of {', '.join(ACQUISITION_ROUTES)}")
        if self.footprint.get("type") not in ("Polygon", "MultiPolygon"):
            problems.append("footprint must be a GeoJSON Polygon or MultiPolygon")
        if self.cloud_cover is not None and not 0 <= self.cloud_cover <= 100:
            problems.append(f"cloud_cover {self.cloud_cover} is outside 0–100")
        keys = [a.key for a in self.assets]
        if len(set(keys)) != len(keys):
            problems.append(f"duplicate asset keys {sorted(keys)}")
        if problems:
            raise CatalogError(f"scene {self.item_id!r}: " + "; ".join(problems))
