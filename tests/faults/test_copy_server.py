"""The copy store on a second, independent SeaweedFS (issue #19, part 6): ``copy_seaweed = true`` makes
``services up`` start a second server (own data directory, own ports) with the copy bucket on it.

A level-0 stored through the archive lands in the primary bucket of the first server and in the copy bucket
of the second only; ``config show`` and ``services status`` no longer say the stores share a server (they
still say both servers are on this machine: true of any one-machine stack).  With the copy's server killed
(SIGKILL) the primary keeps working, and the audit stops saying the copy cannot be reached — it never records
it missing."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rsarchive import services
from rsarchive.db import connect
from rsarchive.errors import ServiceError, StorageError
from rsarchive.services import seaweed
from rsarchive.services.process import read_pid
from rsarchive.settings import Settings
from rsarchive.storage import Archive, audit
from rsarchive.storage.domains import shared_failure_domains
from rsarchive.testing import stack
from rsarchive.testing.processes import settings_env

pytestmark = pytest.mark.services

LEVEL0 = "level0/vnredsat1/2026/03/15/copy1/pass.cadu"


@pytest.fixture(scope="module")
def two_servers() -> Iterator[Settings]:
    """A stack of its own: PostgreSQL, the primary's SeaweedFS and the copy's, stores in their buckets."""
    root = stack.make_root("rsarchive-copyserver-")
    rng, taken = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "big")), set()
    ports = {f"copy_seaweed_{kind}_port": stack.free_port_pair(rng, taken) for kind in ("s3", "master", "volume",
                                                                                      "filer")}
    settings = stack.isolated_settings(root, copy_seaweed=True, **ports)
    try:
        services.up(settings)
        access, secret = seaweed.credentials(settings)
        yield settings.derive(store_url=f"s3://{settings.primary_bucket}", s3_endpoint_url=settings.seaweed_endpoint,
                              s3_access_key=access, s3_secret_key=secret)
    finally:
        try:
            services.down(settings, graceful=False)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _env(settings: Settings) -> dict[str, str]:
    env = settings_env(settings, "seaweed_master_port", "seaweed_volume_port", "seaweed_filer_port", "copy_seaweed",
                       "copy_seaweed_s3_port", "copy_seaweed_master_port", "copy_seaweed_volume_port",
                       "copy_seaweed_filer_port", "store_url", "copy_store_url", "s3_endpoint_url", "s3_access_key",
                       "s3_secret_key")
    return {k: v for k, v in env.items() if not k.startswith("AWS_")}  # the keys are the settings' own


def _rsarchive(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rsarchive", *args], env=_env(settings), capture_output=True,
                          text=True, timeout=300)


def _keys(settings: Settings, endpoint: str) -> dict[str, list[str]]:
    """Every bucket of the server at ``endpoint`` and the keys in it."""
    client = seaweed.s3_client(settings, endpoint, retries=1)
    out = {}
    for bucket in client.list_buckets().get("Buckets", []):
        listed = client.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
        out[bucket["Name"]] = sorted(o["Key"] for o in listed)
    return out


def test_the_copy_lives_on_the_second_server_and_survives_its_loss(two_servers: Settings, tmp_path: Path) -> None:
    settings = two_servers
    assert settings.copy_store == f"s3://{settings.copy_bucket}"  # the default with copy_seaweed
    assert settings.copy_endpoint == settings.copy_seaweed_endpoint != settings.seaweed_endpoint
    archive = Archive.from_settings(settings)
    data = os.urandom(300_000)
    record = archive.store(LEVEL0, data)
    assert record.copies == 2

    # each bucket on its own server, the object in both, nothing of the copy on the primary's server
    on_primary = _keys(settings, settings.seaweed_endpoint)
    on_copy = _keys(settings, settings.copy_seaweed_endpoint)
    assert on_primary == {settings.primary_bucket: [LEVEL0]}
    assert on_copy == {settings.copy_bucket: [LEVEL0]}
    layouts = seaweed.SeaweedLayout.of(settings), seaweed.SeaweedLayout.of(settings, copy=True)
    assert layouts[0].data_dir != layouts[1].data_dir and not layouts[1].data_dir.is_relative_to(layouts[0].root)

    # no shared server or bucket any more; one machine still, and said so
    assert [d.kind for d in shared_failure_domains(settings)] == ["machine"]
    shown = _rsarchive(settings, "config", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    (domain,) = json.loads(shown.stdout)["copy_failure_domains"]
    assert "shares a machine" in domain and "server (" not in domain
    status = _rsarchive(settings, "services", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = {line.split()[0] + " " + line.split()[1]: line for line in status.stdout.splitlines()}
    assert settings.copy_seaweed_endpoint in lines["seaweedfs copy"] and " up " in lines["seaweedfs copy"]
    assert settings.copy_bucket in lines["seaweedfs copy"]
    assert "shares a server" not in status.stderr and "shares a machine" in status.stderr

    # the copy's server dies: the primary keeps working
    pid = read_pid(layouts[1].pid_file)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)  # started by this process (services up): reap it
    except ChildProcessError:
        pass
    assert archive.get(LEVEL0, tmp_path / "back.cadu").sha256 == record.sha256
    assert (tmp_path / "back.cadu").read_bytes() == data
    raw = archive.primary.put("raw/vnredsat1/2026/03/15/scene1/B1.tif", b"raw bytes")
    assert archive.primary.exists(raw.key)
    down = _rsarchive(settings, "services", "status")
    assert down.returncode == 1 and " DOWN " in [l for l in down.stdout.splitlines() if "copy" in l][0]
    assert " up " in [l for l in down.stdout.splitlines() if l.startswith("seaweedfs s3")][0]

    # the audit says the copy cannot be reached; it never records it missing or damaged
    with pytest.raises((ServiceError, StorageError)) as caught:
        audit(archive)
    assert "cannot be reached" in str(caught.value) and settings.copy_seaweed_endpoint in str(caught.value)
    with connect(settings.internal_database_dsn) as conn:
        outcomes = conn.execute("SELECT store, outcome FROM rsarchive.fixity_events").fetchall()
        state = conn.execute("SELECT last_status FROM rsarchive.objects WHERE key = %s", (LEVEL0,)).fetchone()
    assert ("copy", "missing") not in outcomes and ("copy", "damaged") not in outcomes, outcomes
    assert state[0] in (None, "ok"), state
    audited = _rsarchive(settings, "audit")
    assert audited.returncode != 0 and "cannot be reached" in audited.stderr, audited.stderr
    assert "missing" not in audited.stdout

