"""Simulator throughput: MB of level-0 per second for a reference-CPF scene, and peak RSS.

Reference measured in the same run: the byte-level writer alone writing the same
lines (constant DNs) and ancillary — the ratio is the cost of the physics
(geometry, truth sampling, solar angles, forward model) on top of writing.
Set RSARCHIVE_BENCH_SCENES (default 1) and RSARCHIVE_BENCH_CPF (default vnredsat1).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import numpy as np

from bench._report import emit, measure


def _writer_only(path: Path, result) -> None:  # type: ignore[no-untyped-def]
    from rsarchive.level0.profiles import load_profile
    from rsarchive.level0.writer import DownlinkWriter

    cpf = result.cpf
    start = dt.datetime.fromisoformat(result.truth["start_utc"][:-1]).replace(tzinfo=dt.timezone.utc)
    with open(path, "wb") as stream:
        writer = DownlinkWriter(stream, load_profile(result.truth["profile"]))
        rows = {b.name: np.full(b.detectors, 500, dtype=np.uint16) for b in cpf.bands}
        for band in cpf.bands:
            for line in range(result.truth["bands"][band.name]["lines"]):
                writer.image_line(band.id, line, start + dt.timedelta(seconds=line * band.line_period_s), rows[band.name])
        for k in range(result.truth["ancillary"]["ephemeris"]["count"]):
            writer.ephemeris(start + dt.timedelta(seconds=k), [7e6, 0, 0], [0, 7.5e3, 0])
            writer.housekeeping(start + dt.timedelta(seconds=k), 21.0)
        for k in range(result.truth["ancillary"]["attitude"]["count"]):
            writer.attitude(start + dt.timedelta(seconds=k / 10), [1, 0, 0, 0])
        writer.close()


def main() -> None:
    from rsarchive.simulate.downlink import SimulationConfig, simulate_downlink

    scenes = int(os.environ.get("RSARCHIVE_BENCH_SCENES", "1"))
    cpf = os.environ.get("RSARCHIVE_BENCH_CPF", "vnredsat1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pass.cadu"
        with measure() as sim:
            result = simulate_downlink(SimulationConfig(scenes=scenes, cpf=cpf), out, Path(tmp) / "truth")
        mb = out.stat().st_size / 1e6
        with measure() as ref:
            _writer_only(Path(tmp) / "writer-only.cadu", result)
    emit(f"simulate {cpf} ×{scenes} scene(s)", mb / sim.seconds, "MB/s", ref.seconds / sim.seconds, "writer alone")
    emit("simulate level-0 size", mb, "MB")
    emit("simulate peak RSS", sim.peak_rss_mb, "MB")
    emit("writer-alone", mb / ref.seconds, "MB/s")
