"""Line counters that lie (issue 19, part 5): downlinks written by the real writer whose line counters
jump forward or have flipped bits.  The spool stays the size of the pass and every later line is kept,
in its place, with its pixels; lost lines the time confirms are still fill."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from rsarchive.cpf import load_cpf
from rsarchive.level0.decoder import decode
from rsarchive.level0.lines import FLAG_MISSING, FLAG_OK
from rsarchive.level0.profiles import MissionProfile
from rsarchive.raw.datastrip import read_datastrip

from .conftest import Clock, Counter, Scene, make_scene, write_downlink

LINES = 300
PAN = 4


@pytest.fixture(scope="module")
def truth() -> Scene:
    return make_scene(lines=LINES, ms_detectors=256, seed=19)  # PAN 1024: the small test CPF's widths


def write(profile: MissionProfile, scene: Scene, counter: Counter | None = None, clock: Clock | None = None) -> bytes:
    return write_downlink(profile, scene, counter=counter, clock=clock)[0]


def _assert_whole(data, scene: Scene) -> None:  # type: ignore[no-untyped-def]
    """Every band has every line of the pass, in place, with its pixels."""
    for band_id, name in enumerate(("B1", "B2", "B3", "B4", "PAN")):
        lines = data.bands[name]
        assert lines.first_line == 0
        assert len(lines.flags) == scene.dns[band_id].shape[0], name
        assert (lines.flags == FLAG_OK).all(), name
        np.testing.assert_array_equal(lines.dns, scene.dns[band_id], err_msg=name)


def test_a_counter_jump_forward_keeps_the_later_lines_in_place(profile: MissionProfile, truth: Scene,
                                                               tmp_path: Path) -> None:
    """From line 120 on, B1's counter runs 900 000 ahead (and PAN's 2**24 + 5 ahead): before, the spool
    wrote 900 000 fill lines for B1 (≈ 14 GB for a real PAN band) and the pass failed on PAN."""
    shifts = {0: 900_000, 4: 2 ** 24 + 5}

    def jumped(band: int, line: int) -> int:
        start = 120 * (PAN if band == 4 else 1)
        return line + shifts.get(band, 0) if line >= start else line

    raw = write(profile, truth, jumped)
    data = decode(raw, profile, block_lines=64)
    _assert_whole(data, truth)
    assert data.quality.bands["B1"].lines_counter_repaired == LINES - 120
    assert data.quality.bands["PAN"].lines_counter_repaired == PAN * (LINES - 120)
    assert data.quality.bands["B1"].lines_missing == 0 and data.quality.bands["B1"].counter_jumps == 0
    # the real spool: one file per band, exactly the pass's lines
    path = tmp_path / "jump.cadu"
    path.write_bytes(raw)
    strip = read_datastrip(path, profile, load_cpf("vnredsat1-small"), tmp_path / "spool")
    sizes = {f.stem: f.stat().st_size for f in (tmp_path / "spool").iterdir()}
    assert sizes == {"B1": LINES * 256 * 2, "B2": LINES * 256 * 2, "B3": LINES * 256 * 2, "B4": LINES * 256 * 2,
                     "PAN": PAN * LINES * 1024 * 2}
    np.testing.assert_array_equal(np.asarray(strip.bands["B1"].dns), truth.dns[0])


@pytest.mark.parametrize("bit", [0, 1, 5, 9, 12, 17, 19, 23, 24, 30, 31])
def test_bit_flips_in_counters_keep_every_line(profile: MissionProfile, truth: Scene, bit: int) -> None:
    """Single lines whose counter has one bit flipped (up or down), in every band, at the start of a
    block, in the middle and next to each other: each is placed by its time, nothing is lost or filled."""
    flipped = {(b, line) for b in range(5) for line in ((7, 64, 150, 151, 299) if b < 4 else (28, 256, 601, 1199))}

    def flip(band: int, line: int) -> int:
        return line ^ (1 << bit) if (band, line) in flipped else line

    data = decode(write(profile, truth, flip), profile, block_lines=64)
    _assert_whole(data, truth)
    repaired = {name: q.lines_counter_repaired for name, q in data.quality.bands.items()}
    # the last line of a band has no successor to tell a wrong time from a wrong counter: placed by its
    # time all the same
    assert repaired == {"B1": 5, "B2": 5, "B3": 5, "B4": 5, "PAN": 4}


def test_lost_lines_the_time_confirms_are_still_fill(profile: MissionProfile, truth: Scene) -> None:
    """Lines 40-49 of B2 never arrived (counters and times agree): ten fill lines, flagged missing; the
    first line after the gap also has a damaged time (2**20 s later): the counters decide."""
    def lost(band: int, line: int) -> int | None:
        return None if (band == 1 and 40 <= line < 50) or (band == 4 and 400 <= line < 900) else line

    def damaged(band: int, line: int, t: dt.datetime) -> dt.datetime:
        return t + dt.timedelta(seconds=2 ** 20) if band == 1 and line == 50 else t

    data = decode(write(profile, truth, lost, damaged), profile, block_lines=64)
    b2 = data.bands["B2"]
    assert len(b2.flags) == LINES
    assert (b2.flags[40:50] == FLAG_MISSING).all() and (np.delete(b2.flags, range(40, 50)) == FLAG_OK).all()
    np.testing.assert_array_equal(np.delete(b2.dns, range(40, 50), axis=0),
                                  np.delete(truth.dns[1], range(40, 50), axis=0))
    q = data.quality.bands["B2"]
    assert q.lines_missing == 10 and q.lines_counter_repaired == 0 and q.lines_out_of_sequence == 0
    # 500 PAN lines (1.25 s) lost: the time steps are quantised by the CUC ticks, the gap is still exact
    pan = data.bands["PAN"]
    assert len(pan.flags) == PAN * LINES and (pan.flags[400:900] == FLAG_MISSING).all()
    assert data.quality.bands["PAN"].lines_missing == 500 and data.quality.bands["PAN"].lines_counter_repaired == 0
    np.testing.assert_array_equal(pan.dns[900:], truth.dns[4][900:])


def test_a_repeated_line_is_still_dropped(profile: MissionProfile, truth: Scene) -> None:
    """A packet whose counter and time both repeat the line before is a duplicate, not a repair."""
    def clock(band: int, line: int, t: dt.datetime) -> dt.datetime:
        return t - dt.timedelta(seconds=0.01) if band == 2 and line == 101 else t

    data = decode(write(profile, truth, lambda b, c: 100 if (b, c) == (2, 101) else c, clock), profile,
                  block_lines=64)
    q = data.quality.bands["B3"]
    assert q.lines_out_of_sequence == 1 and q.lines_missing == 1
    assert data.bands["B3"].flags[101] == FLAG_MISSING and len(data.bands["B3"].flags) == LINES
