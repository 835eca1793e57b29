"""Interpolation of the ancillary time series: ephemeris by cubic Hermite, attitude by SLERP.

Both interpolators are built from samples (the decoded ephemeris and attitude
packets) and evaluated at arbitrary times, vectorised.  Each evaluation also
returns a per-time ``degraded`` flag: True where the two samples around the
time are further apart than ``max_missing`` missing samples allow (nominal
spacing = median sample interval), or where the time lies outside the sampled
span (extrapolation).  Those lines get QA bit 4 ("ancillary degraded").

Times are numpy ``datetime64`` (UTC); internally float seconds since the first
sample, which keeps sub-microsecond precision over days.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from rsarchive.errors import ProcessingError

__all__ = [
    "as_datetime64", "seconds_since", "EphemerisSource", "AttitudeSource",
    "HermiteEphemeris", "SlerpAttitude", "hermite", "slerp",
]


def as_datetime64(times: Any) -> np.ndarray:
    """UTC datetimes (aware or naive), ISO strings or datetime64 → ``datetime64[ns]`` array."""
    if isinstance(times, _dt.datetime):
        times = [times]
        scalar = True
    else:
        scalar = False
    array = np.asarray(times)
    if array.dtype.kind == "O":
        flat = [
            (v.astimezone(_dt.timezone.utc).replace(tzinfo=None) if isinstance(v, _dt.datetime) and v.tzinfo else v)
            for v in array.ravel()
        ]
        array = np.asarray([np.datetime64(v, "ns") for v in flat]).reshape(array.shape)
    out = array.astype("datetime64[ns]")
    return out[0] if scalar else out


def seconds_since(times: Any, epoch: np.datetime64) -> np.ndarray:
    """Float seconds from ``epoch`` to ``times`` (datetime64 arithmetic in ns, then float)."""
    delta = as_datetime64(times) - np.datetime64(epoch, "ns")
    return delta.astype("timedelta64[ns]").astype(np.int64).astype(np.float64) * 1e-9


class EphemerisSource(Protocol):
    """Anything that gives ECEF position and velocity at given times."""

    def state(self, times: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``times`` (n,) → positions (n, 3) m, velocities (n, 3) m/s, degraded (n,) bool."""
        ...


class AttitudeSource(Protocol):
    """Anything that gives body→ECEF quaternions at given times."""

    def quaternion(self, times: Any) -> tuple[np.ndarray, np.ndarray]:
        """``times`` (n,) → quaternions (n, 4) scalar first, degraded (n,) bool."""
        ...


class _Samples:
    """Sorted, de-duplicated sample times with gap detection."""

    def __init__(self, times: Any, kind: str, max_missing: int) -> None:
        t64 = as_datetime64(times).ravel()
        if t64.size < 2:
            raise ProcessingError(f"{kind}: need at least 2 samples to interpolate, got {t64.size}")
        self.n_input = t64.size
        order = np.argsort(t64, kind="stable")
        t64 = t64[order]
        keep = np.concatenate([[True], np.diff(t64.astype(np.int64)) > 0])
        self.order = order[keep]
        self.epoch = t64[0]
        self.t = seconds_since(t64[keep], self.epoch)
        if self.t.size < 2:
            raise ProcessingError(f"{kind}: need at least 2 distinct sample times")
        self.kind = kind
        self.step = float(np.median(np.diff(self.t)))
        self.max_missing = max_missing

    def locate(self, times: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Interval index, fraction s in it, and degraded flag for each query time."""
        q = seconds_since(times, self.epoch)
        i = np.clip(np.searchsorted(self.t, q, side="right") - 1, 0, self.t.size - 2)
        dt = self.t[i + 1] - self.t[i]
        s = (q - self.t[i]) / dt
        allowed = (self.max_missing + 1) * self.step * (1.0 + 1e-6)
        outside = (q < self.t[0] - 1e-9) | (q > self.t[-1] + 1e-9)
        degraded = (dt > allowed) | outside
        return i, s, degraded


def hermite(p0: np.ndarray, v0: np.ndarray, p1: np.ndarray, v1: np.ndarray, s: np.ndarray,
            dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cubic Hermite on [0, 1] (fraction ``s``, interval ``dt`` s): position and its time derivative."""
    s = s[..., None]
    h = dt[..., None]
    s2 = s * s
    s3 = s2 * s
    pos = (2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * h * v0 + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * h * v1
    vel = ((6 * s2 - 6 * s) * p0 + (3 * s2 - 4 * s + 1) * h * v0 + (-6 * s2 + 6 * s) * p1
           + (3 * s2 - 2 * s) * h * v1) / h
    return pos, vel


def slerp(q0: np.ndarray, q1: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions (shortest arc), fraction ``s``."""
    dot = np.sum(q0 * q1, axis=-1)
    q1 = np.where((dot < 0.0)[..., None], -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    small = theta < 1e-9
    sin_t = np.where(small, 1.0, np.sin(theta))
    w0 = np.where(small, 1.0 - s, np.sin((1.0 - s) * theta) / sin_t)
    w1 = np.where(small, s, np.sin(s * theta) / sin_t)
    q = w0[..., None] * q0 + w1[..., None] * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


class HermiteEphemeris:
    """ECEF ephemeris samples (position, velocity) interpolated by cubic Hermite."""

    def __init__(self, times: Any, positions: ArrayLike, velocities: ArrayLike, max_missing: int = 2) -> None:
        self._samples = _Samples(times, "ephemeris", max_missing)
        pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        vel = np.asarray(velocities, dtype=np.float64).reshape(-1, 3)
        if pos.shape != vel.shape or pos.shape[0] != self._samples.n_input:
            raise ProcessingError(f"ephemeris: {pos.shape[0]} positions, {vel.shape[0]} velocities for "
                                  f"{self._samples.n_input} times")
        self.positions = pos[self._samples.order]
        self.velocities = vel[self._samples.order]
        if not (np.all(np.isfinite(self.positions)) and np.all(np.isfinite(self.velocities))):
            raise ProcessingError("ephemeris: non-finite position or velocity samples")

    @property
    def epoch(self) -> np.datetime64:
        return self._samples.epoch

    def state(self, times: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        i, s, degraded = self._samples.locate(times)
        dt = self._samples.t[i + 1] - self._samples.t[i]
        pos, vel = hermite(self.positions[i], self.velocities[i], self.positions[i + 1], self.velocities[i + 1], s, dt)
        return pos, vel, degraded


class SlerpAttitude:
    """Body→ECEF attitude quaternion samples interpolated by SLERP."""

    def __init__(self, times: Any, quaternions: ArrayLike, max_missing: int = 2) -> None:
        self._samples = _Samples(times, "attitude", max_missing)
        q = np.asarray(quaternions, dtype=np.float64).reshape(-1, 4)
        if q.shape[0] != self._samples.n_input:
            raise ProcessingError(f"attitude: {q.shape[0]} quaternions for {self._samples.n_input} times")
        q = q[self._samples.order]
        norms = np.linalg.norm(q, axis=-1)
        if not np.all(np.isfinite(q)) or np.any(np.abs(norms - 1.0) > 1e-3):
            raise ProcessingError("attitude: quaternions must be finite and of unit length")
        self.quaternions = q / norms[:, None]

    @property
    def epoch(self) -> np.datetime64:
        return self._samples.epoch

    def quaternion(self, times: Any) -> tuple[np.ndarray, np.ndarray]:
        i, s, degraded = self._samples.locate(times)
        return slerp(self.quaternions[i], self.quaternions[i + 1], s), degraded
