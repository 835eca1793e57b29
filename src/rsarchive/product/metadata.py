"""``metadata.json`` of an image product (L2A), schema ``rsarchive-product/1``: the typed model.

:class:`ProductMetadata` is what :func:`rsarchive.product.process.process_product` returns
and what the catalog reads: everything the product's STAC item needs.  Times are ISO 8601
UTC with ``Z``; lon/lat are WGS84 degrees; reflectance = count · scale + offset (the
numbers in the COGs).  Accuracy statistics are displacements of the product from a
reference, in metres and in pixels of the 10 m grid (CE90 = 90th percentile of radial
errors).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from rsarchive.metadata_file import MetadataFile, Record, absent
from rsarchive.raw.metadata import BandFile, QaRef, QaSection, RpcFitStats

__all__ = ["PRODUCT_FORMAT", "Accuracy", "AccuracyReference", "BandAccuracy", "BandShift", "BandToBand",
           "CloudRecord", "DemRecord", "DisplacementStats", "GeometryRecord", "GridRecord", "Lineage",
           "ProductBand", "ProductMetadata", "RefinementRecord", "Thumbnail", "ViewRecord"]

PRODUCT_FORMAT = "rsarchive-product/1"


class GridRecord(Record):
    """A north-up UTM grid: ``transform`` in rasterio order, ``bbox`` in the grid's CRS."""

    proj_code: str = Field(alias="proj:code")
    epsg: int
    shape: list[int] = Field(description="[rows, cols]")
    transform: list[float]
    resolution_m: float
    bbox: list[float]


class ProductBand(BandFile):
    """One band's COG (uint16 TOA reflectance) and the RPC00B model used, after refinement."""

    quantity: str
    resolution_m: float
    grid: Literal["ms", "pan"]
    qa: QaRef
    rpc: dict[str, Any] = Field(description="GDAL key names, lower case (rsarchive.geometry.rpc.RPCModel.to_dict)")


class Thumbnail(Record):
    file: str
    media_type: str
    shape: list[int]
    bands: list[str]
    stretch: str


class ViewRecord(Record):
    """At the scene centre: the sun and the satellite seen from the ground (degrees)."""

    sun_azimuth: float
    sun_elevation: float
    off_nadir: float
    incidence_angle: float
    azimuth: float | None = Field(description="None at nadir")
    centre_lat: float
    centre_lon: float
    at_utc: str | None


class SunRecord(Record):
    earth_sun_distance_au: float
    zenith: str = Field(description="how the per-pixel zenith was computed")


class CloudRecord(Record):
    """Cloud cover (% of the pixels where blue, green, red and NIR all have data) and its class
    (Circular 10/2015: A < 10 %, B 10–25 %, C ≥ 25 %)."""

    eo_cloud_cover: float | None = Field(alias="eo:cloud_cover")
    class_: str | None = Field(alias="class")
    class_scheme: str | None = absent()
    method: str
    thresholds: dict[str, Any] | None = absent()


class DemRecord(Record):
    used: bool
    file: str | None = absent()
    coverage_percent: float | None = absent()
    height_range_m: list[float] | None = absent()
    missing_value_m: float | None = absent()
    warning: str | None = absent()


class RefinementRecord(Record):
    """``image_affine``: line' = a·line + b·sample + c; sample' = d·line + e·sample + f, applied after the RPC."""

    status: str
    correction: str
    image_affine: list[list[float]] | None
    gcps: int
    rejected: int
    reason: str


class GeometryRecord(Record):
    method: str
    resampling: dict[str, str]
    refinement: RefinementRecord
    dem: DemRecord


class AccuracyReference(Record):
    kind: Literal["orthoimage", "none"]
    file: str | None = absent()
    note: str


class DisplacementStats(Record):
    """Displacements of the product from the reference orthoimage."""

    count: int
    rmse_m: float | None
    rmse_px: float | None
    ce90_m: float | None
    ce90_px: float | None
    mean_east_m: float | None
    mean_north_m: float | None
    max_m: float | None
    pixel_m: float | None = absent()
    rejected: int | None = absent()
    method: str | None = absent()


