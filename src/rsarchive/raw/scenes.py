"""Splitting a datastrip into scenes, and scene identifiers.

**Scenes are square.**  The reference band is the CPF band with the longest
line period (the multispectral bands; the first of them if several): a scene is
as many of its lines as it has detectors (the reference mission: 1750 lines =
17.5 km).  Every other band gets the lines covering the same time,
``round(N_ref · period_ref / period_b)`` (PAN: 4 × 1750 = 7000).  Scene *k*
holds line counters ``[k·n_b, (k+1)·n_b)`` of band *b*: the line counter is 0
at the first line of the acquisition (spec §3), so scenes of the same
acquisition always fall on the same lines whichever lines were lost.  The last
scene of a datastrip is cut where the last band ends (``partial``).

**Scene id**: ``<mission>_<YYYYMMDDThhmmss>_<pass>_<NNN>``

- ``mission``: the CPF's mission (lower case, e.g. ``vnredsat1``);
- ``YYYYMMDDThhmmss``: UTC time of line 0 of the acquisition (the datastrip
  start, the same for every scene of a pass; truncated to the second);
- ``pass``: the station's pass id when known, otherwise ``h`` + the first 8 hex
  digits of the downlink's SHA-256 (a downlink's identity in the archive);
  only ``[A-Za-z0-9-]`` (anything else becomes ``-``);
- ``NNN``: the scene index *k* (0-based, at least 3 digits).

e.g. ``vnredsat1_20260315T033904_h1a2b3c4d_000``.  The datastrip id is the
same without the scene index.  Ids sort by time, then pass, then index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rsarchive.cpf import CPF, BandCalibration
from rsarchive.errors import UsageError

__all__ = ["SceneSpan", "datastrip_id", "lines_per_scene", "reference_band", "scene_id", "split_scenes"]

_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


def reference_band(cpf: CPF) -> BandCalibration:
    """The band scenes are counted in: the longest line period (first such band)."""
    longest = max(b.line_period_s for b in cpf.bands)
    return next(b for b in cpf.bands if b.line_period_s >= longest * (1 - 1e-9))


def lines_per_scene(cpf: CPF) -> dict[str, int]:
    """Lines of each band in one (square) scene."""
    ref = reference_band(cpf)
    duration = ref.detectors * ref.line_period_s
    return {b.name: max(1, int(round(duration / b.line_period_s))) for b in cpf.bands}


@dataclass(frozen=True)
class SceneSpan:
    """The lines of one scene, per band: ``[first, stop)`` line counters."""

    index: int
    lines: dict[str, tuple[int, int]]
    partial: bool = False

    def count(self, band: str) -> int:
        first, stop = self.lines[band]
        return stop - first


def split_scenes(cpf: CPF, band_extents: dict[str, tuple[int, int]]) -> list[SceneSpan]:
    """Scenes covering the datastrip.

    ``band_extents`` maps each band present to its ``(first, stop)`` line
    counters in the datastrip.  Bands of the CPF absent here get no lines.
    """
    per = lines_per_scene(cpf)
    ref = reference_band(cpf)
    unknown = sorted(set(band_extents) - set(per))
    if unknown:
        raise UsageError(f"split_scenes: band(s) {', '.join(unknown)} are not in CPF {cpf.version}")
    if not band_extents:
        return []
    n_ref = per[ref.name]
    # extent in reference-band lines (a band's line l falls at reference line l · n_ref / n_b)
    starts = [first * n_ref / per[b] for b, (first, _) in band_extents.items()]
    stops = [stop * n_ref / per[b] for b, (_, stop) in band_extents.items()]
    first_scene = int(np.floor(min(starts) / n_ref + 1e-9))
    end_ref = max(stops)
    last_scene = int(np.ceil(end_ref / n_ref - 1e-9)) - 1
    scenes = []
    for k in range(first_scene, last_scene + 1):
        lines = {}
        partial = False
        for band in cpf.bands:
            n_b = per[band.name]
            band_end = int(np.ceil(end_ref * n_b / n_ref - 1e-9))
            first, stop = k * n_b, min((k + 1) * n_b, band_end)
            partial = partial or stop < (k + 1) * n_b
            lines[band.name] = (first, max(first, stop))
        scenes.append(SceneSpan(k, lines, partial))
    return scenes


def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-")


def datastrip_id(mission: str, start_utc: np.datetime64, pass_id: str) -> str:
    """``<mission>_<YYYYMMDDThhmmss>_<pass>`` (see the module docstring)."""
    if np.isnat(np.datetime64(start_utc)):
        raise UsageError("datastrip id: the start time is unknown (no line has a time)")
    stamp = str(np.datetime64(start_utc, "s")).replace("-", "").replace(":", "")
    token = _safe(pass_id)
    if not token:
        raise UsageError(f"pass id {pass_id!r} has no usable characters ([A-Za-z0-9-])")
    return f"{_safe(mission).lower()}_{stamp}_{token}"


def scene_id(mission: str, start_utc: np.datetime64, pass_id: str, index: int) -> str:
    """``<mission>_<YYYYMMDDThhmmss>_<pass>_<NNN>`` (see the module docstring)."""
    if index < 0:
        raise UsageError(f"scene index must be ≥ 0, got {index}")
    return f"{datastrip_id(mission, start_utc, pass_id)}_{index:03d}"
