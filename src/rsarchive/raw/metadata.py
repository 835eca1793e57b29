"""``metadata.json`` of a raw (L1A) scene, schema ``rsarchive-raw/1``: the typed model.

:class:`RawSceneMetadata` is what the raw stage returns and what the product stage and
the catalog read; it becomes JSON only in ``metadata.json``
(:meth:`~rsarchive.metadata_file.MetadataFile.write` / ``read``).  All times are ISO 8601
UTC with ``Z``; radiance in W m⁻² sr⁻¹ µm⁻¹ (radiance = count · scale + offset: the very
numbers written in the COG).  The QA bits are :data:`rsarchive.radiometry.qa.QA_BITS`.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_serializer, field_validator

from rsarchive.errors import UsageError
from rsarchive.level0.quality import QualityRecord
from rsarchive.metadata_file import MetadataFile, Record, absent, load_json
from rsarchive.radiometry.qa import QA_BITS

__all__ = ["METADATA_FORMAT", "CHUNK_STATS_FIELDS", "Ancillary", "BandFile", "BandStatistics", "QaFile", "QaRef", "QaSection",
           "RawBand", "RawSceneMetadata", "RpcFitRecord", "RpcFitStats", "SceneGeometry", "SunAtCentre", "ancillary_window",
           "iso", "now_utc", "qa_section", "read_raw_metadata", "statistics_from_chunks"]

METADATA_FORMAT = "rsarchive-raw/1"
CHUNK_STATS_FIELDS = ("valid", "sum", "sumsq", "min", "max", "saturated", "filled", "nodata", "pixels")

Number = int | float
"""A number as computed (kept as int or float: the JSON form is the one written before the models)."""


class LineRange(Record):
    """Line counters of a band in the scene."""

    first: int
    last: int
    count: int


class Level0Lines(Record):
    """What level 0 delivered for a band's lines in this scene."""

    lines: int
    lines_valid: int
    lines_missing: int
    lines_unreadable: int


class BandStatistics(Record):
    """Radiance of the valid pixels as stored (None when there is none) and pixel shares (%)."""

    minimum: float | None
    maximum: float | None
    mean: float | None
    stddev: float | None
    valid_pixels: int
    valid_percent: Number
    nodata_percent: Number
    saturated_percent: Number
    filled_percent: Number


class QaRef(Record):
    """Where a band's QA bitfield is: a QA file and its band (1-based)."""

    file: str
    band: int


class RpcFitStats(Record):
    """How well the RPC00B model fits the sensor model: residuals in pixels, nodes, height range."""

    rms_px: float
    max_px: float
    check_rms_px: float
    check_max_px: float
    nodes: int
    height_range_m: list[float]


class RpcFitRecord(RpcFitStats):
    """The RPC00B model fitted to the sensor model; it is in the band's COG as GDAL RPC metadata
    (integer line/sample = pixel centre)."""

    in_file: bool


class BandFile(Record):
    """A band's file and how its counts become a physical quantity: value = count · scale + offset."""

    name: str
    common_name: str | None
    center_wavelength_um: float
    full_width_half_max_um: float
    esun_w_m2_um: float | None
    file: str
    scale: float
    offset: float
    nodata: int
    units: str
    data_type: str


class RawBand(BandFile):
    """One CPF band of the scene (uint16 radiance COG, lines × detectors, no georeference)."""

    id: int
    lines: LineRange
    detectors: int
    line_period_s: float
    start_utc: str | None
    end_utc: str | None
    dead_detectors: list[int] = Field(description="CPF indices (filled from neighbours, QA bit 2)")
    level0: Level0Lines
    statistics: BandStatistics
    qa: QaRef
    rpc: RpcFitRecord | None = Field(None, description="None when the ancillary cannot locate the scene")


class QaFile(Record):
    """One multi-band QA COG: ``QA.tif`` for the reference band's grid, ``QA_<band>.tif`` for the others."""

    file: str
    bands: list[str]
    resolution_m: float | None = absent()


