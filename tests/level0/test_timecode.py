"""CUC ↔ UTC through the leap-second table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rsarchive.level0.timecode import (
    cuc_to_utc,
    cuc_to_utc_array,
    leap_seconds,
    tai_minus_utc,
    utc_to_cuc,
    utc_to_cuc_array,
)

UTC = dt.timezone.utc


def test_epoch_and_current_offset():
    assert tai_minus_utc(dt.datetime(2026, 1, 1)) == 37.0
    assert tai_minus_utc(dt.datetime(2016, 6, 1)) == 36.0
    assert tai_minus_utc(dt.datetime(1972, 1, 1)) == 10.0
    # 2026-03-01T00:00:00 UTC = 2026-03-01T00:00:37 TAI.
    days = (dt.date(2026, 3, 1) - dt.date(1958, 1, 1)).days
    assert utc_to_cuc(dt.datetime(2026, 3, 1, tzinfo=UTC)) == (days * 86400 + 37, 0)


@pytest.mark.parametrize("sec,frac", [(2_151_052_237, 0), (2_151_052_237, 1), (2_151_052_237, 65535),
                                      (1_861_920_037, 32768), (500_000_000, 12345)])
def test_cuc_round_trip(sec, frac):
    assert utc_to_cuc(cuc_to_utc(sec, frac)) == (sec, frac)


def test_leap_second_boundary_2017():
    before = utc_to_cuc(dt.datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC))
    after = utc_to_cuc(dt.datetime(2017, 1, 1, tzinfo=UTC))
    assert after[0] - before[0] == 2  # the inserted second 23:59:60
    leap = cuc_to_utc(before[0] + 1, 32768)  # inside 23:59:60: frozen before midnight
    assert leap == dt.datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert cuc_to_utc(*after) == dt.datetime(2017, 1, 1, tzinfo=UTC)
    assert cuc_to_utc(*before) == dt.datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_leap_second_boundary_2015():
    a = utc_to_cuc(dt.datetime(2015, 6, 30, 23, 59, 59, tzinfo=UTC))
    b = utc_to_cuc(dt.datetime(2015, 7, 1, tzinfo=UTC))
    assert b[0] - a[0] == 2


def test_vectorised_matches_scalar():
    secs = np.array([1_861_920_035, 1_861_920_036, 1_861_920_037, 2_151_052_237])
    fracs = np.array([0, 100, 65535, 8091])
    times = cuc_to_utc_array(secs, fracs)
    for s, f, t in zip(secs, fracs, times):
        scalar = cuc_to_utc(int(s), int(f))
        assert abs(int((np.datetime64(scalar.replace(tzinfo=None), "ns") - t).astype(np.int64))) <= 1000
    back_s, back_f = utc_to_cuc_array(times[[0, 2, 3]])
    np.testing.assert_array_equal(back_s, secs[[0, 2, 3]])
    np.testing.assert_array_equal(back_f, fracs[[0, 2, 3]])


def test_table_is_the_full_history():
    table = leap_seconds()
    assert len(table.start_ns) >= 41
    assert str(np.datetime64(int(table.start_ns[0]), "ns"))[:10] == "1961-01-01"
