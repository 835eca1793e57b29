"""Overviews computed by ``rsarchive.cog.overviews`` against GDAL's own ``BuildOverviews``.

GDAL reads a band in chunks of rows and, where a cell's window crosses a chunk's
first row, averages only the part inside the chunk (a processing artefact: it
moves with the chunk height).  Ours are the whole-window cells: the reference is
GDAL with one chunk (``GDAL_OVR_CHUNKYSIZE`` = the band's height).
"""

from __future__ import annotations

import numpy as np
import pytest

from rsarchive.cog.overviews import average_overviews, mode_overviews, overview_size
from rsarchive.errors import ProcessingError
from rsarchive.testing import gdal_reference


def gdal_overviews(band: np.ndarray, nodata: int | None, factors: list[int], resampling: str,
                   chunk_rows: int | None = None) -> list[np.ndarray]:
    """GDAL's ``BuildOverviews`` of the band, largest level first; in one chunk unless ``chunk_rows``."""
    return gdal_reference.gdal_overviews(band, nodata, factors, resampling, chunk_rows=chunk_rows or band.shape[0])[0]


def _cases(seed: int, count: int) -> list[tuple[np.ndarray, int | None, list[int]]]:
    """Random bands: sizes even and odd, few or many values, blocks and noise, scattered no-data."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        height, width = (int(v) for v in rng.integers(8, 420, 2))
        dtype = np.uint16 if rng.random() < 0.7 else np.uint8
        top = np.iinfo(dtype).max
        low = int(rng.integers(0, top - 4))
        span = int(rng.choice([2, 3, 5, 300, top - low + 1]))
        band = (rng.integers(0, span, (height, width)) + low).clip(0, top).astype(dtype)
        if rng.random() < 0.4:  # uniform blocks, as a QA bitfield
            b = int(rng.integers(2, 40))
            blocks = rng.integers(0, span, (height // b + 1, width // b + 1)) + low
            band = np.kron(blocks, np.ones((b, b), int))[:height, :width].clip(0, top).astype(dtype)
        nodata = int(rng.choice([low, 0, top, low + 1]))
        if rng.random() < 0.6:
            band[rng.random((height, width)) < rng.random()] = nodata
        factors = sorted({int(f) for f in rng.choice([2, 3, 4, 6, 7, 8, 16, 32], size=int(rng.integers(1, 5)))})
        sizes = [overview_size(width, height, f) for f in factors]
        if len(set(sizes)) == len(sizes) and all(w >= 2 and h >= 2 for w, h in sizes):
            cases.append((band, nodata, factors))
    return cases


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_average_is_gdal_s(seed: int) -> None:
    for band, nodata, factors in _cases(seed, 60):
        reference = gdal_overviews(band, nodata, factors, "AVERAGE")
        ours = average_overviews(band, nodata, [r.shape[::-1] for r in reference])
        for ref, level in zip(reference, ours, strict=True):
            assert level.dtype == band.dtype
            np.testing.assert_array_equal(level, ref, err_msg=f"{band.shape} {band.dtype} nodata {nodata} "
                                                                f"factors {factors} level {ref.shape}")


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_mode_is_gdal_s_with_and_without_nodata(seed: int) -> None:
    for k, (band, nodata, factors) in enumerate(_cases(seed, 60)):
        value = None if k % 2 else nodata
        reference = gdal_overviews(band, value, factors, "MODE")
        ours = mode_overviews(band, value, [r.shape[::-1] for r in reference])
        for ref, level in zip(reference, ours, strict=True):
            np.testing.assert_array_equal(level, ref, err_msg=f"{band.shape} {band.dtype} nodata {value} "
                                                                f"factors {factors} level {ref.shape}")


def test_average_near_a_half_with_fractional_weights_is_gdal_s(caplog: pytest.LogCaptureFixture) -> None:
    """Cells with fractional edge weights whose average is exactly k + ½ (their two data pixels, 100 and
    101, inside, everything else no-data) are computed again pixel by pixel in GDAL's order."""
    import logging

    from rsarchive.cog.overviews import _windows

    height, width, factor = 93, 94, 4  # 24 × 24 cells of 3.875 × 3.917 pixels: fractional edges
    ow, oh = overview_size(width, height, factor)
    xlo, xhi, _, _ = _windows(width, ow)
    ylo, yhi, _, _ = _windows(height, oh)
    band = np.zeros((height, width), np.uint16)
    for d in range(oh):
        for j in range(ow):
            if xhi[j] - xlo[j] >= 4 and yhi[d] - ylo[d] >= 3:
                band[ylo[d] + 1, xlo[j] + 1], band[ylo[d] + 1, xlo[j] + 2] = 100, 101
    reference = gdal_overviews(band, 0, [factor], "AVERAGE")[0]
    with caplog.at_level(logging.DEBUG, logger="rsarchive.cog.overviews"):
        (ours,) = average_overviews(band, 0, [(ow, oh)])
    np.testing.assert_array_equal(ours, reference)
    assert (ours == 101).sum() > 100
    assert "near a half computed in GDAL's order" in caplog.text


def test_an_average_equal_to_nodata_becomes_its_neighbour() -> None:
    band = np.array([[4, 6, 4, 6], [6, 4, 6, 4]], np.uint16)  # every 2 × 2 cell averages to 5
    (level,) = average_overviews(band, 5, [(2, 1)])
    (reference,) = gdal_overviews(band, 5, [2], "AVERAGE")
    np.testing.assert_array_equal(level, reference)
    assert (level == 6).all()


def test_gdal_s_chunks_cut_cells_ours_do_not() -> None:
    """GDAL with its default chunks gives the same levels except in rows whose window it cut."""
    rng = np.random.default_rng(9)
    band = rng.integers(1, 4000, (1107, 300)).astype(np.uint16)  # 1107 / 277 rows: fractional windows
    chunked = gdal_overviews(band, 0, [4], "AVERAGE", chunk_rows=256)[0]
    ours = average_overviews(band, 0, [chunked.shape[::-1]])[0]
    rows = np.flatnonzero((chunked != ours).any(axis=1))
    ratio = 1107 / 277
    cut = [d for d in range(277) if any(int(d * ratio + 1e-8) < k < np.ceil((d + 1) * ratio - 1e-8)
                                        for k in (256, 512, 768, 1024))]
    assert len(rows) > 0 and set(rows) <= set(cut)


def test_bad_bands_and_sizes_are_refused() -> None:
    band = np.ones((10, 10), np.uint16)
    with pytest.raises(ProcessingError, match="uint8 or uint16"):
        average_overviews(band.astype(np.float32), 0, [(5, 5)])
    with pytest.raises(ProcessingError, match="do not fit"):
        average_overviews(band, 0, [(11, 5)])
    with pytest.raises(ProcessingError, match="no-data -1"):
        mode_overviews(band, -1, [(5, 5)])
    with pytest.raises(ProcessingError, match="only for a band with no-data"):
        average_overviews(band, None, [(5, 5)])  # type: ignore[arg-type]
