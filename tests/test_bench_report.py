"""The benchmarks' peak-RSS measurement: the peak of the measured block, not of what ran before."""

from __future__ import annotations

import time

import numpy as np

from bench._report import measure


def _touch(megabytes: int) -> None:
    block = np.ones(megabytes * 2**20 // 8)
    time.sleep(0.02)  # long enough for the sampler too
    del block


def test_peak_rss_is_that_of_the_block() -> None:
    _touch(600)  # an earlier, larger peak of the process
    with measure(children=False) as own:
        _touch(250)
    with measure(children=True, interval=0.001) as tree:
        _touch(250)
    for m in (own, tree):
        assert 250 <= m.peak_rss_mb < 600, m.peak_rss_mb
