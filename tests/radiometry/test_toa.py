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
