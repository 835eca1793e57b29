"""Fixtures for the level-0 tests: small synthetic downlinks written by our writer,
and the location of the real Suomi-NPP capture in ``shared/``."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rsarchive.level0.profiles import MissionProfile, load_profile
from rsarchive.level0.writer import DownlinkWriter, Impairments, WriteReport

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = (REPO_ROOT / ".." / "shared").resolve()
SNPP_DIR = SHARED / "testdata" / "real" / "snpp"


@pytest.fixture(scope="session")
def snpp_dir() -> Path:
    if not SNPP_DIR.is_dir():
        pytest.skip(f"real SNPP capture not found: {SNPP_DIR} (shared/ must sit beside the repository)")
    return SNPP_DIR


@pytest.fixture(scope="session")
def profile() -> MissionProfile:
    return load_profile("vnredsat1")


@dataclass
class Scene:
    """The truth a synthetic downlink was written from."""

    dns: dict[int, np.ndarray]   # band id → (lines, detectors)
    t0: dt.datetime
    lines: int


def make_scene(lines: int = 200, ms_detectors: int = 64, seed: int = 1) -> Scene:
    rng = np.random.default_rng(seed)
    dns = {b: rng.integers(0, 4096, (lines, ms_detectors), dtype=np.uint16) for b in range(4)}
    dns[4] = rng.integers(0, 4096, (lines * 4, ms_detectors * 4), dtype=np.uint16)
    return Scene(dns, dt.datetime(2026, 3, 1, 3, 0, 0, tzinfo=dt.timezone.utc), lines)


Counter = Callable[[int, int], "int | None"]
"""(band id, true line counter) → the counter written (None: the line is not written)."""
Clock = Callable[[int, int, dt.datetime], dt.datetime]
"""(band id, true line counter, true time) → the time written."""


def write_downlink(profile: MissionProfile, scene: Scene, impairments: Impairments | None = None, *,
                   counter: Counter | None = None, clock: Clock | None = None, **kwargs) -> tuple[bytes, WriteReport]:
    """Write ``scene`` (MS at 100 lines/s, PAN 4× finer, ancillary at 10/1 Hz) into bytes; ``counter`` and
    ``clock`` craft the line counters and times written."""
    buf = io.BytesIO()
    with DownlinkWriter(buf, profile, impairments, **kwargs) as w:
        for i in range(scene.lines):
            t = scene.t0 + dt.timedelta(seconds=i * 0.01)
            if i % 10 == 0:
                w.attitude(t, [1.0, 0.0, 0.0, 0.0])
            if i % 100 == 0:
                w.ephemeris(t, [7.0e6 + i, 1.0, 2.0], [0.0, 7500.0, 1.0])
                w.housekeeping(t, 20.0 + i / 1000)
            lines = [(b, i, t) for b in range(4)]
            lines += [(4, 4 * i + k, t + dt.timedelta(seconds=0.0025 * k)) for k in range(4)]
            for band, line, when in lines:
                written = line if counter is None else counter(band, line)
                if written is not None:
                    w.image_line(band, written, when if clock is None else clock(band, line, when),
                                 scene.dns[band][line])
    return buf.getvalue(), w.report


@pytest.fixture(scope="session")
def scene() -> Scene:
    return make_scene()


@pytest.fixture(scope="session")
def clean_downlink(profile: MissionProfile, scene: Scene) -> tuple[bytes, WriteReport]:
    return write_downlink(profile, scene)
