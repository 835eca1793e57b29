"""The direct location model: (band, line time, detector) → ground point.

Spec §4: the line of sight of detector i of band b in the instrument frame is
the unit vector along (tan α_b, (i − (N_b−1)/2)·p_b/f, 1); the instrument is
mounted with the boresight alignment R_b; the attitude quaternion q rotates
body → ECEF, so ``v_ecef = R(q) · R_b · los``.  The ground point is where the
ray from the satellite position along ``v_ecef`` meets the WGS84 ellipsoid
raised by the terrain height: closed form for a constant height, iterative
(fixed point on the height, converging in a few steps for near-nadir views)
with a DEM given as a callable ``height(lat, lon) -> h`` (NaN where the DEM
has no data: the ellipsoid is used there and the point is reported).

Times (spec §3): a line's time stamp (its packet time) is the *start* of its
integration; during the line period the detectors sweep one line of ground, so
the ground a line sees is centred half a line period later.
:meth:`SensorModel.locate` and :meth:`SensorModel.rays` take the stamps and
place each line at mid-integration, ``stamp + line_period/2``
(:func:`mid_integration`); :meth:`SensorModel.locate_at` places rays at given
instants (the simulator integrates a line over its period with it).  The
geolocation tests check this model against their own ray–ellipsoid
intersection written from the spec (``tests/geometry/test_absolute_geolocation.py``),
not against this module.

This module is pure NumPy; the ephemeris and attitude come from any
:class:`~rsarchive.geometry.interpolation.EphemerisSource` /
:class:`~rsarchive.geometry.interpolation.AttitudeSource` — the interpolated
decoded ancillary (:meth:`SensorModel.from_samples`) or the simulator's exact
orbit and attitude.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple, Union

import numpy as np
from numpy.typing import ArrayLike

from rsarchive.cpf import CPF, BandCalibration
from rsarchive.errors import ProcessingError
from rsarchive.geometry.ellipsoid import ecef_to_geodetic, intersect_ellipsoid, up_vector
from rsarchive.geometry.interpolation import AttitudeSource, as_datetime64, EphemerisSource, HermiteEphemeris, SlerpAttitude
from rsarchive.geometry.rotation import quaternion_to_matrix

__all__ = ["GroundPoints", "SensorModel", "HeightFunction", "look_directions", "intersect_terrain",
           "mid_integration"]

log = logging.getLogger(__name__)

HeightFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
Height = Union[float, np.ndarray, HeightFunction]


class GroundPoints(NamedTuple):
    """Result of :meth:`SensorModel.locate`: arrays of shape (lines, detectors) unless noted."""

    lat: np.ndarray
    """Geodetic latitude, degrees."""
    lon: np.ndarray
    """Longitude, degrees."""
    h: np.ndarray
    """Ellipsoidal height of the ground point, metres."""
    degraded: np.ndarray
    """(lines,) True where ephemeris or attitude was interpolated across a gap (QA bit 4)."""
    off_dem: np.ndarray | None
    """True where the DEM had no data and the ellipsoid (h = 0) was used; None without DEM."""


def half_period(band: BandCalibration) -> np.timedelta64:
    """Half the band's line period, to the nanosecond."""
    return np.timedelta64(int(round(band.line_period_s * 0.5e9)), "ns")


def mid_integration(band: BandCalibration, stamps: Any) -> np.ndarray:
    """The instants (datetime64[ns]) a band's lines are seen at: their stamps (start of integration,
    spec §3) plus half the line period."""
    return np.asarray(as_datetime64(stamps)) + half_period(band)


def look_directions(cpf: CPF, band: BandCalibration | str | int, quaternions: np.ndarray,
                    detectors: ArrayLike | None = None) -> np.ndarray:
    """ECEF unit look vectors (L, D, 3) for attitudes (L, 4) and detectors (D,)."""
    los = cpf.line_of_sight(band, None if detectors is None else np.asarray(detectors, dtype=np.float64))
    rot = quaternion_to_matrix(quaternions) @ cpf.boresight_matrix()  # (L, 3, 3): instrument → ECEF
    return np.einsum("lij,dj->ldi", rot, los, optimize=True)


