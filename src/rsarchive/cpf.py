"""The Calibration Parameter File (CPF): what the instrument is, as data.

The CPF (``cpf/<name>.json`` of the site directory or the package data, format in ``specs/level0-downlink.md`` §4)
holds per band the detector layout, optics, line period, solar irradiance
and the radiometric coefficients of the forward model

    DN = clip(round(G_b · r_b,i · L + D_b,i + k_b·(T − T_ref) + noise), 0, saturation)

and for the instrument the focal length, ``T_ref`` and the boresight alignment.
Any JSON file that follows the spec loads; every problem is reported as a
:class:`~rsarchive.errors.CalibrationError` naming the file, the band and the
field.  The CPF is pure data plus two geometric helpers
(:meth:`CPF.line_of_sight`, :meth:`CPF.boresight_matrix`) used by the sensor
model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.errors import CalibrationError
from rsarchive.resources import listing, searched, site_or_shipped

__all__ = ["BandCalibration", "CPF", "load_cpf", "parse_cpf", "cpf_path"]

_TOP_KEYS = ("cpf_version", "mission", "focal_length_m", "t_ref_c", "boresight_rad", "bands")
_BAND_KEYS = (
    "id", "name", "common_name", "center_um", "fwhm_um", "detectors", "pitch_m", "along_track_rad",
    "line_period_s", "esun", "gain", "dark_temp_coeff", "saturation", "dark", "relative_gain", "dead",
)
_POSITIVE = ("center_um", "fwhm_um", "pitch_m", "line_period_s", "esun", "gain")


@dataclass(frozen=True, eq=False)
class BandCalibration:
    """Calibration of one band (all arrays are read-only, one value per detector)."""

    id: int
    name: str
    common_name: str
    center_um: float
    fwhm_um: float
    detectors: int
    pitch_m: float
    along_track_rad: float
    line_period_s: float
    esun: float
    gain: float
    dark_temp_coeff: float
    saturation: int
    dark: np.ndarray
    relative_gain: np.ndarray
    dead: tuple[int, ...]

    @property
    def dead_mask(self) -> np.ndarray:
        """Boolean (N,) array, True for dead detectors."""
        mask = np.zeros(self.detectors, dtype=bool)
        mask[list(self.dead)] = True
        return mask

    def to_dict(self) -> dict[str, Any]:
        """The band as it appears in the CPF JSON."""
        return {
            "id": self.id, "name": self.name, "common_name": self.common_name,
            "center_um": self.center_um, "fwhm_um": self.fwhm_um, "detectors": self.detectors,
            "pitch_m": self.pitch_m, "along_track_rad": self.along_track_rad,
            "line_period_s": self.line_period_s, "esun": self.esun, "gain": self.gain,
            "dark_temp_coeff": self.dark_temp_coeff, "saturation": self.saturation,
            "dark": [float(v) for v in self.dark], "relative_gain": [float(v) for v in self.relative_gain],
            "dead": list(self.dead),
        }


@dataclass(frozen=True, eq=False)
class CPF:
    """A validated calibration parameter file."""

    version: str
    mission: str
    focal_length_m: float
    t_ref_c: float
    boresight_rad: tuple[float, float, float]
    bands: tuple[BandCalibration, ...]
    source: str = field(default="<dict>")

    # -- look-up ----------------------------------------------------------------
    def band(self, key: str | int | BandCalibration) -> BandCalibration:
        """A band by id (int), name (``"B1"``, ``"PAN"``) or common name (``"red"``)."""
        if isinstance(key, BandCalibration):
            return key
        for band in self.bands:
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                if band.id == int(key):
                    return band
            elif isinstance(key, str) and key.lower() in (band.name.lower(), band.common_name.lower()):
                return band
        known = ", ".join(f"{b.id}={b.name}/{b.common_name}" for b in self.bands)
        raise CalibrationError(f"CPF {self.version} ({self.source}) has no band {key!r}; bands: {known}")

    @property
    def band_names(self) -> list[str]:
        return [b.name for b in self.bands]

    # -- geometry ---------------------------------------------------------------
    def line_of_sight(self, band: str | int | BandCalibration, detectors: np.ndarray | None = None) -> np.ndarray:
        """Unit lines of sight (D, 3) in the instrument frame (+X along track, +Z nadir).

        ``(tan α_b, (i − (N_b−1)/2)·p_b / f, 1)`` normalised; ``detectors`` may be
        fractional (default: all detectors 0 … N_b−1).
        """
        cal = self.band(band)
        i = np.arange(cal.detectors, dtype=np.float64) if detectors is None else np.asarray(detectors, np.float64)
        los = np.empty(i.shape + (3,), dtype=np.float64)
        los[..., 0] = math.tan(cal.along_track_rad)
        los[..., 1] = (i - (cal.detectors - 1) / 2.0) * cal.pitch_m / self.focal_length_m
        los[..., 2] = 1.0
        los /= np.linalg.norm(los, axis=-1, keepdims=True)
        return los

    def boresight_matrix(self) -> np.ndarray:
        """R_b = R_z(γ)·R_y(β)·R_x(α): instrument frame → spacecraft body frame."""
        a, b, g = self.boresight_rad
        ca, sa, cb, sb, cg, sg = math.cos(a), math.sin(a), math.cos(b), math.sin(b), math.cos(g), math.sin(g)
        rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
        ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
        rz = np.array([[cg, -sg, 0], [sg, cg, 0], [0, 0, 1]])
        return rz @ ry @ rx

    def to_dict(self) -> dict[str, Any]:
        """The CPF as spec JSON (round-trips through :func:`parse_cpf`)."""
        return {
            "cpf_version": self.version, "mission": self.mission, "focal_length_m": self.focal_length_m,
            "t_ref_c": self.t_ref_c, "boresight_rad": list(self.boresight_rad),
            "bands": [b.to_dict() for b in self.bands],
        }


# -- loading and validation ----------------------------------------------------

def _names_a_file(text: str) -> bool:
    """Whether a CPF argument is a path (``x.json``, ``dir/x``, an existing file) rather than a name."""
    return text.lower().endswith(".json") or "/" in text or Path(text).expanduser().is_file()


def cpf_path(path_or_name: str | Path, config_dir: str | Path | None = None) -> Path:
    """Resolve a CPF name (``vnredsat1`` → ``cpf/vnredsat1.json`` of ``config_dir`` or else the
    site directory, then of the package data) or a path."""
    text = str(path_or_name)
    if _names_a_file(text):
        return Path(text).expanduser()
    return site_or_shipped(f"cpf/{text}.json", config_dir)


def load_cpf(path_or_name: str | Path, config_dir: str | Path | None = None) -> CPF:
    """Load and validate a CPF by file path or by name (see :func:`cpf_path`)."""
    path = cpf_path(path_or_name, config_dir)
    if not path.is_file():
        if _names_a_file(str(path_or_name)):
            raise CalibrationError(f"CPF {str(path_or_name)!r} not found (no file {path})")
        names = ", ".join(Path(name).stem for name in listing("cpf", "*.json", config_dir)) or "none"
        raise CalibrationError(f"CPF {str(path_or_name)!r} not found (looked in {searched('cpf', config_dir)}); "
                               f"available: {names}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"cannot read CPF {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"CPF {path} is not valid JSON: {exc}") from None
    return parse_cpf(data, source=str(path))


def parse_cpf(data: Mapping[str, Any], source: str = "<dict>") -> CPF:
    """Validate a CPF given as the spec's JSON structure (already parsed)."""
    where = f"CPF {source}"
    if not isinstance(data, Mapping):
        raise CalibrationError(f"{where}: expected a JSON object at the top level, got {type(data).__name__}")
    missing = [k for k in _TOP_KEYS if k not in data]
    if missing:
        raise CalibrationError(f"{where}: missing key(s) {', '.join(missing)}")
    focal = _number(data["focal_length_m"], f"{where}: focal_length_m")
    if focal <= 0:
        raise CalibrationError(f"{where}: focal_length_m must be > 0, got {focal}")
    t_ref = _number(data["t_ref_c"], f"{where}: t_ref_c")
    bore = data["boresight_rad"]
    if not isinstance(bore, Sequence) or isinstance(bore, str) or len(bore) != 3:
        raise CalibrationError(f"{where}: boresight_rad must be a list of 3 angles (rad), got {bore!r}")
    boresight = tuple(_number(v, f"{where}: boresight_rad[{k}]") for k, v in enumerate(bore))
    bands_data = data["bands"]
    if not isinstance(bands_data, Sequence) or isinstance(bands_data, str) or not bands_data:
        raise CalibrationError(f"{where}: bands must be a non-empty list")
    bands = tuple(_parse_band(b, k, where) for k, b in enumerate(bands_data))
    for attr in ("id", "name"):
        seen: dict[Any, int] = {}
        for band in bands:
            value = getattr(band, attr)
            if value in seen:
                raise CalibrationError(f"{where}: duplicate band {attr} {value!r} (bands #{seen[value]} and #{bands.index(band)})")
            seen[value] = bands.index(band)
    return CPF(
        version=str(data["cpf_version"]), mission=str(data["mission"]), focal_length_m=focal, t_ref_c=t_ref,
        boresight_rad=(boresight[0], boresight[1], boresight[2]), bands=bands, source=source,
    )