class BandShift(Record):
    """One band registered against the reference band: mean shift (east, north) in pixels, RMS, CE90."""

    count: int
    rejected: int | None = absent()
    shift_px: list[float] | None
    rms_px: float | None
    rms_m: float | None = absent()
    ce90_m: float | None = absent()
    ce90_px: float | None = absent()


class BandToBand(Record):
    reference_band: str
    method: str
    bands: dict[str, BandShift]
    max_rms_px: float


class AbsoluteAccuracy(Record):
    rmse_m: float | None
    ce90_m: float | None
    rmse_px: float | None
    ce90_px: float | None
    count: int | None
    rejected: int | None
    pixel_m: float | None
    mean_east_m: float | None
    mean_north_m: float | None
    method: str | None


class RelativeAccuracy(Record):
    rmse_m: float | None
    ce90_m: float | None
    count: int | None
    against: str | None = absent()
    note: str | None = absent()


class BandAccuracy(Record):
    absolute: AbsoluteAccuracy | None = Field(description="None without a reference orthoimage")
    relative: RelativeAccuracy | None


class Accuracy(Record):
    """Absolute (against a reference orthoimage, after refinement when refined) and relative accuracy."""

    reference: AccuracyReference
    geolocation: DisplacementStats | None
    before_refinement: DisplacementStats | None
    band_to_band: BandToBand | None
    rpc_fit: dict[str, RpcFitStats]
    dem: DemRecord
    degraded: bool
    warnings: list[str]
    bands: dict[str, BandAccuracy] = Field(default_factory=dict)


class Lineage(Record):
    raw_scene_id: str
    raw_dir: str
    cpf_version: str
    downlink_sha256: str | None
    dem: str | None
    reference: str | None
    software: dict[str, str]


class ProductMetadata(MetadataFile):
    """``metadata.json`` of an image product (:data:`PRODUCT_FORMAT`)."""

    format: Literal["rsarchive-product/1"] = PRODUCT_FORMAT
    level: Literal["product"] = "product"
    processing_level: Literal["L2A"] = "L2A"
    product_id: str = Field(description="<scene_id>_L2A")
    scene_id: str
    datastrip_id: str | None
    mission: str | None
    datetime: str | None = Field(description="centre time of the scene (the raw scene's centre_utc)")
    start_utc: str | None
    end_utc: str | None
    proj_code: str = Field(alias="proj:code", description="EPSG:326NN, the UTM zone of the scene centre")
    grids: dict[str, GridRecord] = Field(description="ms (10 m) and pan (2.5 m, the same extent)")
    footprint: dict[str, Any] | None = Field(description="GeoJSON (Multi)Polygon of the valid pixels, EPSG:4326")
    bbox: list[float] | None
    bands: list[ProductBand] = Field(description="in CPF order")
    qa: QaSection
    thumbnail: Thumbnail | None = Field(description="None without true-colour bands")
    quicklook: Thumbnail | None = absent()
    """The ≈1 000 px browse image (``quicklook.webp``); absent in products made before it existed."""
    view: ViewRecord
    sun: SunRecord
    cloud: CloudRecord
    eo_cloud_cover: float | None = Field(alias="eo:cloud_cover")
    geometry: GeometryRecord
    refinement: str = Field(description="REFINED | NOT_REFINED")
    accuracy: Accuracy
    degraded: bool = Field(description="ancillary interpolated over a gap (lines flagged QA bit 4)")
    degraded_lines: dict[str, int]
    warnings: list[str]
    lineage: Lineage
    created_utc: str

    @field_validator("footprint", mode="before")
    @classmethod
    def _geojson_lists(cls, value: Any) -> Any:
        """GeoJSON as JSON has it: coordinates in lists (shapely's ``mapping`` gives tuples)."""
        def lists(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: lists(x) for k, x in v.items()}
            return [lists(x) for x in v] if isinstance(v, (list, tuple)) else v

        return lists(value)
