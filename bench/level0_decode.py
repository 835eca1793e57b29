"""Level-0 decode throughput: write a ≥ 1 GB downlink with the writer, then time a
plain read of the file (reference) and the streaming decode (frames → packets →
unpacked line blocks, nothing written), and report MB/s, the ratio and peak RSS.

``RSARCHIVE_BENCH_L0_MB`` sets the size (default 1024 MB).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._report import emit, measure


def _write(path: Path, megabytes: int) -> int:
    from rsarchive.level0.profiles import load_profile
    from rsarchive.level0.writer import DownlinkWriter

    profile = load_profile("vnredsat1")
    rng = np.random.default_rng(0)
    ms = [rng.integers(0, 4096, (64, 1750), dtype=np.uint16) for _ in range(4)]
    pan = rng.integers(0, 4096, (256, 7000), dtype=np.uint16)
    t0 = dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.timezone.utc)
    target = megabytes * 2**20
    period = 0.00147
    with open(path, "wb") as fh, DownlinkWriter(fh, profile) as w:
        i = 0
        while w.bytes_written < target:
            t = t0 + dt.timedelta(seconds=i * period)
            if i % 68 == 0:
                w.attitude(t, [1.0, 0.0, 0.0, 0.0])
            if i % 680 == 0:
                w.ephemeris(t, [7.0e6, 0.0, 0.0], [0.0, 7500.0, 0.0])
                w.housekeeping(t, 20.0)
            for b in range(4):
                w.image_line(b, i, t, ms[b][i % 64])
            for k in range(4):
                w.image_line(4, 4 * i + k, t + dt.timedelta(seconds=period * k / 4), pan[(4 * i + k) % 256])
            i += 1
    return path.stat().st_size


def main() -> None:
    from rsarchive.level0.decoder import Level0Decoder

    megabytes = int(os.environ.get("RSARCHIVE_BENCH_L0_MB", "1024"))
    with tempfile.TemporaryDirectory(prefix="rsarchive-bench-l0-") as tmp:
        path = Path(tmp) / "pass.cadu"
        start = time.perf_counter()
        size = _write(path, megabytes)
        write_s = time.perf_counter() - start
        mb = size / 1e6
        emit("level0_write", mb / write_s, "MB/s", reference="")
        with measure() as ref:
            with open(path, "rb") as fh:
                while fh.read(8 << 20):
                    pass
        with measure() as m:
            dec = Level0Decoder("vnredsat1")
            lines = 0
            for block in dec.iter_blocks(path):
                lines += len(block)
        q = dec.quality
        assert q.frames_lost == 0 and q.frames_bad_fecf == 0, q.to_text()
        read_rate = mb / ref.seconds
        dec_rate = mb / m.seconds
        emit("level0_read_reference", read_rate, "MB/s")
        emit("level0_decode", dec_rate, "MB/s", ratio=dec_rate / read_rate, reference="plain read")
        emit("level0_decode_peak_rss", m.peak_rss_mb, "MB")
        emit("level0_decode_lines", lines, "lines")
        emit("level0_file_size", mb, "MB")
