"""Ancillary data: ephemeris, attitude and housekeeping time series.

Packets (spec §3): ephemeris = six float64 (position m, velocity m/s, ITRF);
attitude = four float64 (unit quaternion q0 scalar first, body → ITRF);
housekeeping = one float32 (focal-plane temperature, °C).  All big-endian, after the
secondary header.  Ancillary rates are low (1–10 Hz), so the series are kept in memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rsarchive.level0.profiles import MissionProfile
from rsarchive.level0.quality import QualityRecord
from rsarchive.level0.timecode import LeapSecondTable, cuc_to_utc_array

log = logging.getLogger(__name__)

__all__ = ["AncillaryCollector", "AncillaryData"]

_LAYOUT: dict[str, tuple[str, int]] = {  # kind → (dtype, values)
    "ephemeris": (">f8", 6),
    "attitude": (">f8", 4),
    "housekeeping": (">f4", 1),
}


@dataclass
class AncillaryData:
    """Ancillary time series (times as ``datetime64[ns]`` UTC)."""

    ephemeris_times: np.ndarray = field(default_factory=lambda: np.empty(0, "datetime64[ns]"))
    positions_m: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))
    velocities_m_s: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))
    attitude_times: np.ndarray = field(default_factory=lambda: np.empty(0, "datetime64[ns]"))
    quaternions: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))
    housekeeping_times: np.ndarray = field(default_factory=lambda: np.empty(0, "datetime64[ns]"))
    focal_plane_temp_c: np.ndarray = field(default_factory=lambda: np.empty(0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO times and plain lists."""
        def iso(t: np.ndarray) -> list[str]:
            return [str(s) + "Z" for s in np.datetime_as_string(t, unit="us")]

        return {
            "ephemeris": {"time": iso(self.ephemeris_times), "position_m": self.positions_m.tolist(),
                          "velocity_m_s": self.velocities_m_s.tolist()},
            "attitude": {"time": iso(self.attitude_times), "quaternion": self.quaternions.tolist()},
            "housekeeping": {"time": iso(self.housekeeping_times),
                             "focal_plane_temp_c": self.focal_plane_temp_c.tolist()},
        }


class AncillaryCollector:
    """Parses ancillary packets as they are released and builds :class:`AncillaryData`."""

    def __init__(self, profile: MissionProfile, quality: QualityRecord, leap: LeapSecondTable | None = None) -> None:
        self.q = quality
        self.leap = leap
        self.sec = profile.secondary_header_length
        self.kinds = {apid: kind for kind, apid in profile.ancillary_apids.items() if kind in _LAYOUT}
        self._raw: dict[str, list[bytes]] = {k: [] for k in _LAYOUT}

    def add(self, apid: int, pkt: bytes) -> None:
        kind = self.kinds[apid]
        dtype, count = _LAYOUT[kind]
        need = 6 + self.sec + np.dtype(dtype).itemsize * count
        if len(pkt) < need or self.sec < 6:
            self.q.apid(apid).unreadable += 1
            return
        self._raw[kind].append(pkt[6 : need])

    def result(self) -> AncillaryData:
        out = AncillaryData()
        for kind, rows in self._raw.items():
            if not rows:
                continue
            dtype, count = _LAYOUT[kind]
            width = len(rows[0])
            raw = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), width)
            t = raw[:, :6].astype(np.int64)
            secs = (t[:, 0] << 24) | (t[:, 1] << 16) | (t[:, 2] << 8) | t[:, 3]
            times = cuc_to_utc_array(secs, (t[:, 4] << 8) | t[:, 5], self.leap)
            values = np.ascontiguousarray(raw[:, self.sec :]).view(dtype).astype(np.float64).reshape(len(rows), count)
            if kind == "ephemeris":
                out.ephemeris_times, out.positions_m, out.velocities_m_s = times, values[:, :3], values[:, 3:]
            elif kind == "attitude":
                out.attitude_times, out.quaternions = times, values
            else:
                out.housekeeping_times, out.focal_plane_temp_c = times, values[:, 0]
        return out