def _parse_band(data: Any, index: int, where: str) -> BandCalibration:
    if not isinstance(data, Mapping):
        raise CalibrationError(f"{where}: bands[{index}] must be an object")
    label = f"{where}: band {data.get('name', f'#{index}')!s}"
    missing = [k for k in _BAND_KEYS if k not in data]
    if missing:
        raise CalibrationError(f"{label}: missing key(s) {', '.join(missing)}")
    band_id = _integer(data["id"], f"{label}: id")
    n = _integer(data["detectors"], f"{label}: detectors")
    if n <= 0:
        raise CalibrationError(f"{label}: detectors must be > 0, got {n}")
    values = {k: _number(data[k], f"{label}: {k}") for k in (*_POSITIVE, "along_track_rad", "dark_temp_coeff")}
    for key in _POSITIVE:
        if values[key] <= 0:
            raise CalibrationError(f"{label}: {key} must be > 0, got {values[key]}")
    saturation = _integer(data["saturation"], f"{label}: saturation")
    if not 0 < saturation <= 4095:
        raise CalibrationError(f"{label}: saturation must be in 1…4095 (12-bit DNs), got {saturation}")
    dark = _vector(data["dark"], n, f"{label}: dark")
    gain = _vector(data["relative_gain"], n, f"{label}: relative_gain")
    if np.any(gain <= 0):
        bad = np.flatnonzero(gain <= 0)
        raise CalibrationError(f"{label}: relative_gain must be > 0, detector(s) {bad[:10].tolist()} are not")
    dead_raw = data["dead"]
    if not isinstance(dead_raw, Sequence) or isinstance(dead_raw, str):
        raise CalibrationError(f"{label}: dead must be a list of detector indices")
    dead = tuple(sorted({_integer(v, f"{label}: dead") for v in dead_raw}))
    out_of_range = [d for d in dead if not 0 <= d < n]
    if out_of_range:
        raise CalibrationError(f"{label}: dead detector index(es) {out_of_range} out of range 0…{n - 1}")
    return BandCalibration(
        id=band_id, name=str(data["name"]), common_name=str(data["common_name"]),
        center_um=values["center_um"], fwhm_um=values["fwhm_um"], detectors=n, pitch_m=values["pitch_m"],
        along_track_rad=values["along_track_rad"], line_period_s=values["line_period_s"], esun=values["esun"],
        gain=values["gain"], dark_temp_coeff=values["dark_temp_coeff"], saturation=saturation,
        dark=dark, relative_gain=gain, dead=dead,
    )


def _number(value: Any, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CalibrationError(f"{label} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise CalibrationError(f"{label} must be finite, got {value!r}")
    return float(value)


def _integer(value: Any, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise CalibrationError(f"{label} must be an integer, got {value!r}")
    return int(value)


def _vector(value: Any, n: int, label: str) -> np.ndarray:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise CalibrationError(f"{label} must be a list of {n} numbers")
    if len(value) != n:
        raise CalibrationError(f"{label} has {len(value)} values, expected {n} (one per detector)")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CalibrationError(f"{label} must contain numbers only") from None
    if array.ndim != 1:
        raise CalibrationError(f"{label} must be a flat list of {n} numbers")
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array))
        raise CalibrationError(f"{label} has non-finite values at detector(s) {bad[:10].tolist()}")
    array.flags.writeable = False
    return array
