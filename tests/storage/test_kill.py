"""SIGKILL at many points of a store-and-publish, then a re-run and gc: no duplicates,
no orphans, no staging leftovers, every checksum right.

The child is forked from the test process (everything already imported) and kills
itself with SIGKILL after the N-th executed line of ``rsarchive.storage`` (a trace
hook in the child only: no test hooks in the library).  N runs over the whole job,
so the kill lands in every phase: writing the primary, the copy, its read-back, the
record, staging, promotion, the commit transaction, cleanup.  A few more children are
killed after a random delay (inside boto3/psycopg calls too).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

import rsarchive.storage
from rsarchive.settings import Settings
from rsarchive.storage import Archive, audit, collect_garbage, level0_key, product_key
from rsarchive.storage.s3 import S3Store
from rsarchive.testing.kills import trace_kills, untrace

from .conftest import SMALL_PART

STORAGE_DIR = str(Path(rsarchive.storage.__file__).parent)
T = dt.date(2026, 3, 1)


def sources(root: Path, scene: str) -> dict[str, Path]:
    """A level-0 file (multipart on S3) and three product files for one scene, deterministic."""
    rng = random.Random(scene)
    files = {level0_key("vnredsat1", T, f"P-{scene}", "pass.cadu"): SMALL_PART + 777}
    for band in ("B1", "B2", "QA"):
        files[product_key("vnredsat1", T, scene, f"{band}.tif")] = rng.randrange(1000, 50_000)
    paths = {}
    for key, size in files.items():
        path = root / scene / key.replace("/", "_")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rng.randbytes(size))
        paths[key] = path
    return paths


def job(archive: Archive, root: Path, scene: str) -> None:
    """What an ingest does for one scene: keep the level-0, publish the products with a catalog row."""
    files = sources(root, scene)
    products = {k: p for k, p in files.items() if k.startswith("product/")}
    for key, path in files.items():
        if key.startswith("level0/"):
            archive.store(key, path)
    with archive.publication(txn_id=f"scene-{scene}") as pub:
        for key, path in products.items():
            pub.put(key, path)
        pub.commit(on_commit=lambda conn, recs: conn.execute(
            "INSERT INTO public.kill_items (id, assets) VALUES (%s, %s)", (scene, len(recs))))


def _child(settings: Settings, root: Path, scene: str, kill_at: int | None, count_file: Path | None) -> None:
    archive = Archive.from_settings(settings)
    for store in (archive.primary, archive.copy):
        if isinstance(store, S3Store):
            store.part_size = SMALL_PART
    counter = [0]

    def on_line(frame: Any) -> bool:
        counter[0] += 1
        return kill_at is not None and counter[0] >= kill_at

    trace_kills(STORAGE_DIR, on_line)
    job(archive, root, scene)
    untrace()
    if count_file is not None:
        count_file.write_text(str(counter[0]))


def _fork(settings: Settings, root: Path, scene: str, kill_at: int | None = None,
          count_file: Path | None = None, delay: float | None = None) -> int:
    ctx = multiprocessing.get_context("fork")
    process = ctx.Process(target=_child, args=(settings, root, scene, kill_at, count_file))
    process.start()
    if delay is not None:
        process.join(delay)
        if process.is_alive():
            os.kill(process.pid, signal.SIGKILL)
    process.join(60)
    assert process.exitcode is not None, "child hung"
    return process.exitcode


def _check(archive: Archive, root: Path, scenes: list[str], full: bool = False) -> None:
    expected: dict[str, str] = {}
    for scene in scenes:
        for key, path in sources(root, scene).items():
            expected[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    with archive.connect() as conn:
        recorded = dict(conn.execute("SELECT key, sha256 FROM rsarchive.objects").fetchall())
        items = conn.execute("SELECT id, assets FROM public.kill_items ORDER BY id").fetchall()
    assert recorded == expected
    assert items == sorted((s, 3) for s in scenes)  # one catalog row per scene: no duplicates
    assert sorted(i.key for i in archive.primary.list()) == sorted(expected)  # no staging, no orphans
    assert sorted(i.key for i in archive.copy.list()) == sorted(k for k in expected if k.startswith("level0/"))
    assert archive.primary.cleanup_partials(dt.timedelta(0)) == 0
    if full:  # every byte re-hashed against the records, primary and copy
        report = audit(archive)
        assert report.clean and len(report.objects) == len(expected)


@pytest.mark.slow
def test_sigkill_at_many_points_then_rerun_and_gc(archive: Archive, settings: Settings, tmp_path: Path,
                                                   backend: str) -> None:
    points = 24 if backend == "local" else 14
    with archive.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.kill_items (id text PRIMARY KEY, assets int NOT NULL)")
        conn.execute("TRUNCATE public.kill_items")
    root = tmp_path / "src"
    count_file = tmp_path / "lines"
    start = time.perf_counter()
    assert _fork(settings, root, "full", count_file=count_file) == 0
    total = int(count_file.read_text())
    one_run = time.perf_counter() - start
    assert total > 100
    scenes = ["full"]
    rng = random.Random(6)
    kill_points = sorted({1 + (total * i) // points + rng.randrange(max(1, total // points)) for i in range(points)})
    killed = 0
    for n, kill_at in enumerate(kill_points):
        scene = f"k{n:02d}"
        code = _fork(settings, root, scene, kill_at=kill_at)
        killed += code == -signal.SIGKILL
        job(archive, root, scene)  # the re-run finishes the job
        collect_garbage(archive, dt.timedelta(0))
        scenes.append(scene)
        _check(archive, root, scenes)
    for n in range(3):  # and a few kills at random moments, inside library calls too
        scene = f"r{n}"
        _fork(settings, root, scene, delay=rng.uniform(0.05, max(0.1, one_run)))
        job(archive, root, scene)
        collect_garbage(archive, dt.timedelta(0))
        scenes.append(scene)
    _check(archive, root, scenes, full=True)
    assert killed >= len(kill_points) - 1  # (the last point may fall after the job's last line)
