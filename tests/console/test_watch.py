"""Triggers (#23): a downlink written slowly into a watched directory, or uploaded slowly
(multipart) under a watched bucket prefix, is queued once, only when it is complete, with
its sidecar reception record, and ingested by a real worker; the same bytes seen again
(a copy, another key, a second watcher run) are not queued again; a file that is not a
downlink is reported once and skipped.  Real PostgreSQL, SeaweedFS and inotify."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rsarchive.db import connect
from rsarchive.identities import for_process
from rsarchive.jobs import JobQueue, Worker
from rsarchive.jobs.ingest import IngestRunner
from rsarchive.services import seaweed
from rsarchive.settings import Settings
from rsarchive.testing.processes import settings_env
from rsarchive.testing.waiting import wait_for
from rsarchive.watch import Outcome, WatchReport, watcher
from rsarchive.watch.readiness import Readiness

pytestmark = pytest.mark.services
PIPELINE = "ingest-level0-small"
RECEPTION = {"station": "VNSC-HN", "pass_id": "p0777", "plan_ref": "PLAN-2026-301"}


@pytest.fixture(scope="module")
def downlink(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rsarchive.testing import small_downlink

    result = small_downlink(tmp_path_factory.mktemp("downlink"), scenes=1, write_truth_dn=False,
                            write_truth_radiance=False)
    return Path(result.downlink)


@pytest.fixture
def settings(fresh_settings: Settings, tmp_path: Path) -> Settings:
    root = tmp_path / "archive"
    root.mkdir()
    return fresh_settings.derive(archive_root=root, watch_settle_seconds=1.0, watch_poll_seconds=0.2)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _jobs(settings: Settings) -> list[tuple[int, str, dict[str, Any]]]:
    with connect(settings.internal_database_dsn) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT id, identity, input FROM rsarchive.jobs ORDER BY id").fetchall()]


@contextmanager
def _watching(settings: Settings, target: str) -> Iterator[tuple[Any, list[Outcome]]]:
    """A watcher of ``target`` running in a thread (as the worker identity, like the command)."""
    outcomes: list[Outcome] = []
    watch = watcher(for_process(settings, "worker"), target, PIPELINE)
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            watch.run(stop, report=WatchReport(on_outcome=outcomes.append))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the test
            failure.append(exc)

    thread = threading.Thread(target=run, name="watch", daemon=True)
    thread.start()
    try:
        wait_for(lambda: watch.observer_kind if hasattr(watch, "observer_kind") else True, 10, "the watcher")
        yield watch, outcomes
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not failure, failure


def _ingest_one(settings: Settings) -> Any:
    final = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings)).run_once()
    assert final is not None and final.state == "succeeded", final and final.error
    return final


def test_readiness_waits_for_close_and_settling() -> None:
    r = Readiness(settle_seconds=2.0)
    r.opened("a", 0.0)
    r.observe("a", (10, "1"), 0.0)
    assert not r.ready("a", 5.0)  # held open: never ready, however long it is still
    r.closed("a", 5.0, wrote=True)
    assert not r.ready("a", 6.0) and r.ready("a", 7.0)
    r.observe("a", (20, "2"), 7.5)  # written again
    assert not r.ready("a", 9.0) and r.ready("a", 9.5)
    assert r.ready("a", 7.6, marker=True)
    r.opened("b", 0.0)
    r.opened("b", 0.1)  # a writer and a reader
    r.observe("b", (1, "1"), 0.1)
    r.closed("b", 1.0, wrote=False)
    assert not r.ready("b", 10.0)  # the writer still holds it
    r.closed("b", 10.0, wrote=True)
    assert r.ready("b", 12.0)


def test_directory_downlink_written_slowly_is_queued_once_when_complete_and_ingested(
        settings: Settings, downlink: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = downlink.read_bytes()
    target = inbox / "pass-0777.cadu"
    with _watching(settings, str(inbox)) as (watch, outcomes):
        assert watch.observer_kind == "inotify"
        (inbox / "pass-0777.cadu.json").write_text(json.dumps(RECEPTION))
        chunk = len(data) // 6 + 1
        with open(target, "wb") as handle:
            for n in range(6):
                handle.write(data[n * chunk:(n + 1) * chunk])
                handle.flush()
                # one pause longer than the settling interval: the file is still open, not complete
                time.sleep(2.0 if n == 2 else 0.3)
                assert _jobs(settings) == [], f"queued while still being written (chunk {n})"
        closed = time.monotonic()
        (job_id, identity, job_input), = wait_for(lambda: _jobs(settings), 15, "the job")
        assert time.monotonic() - closed >= settings.watch_settle_seconds - 0.2
        assert identity == _sha256(target) == hashlib.sha256(data).hexdigest()
        assert job_input["size"] == len(data) and job_input["path"] == str(target)
        assert job_input["reception"]["station"] == "VNSC-HN" and job_input["reception"]["pass_id"] == "p0777"
        # the same bytes again, under another name: seen, not queued a second time
        shutil.copyfile(target, inbox / "copy-of-pass.cadu")
        # and a file that is not a downlink: reported once, skipped
        (inbox / "noise.cadu").write_bytes(os.urandom(200_000))
        wait_for(lambda: len(outcomes) >= 3, 15, "three outcomes")
        time.sleep(3 * settings.watch_settle_seconds)  # more scans: nothing is taken again
    by_name = {Path(o.source).name: o for o in outcomes}
    assert len(outcomes) == 3, outcomes
    assert by_name["pass-0777.cadu"].status == "queued" and by_name["pass-0777.cadu"].job_id == job_id
    assert by_name["copy-of-pass.cadu"].status == "known" and by_name["copy-of-pass.cadu"].job_id == job_id
    noise = by_name["noise.cadu"]
    assert noise.status == "rejected" and "not a downlink" in noise.detail and "1ACFFC1D" in noise.detail
    assert len(_jobs(settings)) == 1
    final = _ingest_one(settings)
    assert final.id == job_id and final.result["level0"]["key"].count("/p0777/") == 1
    with connect(settings.internal_database_dsn) as conn:
        stations = {r[0] for r in conn.execute("SELECT content->'properties'->>'rsarchive:station' FROM pgstac.items")}
    assert stations == {"VNSC-HN"}


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = settings_env(settings, "watch_settle_seconds", "watch_poll_seconds")
    return subprocess.run([sys.executable, "-m", "rsarchive", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_watch_once_takes_what_is_complete_and_exits_and_a_second_run_queues_nothing(
        settings: Settings, downlink: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(downlink, inbox / "pass.cadu")
    (inbox / "pass.cadu.json").write_text(json.dumps(RECEPTION))
    (inbox / "bad.cadu").write_bytes(b"\0" * 4096)
    (inbox / "bad.cadu.done").write_text("")  # the marker: taken at once (and refused: not a downlink)
    first = _cli(settings, "watch", str(inbox), "--pipeline", PIPELINE, "--once")
    assert first.returncode == 1, first.stderr  # a file was skipped: the operator must look
    assert "queued as job" in first.stdout and "1 xếp hàng / queued" in first.stdout, first.stdout
    assert "bad.cadu: bỏ qua / skipped:" in first.stderr and "not a downlink" in first.stderr
    (job_id, identity, job_input), = _jobs(settings)
    assert identity == _sha256(downlink) and job_input["origin"]["source"] == str(inbox / "pass.cadu")
    (inbox / "bad.cadu").unlink()
    (inbox / "bad.cadu.done").unlink()
    second = _cli(settings, "watch", str(inbox), "--pipeline", PIPELINE, "--once")
    assert second.returncode == 0, second.stderr
    assert f"already job {job_id}" in second.stdout and "0 xếp hàng / queued" in second.stdout
    assert len(_jobs(settings)) == 1
    missing = _cli(settings, "watch", str(tmp_path / "nowhere"), "--once")
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


def test_bucket_prefix_multipart_upload_is_queued_once_when_complete_and_ingested(
        fresh_settings: Settings, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from rsarchive.testing import small_downlink

    root = tmp_path / "archive"
    root.mkdir()
    settings = fresh_settings.derive(archive_root=root, watch_settle_seconds=1.0, watch_poll_seconds=0.2,
                                     s3_endpoint_url=fresh_settings.seaweed_endpoint)
    # three scenes: more than one 5 MiB part
    big = Path(small_downlink(tmp_path_factory.mktemp("big"), scenes=3, write_truth_dn=False,
                              write_truth_radiance=False).downlink)
    data = big.read_bytes()
    part = 5 << 20
    assert len(data) > part
    bucket = f"inbox-{os.urandom(3).hex()}"
    seaweed.ensure_bucket(settings, bucket)
    client = seaweed.s3_client(settings)
    key = "station/vnsc/pass-0901.cadu"
    with _watching(settings, f"s3://{bucket}/station") as (watch, outcomes):
        client.put_object(Bucket=bucket, Key=key + ".json", Body=json.dumps(RECEPTION | {"pass_id": "p0901"}))
        upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        parts = []
        for number, start in enumerate(range(0, len(data), part), start=1):
            etag = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                      Body=data[start:start + part])["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
            time.sleep(2.0)  # longer than settling: the upload is not complete, nothing is listed
            assert _jobs(settings) == [], "queued before the upload was complete"
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
        (job_id, identity, job_input), = wait_for(lambda: _jobs(settings), 20, "the job")
        assert identity == hashlib.sha256(data).hexdigest() and job_input["size"] == len(data)
        assert job_input["origin"]["source"] == f"s3://{bucket}/station/vnsc/pass-0901.cadu"
        assert job_input["reception"]["pass_id"] == "p0901"
        spooled = Path(job_input["path"])
        assert spooled.name == "pass-0901.cadu" and _sha256(spooled) == identity
        # the same bytes under another key: not queued again, and its spool copy is not kept
        client.put_object(Bucket=bucket, Key="station/vnsc/again.cadu", Body=data)
        wait_for(lambda: len(outcomes) >= 2, 20, "the second object")
        time.sleep(3 * settings.watch_settle_seconds)
    assert [(o.status, o.job_id) for o in outcomes] == [("queued", job_id), ("known", job_id)]
    assert len(_jobs(settings)) == 1
    assert not list(spooled.parent.parent.glob("*/again.cadu"))
    final = _ingest_one(settings)
    assert final.id == job_id and len(final.result["scenes"]) == 3
    # ingested: the spool copy goes (the archive keeps level-0 and its copy)
    assert spooled.is_file()
    assert watch.clean_spool() == [spooled] and not spooled.parent.exists()


def test_a_bad_sidecar_is_reported_once_and_the_file_taken_when_the_sidecar_is_fixed(
        settings: Settings, downlink: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(downlink, inbox / "pass.cadu")
    sidecar = inbox / "pass.cadu.json"
    sidecar.write_text(json.dumps({"station": "VNSC-HN", "route": "teleport"}))
    (inbox / "pass.cadu.done").write_text("")
    watch = watcher(for_process(settings, "worker"), str(inbox), PIPELINE)
    report = WatchReport()
    assert watch.scan(report) == [] and watch.scan(report) == []
    (rejected,) = report.outcomes  # once, not at every scan
    assert rejected.status == "rejected" and "sidecar pass.cadu.json" in rejected.detail and "route" in rejected.detail
    assert _jobs(settings) == []
    sidecar.write_text(json.dumps(RECEPTION))
    os.utime(sidecar, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    watch.scan(report)
    assert [o.status for o in report.outcomes] == ["rejected", "queued"]
    (_, _, job_input), = _jobs(settings)
    assert job_input["reception"]["pass_id"] == "p0777"
