"""The outcome of a simulation: the downlink, the truth files and the exact model to check later stages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.cpf import CPF, load_cpf
from rsarchive.errors import UsageError
from rsarchive.geometry.sensor import GroundPoints, SensorModel
from rsarchive.simulate.attitude import NadirAttitude
from rsarchive.simulate.orbit import CircularOrbit

__all__ = ["SimulationResult", "TRUTH_FORMAT"]

TRUTH_FORMAT = "rsarchive-simulation-truth/1"
_NS = np.timedelta64(1, "ns")


@dataclass
class SimulationResult:
    """A simulated downlink and its truth, with the exact model for checking later stages."""

    downlink: Path
    truth_dir: Path
    truth: dict[str, Any]

    @classmethod
    def load(cls, truth_dir: str | Path) -> SimulationResult:
        """Re-open a simulation from its ``truth.json``."""
        path = Path(truth_dir) / "truth.json"
        if not path.is_file():
            raise UsageError(f"no truth.json in {truth_dir}")
        truth = json.loads(path.read_text())
        if truth.get("format") != TRUTH_FORMAT:
            raise UsageError(f"{path} is not a simulation truth file ({TRUTH_FORMAT})")
        return cls(Path(truth["downlink"]["path"]), Path(truth_dir), truth)

    @cached_property
    def cpf(self) -> CPF:
        return load_cpf(self.truth["cpf"]["source"])

    @cached_property
    def orbit(self) -> CircularOrbit:
        return CircularOrbit.from_dict(self.truth["orbit"])

    @cached_property
    def attitude(self) -> NadirAttitude:
        return NadirAttitude.from_dict(self.orbit, self.truth["attitude"])

    @cached_property
    def sensor_model(self) -> SensorModel:
        """The exact model (analytic orbit and attitude, no interpolation)."""
        return SensorModel(self.cpf, self.orbit, self.attitude)

    @property
    def start(self) -> np.datetime64:
        return np.datetime64(self.truth["start_utc"].rstrip("Z"), "ns")

    def path(self, name: str) -> Path:
        """A truth file by its key in ``truth["files"]`` (``reflectance``, ``dem``, ``clouds``)."""
        value = self.truth["files"].get(name)
        if not value:
            raise UsageError(f"this simulation has no {name} truth file")
        return self.truth_dir / value

    def line_times(self, band: str | int, lines: Any) -> np.ndarray:
        """UTC (datetime64[ns]) of lines of a band, exactly as simulated."""
        cal = self.cpf.band(band)
        offsets = np.rint(np.asarray(lines, dtype=np.float64) * cal.line_period_s * 1e9).astype(np.int64)
        return self.start + offsets * _NS

    def scene_lines(self, scene: int, band: str | int) -> range:
        """Line numbers of a scene in a band."""
        entry = self.truth["scenes"][scene]["bands"][self.cpf.band(band).name]
        return range(entry["first_line"], entry["last_line"] + 1)

    def ground_location(self, band: str | int, lines: Any, detectors: Any = None,
                        with_dem: bool = True) -> GroundPoints:
        """True ground points (lines × detectors) of a band at mid-integration, from the exact model (and truth DEM)."""
        height: Any = self._dem if with_dem and self.truth["files"].get("dem") else 0.0
        return self.sensor_model.locate(band, self.line_times(band, np.atleast_1d(lines)),
                                        None if detectors is None else np.atleast_1d(detectors), height=height)

    @cached_property
    def _dem(self) -> Any:
        from rsarchive.geometry.dem import RasterSampler

        return RasterSampler(self.path("dem"))

    def truth_array(self, kind: str, band: str | int) -> np.ndarray:
        """The truth ``radiance`` (float32) or ``dn`` (uint16) image of a band, lines × detectors."""
        import rasterio

        name = self.cpf.band(band).name
        files = self.truth["files"].get(kind) or {}
        if name not in files:
            raise UsageError(f"truth {kind} of band {name} was not written (write_truth_{kind}=True)")
        with rasterio.open(self.truth_dir / files[name]) as ds:  # sensor geometry: no georeference
            return ds.read(1)

    @property
    def writer_report(self) -> dict[str, Any]:
        return dict(self.truth["writer_report"])