class QaSection(Record):
    """The QA files and what their bits mean."""

    files: list[QaFile]
    data_type: str = "uint16"
    nodata: None = None
    bits: dict[str, str]
    reserved_bits: str = "7-15"
    overview_resampling: str = "mode"
    terrain_occlusion: dict[str, Any] | None = absent()
    """Product level only (:mod:`rsarchive.geometry.occlusion`)."""


class DownlinkRef(Record):
    path: str
    sha256: str
    bytes: int
    profile: str


class CpfRef(Record):
    version: str
    mission: str
    source: str


class Software(Record):
    name: str
    version: str


class Temperature(Record):
    """Focal-plane temperature over the scene's lines (°C)."""

    t_ref_c: float
    min_c: float | None
    max_c: float | None


class Ephemeris(Record):
    frame: str
    time: list[str | None]
    position_m: list[list[float]]
    velocity_m_s: list[list[float]]


class Attitude(Record):
    convention: str
    time: list[str | None]
    quaternion: list[list[float]]


class Housekeeping(Record):
    time: list[str | None]
    focal_plane_temp_c: list[float]


class Ancillary(Record):
    """Ephemeris, attitude and housekeeping samples covering the scene ± ``margin_s``."""

    margin_s: float
    ephemeris: Ephemeris
    attitude: Attitude
    housekeeping: Housekeeping
    degraded_lines: dict[str, int] = Field(default_factory=dict, description="band → lines flagged QA bit 4")


class SceneGeometry(Record):
    """Centre and footprint from the decoded ancillary (ellipsoid, h = 0): approximate until the product."""

    centre_lat: float
    centre_lon: float
    height_m: float
    footprint: dict[str, Any] = Field(description="GeoJSON Polygon")
    note: str


class SunAtCentre(Record):
    """Geometric sun angles at the scene centre, when the centre line is seen (stamp + half a line period)."""

    zenith_deg: float
    azimuth_deg: float
    earth_sun_distance_au: float
    at_utc: str | None
    note: str


class RawSceneMetadata(MetadataFile):
    """``metadata.json`` of a raw scene (:data:`METADATA_FORMAT`)."""

    format: Literal["rsarchive-raw/1"] = METADATA_FORMAT
    level: Literal["raw"] = "raw"
    scene_id: str = Field(description="<mission>_<YYYYMMDDThhmmss>_<pass>_<NNN> (rsarchive.raw.scenes)")
    datastrip_id: str = Field(description="the scene id without _<NNN>")
    scene_index: int
    mission: str
    pass_id: str
    partial: bool = Field(description="the datastrip ends inside the scene")
    start_utc: str | None = Field(description="stamp (start of integration) of the reference band's first line")
    end_utc: str | None
    centre_utc: str | None
    reference_band: str = Field(description="the band scenes are counted in (longest line period)")
    downlink: DownlinkRef
    cpf: CpfRef
    software: Software
    created_utc: str
    bands: list[RawBand] = Field(description="one per CPF band, in CPF order")
    qa: QaSection
    level0_quality: QualityRecord = Field(description="the decoder's quality record of the whole downlink")
    temperature: Temperature
    ancillary: Ancillary
    geometry: SceneGeometry | None = Field(description="None when the ancillary cannot locate the scene")
    sun: SunAtCentre | None
    notes: list[str] = Field(description="anything unusual (missing housekeeping, bands without valid lines …)")

    @field_validator("level0_quality", mode="before")
    @classmethod
    def _quality(cls, value: Any) -> QualityRecord:
        return value if isinstance(value, QualityRecord) else QualityRecord.from_dict(value)

    @field_serializer("level0_quality")
    def _quality_json(self, value: QualityRecord) -> dict[str, Any]:
        return value.to_dict()

    def band(self, name: str) -> RawBand:
        for band in self.bands:
            if band.name == name:
                return band
        raise KeyError(name)


