"""Image matching and GCP refinement of the RPC: pure NumPy.

**Matching** (:func:`phase_correlation`, :func:`match_chips`).  Chips of the
product and of a reference orthoimage on the *same* grid are matched by phase
correlation (normalised cross-power spectrum, Hann window; optional upsampled-DFT peak
of Guizar-Sicairos et al. 2008) to the nearest pixel, then Gauss–Newton
(Lucas–Kanade with gain and offset, cubic-spline interpolation) refines the
shift to ≈ 0.01 px.  Chips with little texture, nodata or a weak peak are skipped.
``gradient=True`` matches gradient magnitudes instead of values: insensitive to
contrast inversions between bands (vegetation is dark in red, bright in NIR),
for band-to-band registration.
(why: docs/DECISIONS.md, Image matching and band-to-band registration: precision and cost)

**Outliers** (:func:`robust_inliers`): a match is kept when its shift lies within
``max(3 · 1.4826 · MAD, floor)`` of the median shift (per axis) — the median is
the RANSAC consensus of a translation model with no sampling needed.

**Correction** (:func:`estimate_correction`).  A chip at map point ``p`` whose
content is found at ``p + d`` in the reference is a GCP: the image point
``v = RPC(p)`` sees the ground point ``p + d``, whose RPC image point is
``u = RPC(p + d)``.  The corrected model is ``A ∘ RPC`` with ``A`` the image-space
bias (``v − u`` averaged) or, with enough well-spread GCPs, the affine fitted by
least squares (:meth:`rsarchive.geometry.rpc.RPCModel.with_image_correction`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rsarchive.geometry.rpc import RPCModel

__all__ = ["Match", "Refinement", "ReferenceChips", "phase_correlation", "match_chips", "prepare_reference",
           "robust_inliers", "estimate_correction", "REFINED", "NOT_REFINED"]

log = logging.getLogger(__name__)

REFINED = "REFINED"
NOT_REFINED = "NOT_REFINED"


def _upsampled_dft(data: np.ndarray, size: int, upsample: int, row_off: float, col_off: float) -> np.ndarray:
    """Upsampled inverse DFT of ``data`` on a ``size × size`` patch starting at (row_off, col_off) (upsampled px)."""
    rows, cols = data.shape
    kc = np.exp((-2j * np.pi / (cols * upsample)) * (np.fft.ifftshift(np.arange(cols))[:, None]
                                                        - np.floor(cols / 2)) * (np.arange(size) - col_off)[None, :])
    kr = np.exp((-2j * np.pi / (rows * upsample)) * (np.arange(size) - row_off)[:, None]
                * (np.fft.ifftshift(np.arange(rows))[None, :] - np.floor(rows / 2)))
    return kr @ data @ kc


def _hann(shape: tuple[int, int]) -> np.ndarray:
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1]))


def phase_correlation(moving: np.ndarray, reference: np.ndarray, upsample: int = 50) -> tuple[float, float, float]:
    """Shift (dy, dx) in pixels such that ``moving(r, c) ≈ reference(r + dy, c + dx)``, and the peak height.

    The peak height (0 … 1) measures how well the chips match (≈ 1 for a pure shift).
    """
    a = np.asarray(moving, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    w = _hann(a.shape)
    fa = np.fft.fft2((a - a.mean()) * w)
    fb = np.fft.fft2((b - b.mean()) * w)
    cross = fb * np.conj(fa)
    cross /= np.maximum(np.abs(cross), 1e-12)
    corr = np.fft.ifft2(cross)
    peak = np.unravel_index(int(np.argmax(np.abs(corr))), corr.shape)
    shifts = np.array([float(p) for p in peak])
    mid = np.array(corr.shape) // 2
    shifts[shifts > mid] -= np.array(corr.shape)[shifts > mid]
    height = float(np.abs(corr[peak]))
    if upsample > 1:
        region = int(np.ceil(upsample * 1.5))
        centre = region // 2
        offset = centre - shifts * upsample
        up = _upsampled_dft(np.conj(cross), region, upsample, offset[0], offset[1])
        idx = np.unravel_index(int(np.argmax(np.abs(up))), up.shape)
        shifts = shifts + (np.array(idx, dtype=np.float64) - centre) / upsample
        height = max(height, float(np.abs(up[idx])) / cross.size)
    return float(shifts[0]), float(shifts[1]), height


def _gradient_magnitude(a: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(a)
    return np.hypot(gx, gy)


@dataclass(frozen=True)
class Match:
    """One chip match: centre (row, col) in the grid and the shift (dy, dx) in pixels of that grid."""

    row: float
    col: float
    dy: float
    dx: float
    peak: float


def _bspline3_weights(t: float) -> np.ndarray:
    """Cubic B-spline weights of the four coefficients around a point at fraction ``t`` ∈ [0, 1)."""
    u = 1.0 - t
    return np.array([u * u * u, 3.0 * t**3 - 6.0 * t * t + 4.0, -3.0 * t**3 + 3.0 * t * t + 3.0 * t + 1.0, t**3]) / 6.0


def _shifted_chip(coeffs: np.ndarray, r0: int, c0: int, n_r: int, n_c: int, dy: float, dx: float,
                  rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """The cubic-spline reference (``coeffs``) at ``(r0 + i + dy, c0 + j + dx)`` for an ``n_r × n_c`` chip.

    The shift is the same for every pixel, so the spline is separable: four weighted rows, then four
    weighted columns of the coefficient patch (the same values as ``map_coordinates`` up to
    rounding).  Near the border, where the patch would leave the array, ``map_coordinates`` (mode
    ``nearest``) is used.
    """
    fy, fx = np.floor(dy), np.floor(dx)
    top, left = r0 + int(fy) - 1, c0 + int(fx) - 1
    if top < 0 or left < 0 or top + n_r + 3 > coeffs.shape[0] or left + n_c + 3 > coeffs.shape[1]:
        from scipy.ndimage import map_coordinates

        return map_coordinates(coeffs, [rr + dy, cc + dx], order=3, mode="nearest", prefilter=False)
    patch = coeffs[top:top + n_r + 3, left:left + n_c + 3]
    wy, wx = _bspline3_weights(dy - fy), _bspline3_weights(dx - fx)
    rows = wy[0] * patch[0:n_r] + wy[1] * patch[1:n_r + 1] + wy[2] * patch[2:n_r + 2] + wy[3] * patch[3:n_r + 3]
    return (wx[0] * rows[:, 0:n_c] + wx[1] * rows[:, 1:n_c + 1] + wx[2] * rows[:, 2:n_c + 2]
            + wx[3] * rows[:, 3:n_c + 3])


def _central_gradient(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.gradient(b)`` (central differences, one-sided at the edges; the same arithmetic) without its
    per-call overhead."""
    gy = np.empty_like(b)
    gx = np.empty_like(b)
    gy[1:-1] = (b[2:] - b[:-2]) / 2.0
    gy[0] = b[1] - b[0]
    gy[-1] = b[-1] - b[-2]
    gx[:, 1:-1] = (b[:, 2:] - b[:, :-2]) / 2.0
    gx[:, 0] = b[:, 1] - b[:, 0]
    gx[:, -1] = b[:, -1] - b[:, -2]
    return gy, gx


