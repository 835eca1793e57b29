"""services up/down/status against real PostgreSQL + pgSTAC and SeaweedFS."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rsarchive import migrations, services
from rsarchive.db import connect
from rsarchive.errors import ServiceError
from rsarchive.services import postgres, seaweed
from rsarchive.settings import Settings
from rsarchive.testing import stack

pytestmark = pytest.mark.services


def test_stack_answers_with_pgstac_postgis_and_buckets(service_settings: Settings) -> None:
    statuses = {s.name: s for s in services.status(service_settings)}
    assert set(statuses) == {"postgresql internal", "postgresql public", "seaweedfs s3"}
    assert all(s.answers for s in statuses.values()), statuses
    for dsn in (service_settings.internal_database_dsn, service_settings.public_database_dsn):
        with connect(dsn) as conn:
            assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")
            assert conn.execute("SELECT pgstac.get_version()").fetchone()[0]
        assert migrations.applied(dsn)[0] == "0001_archive_schema"
    client = seaweed.s3_client(service_settings)
    names = {b["Name"] for b in client.list_buckets()["Buckets"]}
    assert {service_settings.primary_bucket, service_settings.copy_bucket} <= names
    client.put_object(Bucket=service_settings.primary_bucket, Key="probe/hello.txt", Body=b"xin chao")
    body = client.get_object(Bucket=service_settings.primary_bucket, Key="probe/hello.txt")["Body"].read()
    assert body == b"xin chao"


def test_many_buckets_can_each_take_writes(service_settings: Settings) -> None:
    """Every test takes fresh buckets; each bucket is a SeaweedFS collection that claims volumes on its first
    write. With slots derived from free disk, CI (less free disk than here) ran out after a handful."""
    for _ in range(40):
        derived = stack.fresh_buckets(service_settings)
        client = seaweed.s3_client(derived)
        client.put_object(Bucket=derived.primary_bucket, Key="probe", Body=b"x")
        assert client.get_object(Bucket=derived.primary_bucket, Key="probe")["Body"].read() == b"x"


def test_test_buckets_are_deleted_with_their_objects_and_volumes(service_settings: Settings) -> None:
    import json
    import urllib.request

    def free_slots() -> int:
        url = f"http://127.0.0.1:{service_settings.seaweed_master_port}/dir/status"
        return int(json.load(urllib.request.urlopen(url))["Topology"]["Free"])

    derived = stack.fresh_buckets(service_settings)
    client = seaweed.s3_client(derived)
    client.put_object(Bucket=derived.primary_bucket, Key="a/b/probe", Body=b"x")
    before = free_slots()
    seaweed.delete_bucket(derived, derived.primary_bucket)
    names = {b["Name"] for b in client.list_buckets()["Buckets"]}
    assert derived.primary_bucket not in names and derived.copy_bucket in names
    assert free_slots() == before + seaweed.VOLUMES_PER_GROWTH
    seaweed.delete_bucket(derived, derived.primary_bucket)  # gone already: no error


def test_up_twice_is_a_no_op(service_settings: Settings) -> None:
    def pids() -> tuple[int | None, int | None]:
        pg = postgres.PostgresLayout.of(service_settings).data_dir / "postmaster.pid"
        weed = seaweed.SeaweedLayout.of(service_settings).pid_file
        return (int(pg.read_text().split()[0]) if pg.exists() else None,
                int(weed.read_text().split()[0]) if weed.exists() else None)

    before = pids()
    with connect(service_settings.internal_database_dsn) as conn:
        migrations_before = conn.execute("SELECT count(*) FROM rsarchive.schema_migrations").fetchone()[0]
    statuses = services.up(service_settings)
    assert all(s.answers for s in statuses)
    assert pids() == before
    with connect(service_settings.internal_database_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM rsarchive.schema_migrations").fetchone()[0] == migrations_before


def test_fresh_databases_are_migrated_and_independent(fresh_settings: Settings, service_settings: Settings) -> None:
    assert fresh_settings.internal_db != service_settings.internal_db
    with connect(fresh_settings.internal_database_dsn) as conn:
        conn.execute("CREATE TABLE rsarchive.only_here (x int)")
        conn.commit()
        assert conn.execute("SELECT pgstac.get_version()").fetchone()[0]
    with connect(service_settings.internal_database_dsn) as conn:
        assert conn.execute("SELECT to_regclass('rsarchive.only_here')").fetchone()[0] is None


def test_taken_port_is_one_clear_error(service_settings: Settings) -> None:
    root = stack.make_root()
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        settings = stack.isolated_settings(root, pg_port=port)
        with pytest.raises(ServiceError, match=rf"port {port} on 127.0.0.1 is already in use"):
            services.up(settings)
        # Nothing was started, so nothing is recorded for `down`.
        assert services.down(settings) == []
        # Through the CLI: one line, non-zero exit.
        result = subprocess.run(
            [sys.executable, "-m", "rsarchive", "services", "up"], capture_output=True, text=True, timeout=120,
            env=_env(settings),
        )
        assert result.returncode == ServiceError.exit_code
        assert result.stderr.strip().splitlines() == [
            f"rsarchive: error: port {port} on 127.0.0.1 is already in use by another process; "
            "PostgreSQL cannot listen there (set RSARCHIVE_PG_PORT to a free port)"
        ]
    finally:
        holder.close()
        shutil.rmtree(root, ignore_errors=True)


def test_missing_binary_is_one_clear_error(service_settings: Settings) -> None:
    root = stack.make_root()
    try:
        settings = stack.isolated_settings(
            root, internal_dsn=service_settings.internal_database_dsn,
            public_dsn=service_settings.public_database_dsn, seaweed_binary="weed-not-installed",
        )
        with pytest.raises(ServiceError, match="'weed-not-installed' .* was not found"):
            services.up(settings)
        bad_pg = stack.isolated_settings(root, pg_bindir=str(root / "no-postgres"))
        with pytest.raises(ServiceError, match="PostgreSQL server binaries .* not found"):
            services.up(bad_pg)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_unusable_data_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a directory")
    settings = stack.isolated_settings(blocker / "archive")
    with pytest.raises(ServiceError, match="archive root .* is not usable"):
        services.up(settings)


def test_down_stops_only_what_up_started(service_settings: Settings) -> None:
    """A stack whose databases are external (the session's) and whose SeaweedFS is its own:
    up starts only SeaweedFS, down stops only SeaweedFS, the databases keep answering."""
    root = stack.make_root()
    settings = stack.isolated_settings(
        root, internal_dsn=service_settings.internal_database_dsn, public_dsn=service_settings.public_database_dsn,
    )
    try:
        statuses = {s.name: s for s in services.up(settings)}
        assert statuses["seaweedfs s3"].answers and statuses["seaweedfs s3"].started_here
        assert not statuses["postgresql internal"].started_here
        assert services.down(settings) == ["seaweedfs"]
        after = {s.name: s for s in services.status(settings)}
        assert not after["seaweedfs s3"].answers
        assert after["postgresql internal"].answers and after["postgresql public"].answers
        assert services.down(settings) == []
    finally:
        services.down(settings)
        shutil.rmtree(root, ignore_errors=True)


def test_full_cycle_through_the_cli() -> None:
    """A private stack: up → status (all up) → down → status (all down, exit 1)."""
    root = stack.make_root()
    settings = stack.isolated_settings(root)
    env = _env(settings)
    try:
        up = subprocess.run([sys.executable, "-m", "rsarchive", "services", "up"], capture_output=True, text=True,
                            timeout=300, env=env)
        assert up.returncode == 0, up.stderr
        status = subprocess.run([sys.executable, "-m", "rsarchive", "services", "status"], capture_output=True,
                                text=True, timeout=120, env=env)
        assert status.returncode == 0
        lines = status.stdout.strip().splitlines()
        assert len(lines) == 3 and all("  up  " in ln for ln in lines), status.stdout
        assert f"127.0.0.1:{settings.pg_port}" in lines[0] and f"127.0.0.1:{settings.seaweed_s3_port}" in lines[2]
        down = subprocess.run([sys.executable, "-m", "rsarchive", "services", "down"], capture_output=True,
                              text=True, timeout=300, env=env)
        assert down.returncode == 0 and "seaweedfs" in down.stdout and "postgresql" in down.stdout
        status = subprocess.run([sys.executable, "-m", "rsarchive", "services", "status"], capture_output=True,
                                text=True, timeout=120, env=env)
        assert status.returncode == 1
        assert all("DOWN" in ln for ln in status.stdout.strip().splitlines())
    finally:
        services.down(settings)
        shutil.rmtree(root, ignore_errors=True)


def _env(settings: Settings) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RSARCHIVE_")}
    for field in ("archive_root", "pg_port", "seaweed_s3_port", "seaweed_master_port", "seaweed_volume_port",
                  "seaweed_filer_port", "internal_dsn", "public_dsn"):
        env[f"RSARCHIVE_{field.upper()}"] = str(getattr(settings, field))
    return env
