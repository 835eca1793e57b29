"""Scale-out: passes per hour and the real-time factor with 1 and 2 worker hosts of one core each, and
with one worker on the whole machine (issue 24).

The archive runs on hosts of its own (network namespaces on this machine, :mod:`rsarchive.testing.hosts`):
a database host, an object-store host and worker hosts, each pinned to its CPU (a cpuset cgroup) and each
running the ordinary ``rsarchive worker --once``.  ``RSARCHIVE_BENCH_SCALE_PASSES`` passes (default 4) of
``RSARCHIVE_BENCH_SCALE_SCENES`` scenes each (default 1; reference CPF; cached in
``/tmp/rsarchive-bench-scale``) are queued, then the workers are started and the wall time until the
queue is empty is measured.  The reference is the one-host run in the same script: the ratio of passes
per hour with two hosts to one host (target ≥ 1.8).  The database and the object store are not pinned:
on a machine with two cores they share the workers' cores (say so when reading the figure).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from bench._report import emit, measure

CACHE = Path(os.environ.get("RSARCHIVE_BENCH_SCALE_DIR", "/tmp/rsarchive-bench-scale"))


def _passes(count: int, scenes: int) -> tuple[list[Path], float]:
    """``count`` distinct downlinks (seeds 1…count) and the imaging seconds of one."""
    import json

    from bench.ingest import _imaging_seconds
    from rsarchive.simulate.downlink import SimulationConfig, simulate_downlink

    CACHE.mkdir(parents=True, exist_ok=True)
    paths, imaging = [], 0.0
    for seed in range(1, count + 1):
        downlink = CACHE / f"pass-{scenes}-{seed}.cadu"
        truth_dir = CACHE / f"pass-{scenes}-{seed}.truth"
        if not (truth_dir / "truth.json").exists():
            start = time.perf_counter()
            simulate_downlink(SimulationConfig(scenes=scenes, cpf="vnredsat1", seed=seed), downlink, truth_dir)
            print(f"(simulated pass {seed}: {scenes} scene(s) in {time.perf_counter() - start:.0f} s)", flush=True)
        imaging = _imaging_seconds(json.loads((truth_dir / "truth.json").read_text()))
        paths.append(downlink)
    return paths, imaging


def _run(workers: dict[str, str | None], downlinks: list[Path]) -> tuple[float, float]:
    """Wall seconds for workers on hosts ``workers`` (name → CPUs, None = unpinned) to empty the queue, and
    the peak RSS (MB) of the worker processes together."""
    from rsarchive.db import connect
    from rsarchive.jobs.ingest import submit
    from rsarchive.testing.cluster import make_cluster
    from rsarchive.testing.hosts import Hosts
    from rsarchive.testing.stack import make_root

    root = make_root("rsarchive-bench-scale-")
    try:
        with Hosts(["db", "s3", *workers], cpus={k: v for k, v in workers.items() if v is not None}) as hosts:
            cluster = make_cluster(hosts, root)
            cluster.start_services()
            settings = cluster.settings()
            for downlink in downlinks:
                submit(settings, downlink, None, "ingest-level0")
            with measure(children=True, interval=0.2) as m:
                processes = [cluster.rsarchive(name, "worker", "--once", "--lease", "300",
                                               env=cluster.environment(name, RSARCHIVE_THREADS="0"),
                                               log_name=f"{name}-worker") for name in workers]
                for process in processes:
                    process.wait(6 * 3600)
            with connect(settings.internal_database_dsn) as conn:
                states = dict(conn.execute("SELECT state, count(*) FROM rsarchive.jobs GROUP BY 1").fetchall())
            if states != {"succeeded": len(downlinks)}:
                logs = {k: v.read_text(errors="replace")[-1500:] for k, v in cluster.logs.items()}
                raise SystemExit(f"bench scale: jobs {states}; worker logs: {logs}")
            return m.seconds, m.peak_rss_mb
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    from rsarchive.testing.hosts import unavailable

    reason = unavailable()
    if reason is not None:
        print(f"bench scale: skipped, several hosts cannot be made here: {reason}")
        return
    count = int(os.environ.get("RSARCHIVE_BENCH_SCALE_PASSES", "4"))
    scenes = int(os.environ.get("RSARCHIVE_BENCH_SCALE_SCENES", "1"))
    downlinks, imaging = _passes(count, scenes)
    cores = len(os.sched_getaffinity(0))
    one, one_rss = _run({"w1": "0"}, downlinks)
    two, two_rss = _run({"w1": "0", "w2": "1"}, downlinks) if cores >= 2 else (None, 0.0)
    whole, whole_rss = _run({"w1": None}, downlinks)
    per_hour = {name: count / wall * 3600 for name, wall in (("one", one), ("two", two), ("whole", whole))
                if wall is not None}
    emit("scale_passes", count, "passes", None, f"{scenes} scene(s) each, {imaging:.1f} s of imaging each")
    emit("scale_one_host_passes_per_hour", per_hour["one"], "passes/h", 1.0, "one host of one core")
    emit("scale_one_host_real_time_factor", one / (count * imaging), "x")
    emit("scale_one_host_peak_rss", one_rss, "MB")
    if two is not None:
        emit("scale_two_hosts_passes_per_hour", per_hour["two"], "passes/h", per_hour["two"] / per_hour["one"],
             "one host of one core (target ≥ 1.8)")
        emit("scale_two_hosts_real_time_factor", two / (count * imaging), "x")
        emit("scale_two_hosts_peak_rss", two_rss, "MB", None, "both workers")
    emit("scale_whole_machine_passes_per_hour", per_hour["whole"], "passes/h", per_hour["whole"] / per_hour["one"],
         f"one host of one core (one worker, all {cores} cores)")
    emit("scale_whole_machine_real_time_factor", whole / (count * imaging), "x")
    emit("scale_whole_machine_peak_rss", whole_rss, "MB")


if __name__ == "__main__":
    main()
