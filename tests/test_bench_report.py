"""The benchmarks' peak-RSS measurement: the peak of the measured block, not of what ran before."""

from __future__ import annotations

import time

import numpy as np
import psutil

from bench._report import measure


def _touch(megabytes: int) -> None:
    block = np.ones(megabytes * 2**20 // 8)
    time.sleep(0.02)  # long enough for the sampler too
    del block


def test_peak_rss_is_that_of_the_block() -> None:
    _touch(600)  # an earlier, larger peak of the process
    for children in (False, True):
        me = psutil.Process()
        tree = [me, *(me.children(recursive=True) if children else [])]  # services the run started count too
        before = sum(p.memory_info().rss for p in tree) / 2**20  # the size when the block starts
        with measure(children=children, interval=0.001) as m:
            _touch(250)
        # the block's 250 MB on top of what the process held (the test run's own size varies), not the
        # earlier 600 MB
        assert before + 200 <= m.peak_rss_mb < before + 450, (children, before, m.peak_rss_mb)