def intersect_terrain(
    positions: np.ndarray,
    directions: np.ndarray,
    height: Height = 0.0,
    tol_m: float = 0.01,
    max_iter: int = 30,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Intersect rays (positions (L, 3), directions (L, D, 3)) with terrain.

    ``height`` is a constant, an (L, D) array, or a callable DEM sampler.
    Returns lat, lon, h (L, D) and, for a DEM, the off-DEM mask.
    """
    origin = positions[:, None, :]
    if not callable(height):
        point = intersect_ellipsoid(origin, directions, height)
        lat, lon, h = ecef_to_geodetic(point)
        return lat, lon, h, None
    # Fixed point on the terrain height: move along the ray to the height the DEM gives under the
    # current point, h_{k+1} = DEM(lat_k, lon_k).  The step along the ray uses dh/dt = d·up (constant
    # over a few km of relief to 1e-7), so each iteration costs one DEM sample and one ECEF → geodetic.
    point = intersect_ellipsoid(origin, directions, 0.0)
    lat, lon, h_point = ecef_to_geodetic(point)
    rate = np.sum(directions * up_vector(lat, lon), axis=-1)  # dh/dt < 0 (looking down)
    off = np.zeros(h_point.shape, dtype=bool)
    change = np.zeros(h_point.shape)
    for _ in range(max_iter):
        sampled = np.asarray(height(lat, lon), dtype=np.float64)
        off = ~np.isfinite(sampled)
        target = np.where(off, 0.0, sampled)
        change = np.abs(target - h_point)
        if np.nanmax(change, initial=0.0) < tol_m:
            break
        point = point + ((target - h_point) / rate)[..., None] * directions
        lat, lon, h_point = ecef_to_geodetic(point)
    else:
        log.warning("DEM intersection did not converge to %.3g m in %d iterations (last change %.3g m)",
                    tol_m, max_iter, float(np.nanmax(change, initial=0.0)))
    return lat, lon, h_point, off


class SensorModel:
    """Direct location for one acquisition: CPF + ephemeris + attitude.

    ``ephemeris`` and ``attitude`` are sources of state and quaternions at any
    time (see :mod:`rsarchive.geometry.interpolation`).  Build it from decoded
    samples with :meth:`from_samples`.
    """

    def __init__(self, cpf: CPF, ephemeris: EphemerisSource, attitude: AttitudeSource) -> None:
        self.cpf = cpf
        self.ephemeris = ephemeris
        self.attitude = attitude

    @classmethod
    def from_samples(
        cls,
        cpf: CPF,
        ephemeris_times: Any,
        positions: ArrayLike,
        velocities: ArrayLike,
        attitude_times: Any,
        quaternions: ArrayLike,
        max_missing: int = 2,
    ) -> SensorModel:
        """A model interpolating decoded ancillary: Hermite ephemeris, SLERP attitude.

        Lines whose time falls in a gap of more than ``max_missing`` missing
        samples (or outside the sampled span) are flagged ``degraded``.
        """
        return cls(cpf, HermiteEphemeris(ephemeris_times, positions, velocities, max_missing),
                   SlerpAttitude(attitude_times, quaternions, max_missing))

    def rays(self, band: BandCalibration | str | int, line_times: Any,
             detectors: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Satellite positions (L, 3), ECEF look directions (L, D, 3) and degraded flags (L,) of the
        lines stamped ``line_times`` (start of integration), taken at mid-integration."""
        cal = self.cpf.band(band)
        return self.rays_at(cal, mid_integration(cal, np.atleast_1d(np.asarray(line_times))), detectors)

    def rays_at(self, band: BandCalibration | str | int, instants: Any,
                detectors: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As :meth:`rays`, at the instants given (no shift)."""
        times = np.atleast_1d(np.asarray(instants))
        positions, _, eph_bad = self.ephemeris.state(times)
        quats, att_bad = self.attitude.quaternion(times)
        return positions, look_directions(self.cpf, band, quats, detectors), eph_bad | att_bad

    def degraded(self, band: BandCalibration | str | int, line_times: Any) -> np.ndarray:
        """(L,) True where the ancillary at the lines' mid-integration was interpolated across a gap."""
        times = mid_integration(self.cpf.band(band), np.atleast_1d(np.asarray(line_times)))
        _, _, eph_bad = self.ephemeris.state(times)
        _, att_bad = self.attitude.quaternion(times)
        return np.asarray(eph_bad) | np.asarray(att_bad)

    def locate(
        self,
        band: BandCalibration | str | int,
        line_times: Any,
        detectors: ArrayLike | None = None,
        height: Height = 0.0,
        tol_m: float = 0.01,
        max_iter: int = 30,
    ) -> GroundPoints:
        """Ground points of ``detectors`` (D,) (default all; fractional allowed) of the lines stamped
        ``line_times`` (L,) (start of integration): each line is located at mid-integration.

        ``height``: a constant ellipsoidal height (m), an (L, D) array, or a DEM
        callable ``height(lat_deg, lon_deg) -> h`` (NaN = no data).
        """
        cal = self.cpf.band(band)
        return self.locate_at(cal, mid_integration(cal, np.atleast_1d(np.asarray(line_times))), detectors,
                              height, tol_m, max_iter)

    def locate_at(
        self,
        band: BandCalibration | str | int,
        instants: Any,
        detectors: ArrayLike | None = None,
        height: Height = 0.0,
        tol_m: float = 0.01,
        max_iter: int = 30,
    ) -> GroundPoints:
        """As :meth:`locate`, with the rays taken at the ``instants`` given (no shift)."""
        positions, directions, degraded = self.rays_at(band, instants, detectors)
        lat, lon, h, off = intersect_terrain(positions, directions, height, tol_m, max_iter)
        if np.any(~np.isfinite(lat)):
            raise ProcessingError(f"band {self.cpf.band(band).name}: some lines of sight miss the Earth "
                                  "(attitude far from nadir?)")
        return GroundPoints(lat, lon, h, degraded, off)
