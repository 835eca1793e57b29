"""Rational polynomial coefficients (RPC00B) fitted to the sensor model.

An RPC maps a ground point (longitude, latitude, ellipsoidal height) to image
coordinates (line, sample) through ratios of cubic polynomials of the
*normalised* coordinates ``L = (lon − LONG_OFF)/LONG_SCALE``, ``P = (lat −
LAT_OFF)/LAT_SCALE``, ``H = (h − HEIGHT_OFF)/HEIGHT_SCALE``::

    line = LINE_SCALE · Num_l(P, L, H) / Den_l(P, L, H) + LINE_OFF     (same for sample)

Term order (RPC00B, what GDAL reads from ``LINE_NUM_COEFF`` …)::

    1, L, P, H, LP, LH, PH, L², P², H², PLH, L³, LP², LH², L²P, P³, PH², L²H, P²H, H³

**Pixel convention.** Integer (line, sample) is the *centre* of a pixel; GDAL's
RPC transformer maps its continuous pixel coordinate ``c`` to RPC sample
``c − 0.5`` (checked in ``tests/geometry/test_rpc.py``).  This is also the
sensor model's convention: detector ``i`` looks along the line of sight of
index ``i`` and line ``l`` is located at the middle of its integration (its
time stamp, the start of the integration, plus half a line period: the centre
of the pixel in time as in space).

**Fit** (:func:`fit_rpc`): the sensor model locates a grid of (line, detector)
nodes on several height layers (a "location grid", :func:`location_grid`);
each coordinate is fitted by linearised least squares ``r·Den − Num = 0``
(39 unknowns), iterated with weights ``1/Den²`` (the classic terrain-independent
fit of Tao & Hu 2001), with a small ridge (Tikhonov) term because the cubic
terms are nearly collinear over a scene a few tens of km wide.  The residual at
the fit nodes and at independent check nodes (cell centres, mid layers) is
reported in pixels.  Over a 17.5 km reference scene without jitter the
residual is ≪ 0.01 px.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rsarchive.errors import ProcessingError

__all__ = ["RPCModel", "RPCFit", "fit_rpc", "fit_rpc_points", "location_grid", "rpc_terms"]

log = logging.getLogger(__name__)

DEFAULT_HEIGHT_RANGE = (-200.0, 3200.0)
"""Ellipsoidal heights the RPC must be valid over without a DEM (Vietnam: sea level to Fansipan 3143 m,
geoid ≈ −30 … +50 m)."""


def rpc_terms(L: np.ndarray, P: np.ndarray, H: np.ndarray) -> np.ndarray:
    """The 20 RPC00B terms (..., 20) of normalised longitude L, latitude P, height H."""
    one = np.ones_like(L)
    return np.stack([
        one, L, P, H, L * P, L * H, P * H, L * L, P * P, H * H,
        P * L * H, L ** 3, L * P * P, L * H * H, L * L * P, P ** 3, P * H * H, L * L * H, P * P * H, H ** 3,
    ], axis=-1)


@dataclass(frozen=True)
class RPCModel:
    """An RPC00B model (GDAL names).  Coefficient arrays have 20 terms in RPC00B order."""

    line_off: float
    samp_off: float
    lat_off: float
    long_off: float
    height_off: float
    line_scale: float
    samp_scale: float
    lat_scale: float
    long_scale: float
    height_scale: float
    line_num: np.ndarray
    line_den: np.ndarray
    samp_num: np.ndarray
    samp_den: np.ndarray
    err_bias: float | None = None
    err_rand: float | None = None

    # -- evaluation ---------------------------------------------------------------
    def normalise(self, lon: Any, lat: Any, h: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        L = (np.asarray(lon, np.float64) - self.long_off) / self.long_scale
        P = (np.asarray(lat, np.float64) - self.lat_off) / self.lat_scale
        H = (np.asarray(h, np.float64) - self.height_off) / self.height_scale
        return np.broadcast_arrays(L, P, H)  # type: ignore[return-value]

    def project(self, lon: Any, lat: Any, h: Any = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Ground (lon °, lat °, ellipsoidal h m) → image (line, sample), pixel centres at integers."""
        t = rpc_terms(*self.normalise(lon, lat, h))
        line = (t @ self.line_num) / (t @ self.line_den) * self.line_scale + self.line_off
        samp = (t @ self.samp_num) / (t @ self.samp_den) * self.samp_scale + self.samp_off
        return line, samp

    def localise(self, line: Any, samp: Any, h: Any = 0.0, iterations: int = 10,
                 tol_px: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """Image (line, sample) at height ``h`` → (lon, lat): Newton iterations on :meth:`project`."""
        line, samp, h = np.broadcast_arrays(np.asarray(line, np.float64), np.asarray(samp, np.float64),
                                            np.asarray(h, np.float64))
        lon = np.full(line.shape, self.long_off)
        lat = np.full(line.shape, self.lat_off)
        d_lon, d_lat = self.long_scale * 1e-4, self.lat_scale * 1e-4
        for _ in range(iterations):
            l0, s0 = self.project(lon, lat, h)
            l1, s1 = self.project(lon + d_lon, lat, h)
            l2, s2 = self.project(lon, lat + d_lat, h)
            a, b = (l1 - l0) / d_lon, (l2 - l0) / d_lat
            c, d = (s1 - s0) / d_lon, (s2 - s0) / d_lat
            rl, rs = line - l0, samp - s0
            det = a * d - b * c
            step_lon = (d * rl - b * rs) / det
            step_lat = (a * rs - c * rl) / det
            lon = lon + step_lon
            lat = lat + step_lat
            if max(np.max(np.abs(rl), initial=0.0), np.max(np.abs(rs), initial=0.0)) < tol_px:
                break
        return lon, lat

    # -- interchange --------------------------------------------------------------
    def to_rasterio(self) -> Any:
        """A :class:`rasterio.rpc.RPC` (write with ``dataset.rpcs = …``, warp with ``reproject(rpcs=…)``)."""
        from rasterio.rpc import RPC

        return RPC(height_off=self.height_off, height_scale=self.height_scale, lat_off=self.lat_off,
                   lat_scale=self.lat_scale, line_den_coeff=[float(v) for v in self.line_den],
                   line_num_coeff=[float(v) for v in self.line_num], line_off=self.line_off,
                   line_scale=self.line_scale, long_off=self.long_off, long_scale=self.long_scale,
                   samp_den_coeff=[float(v) for v in self.samp_den], samp_num_coeff=[float(v) for v in self.samp_num],
                   samp_off=self.samp_off, samp_scale=self.samp_scale, err_bias=self.err_bias,
                   err_rand=self.err_rand)

    @classmethod
    def from_rasterio(cls, rpc: Any) -> RPCModel:
        arr = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
        return cls(rpc.line_off, rpc.samp_off, rpc.lat_off, rpc.long_off, rpc.height_off, rpc.line_scale,
                   rpc.samp_scale, rpc.lat_scale, rpc.long_scale, rpc.height_scale, arr(rpc.line_num_coeff),
                   arr(rpc.line_den_coeff), arr(rpc.samp_num_coeff), arr(rpc.samp_den_coeff),
                   rpc.err_bias, rpc.err_rand)

    def to_gdal(self) -> dict[str, str]:
        """The GDAL ``RPC`` metadata domain (strings)."""
        return {k: str(v) for k, v in self.to_rasterio().to_gdal().items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON form (GDAL key names, lower case)."""
        return {"line_off": self.line_off, "samp_off": self.samp_off, "lat_off": self.lat_off,
                "long_off": self.long_off, "height_off": self.height_off, "line_scale": self.line_scale,
                "samp_scale": self.samp_scale, "lat_scale": self.lat_scale, "long_scale": self.long_scale,
                "height_scale": self.height_scale, "line_num_coeff": self.line_num.tolist(),
                "line_den_coeff": self.line_den.tolist(), "samp_num_coeff": self.samp_num.tolist(),
                "samp_den_coeff": self.samp_den.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RPCModel:
        arr = lambda k: np.asarray(d[k], dtype=np.float64)  # noqa: E731
        return cls(d["line_off"], d["samp_off"], d["lat_off"], d["long_off"], d["height_off"], d["line_scale"],
                   d["samp_scale"], d["lat_scale"], d["long_scale"], d["height_scale"], arr("line_num_coeff"),
                   arr("line_den_coeff"), arr("samp_num_coeff"), arr("samp_den_coeff"))

    @property
    def height_range(self) -> tuple[float, float]:
        return self.height_off - self.height_scale, self.height_off + self.height_scale

    def with_image_correction(self, matrix: np.ndarray, lines: int, samples: int) -> RPCModel:
        """The model followed by an image-space affine ``(line', samp') = M · (line, samp, 1)`` (2 × 3).

        A pure offset (``M = [[1, 0, dl], [0, 1, ds]]``) goes into LINE_OFF/SAMP_OFF exactly; any
        other affine is refitted on a ground grid sampled from this model (residual ≪ 0.01 px).
        """
        m = np.asarray(matrix, dtype=np.float64).reshape(2, 3)
        if np.allclose(m[:, :2], np.eye(2), atol=0.0, rtol=0.0):
            from dataclasses import replace

            return replace(self, line_off=self.line_off + m[0, 2], samp_off=self.samp_off + m[1, 2])
        lo, hi = self.height_range
        li, si, hh = np.meshgrid(np.linspace(0, lines - 1, 15), np.linspace(0, samples - 1, 15),
                                 np.linspace(lo, hi, 5), indexing="ij")
        lon, lat = self.localise(li, si, hh)
        nl = m[0, 0] * li + m[0, 1] * si + m[0, 2]
        ns = m[1, 0] * li + m[1, 1] * si + m[1, 2]
        return fit_rpc_points(lon.ravel(), lat.ravel(), hh.ravel(), nl.ravel(), ns.ravel()).model


@dataclass(frozen=True)
class RPCFit:
    """A fitted model and its residuals in pixels (fit nodes and independent check nodes)."""

    model: RPCModel
    rms_px: float
    max_px: float
    check_rms_px: float | None = None
    check_max_px: float | None = None
    nodes: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rms_px": self.rms_px, "max_px": self.max_px, "check_rms_px": self.check_rms_px,
                "check_max_px": self.check_max_px, "nodes": self.nodes,
                "height_range_m": list(self.model.height_range)}


def _solve_ratio(t: np.ndarray, r: np.ndarray, ridge: float, iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Numerator (20) and denominator (20, first = 1) with r ≈ (t·num)/(t·den); weighted, ridge-regularised."""
    a = np.concatenate([t, -r[:, None] * t[:, 1:]], axis=1)  # unknowns: num (20), den[1:] (19)
    weights = np.ones(r.shape)
    num = np.zeros(20)
    den = np.zeros(20)
    den[0] = 1.0
    for _ in range(iterations):
        aw = a * weights[:, None]
        bw = r * weights
        lhs = aw.T @ aw
        reg = ridge * np.trace(lhs) / lhs.shape[0]
        lhs[np.diag_indices_from(lhs)] += reg
        x = np.linalg.solve(lhs, aw.T @ bw)
        num = x[:20]
        den = np.concatenate([[1.0], x[20:]])
        d = t @ den
        if np.any(np.abs(d) < 0.5):  # a pole in the domain: fall back to the polynomial fit
            break
        weights = 1.0 / np.abs(d)
    d = t @ den
    if np.any(np.abs(d) < 0.5):
        lhs = t.T @ t
        lhs[np.diag_indices_from(lhs)] += ridge * np.trace(lhs) / 20
        num = np.linalg.solve(lhs, t.T @ r)
        den = np.zeros(20)
        den[0] = 1.0
    return num, den


def _scale(values: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    off = 0.5 * (lo + hi)
    return off, max(0.5 * (hi - lo), 1e-9)


def fit_rpc_points(lon: np.ndarray, lat: np.ndarray, h: np.ndarray, line: np.ndarray, samp: np.ndarray,
                   ridge: float = 1e-12) -> RPCFit:
    """Fit an RPC to ground ↔ image correspondences (1-D arrays)."""
    lon, lat, h, line, samp = (np.asarray(v, np.float64).ravel() for v in (lon, lat, h, line, samp))
    if lon.size < 39:
        raise ProcessingError(f"RPC fit needs at least 39 points, got {lon.size}")
    long_off, long_scale = _scale(lon)
    lat_off, lat_scale = _scale(lat)
    h_off, h_scale = _scale(h)
    line_off, line_scale = _scale(line)
    samp_off, samp_scale = _scale(samp)
    h_scale = max(h_scale, 1.0)
    t = rpc_terms((lon - long_off) / long_scale, (lat - lat_off) / lat_scale, (h - h_off) / h_scale)
    ln, ld = _solve_ratio(t, (line - line_off) / line_scale, ridge)
    sn, sd = _solve_ratio(t, (samp - samp_off) / samp_scale, ridge)
    model = RPCModel(line_off, samp_off, lat_off, long_off, h_off, line_scale, samp_scale, lat_scale, long_scale,
                     h_scale, ln, ld, sn, sd)
    pl, ps = model.project(lon, lat, h)
    err = np.hypot(pl - line, ps - samp)
    return RPCFit(model, float(np.sqrt(np.mean(err**2))), float(err.max()), nodes=lon.size)


LineTimes = Callable[[np.ndarray], np.ndarray]


def location_grid(model: Any, band: Any, line_times: LineTimes, lines: int, detectors: int,
                  heights: np.ndarray, n_lines: int = 21, n_det: int = 21,
                  offset: float = 0.0) -> tuple[np.ndarray, ...]:
    """Ground points of a (lines × detectors × heights) grid of image nodes.

    ``model`` is a :class:`~rsarchive.geometry.sensor.SensorModel`, ``line_times(l)``
    the UTC time stamps (datetime64, start of integration) of fractional line numbers ``l``; the model
    locates each at mid-integration.  ``offset`` shifts the
    nodes by a fraction of the node spacing (0.5: cell centres, for checking).
    Returns flattened lon, lat, h, line, sample.
    """
    step_l = (lines - 1) / (n_lines - 1)
    step_d = (detectors - 1) / (n_det - 1)
    li = np.arange(n_lines - (1 if offset else 0)) * step_l + offset * step_l
    di = np.arange(n_det - (1 if offset else 0)) * step_d + offset * step_d
    times = line_times(li)
    out: list[list[np.ndarray]] = [[], [], [], [], []]
    for h in heights:
        g = model.locate(band, times, di, height=float(h))
        ll, dd = np.meshgrid(li, di, indexing="ij")
        for k, v in enumerate((g.lon, g.lat, np.full(ll.shape, float(h)), ll, dd)):
            out[k].append(v.ravel())
    return tuple(np.concatenate(v) for v in out)


def fit_rpc(model: Any, band: Any, line_times: LineTimes, lines: int, detectors: int,
            height_range: tuple[float, float] = DEFAULT_HEIGHT_RANGE, layers: int = 5,
            n_nodes: int = 15) -> RPCFit:
    """Fit the RPC of one band of a scene from the sensor model (see the module docstring).

    ``lines``: lines of the scene (line 0 at ``line_times(0)``); ``detectors``: samples per line.
    """
    lo, hi = height_range
    heights = np.linspace(lo, hi, layers)
    lon, lat, h, line, samp = location_grid(model, band, line_times, lines, detectors, heights, n_nodes, n_nodes)
    fit = fit_rpc_points(lon, lat, h, line, samp)
    mid = 0.5 * (heights[:-1] + heights[1:])
    clon, clat, ch, cline, csamp = location_grid(model, band, line_times, lines, detectors, mid, n_nodes, n_nodes,
                                                 offset=0.5)
    pl, ps = fit.model.project(clon, clat, ch)
    err = np.hypot(pl - cline, ps - csamp)
    result = RPCFit(fit.model, fit.rms_px, fit.max_px, float(np.sqrt(np.mean(err**2))), float(err.max()), fit.nodes)
    if result.check_max_px is not None and result.check_max_px > 0.05:
        log.warning("RPC fit residual up to %.3f px at check points (jitter or a degraded attitude?)",
                    result.check_max_px)
    return result
