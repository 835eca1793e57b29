"""Ingest of a reference pass: wall time, peak RSS and the real-time factor.

Simulates an N-scene pass with the reference CPF (``RSARCHIVE_BENCH_INGEST_SCENES``,
default 10: ≈ 0.9 GB of level-0; cached in ``/tmp/rsarchive-bench-ingest``), starts a
private stack, and runs the whole pipeline (store level-0 + copy, decode, raw,
product, store, catalog, publish) in this process on the local Dask scheduler.
The reference is the pass's own imaging time: real-time factor = processing time ÷
imaging time (targets on 2 cores: ≤ 3 now, ≤ 1 later; peak RSS ≤ 2 GB).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

from bench._report import emit, measure

CACHE = Path(os.environ.get("RSARCHIVE_BENCH_INGEST_DIR", "/tmp/rsarchive-bench-ingest"))


def _pass(scenes: int) -> tuple[Path, dict]:  # type: ignore[type-arg]
    from rsarchive.simulate.downlink import SimulationConfig, simulate_downlink

    downlink = CACHE / f"pass-{scenes}.cadu"
    truth_dir = CACHE / f"pass-{scenes}.truth"
    if not (truth_dir / "truth.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        simulate_downlink(SimulationConfig(scenes=scenes, cpf="vnredsat1"), downlink, truth_dir)
        print(f"(simulated {scenes} scene(s) in {time.perf_counter() - start:.0f} s)", flush=True)
    return downlink, json.loads((truth_dir / "truth.json").read_text())


def _imaging_seconds(truth: dict) -> float:  # type: ignore[type-arg]
    spans = []
    for band in truth["bands"].values():
        first, last = (dt.datetime.fromisoformat(band[k].replace("Z", "+00:00")) for k in ("first_line_utc",
                                                                                           "last_line_utc"))
        spans.append((last - first).total_seconds() + band["line_period_s"])
    return max(spans)


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine spent busy (not idle, not waiting for I/O)."""
    import psutil

    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def main() -> None:
    from rsarchive.jobs import JobQueue, Worker
    from rsarchive.jobs.ingest import IngestRunner, submit
    from rsarchive.runtime import configure_process
    from rsarchive.testing.stack import service_stack

    configure_process(worker=True)  # this process works ingest jobs, as a worker does

    scenes = int(os.environ.get("RSARCHIVE_BENCH_INGEST_SCENES", "10"))
    downlink, truth = _pass(scenes)
    size_mb = downlink.stat().st_size / 1e6
    imaging = _imaging_seconds(truth)
    with service_stack() as settings:
        root = settings.archive_root / "bench-archive"
        root.mkdir()
        settings = settings.derive(archive_root=root)
        submit(settings, downlink, None, "ingest-level0")
        worker = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings), lease_seconds=300)
        cpu_before, machine_before = _cpu_seconds(), _machine_busy_seconds()
        with measure(children=False, interval=0.05) as m:
            job = worker.run_once()
        cpu = _cpu_seconds() - cpu_before
        machine = _machine_busy_seconds() - machine_before
        shutil.rmtree(root, ignore_errors=True)
    assert job is not None
    if job.state != "succeeded":
        raise SystemExit(f"bench ingest: job {job.state}: {job.error}")
    emit("ingest_level0_size", size_mb, "MB")
    emit("ingest_scenes", len(job.result["scenes"]), "scenes")  # type: ignore[index]
    emit("ingest_imaging_time", imaging, "s")
    emit("ingest_wall_time", m.seconds, "s")
    emit("ingest_throughput", size_mb / m.seconds, "MB/s")
    emit("ingest_real_time_factor", m.seconds / imaging, "x", m.seconds / imaging, "imaging time of the pass")
    emit("ingest_peak_rss", m.peak_rss_mb, "MB")
    # CPU time of this process (all its threads; not PostgreSQL or SeaweedFS): how many cores the
    # pipeline kept busy, and the real-time factor it could reach if it kept every core busy
    cores = os.cpu_count() or 1
    emit("ingest_cpu_time", cpu, "s", cpu / m.seconds, "wall time (cores busy)")
    emit("ingest_cpu_bound_real_time_factor", cpu / cores / imaging, "x", cpu / cores / imaging,
         f"imaging time, all {cores} cores busy")
    # the whole machine, the database and object store included (and whatever else runs on it)
    emit("ingest_machine_cpu_time", machine, "s", machine / m.seconds, f"wall time (of {cores} cores busy)")
    # where the time went: wall seconds per pipeline stage (summed over scenes), in its thread, and per
    # scene.  The raw level of scene k + 1 is made while scene k is in product and scene k - 1 is stored,
    # catalogued and published: `raw` is the time the product waited for it (the first scene's whole raw
    # time, then what the product did not hide), and the stages add up to more than the wall time
    stage_seconds = job.result.get("stage_seconds") or {}  # type: ignore[union-attr]
    count = max(len(job.result["scenes"]), 1)  # type: ignore[index]
    for stage, seconds in stage_seconds.items():
        emit(f"ingest_stage_{stage}", seconds, "s", seconds / m.seconds, "wall time")
    for stage in ("raw", "product"):
        if stage in stage_seconds:
            emit(f"ingest_{stage}_per_scene", stage_seconds[stage] / count, "s",
                 stage_seconds[stage] / count / (imaging / count), "imaging time of a scene")
