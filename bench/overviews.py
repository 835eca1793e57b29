"""COG overview levels: ``rsarchive.cog.overviews`` vs GDAL's ``BuildOverviews`` on the same band.

A product-sized PAN band (8440 × 8844 uint16, a tilted footprint in no-data,
texture and noise) and its QA bitfield (no-data border, cloud blocks) get the
levels the COG driver would choose (2 … 32), in memory:

- reference: GDAL's ``BuildOverviews`` (``average`` with no-data: every level from
  the band; ``mode``: each level from the one before), as the COGs were made
  until 2026-11;
- ``overviews_average`` / ``overviews_mode``: ours (one thread each, as GDAL's).

Ratio = our CPU time / GDAL's.  Also: cells that differ from GDAL's default
(which cuts windows at its row chunks) and from GDAL reading the band in one
chunk (should be 0), and the peak RSS.
"""

from __future__ import annotations

import time

import numpy as np

from bench._report import emit, measure


def _bands(height: int = 8844, width: int = 8440) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    inside = ((cols + 0.2 * rows > 1200) & (cols + 0.2 * rows < 9000)
              & (rows - 0.2 * cols > -500) & (rows - 0.2 * cols < 8000))
    band = (3000 + 2000 * np.sin(cols / 37.0) * np.cos(rows / 53.0)
            + rng.normal(0, 50, (height, width))).astype(np.uint16)
    band[~inside] = 0
    qa = np.where(inside, 0, 1).astype(np.uint16)
    cloudy = np.kron(rng.random((height // 64 + 1, width // 64 + 1)) < 0.08, np.ones((64, 64), bool))
    qa[cloudy[:height, :width] & inside] |= 4
    return band, qa


def main() -> None:
    from rsarchive.cog.overviews import average_overviews, mode_overviews
    from rsarchive.cog.writer import overview_factors
    from rsarchive.testing.gdal_reference import gdal_overviews

    band, qa = _bands()
    factors = overview_factors(band.shape[1], band.shape[0])
    for name, data, nodata, resampling, ours_fn in (("average", band, 0, "AVERAGE", average_overviews),
                                                    ("mode", qa, None, "MODE", mode_overviews)):
        with measure(children=False) as m_ref:
            reference, t_ref = gdal_overviews(data, nodata, factors, resampling)
        sizes = [r.shape[::-1] for r in reference]
        ours_fn(data[:64, :64], nodata, [(32, 32)])  # compiled (or loaded from numba's cache) first
        with measure(children=False) as m_ours:
            start = time.thread_time()
            ours = ours_fn(data, nodata, sizes)
            t_ours = time.thread_time() - start
        one_chunk, _ = gdal_overviews(data, nodata, factors, resampling, chunk_rows=data.shape[0])
        emit(f"overviews_{name}_gdal", t_ref, "CPU-s")
        emit(f"overviews_{name}", t_ours, "CPU-s", ratio=t_ours / t_ref, reference="GDAL BuildOverviews")
        emit(f"overviews_{name}_cells_unlike_gdal_default", sum(int((a != b).sum()) for a, b in zip(reference, ours)),
             "cells", reference="")
        emit(f"overviews_{name}_cells_unlike_gdal_one_chunk",
             sum(int((a != b).sum()) for a, b in zip(one_chunk, ours)), "cells", reference="")
        emit(f"overviews_{name}_peak_rss", max(m_ref.peak_rss_mb, m_ours.peak_rss_mb), "MB")
