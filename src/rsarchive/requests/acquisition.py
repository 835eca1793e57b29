"""Could a Vietnamese station acquire an area in time?  The model behind the purchase check.

The model (simple, and stated with every answer, :data:`MODEL`):

1. **Reception mask.** A station sees a satellite at altitude ``h`` above its elevation mask ``ε`` out
   to the Earth central angle ``λ = arccos(R / (R + h) · cos ε) − ε`` (R = 6371 km), i.e. a ground
   radius ``R · λ``.  Without an on-board recorder a scene is imaged only while the station sees the
   satellite, whose ground track is at most ``h · tan(max off-nadir)`` from the scene: so every vertex
   of the area must lie within ``R · λ − h · tan(off-nadir)`` of the station.  A mission with an
   on-board recorder passes this test anywhere.
2. **Time.** Any point is imageable at least once every ``revisit_days`` (the mission profile's value
   with its roll); an area wider than one swath needs one pass per strip of ``swath_km``, one strip per
   revisit.  Acquisition can start ``tasking_days`` after the check (and not before the period asked),
   must end by the period's end, and the product takes ``delivery_days``: it is in time when that window
   holds ``strips × revisit_days`` days and the product is ready by the date needed.  A period wholly in
   the past cannot be acquired now.
3. **Quality.** The mission's nominal GSD must be at most the finest GSD asked.  Clouds, sun elevation,
   competing tasking and the approved acquisition plan (Decree 03/2019, Art. 15.4 b) are not modelled.

Mission parameters come from the mission profiles (``missions/*.yaml``, section ``acquisition``); the
stations from ``stations.yaml`` (site directory, else the package).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import yaml

from rsarchive.errors import ConfigError
from rsarchive.resources import listing, site_or_shipped

EARTH_RADIUS_KM = 6371.0

MODEL = {
    "vi": "Mô hình: trạm thấy vệ tinh trong vùng thu (bán kính từ độ cao quỹ đạo và góc ngẩng tối thiểu, trừ tầm "
          "chụp nghiêng); mỗi điểm chụp được ít nhất một lần mỗi chu kỳ chụp lặp, mỗi dải rộng bằng bề rộng dải chụp "
          "cần một chu kỳ; cửa sổ thời gian từ ngày có thể lập kế hoạch đến hạn cần dữ liệu trừ thời gian xử lý; độ "
          "phân giải danh định. Không tính mây, góc mặt trời, xung đột kế hoạch chụp và kế hoạch thu nhận đã duyệt.",
    "en": "Model: the station sees the satellite within its reception mask (radius from orbit altitude and minimum "
          "elevation, less the off-nadir reach); every point is imageable at least once per revisit period, one "
          "revisit per swath-wide strip; the window runs from the first plannable day to the date needed less the "
          "processing time; nominal GSD. Clouds, sun elevation, competing tasking and the approved acquisition "
          "plan are not modelled.",
}


@dataclass(frozen=True)
class Mission:
    """A mission's imaging capability (a mission profile's ``acquisition`` section)."""

    name: str
    platform: str
    altitude_km: float
    swath_km: float
    max_off_nadir_deg: float
    revisit_days: int
    gsd_m: float
    onboard_recorder: bool = False

    @property
    def reach_km(self) -> float:
        """How far off its ground track the satellite can image."""
        return self.altitude_km * math.tan(math.radians(self.max_off_nadir_deg))


@dataclass(frozen=True)
class Station:
    """A Vietnamese receiving station."""

    id: str
    name_vi: str
    name_en: str
    lat: float
    lon: float
    min_elevation_deg: float
    missions: tuple[str, ...]
    tasking_days: int = 1
    delivery_days: int = 1

    def mask_radius_km(self, altitude_km: float) -> float:
        """Ground radius within which the station sees a satellite at ``altitude_km``."""
        eps = math.radians(self.min_elevation_deg)
        central = math.acos(EARTH_RADIUS_KM / (EARTH_RADIUS_KM + altitude_km) * math.cos(eps)) - eps
        return EARTH_RADIUS_KM * central


@dataclass(frozen=True)
class Finding:
    """Whether one station can acquire the area with one mission in time, and why (both languages)."""

    station: str
    mission: str
    in_time: bool
    reasons: list[dict[str, str]] = field(default_factory=list)
    earliest_ready: date | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"station": self.station, "mission": self.mission, "in_time": self.in_time, "reasons": self.reasons,
                "earliest_ready": self.earliest_ready.isoformat() if self.earliest_ready else None, **self.facts}


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def load_missions(site: str | None = None) -> dict[str, Mission]:
    """The missions whose profile has an ``acquisition`` section."""
    found = {}
    for name, path in listing("missions", "*.yaml", site).items():
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            spec = raw.get("acquisition")
            if spec:
                stem = name.rsplit(".", 1)[0]
                found[stem] = Mission(name=stem, **spec)
        except (OSError, yaml.YAMLError, TypeError, ValueError) as exc:
            raise ConfigError(f"mission profile {path}: invalid acquisition section ({exc})") from None
    return found


def load_stations(site: str | None = None) -> list[Station]:
    path = site_or_shipped("stations.yaml", site)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return [Station(**{**s, "missions": tuple(s.get("missions") or ())}) for s in raw.get("stations") or []]
    except FileNotFoundError:
        raise ConfigError(f"stations file {path} does not exist") from None
    except (OSError, yaml.YAMLError, TypeError, ValueError) as exc:
        raise ConfigError(f"stations file {path} is not valid: {exc}") from None


def _cross_width_km(area: Any) -> float:
    """The area's smaller extent (km) of its lon/lat bounding box: what the strips must span."""
    west, south, east, north = area.bounds
    mid = math.radians((south + north) / 2)
    width = (east - west) * 111.32 * math.cos(mid)
    height = (north - south) * 110.57
    return max(0.0, min(width, height))


