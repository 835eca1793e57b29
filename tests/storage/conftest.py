"""Storage fixtures: the same archive over the local backend and real SeaweedFS,
and helpers that damage objects behind the archive's back."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from rsarchive.settings import Settings
from rsarchive.storage.archive import Archive
from rsarchive.storage.local import LocalStore
from rsarchive.storage.s3 import S3Store
from rsarchive.testing import stack

SMALL_PART = 5 << 20  # S3's minimum part size: multipart starts above 5 MiB in tests


def s3_settings(settings: Settings, prefix: str = "") -> Settings:
    """``settings`` pointed at the stack's SeaweedFS buckets (primary and copy), under ``prefix``."""
    from rsarchive.services.seaweed import credentials

    access, secret = credentials(settings)
    tail = f"/{prefix}" if prefix else ""
    return settings.derive(store_url=f"s3://{settings.primary_bucket}{tail}",
                           copy_store_url=f"s3://{settings.copy_bucket}{tail}",
                           s3_endpoint_url=settings.seaweed_endpoint, s3_access_key=access, s3_secret_key=secret)


def local_settings(settings: Settings, root: Path) -> Settings:
    return settings.derive(store_url=(root / "primary").as_uri(), copy_store_url=(root / "copy").as_uri())


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def module_settings(service_settings: Settings) -> Settings:
    """One fresh database clone and bucket pair per test module (creating them per test costs seconds)."""
    return stack.fresh_buckets(stack.clone_databases(service_settings))


@pytest.fixture
def settings(backend: str, module_settings: Settings, tmp_path: Path) -> Settings:
    """Empty storage tables, and fresh stores: two directories or a new prefix in the module's buckets."""
    from rsarchive.db import connect

    with connect(module_settings.internal_database_dsn) as conn:
        conn.execute("TRUNCATE rsarchive.objects, rsarchive.fixity_events, rsarchive.storage_txns CASCADE")
    if backend == "local":
        return local_settings(module_settings, tmp_path / "stores")
    return s3_settings(module_settings, prefix=f"t{secrets.token_hex(4)}")


@pytest.fixture
def archive(settings: Settings) -> Archive:
    archive = Archive.from_settings(settings)
    for store in (archive.primary, archive.copy):
        if isinstance(store, S3Store):
            store.part_size = SMALL_PART  # exercise multipart with small objects
    return archive


def overwrite_behind_back(store: object, key: str, data: bytes) -> None:
    """Replace an object's bytes without going through the archive (disk write or raw boto3 put)."""
    if isinstance(store, LocalStore):
        path = store.path(key)
        os.chmod(path, 0o644)
        with open(path, "r+b") as fh:  # in place, like bit rot or a careless tool
            fh.write(data)
            fh.truncate()
    elif isinstance(store, S3Store):
        store.client.put_object(Bucket=store.bucket, Key=store.prefix + key, Body=data)
    else:  # pragma: no cover
        raise TypeError(store)


def remove_behind_back(store: object, key: str) -> None:
    if isinstance(store, LocalStore):
        store.path(key).unlink()
    elif isinstance(store, S3Store):
        store.client.delete_object(Bucket=store.bucket, Key=store.prefix + key)
    else:  # pragma: no cover
        raise TypeError(store)


def flip_byte(store: object, key: str, offset: int) -> bytes:
    """Flip one bit in an object behind the archive's back; return the original bytes."""
    if isinstance(store, LocalStore):
        original = store.path(key).read_bytes()
    else:
        original = store.client.get_object(Bucket=store.bucket, Key=store.prefix + key)["Body"].read()  # type: ignore[attr-defined]
    damaged = bytearray(original)
    damaged[offset] ^= 0x01
    overwrite_behind_back(store, key, bytes(damaged))
    return original
