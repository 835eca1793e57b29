"""RPC fitting (against the sensor model and GDAL's RPC transformer), image matching, cloud tests."""

from __future__ import annotations

import numpy as np
import pytest

from rsarchive.cpf import load_cpf
from rsarchive.geometry.cloud import cloud_class, cloud_mask
from rsarchive.geometry.refine import match_chips, phase_correlation
from rsarchive.geometry.rpc import fit_rpc, rpc_terms
from rsarchive.geometry.sensor import SensorModel
from rsarchive.simulate.attitude import NadirAttitude
from rsarchive.simulate.orbit import CircularOrbit

NS = np.timedelta64(1, "ns")


@pytest.fixture(scope="module")
def reference_model() -> SensorModel:
    orbit = CircularOrbit.over_point(16.0, 108.2)
    return SensorModel(load_cpf("vnredsat1"), orbit, NadirAttitude(orbit, (0.004, -0.001, 0.0)))


def test_rpc_fits_the_reference_scene_far_below_a_pixel(reference_model: SensorModel) -> None:
    from rasterio.transform import RPCTransformer

    epoch = reference_model.ephemeris.epoch64  # type: ignore[attr-defined]

    def times(lines: np.ndarray) -> np.ndarray:
        return epoch + np.rint(np.asarray(lines) * 0.00147e9).astype(np.int64) * NS

    fit = fit_rpc(reference_model, "B2", times, 1750, 1750)
    assert fit.check_max_px is not None and fit.check_max_px < 0.01 and fit.rms_px < 0.01
    # independent points at random heights: our RPC evaluation and GDAL's agree with the sensor model
    rng = np.random.default_rng(3)
    lines, dets, h = rng.uniform(0, 1749, 30), rng.uniform(0, 1749, 30), rng.uniform(0, 3000, 30)
    lon = np.empty(30)
    lat = np.empty(30)
    for k in range(30):
        g = reference_model.locate("B2", times(np.array([lines[k]])), np.array([dets[k]]), height=h[k])
        lon[k], lat[k] = g.lon[0, 0], g.lat[0, 0]
    line, samp = fit.model.project(lon, lat, h)
    assert np.abs(line - lines).max() < 0.01 and np.abs(samp - dets).max() < 0.01
    with RPCTransformer(fit.model.to_rasterio()) as tr:
        # GDAL's forward transform (what its warper uses): continuous pixel coordinate = RPC value + 0.5
        grow, gcol = tr.rowcol(lon, lat, zs=h, op=lambda v: v)
    assert np.abs(np.asarray(grow, float) - 0.5 - lines).max() < 0.01
    assert np.abs(np.asarray(gcol, float) - 0.5 - dets).max() < 0.01
    back_lon, back_lat = fit.model.localise(lines, dets, h)
    assert np.abs(back_lon - lon).max() < 1e-8 and np.abs(back_lat - lat).max() < 1e-8


def test_rpc_term_order_is_rpc00b() -> None:
    t = rpc_terms(np.array(2.0), np.array(3.0), np.array(5.0))  # L, P, H
    assert t.tolist() == [1, 2, 3, 5, 6, 10, 15, 4, 9, 25, 30, 8, 18, 50, 12, 27, 75, 20, 45, 125]


def test_phase_correlation_and_chip_matching_measure_subpixel_shifts() -> None:
    from scipy.ndimage import fourier_shift, gaussian_filter

    rng = np.random.default_rng(0)
    base = gaussian_filter(rng.normal(size=(256, 256)), 2.5)
    for true in [(-0.3, 0.7), (2.4, -1.6)]:
        moved = np.real(np.fft.ifft2(fourier_shift(np.fft.fft2(base), true))) * 1.7 + 0.2  # gain, offset
        matches = match_chips(base, moved, chip=64)
        d = np.array([[m.dy, m.dx] for m in matches])
        assert len(matches) >= 9 and np.abs(d - np.array(true)).max() < 0.03, d
    sharp = gaussian_filter(rng.normal(size=(128, 128)), 1.0)
    dy, dx, peak = phase_correlation(sharp[:64, :64], np.roll(sharp, (3, -5), axis=(0, 1))[:64, :64])
    assert (round(dy), round(dx)) == (3, -5) and peak > 0.3


def test_a_prepared_reference_matches_as_the_array_does() -> None:
    """Band registration prepares the reference once for every band: the same matches as passing the
    array (no-data included), and a reference prepared for the other kind of matching is refused."""
    from scipy.ndimage import fourier_shift, gaussian_filter

    from rsarchive.geometry.refine import prepare_reference

    rng = np.random.default_rng(1)
    base = gaussian_filter(rng.normal(size=(256, 256)), 2.5).astype(np.float32)
    moved = np.real(np.fft.ifft2(fourier_shift(np.fft.fft2(base), (0.4, -0.8)))).astype(np.float32)
    base[:20, :] = np.nan  # no data along one edge of each
    moved[:, -30:] = np.nan
    for gradient in (False, True):
        direct = match_chips(base, moved, chip=64, gradient=gradient)
        prepared = match_chips(base, prepare_reference(moved, gradient), chip=64, gradient=gradient)
        assert direct == prepared and len(direct) >= 9
    with pytest.raises(ValueError, match="gradient"):
        match_chips(base, prepare_reference(moved, gradient=True), chip=64)


