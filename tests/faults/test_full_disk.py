"""Full disks, for real (issue #19, part 2): a job's work directory (with the level-0 spool) and the local
stores on small tmpfs filesystems made for the test, filled with a ballast file.

The operator's view each time: ``rsarchive ingest FILE --wait`` exits non-zero (12) with one line naming the
place that is full, Vietnamese first; nothing is half-stored (no partial files, no staging, no raw or
product records or items); the job waits in the queue (not ``failed``, its attempts not used up); once the
ballast is deleted, the same command finishes the job with the same objects and items as an undisturbed run.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rsarchive.db import connect
from rsarchive.errors import DiskFullError
from rsarchive.jobs import JobQueue
from rsarchive.settings import Settings
from rsarchive.storage import Archive, audit, collect_garbage
from rsarchive.storage.local import LocalStore
from rsarchive.testing.processes import settings_env

PIPELINE = "ingest-level0-small"
RECEPTION = ('{"station": "VNSC-HN", "pass_id": "full1", "aos": "2026-03-15T03:38:00Z", '
             '"los": "2026-03-15T03:41:00Z", "plan_ref": "PLAN-FULL"}')
MiB = 1 << 20


def _mount(target: Path, size: str, inodes: int | None = None) -> None:
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")


@contextmanager
def small_filesystem(target: Path, size: str = "8M", inodes: int | None = None) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``target`` for the block (lazily unmounted: GDAL may hold a handle)."""
    target.mkdir(parents=True, exist_ok=True)
    _mount(target, size, inodes)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """A ballast file that leaves ``leave`` bytes free on the filesystem of ``directory``."""
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    assert free > leave, f"the test filesystem has only {free} bytes free"
    ballast = directory / "ballast"
    with open(ballast, "wb") as out:
        out.truncate(0)
        remaining = free - leave
        block = b"\0" * MiB
        while remaining > 0:
            remaining -= out.write(block[: min(remaining, MiB)])
    return ballast


@pytest.fixture(scope="module")
def one_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rsarchive.testing import small_downlink

    return Path(small_downlink(tmp_path_factory.mktemp("downlink"), scenes=1, write_truth_dn=False,
                               write_truth_radiance=False).downlink)


def _env(settings: Settings) -> dict[str, str]:
    return settings_env(settings, "store_url", "copy_store_url")


def ingest(settings: Settings, downlink: Path) -> subprocess.CompletedProcess[str]:
    """``rsarchive ingest FILE --wait`` as the operator runs it."""
    return subprocess.run([sys.executable, "-m", "rsarchive", "-q", "ingest", str(downlink), "--pipeline", PIPELINE,
                           "--reception", RECEPTION, "--wait"], env=_env(settings), capture_output=True, text=True,
                          timeout=300)


def outcome(settings: Settings) -> dict[str, Any]:
    """What an ingest leaves: the objects table, the items of both catalogs, the store's keys.  A scene's
    ``metadata.json`` records when and how fast it was made, and a catalog record (``catalog/…``) the
    items as committed, with their times (their bytes differ from run to run: only their keys and copies
    are compared)."""
    with connect(settings.internal_database_dsn) as conn:
        objects = {k: (None, None, c) if k.endswith("/metadata.json") or k.startswith("catalog/") else (s, n, c)
                   for k, s, n, c in conn.execute(
            "SELECT key, sha256, size, copies FROM rsarchive.objects ORDER BY key").fetchall()}
        items = sorted(r[0] for r in conn.execute("SELECT id FROM pgstac.items").fetchall())
    with connect(settings.public_database_dsn) as conn:
        public = sorted(r[0] for r in conn.execute("SELECT id FROM pgstac.items").fetchall())
    archive = Archive.from_settings(settings)
    stored = sorted(info.key for info in archive.primary.list() if not info.key.startswith("staging/"))
    return {"objects": objects, "items": items, "public": public, "stored": stored}