def _lucas_kanade(a: np.ndarray, coeffs: np.ndarray, r0: int, c0: int, dy: float, dx: float,
                  iterations: int = 15) -> tuple[float, float, bool]:
    """Refine the shift of chip ``a`` (at r0, c0) in the reference (cubic-spline ``coeffs``): Gauss–Newton
    on ``a ≈ g·ref(r + dy, c + dx) + o`` (translation, gain, offset), Hann-weighted.

    Each step solves the 4 × 4 normal equations (the Jacobian has four well-scaled columns; a singular
    system falls back to least squares)."""
    n_r, n_c = a.shape
    rr, cc = np.mgrid[r0:r0 + n_r, c0:c0 + n_c].astype(np.float64)
    w = _hann(a.shape).ravel()
    target = a.ravel() * w
    jac_t = np.empty((4, a.size))
    for _ in range(iterations):
        b = _shifted_chip(coeffs, r0, c0, n_r, n_c, dy, dx, rr, cc)
        by, bx = _central_gradient(b)
        np.multiply(by.ravel(), w, out=jac_t[0])
        np.multiply(bx.ravel(), w, out=jac_t[1])
        np.multiply(b.ravel(), w, out=jac_t[2])
        jac_t[3] = w
        try:
            sol = np.linalg.solve(jac_t @ jac_t.T, jac_t @ target)
        except np.linalg.LinAlgError:
            sol, *_ = np.linalg.lstsq(jac_t.T, target, rcond=None)
        gain = sol[2]
        if not np.isfinite(gain) or abs(gain) < 1e-6:
            return dy, dx, False
        step_y, step_x = sol[0] / gain, sol[1] / gain
        dy += step_y
        dx += step_x
        if max(abs(step_y), abs(step_x)) < 1e-3:
            return dy, dx, True
    return dy, dx, False


