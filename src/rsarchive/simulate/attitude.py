"""Nadir-pointing attitude with a constant bias and sinusoidal jitter.

Body frame (spec §4): +Z toward the geodetic nadir (along minus the ellipsoid
normal under the satellite), +X along the Earth-fixed velocity projected
perpendicular to Z (the ground-track direction: yaw steering), +Y = Z × X.
The reported attitude is ``R = M_nadir · R_z(yaw)·R_y(pitch)·R_x(roll)`` where
the three angles are the constant bias plus the jitter sinusoids at that
time; quaternions are body → ECEF, scalar first.

A roll bias ε shifts the ground points across track by ≈ ε·H (H ≈ 680 km:
7.35e-5 rad ≈ 50 m); a pitch bias shifts them along track.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rsarchive.errors import UsageError
from rsarchive.geometry.ellipsoid import ecef_to_geodetic, up_vector
from rsarchive.geometry.interpolation import seconds_since
from rsarchive.geometry.rotation import matrix_to_quaternion, small_angle_matrix
from rsarchive.simulate.orbit import CircularOrbit

__all__ = ["Jitter", "NadirAttitude", "nadir_frame"]

_AXES = ("roll", "pitch", "yaw")


@dataclass(frozen=True)
class Jitter:
    """One sinusoid on one axis: ``amplitude_rad · sin(2π f t + phase)``, t from the orbit epoch."""

    axis: str
    amplitude_rad: float
    frequency_hz: float
    phase_rad: float = 0.0

    def __post_init__(self) -> None:
        if self.axis not in _AXES:
            raise UsageError(f"jitter axis must be one of {', '.join(_AXES)}, got {self.axis!r}")
        if not (math.isfinite(self.amplitude_rad) and abs(self.amplitude_rad) < 0.01):
            raise UsageError(f"jitter amplitude must be a small angle (< 0.01 rad), got {self.amplitude_rad}")
        if not (math.isfinite(self.frequency_hz) and self.frequency_hz >= 0.0):
            raise UsageError(f"jitter frequency must be ≥ 0 Hz, got {self.frequency_hz}")


def nadir_frame(positions: np.ndarray, velocities: np.ndarray) -> np.ndarray:
    """(n, 3, 3) matrices whose columns are the body X, Y, Z axes in ECEF (nadir pointing)."""
    lat, lon, _ = ecef_to_geodetic(positions)
    z = -up_vector(lat, lon)
    x = velocities - np.sum(velocities * z, axis=-1, keepdims=True) * z
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


@dataclass(frozen=True)
class NadirAttitude:
    """Exact attitude of the simulated satellite (AttitudeSource protocol)."""

    orbit: CircularOrbit
    bias_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    jitter: tuple[Jitter, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if len(self.bias_rad) != 3 or not all(math.isfinite(v) and abs(v) < 0.01 for v in self.bias_rad):
            raise UsageError(f"attitude bias must be three small angles (< 0.01 rad), got {self.bias_rad}")

    def angles_at(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Roll, pitch, yaw (rad) at ``t_s`` seconds after the orbit epoch."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        angles = [np.full(t.shape, b) for b in self.bias_rad]
        for j in self.jitter:
            angles[_AXES.index(j.axis)] = angles[_AXES.index(j.axis)] + j.amplitude_rad * np.sin(
                2.0 * math.pi * j.frequency_hz * t + j.phase_rad)
        return angles[0], angles[1], angles[2]

    def matrix_at(self, t_s: np.ndarray) -> np.ndarray:
        """Body → ECEF rotation matrices (n, 3, 3)."""
        pos, vel = self.orbit.state_at(t_s)
        return nadir_frame(pos, vel) @ small_angle_matrix(*self.angles_at(t_s))

    def quaternion_at(self, t_s: np.ndarray) -> np.ndarray:
        return matrix_to_quaternion(self.matrix_at(t_s))

    def quaternion(self, times: Any) -> tuple[np.ndarray, np.ndarray]:
        t_s = np.atleast_1d(seconds_since(times, self.orbit.epoch64))
        return self.quaternion_at(t_s), np.zeros(t_s.shape, dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        return {"bias_rad": {k: v for k, v in zip(_AXES, self.bias_rad)},
                "jitter": [asdict(j) for j in self.jitter],
                "frame": "body→ECEF; +Z geodetic nadir, +X ground-track velocity, +Y = Z × X; "
                         "R = M_nadir · R_z(yaw)·R_y(pitch)·R_x(roll)"}

    @classmethod
    def from_dict(cls, orbit: CircularOrbit, data: dict[str, Any]) -> NadirAttitude:
        bias = data.get("bias_rad", {})
        return cls(orbit, tuple(float(bias.get(k, 0.0)) for k in _AXES),  # type: ignore[arg-type]
                   tuple(Jitter(**j) for j in data.get("jitter", [])))