@pytest.fixture(scope="module")
def undisturbed(service_settings: Settings, one_scene: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> dict[str, Any]:
    """The same ingest with room to spare: what every run after a full disk must end with."""
    from rsarchive.testing import stack

    settings = stack.clone_databases(service_settings).derive(archive_root=tmp_path_factory.mktemp("undisturbed"))
    done = ingest(settings, one_scene)
    assert done.returncode == 0, done.stderr
    result = outcome(settings)
    assert len(result["objects"]) > 2 and len(result["items"]) == 3, result
    return result


@pytest.fixture
def settings(fresh_settings: Settings, tmp_path: Path) -> Settings:
    root = tmp_path / "archive"
    root.mkdir()
    return fresh_settings.derive(archive_root=root)


def the_job(settings: Settings) -> Any:
    jobs = JobQueue(settings.internal_database_dsn).list()
    assert len(jobs) == 1
    return jobs[0]


def waits_for_space(settings: Settings, done: subprocess.CompletedProcess[str], *names: str) -> None:
    """The command failed with one line naming the place; the job waits in the queue, its budget intact."""
    assert done.returncode == DiskFullError.exit_code, (done.returncode, done.stdout, done.stderr)
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("rsarchive: error: hết chỗ trống: "), line
    assert "— no space left: " in line and line.index("hết chỗ") < line.index("no space left")
    for name in names:
        assert name in line, (name, line)
    assert "Traceback" not in done.stderr
    job = the_job(settings)
    assert job.state == "queued" and job.attempts == 1 and job.max_attempts == 4, job
    assert job.error and "no space left" in job.error
    events = [e["event"] for e in JobQueue(settings.internal_database_dsn).events(job.id)]
    assert events[-1] == "waiting", events


def nothing_half_stored(settings: Settings) -> None:
    """No raw/product object recorded or catalogued, no staging, no partial file, the level-0 whole or absent."""
    result = outcome(settings)
    assert not [k for k in result["objects"] if not k.startswith("level0/")], result["objects"]
    assert all(copies == 2 for _, _, copies in result["objects"].values())
    assert result["items"] == [] and result["public"] == []
    assert [k for k in result["stored"] if not k.startswith("level0/")] == [], result["stored"]
    archive = Archive.from_settings(settings)
    assert list(archive.primary.list("staging/")) == []
    for store in (archive.primary, archive.copy):
        if isinstance(store, LocalStore):
            assert list((store.root / ".partial").iterdir()) == []
    with connect(settings.internal_database_dsn) as conn:
        states = {r[0] for r in conn.execute("SELECT state FROM rsarchive.storage_txns").fetchall()}
    assert states <= {"abandoned"}, states


def finishes_like_undisturbed(settings: Settings, downlink: Path, reference: dict[str, Any]) -> None:
    done = ingest(settings, downlink)
    assert done.returncode == 0, done.stderr
    job = the_job(settings)
    assert job.state == "succeeded" and job.attempts == 2, job
    assert outcome(settings) == reference
    archive = Archive.from_settings(settings)
    report = audit(archive)
    assert report.clean, report.summary()
    gc = collect_garbage(archive, older_than=dt.timedelta(0))
    assert gc.unrecorded_immutable == [] and gc.busy_publications == []


# The small pass's sizes on disk (measured): the spool holds 2.5 MiB, the raw scene ~0.9 MiB, the product
# ~1.3 MiB, all under the job's work directory until the job ends.
@pytest.mark.services
@pytest.mark.parametrize(("stage", "free", "place"), [
    ("decode", 1 * MiB, "bộ đệm mức 0 (spool)"),
    ("raw", 3 * MiB, "thư mục làm việc"),
    ("product", 4 * MiB, "thư mục làm việc"),
])
def test_work_directory_full(settings: Settings, one_scene: Path, undisturbed: dict[str, Any], stage: str,
                             free: int, place: str) -> None:
    work = settings.archive_root / "work"
    with small_filesystem(work):
        ballast = fill(work, free)
        done = ingest(settings, one_scene)
        job = the_job(settings)
        waits_for_space(settings, done, f"{place} của công việc {job.id} (giai đoạn {stage})",
                        f"({stage} stage)", str(work))
        assert sorted(p.name for p in work.iterdir()) == ["ballast"], "the run's work directory is left behind"
        nothing_half_stored(settings)
        ballast.unlink()  # space returns
        finishes_like_undisturbed(settings, one_scene, undisturbed)


@pytest.mark.services
@pytest.mark.parametrize("store", ["primary", "copy"])
def test_local_store_full(settings: Settings, one_scene: Path, undisturbed: dict[str, Any], store: str) -> None:
    """The primary fills while the scene's files are staged (the level-0 fits); the copy fills with the level-0."""
    disk = settings.archive_root / "disk"
    with small_filesystem(disk, "12M"):
        url = (disk / "objects").as_uri()
        settings = settings.derive(**{"store_url" if store == "primary" else "copy_store_url": url})
        level0 = sum(size for key, (_, size, _) in undisturbed["objects"].items() if key.startswith("level0/"))
        scene = sum(size or 0 for key, (_, size, _) in undisturbed["objects"].items() if not key.startswith("level0/"))
        ballast = fill(disk, level0 + scene // 2 if store == "primary" else level0 // 2)
        done = ingest(settings, one_scene)
        waits_for_space(settings, done, f"kho lưu trữ {url}", f"the store {url}")
        nothing_half_stored(settings)
        if store == "primary":  # the scene's staged files were removed: the publication is abandoned
            with connect(settings.internal_database_dsn) as conn:
                assert conn.execute("SELECT state FROM rsarchive.storage_txns").fetchall() == [("abandoned",)]
        if store == "copy":  # the level-0 is in the primary, unrecorded until its copy is made
            with connect(settings.internal_database_dsn) as conn:
                assert conn.execute("SELECT count(*) FROM rsarchive.objects").fetchone()[0] == 0
        ballast.unlink()
        finishes_like_undisturbed(settings, one_scene, undisturbed)


def test_local_store_put_full_then_remounted_bigger(tmp_path: Path) -> None:
    """LocalStore.put on a full filesystem: the error names the store, no partial file, no object; after the
    filesystem is made bigger the same put stores the bytes."""
    root = tmp_path / "store"
    data = os.urandom(3 * MiB)
    with small_filesystem(root, "2M"):
        store = LocalStore(root)
        with pytest.raises(DiskFullError) as caught:
            store.put("level0/vnredsat1/2026/03/15/p1/pass.cadu", data)
        message = str(caught.value)
        assert message.startswith(f"hết chỗ trống: kho lưu trữ {store.url}") and f"the store {store.url}" in message
        assert caught.value.exit_code == 12 and isinstance(caught.value, OSError)
        assert list((root / ".partial").iterdir()) == [] and not store.exists("level0/vnredsat1/2026/03/15/p1/pass.cadu")
        subprocess.run(["mount", "-o", "remount,size=8M", str(root)], check=True)
        info = store.put("level0/vnredsat1/2026/03/15/p1/pass.cadu", data)
        assert info.size == len(data) and store.read_range(info.key, 0, len(data)) == data


def test_local_store_promote_out_of_inodes(tmp_path: Path) -> None:
    """A filesystem out of inodes is full too (ENOSPC): the promote that needs new directories fails naming the
    store and leaves the staged object where it was; once files are deleted the promote goes through."""
    root = tmp_path / "store"
    data = os.urandom(100_000)
    with small_filesystem(root, "8M", inodes=64):
        store = LocalStore(root)
        staged = store.put("staging/t1/product/vnredsat1/2026/03/15/s1/B1.tif", data)
        assert staged.sha256 is not None
        ballast = root / "ballast"
        ballast.mkdir()
        made = 0
        with pytest.raises(OSError):
            while True:
                (ballast / f"{made}").touch()
                made += 1
        with pytest.raises(DiskFullError) as caught:
            store.promote(staged.key, "product/vnredsat1/2026/03/15/s1/B1.tif", expected_sha256=staged.sha256,
                          expected_size=len(data))
        assert f"kho lưu trữ {store.url}" in str(caught.value) and "no space left" in str(caught.value)
        assert store.exists(staged.key) and not store.exists("product/vnredsat1/2026/03/15/s1/B1.tif")
        for entry in ballast.iterdir():
            entry.unlink()
        info = store.promote(staged.key, "product/vnredsat1/2026/03/15/s1/B1.tif", expected_sha256=staged.sha256,
                             expected_size=len(data))
        assert info.sha256 == staged.sha256 and not store.exists(staged.key)


@pytest.mark.services
def test_a_full_disk_never_uses_up_the_attempts(fresh_settings: Settings) -> None:
    """More full-disk waits than ``max_attempts``: the job is still queued, its budget for real failures whole;
    an operator's run makes it due at once; the next transient failure counts as usual."""
    from rsarchive.errors import ServiceError
    from rsarchive.jobs import Worker

    queue = JobQueue(fresh_settings.internal_database_dsn, backoff_seconds=3600)
    job, _ = queue.enqueue("ingest", uuid.uuid4().hex, PIPELINE, {}, max_attempts=2)
    failures: list[Exception] = [DiskFullError("đầy", "full")] * 3 + [ServiceError("down")]

    def runner(context: Any) -> dict[str, Any]:
        raise failures.pop(0)

    worker = Worker(queue, runner)
    for attempt in (1, 2, 3):
        assert queue.due_now(job.id) == (attempt > 1)  # waiting out an hour's backoff: due now
        ran = worker.run_once(job_id=job.id)
        assert ran is not None and ran.state == "queued" and ran.attempts == attempt, ran
        assert ran.max_attempts == 2 + attempt and worker.waiting is not None
    queue.due_now(job.id)
    ran = worker.run_once(job_id=job.id)
    assert ran is not None and worker.waiting is None
    assert ran.state == "queued" and ran.attempts == 4 and ran.max_attempts == 5  # 1 of 2 real attempts used
    events = [e["event"] for e in queue.events(job.id)]
    assert events.count("waiting") == 3 and events[-1] == "retry", events