@dataclass(frozen=True)
class ReferenceChips:
    """A reference image made ready for :func:`match_chips` once, for matching several images against it.

    ``values``: the reference with no-data filled with its mean (its gradient magnitude when
    ``gradient``); ``coeffs``: their cubic-spline coefficients; ``valid``: where it has data.
    """

    valid: np.ndarray
    values: np.ndarray
    coeffs: np.ndarray
    gradient: bool


def _fill_value(image: np.ndarray, valid: np.ndarray) -> float:
    """What no-data is replaced by: the mean of the image's data (the chips' windowing sees no step)."""
    return float(image[valid].mean()) if valid.any() else 0.0


def _filled(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``image`` with no-data replaced by :func:`_fill_value`."""
    return np.where(valid, image, _fill_value(image, valid))


def prepare_reference(reference: np.ndarray, gradient: bool = False) -> ReferenceChips:
    """The reference of :func:`match_chips` (NaN = no data), prepared once."""
    from scipy.ndimage import spline_filter

    valid = np.isfinite(reference)
    values = _filled(reference, valid)
    if gradient:
        values = _gradient_magnitude(values)
    return ReferenceChips(valid, values, spline_filter(values.astype(np.float64), order=3), gradient)


def match_chips(image: np.ndarray, reference: np.ndarray | ReferenceChips, chip: int = 64, step: int | None = None,
                gradient: bool = False, min_valid: float = 0.98, min_peak: float = 0.05,
                min_contrast: float = 1e-3, upsample: int = 10) -> list[Match]:
    """Match co-gridded ``image`` against ``reference`` chip by chip (NaN = no data).

    Phase correlation gives the shift to the nearest pixel (robust to large
    shifts); Gauss–Newton (Lucas–Kanade with gain and offset) on the cubic-spline
    interpolated reference refines it (≈ 0.01 px on smooth texture, where phase
    correlation alone locks towards whole pixels).  Returns one :class:`Match` per
    usable chip; ``dy, dx`` mean: the content at (row, col) of ``image`` is at
    (row + dy, col + dx) of ``reference``.  ``gradient``: match gradient magnitudes
    (across spectral bands).  Several images against one reference: pass
    :func:`prepare_reference` (made with the same ``gradient``) instead of the array.
    """
    prepared = reference if isinstance(reference, ReferenceChips) else prepare_reference(reference, gradient)
    if prepared.gradient != gradient:
        raise ValueError(f"reference prepared with gradient={prepared.gradient}, matching with gradient={gradient}")
    if image.shape != prepared.values.shape:
        raise ValueError(f"image {image.shape} and reference {prepared.values.shape} must share the grid")
    step = step or chip // 2
    rows, cols = image.shape
    valid_image = np.isfinite(image)
    valid_all = valid_image & prepared.valid
    if not valid_all.any():
        return []
    # the image is filled (and its gradient taken) chip by chip, not whole: the chips cover a small part
    # of it.  A chip is cut with a one-pixel margin (where the image has one), so that its gradient is
    # the whole image's (central differences inside, one-sided only at the image's own edges)
    fill = _fill_value(image, valid_image)
    ref, coeffs = prepared.values, prepared.coeffs
    out: list[Match] = []
    for r0 in range(0, max(rows - chip, 0) + 1, step):
        for c0 in range(0, max(cols - chip, 0) + 1, step):
            if valid_all[r0:r0 + chip, c0:c0 + chip].mean() < min_valid:
                continue
            top, left = max(r0 - 1, 0), max(c0 - 1, 0)
            cut = image[top:r0 + chip + 1, left:c0 + chip + 1]
            region = np.where(valid_image[top:r0 + chip + 1, left:c0 + chip + 1], cut, fill)
            if gradient:
                region = _gradient_magnitude(region)
            a = region[r0 - top:r0 - top + chip, c0 - left:c0 - left + chip]
            b = ref[r0:r0 + chip, c0:c0 + chip]
            if a.shape != (chip, chip) or a.std() < min_contrast or b.std() < min_contrast:
                continue
            dy, dx, peak = phase_correlation(a, b, upsample)
            if peak < min_peak or max(abs(dy), abs(dx)) > chip / 4:
                continue
            dy, dx, ok = _lucas_kanade(a, coeffs, r0, c0, float(round(dy)), float(round(dx)))
            if not ok or max(abs(dy), abs(dx)) > chip / 4:
                continue
            out.append(Match(r0 + (chip - 1) / 2, c0 + (chip - 1) / 2, dy, dx, peak))
    return out


def robust_inliers(matches: list[Match], floor_px: float = 0.5, k: float = 3.0) -> np.ndarray:
    """Boolean mask of matches consistent with the consensus translation (see the module docstring)."""
    if not matches:
        return np.zeros(0, dtype=bool)
    d = np.array([[m.dy, m.dx] for m in matches])
    med = np.median(d, axis=0)
    mad = np.median(np.abs(d - med), axis=0) * 1.4826
    limit = np.maximum(k * mad, floor_px)
    return np.all(np.abs(d - med) <= limit, axis=1)


@dataclass
class Refinement:
    """The outcome of GCP refinement of one RPC."""

    status: str
    model: RPCModel
    correction: list[list[float]] = field(default_factory=lambda: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    kind: str = "none"
    gcps: int = 0
    rejected: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "correction": self.kind, "image_affine": self.correction,
                "gcps": self.gcps, "rejected": self.rejected, "reason": self.reason}


def estimate_correction(rpc: RPCModel, matches: list[Match], grid: Any, lines: int, samples: int,
                        height_m: float | Any = 0.0, min_gcps: int = 3, affine: bool = False,
                        min_gcps_affine: int = 10) -> Refinement:
    """Correct ``rpc`` from chip matches made on ``grid`` (an :class:`~rsarchive.geometry.ortho.OrthoGrid`).

    ``height_m``: a constant or a callable ``height(lat, lon)`` (the DEM) for the GCP heights.
    """
    from pyproj import Transformer

    inl = robust_inliers(matches)
    good = [m for m, ok in zip(matches, inl) if ok]
    rejected = len(matches) - len(good)
    if len(good) < min_gcps:
        return Refinement(NOT_REFINED, rpc, gcps=len(good), rejected=rejected,
                          reason=f"{len(good)} consistent GCP(s), {min_gcps} needed")
    rows = np.array([m.row for m in good])
    cols = np.array([m.col for m in good])
    dy = np.array([m.dy for m in good])
    dx = np.array([m.dx for m in good])
    to_ll = Transformer.from_crs(grid.epsg, 4326, always_xy=True)
    px, py = grid.xy(rows, cols)
    qx, qy = grid.xy(rows + dy, cols + dx)
    plon, plat = (np.asarray(v) for v in to_ll.transform(px, py))
    qlon, qlat = (np.asarray(v) for v in to_ll.transform(qx, qy))
    hp = height_m(plat, plon) if callable(height_m) else np.full(plat.shape, float(height_m))
    hq = height_m(qlat, qlon) if callable(height_m) else np.full(qlat.shape, float(height_m))
    hp, hq = np.nan_to_num(hp), np.nan_to_num(hq)
    vl, vs = rpc.project(plon, plat, hp)   # where the image point is
    ul, us = rpc.project(qlon, qlat, hq)   # where the model puts the true ground point
    spread = (np.ptp(vl) > 0.3 * lines) and (np.ptp(vs) > 0.3 * samples)
    if affine and len(good) >= min_gcps_affine and spread:
        a = np.column_stack([ul, us, np.ones_like(ul)])
        ml, *_ = np.linalg.lstsq(a, vl, rcond=None)
        ms, *_ = np.linalg.lstsq(a, vs, rcond=None)
        matrix = np.vstack([ml, ms])
        kind = "affine"
    else:
        matrix = np.array([[1.0, 0.0, float(np.mean(vl - ul))], [0.0, 1.0, float(np.mean(vs - us))]])
        kind = "bias"
    model = rpc.with_image_correction(matrix, lines, samples)
    return Refinement(REFINED, model, matrix.tolist(), kind, len(good), rejected)
