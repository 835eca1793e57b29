"""``metadata.json`` of a raw (L1A) scene: what the catalog and the geometry stage need.

Schema ``rsarchive-raw/1`` (all times ISO 8601 UTC with ``Z``; radiance in
W m⁻² sr⁻¹ µm⁻¹)::

    format            "rsarchive-raw/1"
    level             "raw"  (L1A: radiometrically equalised, sensor geometry)
    scene_id          "<mission>_<YYYYMMDDThhmmss>_<pass>_<NNN>"  (rsarchive.raw.scenes)
    datastrip_id      the scene id without "_<NNN>"
    scene_index       NNN as an integer
    mission, pass_id
    partial           true when the datastrip ends inside the scene
    start_utc, end_utc, centre_utc
                      time stamps (start of integration) of the scene's first, last and middle
                      lines of the reference band
    reference_band    the band scenes are counted in (longest line period)
    downlink          {path, sha256, bytes, profile}
    cpf               {version, mission, source}
    software          {name, version}
    created_utc
    bands[]           one per CPF band, in CPF order:
        name, id, common_name, center_wavelength_um, full_width_half_max_um, esun_w_m2_um,
        file          "<band>.tif" (uint16 COG, lines × detectors, no georeference)
        data_type "uint16", scale, offset, nodata (0), units "W m-2 sr-1 um-1"
                      radiance = count · scale + offset  (the very numbers written in the COG)
        lines {first, last, count}  line counters of the band in this scene
        detectors, line_period_s, start_utc, end_utc
        dead_detectors  CPF indices (filled from neighbours, QA bit 2)
        level0        {lines, lines_valid, lines_missing, lines_unreadable} in this scene
        statistics    {minimum, maximum, mean, stddev (radiance of valid pixels, as stored),
                       valid_pixels, valid_percent, nodata_percent, saturated_percent, filled_percent}
        qa            {file, band}  where this band's QA bitfield is
        rpc           null (ancillary cannot locate the scene), or {in_file: true, rms_px, max_px,
                      check_rms_px, check_max_px, nodes, height_range_m}: the RPC00B model fitted to
                      the sensor model (rsarchive.geometry.rpc) is in the band's COG as GDAL RPC
                      metadata (integer line/sample = pixel centre); the residuals are in pixels.
                      A QA file carries the RPC of its first band.
    qa                {files: [{file, bands[]}], data_type "uint16", bits {position: meaning},
                       overview_resampling "mode"}
                      one multi-band QA COG per sensor grid: "QA.tif" for the reference band's
                      grid (one band per spectral band), "QA_<band>.tif" for each other grid (PAN)
    level0_quality    the decoder's quality record of the whole downlink (spec §6)
    temperature       {t_ref_c, min_c, max_c}: focal-plane temperature over the scene's lines
    ancillary         ephemeris/attitude/housekeeping samples covering the scene ± margin
                      {margin_s, ephemeris {time[], position_m[], velocity_m_s[]},
                       attitude {time[], quaternion[]}, housekeeping {time[], focal_plane_temp_c[]},
                       degraded_lines {band: lines flagged QA bit 4}}
    geometry          null when the ancillary cannot locate the scene, else
                      {centre_lat, centre_lon, footprint (GeoJSON Polygon, ellipsoid h = 0,
                       from the ancillary: approximate until the geometry stage refines it)}
    sun               null, or {zenith_deg, azimuth_deg (geometric, at the scene centre, when the
                       centre line is seen: its stamp + half a line period), earth_sun_distance_au,
                       at_utc}
    notes[]           anything unusual (missing housekeeping, bands without valid lines …)
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.radiometry.qa import QA_BITS

__all__ = ["METADATA_FORMAT", "iso", "statistics_from_chunks", "write_metadata", "ancillary_window",
           "CHUNK_STATS_FIELDS"]

METADATA_FORMAT = "rsarchive-raw/1"
CHUNK_STATS_FIELDS = ("valid", "sum", "sumsq", "min", "max", "saturated", "filled", "nodata", "pixels")


def iso(t: Any) -> str | None:
    """datetime64 → ISO 8601 UTC with ``Z`` (microseconds); None for NaT."""
    value = np.datetime64(t, "ns")
    if np.isnat(value):
        return None
    return str(np.datetime_as_string(value, unit="us")) + "Z"


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def statistics_from_chunks(chunks: np.ndarray, scale: float, offset: float) -> dict[str, Any]:
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
    return out


def ancillary_window(ancillary: Any, start: np.datetime64, end: np.datetime64, margin_s: float) -> dict[str, Any]:
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
    return {
        "margin_s": margin_s,
        "ephemeris": {"frame": "ITRF/WGS84 ECEF", "time": isos(ancillary.ephemeris_times[e]),
                      "position_m": ancillary.positions_m[e].tolist(),
                      "velocity_m_s": ancillary.velocities_m_s[e].tolist()},
        "attitude": {"convention": "unit quaternion q0 (scalar), q1, q2, q3: body → ECEF",
                     "time": isos(ancillary.attitude_times[a]), "quaternion": ancillary.quaternions[a].tolist()},
        "housekeeping": {"time": isos(ancillary.housekeeping_times[h]),
                         "focal_plane_temp_c": ancillary.focal_plane_temp_c[h].tolist()},
    }


def qa_section(files: list[dict[str, Any]]) -> dict[str, Any]:
    return {"files": files, "data_type": "uint16", "nodata": None,
            "bits": {str(bit): text for bit, text in QA_BITS.items()}, "reserved_bits": "7-15",
            "overview_resampling": "mode"}


def write_metadata(path: str | Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata.json`` (UTF-8, indented, NaN-free)."""
    text = json.dumps(metadata, indent=1, ensure_ascii=False, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
