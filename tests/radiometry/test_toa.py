"""TOA reflectance: the compiled per-strip pass against NumPy's passes (the product's former route)."""

from __future__ import annotations

import numpy as np
import pytest

from rsarchive.errors import UsageError
from rsarchive.radiometry.encoding import REFLECTANCE_ENCODING, Encoding
from rsarchive.radiometry.toa import toa_encode_rows

QA_NODATA = 1


def numpy_route(radiance: np.ndarray, qa: np.ndarray, cos: np.ndarray, factor: float, encoding: Encoding
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rho, q = radiance.copy(), qa.copy()
    rho *= np.float32(factor)
    rho /= cos
    rho[(q & QA_NODATA) != 0] = np.nan
    q[~np.isfinite(rho)] |= np.uint16(QA_NODATA)
    return rho, q, encoding.encode(rho)


@pytest.fixture()
def strip() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    shape = (48, 64)
    radiance = rng.uniform(-2.0, 700.0, shape).astype(np.float32)  # negatives and saturation: clipped counts
    radiance[5, :9] = np.nan  # no data from the warp
    qa = rng.choice(np.array([0, 0, 0, 2, 4, QA_NODATA], np.uint16), shape)  # other bits kept, some no-data
    cos = rng.uniform(0.2, 1.0, shape).astype(np.float32)
    return radiance, qa, cos


@pytest.mark.parametrize("encoding", [REFLECTANCE_ENCODING, Encoding(2e-5, -0.1, nodata=65535)])
def test_the_same_to_the_bit_as_numpys_passes(strip: tuple[np.ndarray, np.ndarray, np.ndarray],
                                             encoding: Encoding) -> None:
    radiance, qa, cos = strip
    want_rho, want_qa, want_counts = numpy_route(radiance, qa, cos, 0.0031, encoding)
    rho, q, counts = radiance.copy(), qa.copy(), np.empty(radiance.shape, np.uint16)
    toa_encode_rows(rho, q, cos, 0.0031, counts, encoding, QA_NODATA)
    assert np.array_equal(rho, want_rho, equal_nan=True)
    assert np.array_equal(q, want_qa) and np.array_equal(counts, want_counts)
    assert (counts == encoding.nodata).any() and (counts == encoding.valid_range[1]).any()


def test_a_given_cos_field_is_used_as_it_is(strip: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Values of a given cos θs field are taken as they are, infinite ones included (ρ = 0 there)."""
    radiance, qa, cos = strip
    cos = cos.copy()
    cos[7, 3:6] = np.inf
    want_rho, want_qa, want_counts = numpy_route(radiance, qa, cos, 0.0031, REFLECTANCE_ENCODING)
    rho, q, counts = radiance.copy(), qa.copy(), np.empty(radiance.shape, np.uint16)
    toa_encode_rows(rho, q, cos, 0.0031, counts)
    assert np.array_equal(rho, want_rho, equal_nan=True) and (rho[7, 3:6][qa[7, 3:6] == 0] == 0).all()
    assert np.array_equal(q, want_qa) and np.array_equal(counts, want_counts)


def test_block_means_are_numpys_mean(strip: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    radiance, qa, cos = strip
    want_rho, _, _ = numpy_route(radiance, qa, cos, 0.0031, REFLECTANCE_ENCODING)
    want = want_rho.reshape(12, 4, 16, 4).mean(axis=(1, 3), dtype=np.float64)
    means = np.empty((12, 16))
    toa_encode_rows(radiance.copy(), qa.copy(), cos, 0.0031, np.empty(radiance.shape, np.uint16),
                    block_mean=means, fine=4)
    assert np.array_equal(np.isnan(means), np.isnan(want)) and np.isnan(means).any()
    np.testing.assert_allclose(means[~np.isnan(means)], want[~np.isnan(want)], rtol=1e-12)


def test_bad_arguments_are_named(strip: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    radiance, qa, cos = strip
    counts = np.empty(radiance.shape, np.uint16)
    with pytest.raises(UsageError, match="float32 radiance"):
        toa_encode_rows(radiance.astype(np.float64), qa, cos, 1.0, counts)
    with pytest.raises(UsageError, match="differ"):
        toa_encode_rows(radiance, qa, cos[:3], 1.0, counts)
    with pytest.raises(UsageError, match="whole 5 × 5 blocks"):
        toa_encode_rows(radiance, qa, cos, 1.0, counts, block_mean=np.empty((9, 12)), fine=5)


@pytest.mark.parametrize("node_cols", [5, 1])
def test_cos_from_the_sun_grid_s_parts_is_its_field(strip: tuple[np.ndarray, np.ndarray, np.ndarray],
                                                    node_cols: int) -> None:
    """Interpolating cos θs per pixel from :meth:`SunGrid.cos_parts` gives the bits of the field that
    :meth:`SunGrid.cos_rows` makes (columns past the last node included; one node column too)."""
    from rsarchive.geometry.ortho import SunGrid

    radiance, qa, _ = strip
    rng = np.random.default_rng(3)
    cols = np.linspace(0.0, 50.0, node_cols)  # columns 51 … 63 past the last node
    sun = SunGrid(np.array([0.0, 20.0, 47.0]), cols, rng.uniform(20.0, 60.0, (3, node_cols)), np.zeros(3),
                  radiance.shape[1])
    results = []
    for cos in (sun.cos_rows(0, 48), sun.cos_parts(0, 48)):
        rho, q, counts = radiance.copy(), qa.copy(), np.empty(radiance.shape, np.uint16)
        means = np.empty((12, 16))
        toa_encode_rows(rho, q, cos, 0.0031, counts, block_mean=means, fine=4)
        results.append((rho, q, counts, means))
    for a, b in zip(*results, strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    with pytest.raises(UsageError, match="do not fit"):
        toa_encode_rows(radiance.copy(), qa.copy(), sun.cos_parts(0, 47), 1.0, np.empty(radiance.shape, np.uint16))
