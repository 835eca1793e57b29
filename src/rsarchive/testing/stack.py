"""A throw-away service stack (PostgreSQL + pgSTAC + SeaweedFS) for tests and
benchmarks: its own archive root under /tmp and free ports, or the running
stack of the current settings when reused, with fresh databases and buckets."""

from __future__ import annotations

import logging
import os
import random
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rsarchive import services
from rsarchive.db import connect, with_database
from rsarchive.errors import ServiceError
from rsarchive.services import postgres, roles, seaweed
from rsarchive.services.process import port_in_use
from rsarchive.settings import Settings, load_settings

log = logging.getLogger(__name__)

REUSE_ENV = "RSARCHIVE_TEST_SERVICES"
"""Set to ``reuse`` to run tests against the stack of the current settings
(already started with ``rsarchive services up``) instead of a new one."""


def free_port_pair(rng: random.Random, taken: set[int]) -> int:
    """A port p such that p and p + 10000 are free (SeaweedFS puts gRPC at +10000)."""
    for _ in range(500):
        port = rng.randrange(20000, 45000)
        if {port, port + 10000} & taken:
            continue
        if not port_in_use(port) and not port_in_use(port + 10000):
            taken.update({port, port + 10000})
            return port
    raise ServiceError("no free port pair found between 20000 and 55000")


def isolated_settings(root: Path, **changes: object) -> Settings:
    """Settings for a private stack in ``root`` on free ports."""
    rng = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "big"))
    taken: set[int] = set()
    values: dict[str, object] = {
        "archive_root": root,
        # named, so that settings derived with another archive root keep the stack's credentials
        "secrets_file": str(root / "run" / "secrets.json"),
        "pg_port": free_port_pair(rng, taken),
        "seaweed_s3_port": free_port_pair(rng, taken),
        "seaweed_master_port": free_port_pair(rng, taken),
        "seaweed_volume_port": free_port_pair(rng, taken),
        "seaweed_filer_port": free_port_pair(rng, taken),
        "internal_dsn": "",
        "public_dsn": "",
        "store_url": "",
        "copy_store_url": "",
    }
    values.update(changes)
    return load_settings().derive(**values)


def make_root(prefix: str = "rsarchive-test-") -> Path:
    """A fresh directory under /tmp that the postgres system user can enter."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)
    return root


@contextmanager
def service_stack() -> Iterator[Settings]:
    """Yield settings for a running stack with fresh databases and buckets; clean up after."""
    os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
    os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
    if os.environ.get(REUSE_ENV) == "reuse":
        with _reused_stack() as settings:
            yield settings
        return
    root = make_root()
    settings = isolated_settings(root)
    try:
        services.up(settings)
        yield settings
    finally:
        try:
            services.down(settings, graceful=False)  # the data is thrown away: no need to drain
        finally:
            shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _reused_stack() -> Iterator[Settings]:
    base = load_settings()
    tag = secrets.token_hex(4)
    settings = base.derive(
        internal_db=f"rsarchive_test_{tag}", public_db=f"rsarchive_test_{tag}_public",
        primary_bucket=f"test-{tag}-primary", copy_bucket=f"test-{tag}-copy",
        archive_root=make_root(), secrets_file=str(base.secrets_path),
    )
    admin = with_database(base.internal_database_dsn, "postgres")
    try:
        for name in (settings.internal_db, settings.public_db):
            postgres.ensure_database(admin, name)
        postgres.migrate(settings.internal_database_dsn, "internal")
        postgres.migrate(settings.public_database_dsn, "public")
        roles.ensure(settings)
        for bucket in (settings.primary_bucket, settings.copy_bucket):
            seaweed.ensure_bucket(settings, bucket)
            _made_buckets.append(bucket)
        yield settings
    finally:
        drop_databases(admin, [settings.internal_db, settings.public_db])
        drop_buckets(settings)
        shutil.rmtree(settings.archive_root, ignore_errors=True)


_made_buckets: list[str] = []
"""Buckets made for tests on a reused server (a throw-away server goes with its data)."""


def drop_buckets(settings: Settings) -> None:
    """Delete the test buckets made on the reused server: each bucket holds SeaweedFS volumes."""
    while _made_buckets:
        seaweed.delete_bucket(settings, _made_buckets.pop())


def drop_databases(admin_dsn: str, names: list[str]) -> None:
    from psycopg import sql

    with connect(admin_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def clone_databases(settings: Settings) -> Settings:
    """Fresh internal and public databases cloned from the migrated ones (fast: a file copy)."""
    from psycopg import sql

    tag = secrets.token_hex(4)
    changes = {"internal_db": f"{settings.internal_db}_{tag}", "public_db": f"{settings.public_db}_{tag}"}
    admin = with_database(settings.internal_database_dsn, "postgres")
    with connect(admin, autocommit=True) as conn:
        for source, target in ((settings.internal_db, changes["internal_db"]), (settings.public_db, changes["public_db"])):
            # A template must have no other sessions; end ours (pools left open by earlier tests).
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (source,))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source)))
    derived = settings.derive(**changes)
    for kind in ("internal", "public"):  # a database's own grants (CONNECT) are not copied from its template
        roles.grant(derived, kind)  # type: ignore[arg-type]
    return derived


def fresh_buckets(settings: Settings) -> Settings:
    """Settings with a new, empty primary and copy bucket on the stack's SeaweedFS."""
    tag = secrets.token_hex(4)
    derived = settings.derive(primary_bucket=f"t{tag}-primary", copy_bucket=f"t{tag}-copy")
    for bucket in (derived.primary_bucket, derived.copy_bucket):
        seaweed.ensure_bucket(derived, bucket)
        if os.environ.get(REUSE_ENV) == "reuse":
            _made_buckets.append(bucket)
    return derived