def read_raw_metadata(raw_dir: Path) -> RawSceneMetadata:
    """The metadata of the raw scene directory ``raw_dir`` (its ``metadata.json``)."""
    path = Path(raw_dir) / "metadata.json"
    if not path.is_file():
        raise UsageError(f"{raw_dir} is not a raw scene directory (no metadata.json)")
    data = load_json(path)
    found = data.get("format") if isinstance(data, dict) else None
    if found != METADATA_FORMAT:
        raise UsageError(f"{path}: format {found!r}, expected {METADATA_FORMAT}")
    return RawSceneMetadata.from_dict(data, str(path))


def iso(t: Any) -> str | None:
    """datetime64 → ISO 8601 UTC with ``Z`` (microseconds); None for NaT."""
    value = np.datetime64(t, "ns")
    if np.isnat(value):
        return None
    return str(np.datetime_as_string(value, unit="us")) + "Z"


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def statistics_from_chunks(chunks: np.ndarray, scale: float, offset: float) -> BandStatistics:
    """Combine per-chunk count statistics (rows of :data:`CHUNK_STATS_FIELDS`) into radiance statistics."""
    c = np.asarray(chunks, dtype=np.float64).reshape(-1, len(CHUNK_STATS_FIELDS))
    valid, total, total_sq, lo, hi, sat, filled, nodata, pixels = (c[:, k] for k in range(c.shape[1]))
    n = float(valid.sum())
    n_pix = float(pixels.sum())
    pct = (lambda v: round(100.0 * float(v.sum()) / n_pix, 6) if n_pix else 0.0)  # noqa: E731
    out: dict[str, Any] = {"minimum": None, "maximum": None, "mean": None, "stddev": None,
                           "valid_pixels": int(n), "valid_percent": round(100.0 * n / n_pix, 6) if n_pix else 0.0,
                           "nodata_percent": pct(nodata), "saturated_percent": pct(sat),
                           "filled_percent": pct(filled)}
    if n > 0:
        mean_c = float(total.sum()) / n
        var_c = max(float(total_sq.sum()) / n - mean_c * mean_c, 0.0)
        out.update(minimum=float(lo.min()) * scale + offset, maximum=float(hi.max()) * scale + offset,
                   mean=mean_c * scale + offset, stddev=float(np.sqrt(var_c)) * scale)
    return BandStatistics(**out)


def ancillary_window(ancillary: Any, start: np.datetime64, end: np.datetime64, margin_s: float,
                     degraded_lines: dict[str, int]) -> Ancillary:
    """The ephemeris/attitude/housekeeping samples within ``[start − margin, end + margin]``."""
    lo = np.datetime64(start, "ns") - np.int64(round(margin_s * 1e9)) * np.timedelta64(1, "ns")
    hi = np.datetime64(end, "ns") + np.int64(round(margin_s * 1e9)) * np.timedelta64(1, "ns")

    def pick(times: np.ndarray) -> np.ndarray:
        return (times >= lo) & (times <= hi)

    def isos(times: np.ndarray) -> list[str | None]:
        return [iso(t) for t in times]

    e = pick(ancillary.ephemeris_times)
    a = pick(ancillary.attitude_times)
    h = pick(ancillary.housekeeping_times)
    return Ancillary(
        margin_s=margin_s,
        ephemeris=Ephemeris(frame="ITRF/WGS84 ECEF", time=isos(ancillary.ephemeris_times[e]),
                            position_m=ancillary.positions_m[e].tolist(),
                            velocity_m_s=ancillary.velocities_m_s[e].tolist()),
        attitude=Attitude(convention="unit quaternion q0 (scalar), q1, q2, q3: body → ECEF",
                          time=isos(ancillary.attitude_times[a]), quaternion=ancillary.quaternions[a].tolist()),
        housekeeping=Housekeeping(time=isos(ancillary.housekeeping_times[h]),
                                  focal_plane_temp_c=ancillary.focal_plane_temp_c[h].tolist()),
        degraded_lines=degraded_lines,
    )


def qa_section(files: list[QaFile], terrain_occlusion: dict[str, Any] | None = None) -> QaSection:
    return QaSection(files=files, bits={str(bit): text for bit, text in QA_BITS.items()},
                     terrain_occlusion=terrain_occlusion)
