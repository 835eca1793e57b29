"""The ObjectStore protocol, the same suite over the local directory and SeaweedFS."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path

import pytest

from rsarchive.errors import ConflictError, IntegrityError, NotFoundError
from rsarchive.settings import Settings
from rsarchive.storage import ObjectStore
from rsarchive.storage.archive import Archive
from rsarchive.storage.local import LocalStore
from rsarchive.storage.s3 import S3Store

from .conftest import SMALL_PART

L0 = "level0/vnredsat1/2026/03/01/P1/pass.cadu"
PROD = "product/vnredsat1/2026/03/01/S1/B1.tif"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_backends_implement_the_protocol(archive: Archive) -> None:
    assert isinstance(archive.primary, ObjectStore) and isinstance(archive.copy, ObjectStore)


@pytest.mark.parametrize("size", [0, 1000, 2 * SMALL_PART + 12345])
def test_put_get_round_trip_from_path_and_stream(archive: Archive, tmp_path: Path, size: int) -> None:
    store = archive.primary
    data = os.urandom(size)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    info = store.put(PROD, src)
    assert (info.key, info.size, info.sha256) == (PROD, size, sha(data))
    again = store.put(PROD.replace("B1", "B2"), io.BufferedReader(io.BytesIO(data)))  # a non-seekable-ish stream
    assert again.sha256 == sha(data)
    out = tmp_path / "out.bin"
    got = store.get(PROD, out, expected_sha256=sha(data), expected_size=size)
    assert out.read_bytes() == data and got.sha256 == sha(data)
    sink = io.BytesIO()
    assert store.get(PROD.replace("B1", "B2"), sink).sha256 == sha(data)
    assert sink.getvalue() == data
    head = store.head(PROD)
    assert head.size == size
    assert head.sha256 in (None, sha(data))
    if isinstance(store, S3Store):
        assert head.sha256 == sha(data)  # checksum, metadata or (multipart) tag
    assert [i.key for i in store.list("product/")] == [PROD, PROD.replace("B1", "B2")]


def test_ranged_reads(archive: Archive) -> None:
    data = bytes(range(256)) * 100
    archive.primary.put(PROD, data)
    assert archive.primary.read_range(PROD, 10, 5) == data[10:15]
    assert archive.primary.read_range(PROD, len(data) - 3, 10) == data[-3:]
    assert archive.primary.read_range(PROD, 0, 0) == b""


def test_missing_objects_are_not_found(archive: Archive, tmp_path: Path) -> None:
    store = archive.primary
    assert not store.exists(PROD)
    with pytest.raises(NotFoundError):
        store.head(PROD)
    with pytest.raises(NotFoundError):
        store.get(PROD, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert store.delete(PROD) is False


def test_immutable_forms_are_never_overwritten_or_deleted(archive: Archive) -> None:
    store = archive.primary
    first = store.put(L0, b"downlink bytes")
    assert store.put(L0, b"downlink bytes").sha256 == first.sha256  # identical re-put: no-op
    with pytest.raises(ConflictError, match="immutable"):
        store.put(L0, b"other bytes")
    with pytest.raises(ConflictError, match="immutable"):
        store.delete(L0)
    assert store.get(L0, None).sha256 == sha(b"downlink bytes")
    store.put(PROD, b"v1")
    store.put(PROD, b"v2")  # products may be reprocessed
    assert store.get(PROD, None).sha256 == sha(b"v2")
    assert store.delete(PROD) is True and not store.exists(PROD)


def test_expected_checksum_mismatch_stores_nothing(archive: Archive) -> None:
    with pytest.raises(IntegrityError):
        archive.primary.put(PROD, b"abc", expected_sha256=sha(b"abd"))
    with pytest.raises(IntegrityError):
        archive.primary.put(PROD, os.urandom(SMALL_PART + 1), expected_sha256=sha(b"abd"))
    assert not archive.primary.exists(PROD)
    assert list(archive.primary.list()) == []


def test_damaged_reads_are_detected(archive: Archive, tmp_path: Path) -> None:
    from .conftest import flip_byte

    archive.primary.put(PROD, b"0123456789")
    flip_byte(archive.primary, PROD, 3)
    with pytest.raises(IntegrityError):
        archive.primary.get(PROD, tmp_path / "o", expected_sha256=sha(b"0123456789"))
    assert not (tmp_path / "o").exists()  # a failed verification leaves no file


def test_the_sha256_is_kept_by_the_store(archive: Archive) -> None:
    store = archive.primary
    small, large = b"x" * 1000, os.urandom(SMALL_PART + 100)
    store.put(PROD, small)
    store.put(PROD.replace("B1", "B9"), large)
    if isinstance(store, S3Store):
        head = store.client.head_object(Bucket=store.bucket, Key=store.prefix + PROD, ChecksumMode="ENABLED")
        # SeaweedFS keeps the additional checksum of a single PUT (it also verified it on upload) ...
        assert base64.b64decode(head["ChecksumSHA256"]).hex() == sha(small)
        assert head["Metadata"]["sha256"] == sha(small)
        # ... and a composite of per-part sha256 for multipart; the full sha256 is the object's tag.
        multi = store.client.head_object(Bucket=store.bucket, Key=store.prefix + PROD.replace("B1", "B9"),
                                         ChecksumMode="ENABLED")
        assert multi["ChecksumSHA256"].endswith("-2")
        tags = store.client.get_object_tagging(Bucket=store.bucket, Key=store.prefix + PROD.replace("B1", "B9"))["TagSet"]
        assert {"Key": "sha256", "Value": sha(large)} in tags
    else:
        assert isinstance(store, LocalStore)
        assert store.head(PROD).sha256 in (None, sha(small))  # xattr when the file system has them


def test_interrupted_uploads_are_cleaned(archive: Archive) -> None:
    import datetime as dt

    store = archive.primary
    if isinstance(store, S3Store):
        store.client.create_multipart_upload(Bucket=store.bucket, Key=store.prefix + PROD)
    else:
        (store.root / ".partial" / "leftover").write_bytes(b"half")
    assert store.cleanup_partials(dt.timedelta(hours=1)) == 0
    assert store.cleanup_partials(dt.timedelta(0)) == 1
    assert store.cleanup_partials(dt.timedelta(0)) == 0


@pytest.mark.parametrize("backend", ["s3"])
def test_object_lock_guards_immutable_objects_where_the_bucket_has_it(archive: Archive, settings: Settings) -> None:
    """SeaweedFS Object Lock: a locked version cannot be deleted through S3 (a plain delete only hides it)."""
    import datetime as dt
    import secrets

    from botocore.exceptions import ClientError

    base = archive.primary
    assert isinstance(base, S3Store)
    bucket = f"lock-{secrets.token_hex(4)}"
    base.client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    store = S3Store(bucket, endpoint_url=settings.s3_endpoint_url, access_key=settings.s3_access_key,
                    secret_key=settings.s3_secret_key, part_size=SMALL_PART, retention=dt.timedelta(days=1),
                    lock_mode="GOVERNANCE")
    store.put(L0, b"level zero")
    store.put(PROD, b"product")
    locked = store.client.head_object(Bucket=bucket, Key=L0)
    assert locked["ObjectLockMode"] == "GOVERNANCE"
    assert locked["ObjectLockRetainUntilDate"] > dt.datetime.now(dt.timezone.utc)
    assert "ObjectLockMode" not in store.client.head_object(Bucket=bucket, Key=PROD)  # products stay deletable
    with pytest.raises(ClientError, match="AccessDenied"):
        store.client.delete_object(Bucket=bucket, Key=L0, VersionId=locked["VersionId"])
    with pytest.raises(ConflictError):
        store.delete(L0)
    assert store.get(L0, None).sha256 == sha(b"level zero")
    # Clean up (GOVERNANCE gives way to the bypass; COMPLIANCE, the production default, would not).
    for version in store.client.list_object_versions(Bucket=bucket)["Versions"]:
        store.client.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"],
                                   BypassGovernanceRetention=True)