def _vertices(area: Any) -> list[tuple[float, float]]:
    import shapely

    return [(float(x), float(y)) for x, y in shapely.get_coordinates(area)]


def assess(station: Station, mission: Mission, area: Any, start: date, end: date, needed_by: date,
           today: date, max_gsd: float | None = None) -> Finding:
    """Whether ``station`` can acquire ``area`` with ``mission`` in [start, end], ready by ``needed_by``."""
    reasons: list[dict[str, str]] = []
    facts: dict[str, Any] = {"platform": mission.platform, "gsd_m": mission.gsd_m, "revisit_days": mission.revisit_days,
                             "swath_km": mission.swath_km}
    radius = station.mask_radius_km(mission.altitude_km) - mission.reach_km
    farthest = max(great_circle_km(station.lat, station.lon, lat, lon) for lon, lat in _vertices(area))
    facts.update({"mask_radius_km": round(radius, 1), "farthest_km": round(farthest, 1)})
    if not mission.onboard_recorder and farthest > radius:
        reasons.append({"vi": f"Khu vực nằm ngoài vùng thu của trạm ({farthest:.0f} km > {radius:.0f} km) và vệ tinh "
                              f"{mission.platform} không có bộ nhớ trên vệ tinh.",
                        "en": f"The area lies outside the station's reception mask ({farthest:.0f} km > {radius:.0f} km) "
                              f"and {mission.platform} has no on-board recorder."})
    if max_gsd is not None and mission.gsd_m > max_gsd:
        reasons.append({"vi": f"Độ phân giải của {mission.platform} ({mission.gsd_m:g} m) không đạt yêu cầu ({max_gsd:g} m).",
                        "en": f"{mission.platform}'s resolution ({mission.gsd_m:g} m) is coarser than asked ({max_gsd:g} m)."})
    strips = max(1, math.ceil(_cross_width_km(area) / mission.swath_km))
    needed_days = strips * mission.revisit_days
    first = max(start, today + timedelta(days=station.tasking_days))
    last = min(end, needed_by - timedelta(days=station.delivery_days))
    window = (last - first).days + 1
    facts.update({"strips": strips, "days_needed": needed_days, "window_days": max(0, window),
                  "window": [first.isoformat(), last.isoformat()]})
    ready = first + timedelta(days=needed_days - 1 + station.delivery_days)
    if end < first:
        reasons.append({"vi": f"Thời gian dữ liệu yêu cầu ({start} – {end}) đã qua hoặc quá sớm để lập kế hoạch chụp.",
                        "en": f"The period asked ({start} – {end}) is past, or too close to plan an acquisition."})
    elif window < needed_days:
        reasons.append({"vi": f"Cần {needed_days} ngày ({strips} dải × chu kỳ {mission.revisit_days} ngày) nhưng chỉ có "
                              f"{max(0, window)} ngày trước hạn {needed_by}.",
                        "en": f"{needed_days} days are needed ({strips} strips × {mission.revisit_days}-day revisit) but "
                              f"only {max(0, window)} remain before {needed_by}."})
    return Finding(station=station.id, mission=mission.name, in_time=not reasons, reasons=reasons,
                   earliest_ready=ready if not reasons else None, facts=facts)


def assess_all(area: Any, start: date, end: date, needed_by: date, today: date, max_gsd: float | None = None,
               site: str | None = None) -> list[Finding]:
    """Every station × mission it receives (that has an acquisition section)."""
    missions = load_missions(site)
    findings = []
    for station in load_stations(site):
        for name in station.missions:
            if name in missions:
                findings.append(assess(station, missions[name], area, start, end, needed_by, today, max_gsd))
    return findings