@pytest.mark.parametrize("r0, c0", [(40, 50), (0, 0), (190, 3)])
def test_separable_spline_chip_equals_map_coordinates(r0: int, c0: int) -> None:
    """The Lucas–Kanade step evaluates the shifted reference separably; it must equal SciPy's
    cubic-spline interpolation (in the interior, and at the border where it falls back)."""
    from scipy.ndimage import map_coordinates, spline_filter

    from rsarchive.geometry.refine import _central_gradient, _shifted_chip

    coeffs = spline_filter(np.random.default_rng(5).normal(size=(256, 256)), order=3)
    rr, cc = np.mgrid[r0:r0 + 64, c0:c0 + 64].astype(np.float64)
    for dy, dx in [(0.0, 0.0), (0.37, -1.61), (-3.92, 2.05), (7.5, -0.001)]:
        fast = _shifted_chip(coeffs, r0, c0, 64, 64, dy, dx, rr, cc)
        slow = map_coordinates(coeffs, [rr + dy, cc + dx], order=3, mode="nearest", prefilter=False)
        assert np.abs(fast - slow).max() < 1e-12 * max(1.0, np.abs(slow).max())
        gy, gx = _central_gradient(fast)
        ny, nx = np.gradient(fast)
        assert np.array_equal(gy, ny) and np.array_equal(gx, nx)


def test_cloud_tests_separate_cloud_from_land() -> None:
    # blue, green, red, NIR: cloud, vegetation, soil, turbid water, roof, half cloud over paddy
    spectra = np.array([[0.72, 0.73, 0.74, 0.75], [0.035, 0.075, 0.045, 0.38], [0.09, 0.12, 0.15, 0.22],
                        [0.075, 0.085, 0.075, 0.035], [0.16, 0.16, 0.17, 0.21], [0.38, 0.40, 0.39, 0.56]])
    mask = cloud_mask(*spectra.T)
    assert mask.tolist() == [True, False, False, False, False, True]
    assert not cloud_mask(*np.full((4, 1), np.nan)).any()
    assert [cloud_class(v) for v in (0.0, 9.99, 10.0, 24.9, 25.0, 80.0)] == ["A", "A", "B", "B", "C", "C"]


def test_sun_cosine_strips_match_the_cosine_of_the_interpolated_zenith() -> None:
    """``SunGrid.cos_rows`` interpolates cos θs at the nodes; it must equal cos of the interpolated θs
    to float32 precision, on every strip, including the last partial node cell and the edges."""
    from rsarchive.geometry.ortho import SunGrid

    rows = np.array([0.0, 32.0, 64.0, 80.0])
    cols = np.array([0.0, 32.0, 64.0, 96.0, 99.0])
    # 0.3° per node cell (real scenes: ≈ 1e-4° per 10 km), so a node off by one cell shows
    zenith = 30.0 + 0.01 * rows[:, None] + 0.008 * cols[None, :] + 1e-5 * rows[:, None] * cols[None, :]
    sun = SunGrid(rows, cols, zenith, np.zeros(rows.size), 100)
    for r0, r1 in [(0, 17), (17, 81), (75, 81)]:
        fast = sun.cos_rows(r0, r1)
        exact = np.cos(np.radians(sun.zenith_rows(r0, r1)))
        assert fast.dtype == np.float32 and fast.shape == (r1 - r0, 100)
        # bilinear in cos vs in θ differs by the curvature of cos over a node cell (< 1e-5 here)
        assert np.abs(fast / exact - 1).max() < 2e-5
    assert np.abs(sun.cos_rows(0, 1)[0, [0, 32, 99]] - np.cos(np.radians(zenith[0, [0, 1, 4]]))).max() < 1e-6


def test_sun_nodes_shared_by_a_finer_grid_sit_at_the_same_ground_positions() -> None:
    """The PAN grid reuses the multispectral grid's solar nodes: a field linear in ground position is
    reproduced exactly at the finer pixels between the nodes, and held past the last node."""
    from rsarchive.geometry.ortho import SunGrid

    rows = np.array([0.0, 32.0, 64.0, 69.0])
    cols = np.array([0.0, 32.0, 50.0])

    def field(r: np.ndarray, c: np.ndarray) -> np.ndarray:  # r, c in coarse pixels (centres)
        return 30.0 + 0.02 * r + 0.01 * c

    coarse = SunGrid(rows, cols, field(rows[:, None], cols[None, :]), np.zeros(rows.size), 51)
    fine = coarse.finer(4, 204)
    got = fine.zenith_rows(0, 280)
    r = (np.arange(280) + 0.5) / 4 - 0.5
    c = (np.arange(204) + 0.5) / 4 - 0.5
    inside_r, inside_c = (r >= 0) & (r <= 69), (c >= 0) & (c <= 50)
    want = field(r[:, None], c[None, :])
    assert np.abs(got - want)[np.ix_(inside_r, inside_c)].max() < 1e-9
    # past the last node column the last node's value is held
    past = c > 50
    assert past.sum() == 2
    assert np.abs(got[np.ix_(inside_r, past)] - field(r[inside_r], 50.0)[:, None]).max() < 1e-9
    assert np.abs(fine.cos_rows(0, 280) / np.cos(np.radians(got)) - 1).max() < 2e-5
