"""The S3 backend (boto3): SeaweedFS locally and in tests, any S3 in production.

* Objects up to ``part_size`` go in one PUT carrying ``x-amz-checksum-sha256``
  (the server verifies it and keeps it); the sha256 is also in the user metadata
  ``x-amz-meta-sha256`` for servers without additional checksums.
* Larger objects go by explicit multipart upload: this thread reads the source
  sequentially and hashes it (the full-object sha256), worker threads hash and
  send the parts concurrently, each part with its own sha256 that the server
  verifies (a composite checksum).  The full sha256 is then written as the
  object tag ``sha256``.  Memory stays bounded: ``concurrency + 1`` parts.
* Downloads of large objects are concurrent ranged GETs consumed in order, so
  the sha256 is computed while the bytes arrive.
* Keys of immutable forms are written with ``If-None-Match: *`` (never replace),
  and with an Object Lock retention when the bucket has Object Lock enabled.
* botocore's standard retry mode plus our own retries with exponential backoff
  around every request; failures become one :class:`StorageError` (or
  :class:`ServiceError` when the endpoint cannot be reached).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from rsarchive.errors import ConflictError, IntegrityError, NotFoundError, ServiceError, StorageError, UsageError
from rsarchive.storage.base import ObjectInfo, Source, open_source, refuse_if_immutable
from rsarchive.storage.checksum import HashingWriter, check_sha256, from_b64, sha256_stream, to_b64
from rsarchive.storage.keys import IMMUTABLE_FORMS, check_key, form_of

log = logging.getLogger(__name__)

__all__ = ["S3Store"]

T = TypeVar("T")

_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidToken",
               "ExpiredToken", "AuthorizationHeaderMalformed"}
_TRANSIENT_CODES = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "503", "500", "502",
                    "504", "RequestTimeTooSkewed", "Throttling"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_RETENTION_YEARS = 100


class S3Store:
    """An :class:`~rsarchive.storage.base.ObjectStore` in an S3 bucket (optionally under a prefix)."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str = "us-east-1", access_key: str | None = None, secret_key: str | None = None,
                 part_size: int = 32 << 20, concurrency: int = 4, attempts: int = 4,
                 connect_timeout: float = 5.0, read_timeout: float = 60.0,
                 retention: dt.timedelta = dt.timedelta(days=365 * _RETENTION_YEARS),
                 lock_mode: str = "COMPLIANCE") -> None:
        from botocore.config import Config

        os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
        os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
        if part_size < 5 << 20:
            raise UsageError(f"S3 part size {part_size} is below the 5 MiB minimum")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint = endpoint_url or "AWS"
        self.url = f"s3://{bucket}/{self.prefix.rstrip('/')}" if self.prefix else f"s3://{bucket}"
        self.part_size = part_size
        self.concurrency = max(1, concurrency)
        self.attempts = max(1, attempts)
        if lock_mode not in ("COMPLIANCE", "GOVERNANCE"):
            raise UsageError(f"Object Lock mode {lock_mode!r} must be COMPLIANCE or GOVERNANCE")
        self.retention = retention
        self.lock_mode = lock_mode
        self._checksums: bool | None = None  # does the server keep x-amz-checksum-sha256?
        self._object_lock: bool | None = None
        session = _session(access_key, secret_key, region)
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=connect_timeout,
                        read_timeout=read_timeout,
                        max_pool_connections=2 * self.concurrency + 4, tcp_keepalive=True)
        self.client = session.client("s3", endpoint_url=endpoint_url, config=config)

    def __repr__(self) -> str:
        return f"S3Store({self.url!r}, endpoint={self.endpoint!r})"

    # -- requests, retries and errors ---------------------------------------------
    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _call(self, what: str, key: str, func: Callable[..., T], /, **kwargs: Any) -> T:
        """Run one request with retries on transient failures; translate the final error."""
        from botocore.exceptions import (BotoCoreError, ClientError, ConnectionClosedError,
                                         ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError)

        for attempt in range(1, self.attempts + 1):
            try:
                return func(**kwargs)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code in _MISSING_CODES or (status == 404 and code not in ("NoSuchBucket", "NoSuchUpload")):
                    raise NotFoundError(f"no object {key!r} in {self.url}") from None
                if code == "NoSuchBucket":
                    raise StorageError(f"bucket {self.bucket!r} does not exist on {self.endpoint}") from None
                if code in _AUTH_CODES or status == 403:
                    raise StorageError(
                        f"S3 endpoint {self.endpoint} refused the credentials while {what} {key!r} in {self.url} "
                        f"({code or status}); check RSARCHIVE_S3_ACCESS_KEY/RSARCHIVE_S3_SECRET_KEY "
                        "(or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
                    ) from None
                if code in ("PreconditionFailed", "BadDigest", "InvalidRequest", "InvalidArgument",
                            "NotImplemented", "XAmzContentSHA256Mismatch"):
                    raise
                if code not in _TRANSIENT_CODES and not (isinstance(status, int) and status >= 500):
                    message = exc.response.get("Error", {}).get("Message", "")
                    raise StorageError(f"{what} {key!r} in {self.url} failed: {code} {message}".strip()) from None
                failure = f"{code} {exc.response.get('Error', {}).get('Message', '')}".strip()
                unreachable = False
            except (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError) as exc:
                failure, unreachable = str(exc), True
            except BotoCoreError as exc:
                if "credentials" in type(exc).__name__.lower():
                    raise StorageError(f"no S3 credentials for {self.url} ({exc}); set RSARCHIVE_S3_ACCESS_KEY/"
                                       "RSARCHIVE_S3_SECRET_KEY or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
                failure, unreachable = str(exc), False
            if attempt == self.attempts:
                if unreachable:
                    raise ServiceError(f"S3 endpoint {self.endpoint} cannot be reached while {what} {key!r} "
                                       f"({failure}) after {attempt} attempts") from None
                raise StorageError(f"{what} {key!r} in {self.url} failed after {attempt} attempts: {failure}") from None
            delay = min(8.0, 0.2 * 2 ** (attempt - 1)) * (0.5 + random.random())
            log.warning("%s %s failed (%s); retrying in %.1f s", what, key, failure, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _lock_args(self, key: str) -> dict[str, Any]:
        """Object Lock retention for immutable keys when the bucket has Object Lock enabled."""
        if form_of(key) not in IMMUTABLE_FORMS:
            return {}
        if self._object_lock is None:
            from botocore.exceptions import ClientError

            try:
                config = self.client.get_object_lock_configuration(Bucket=self.bucket)
                self._object_lock = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except ClientError:
                self._object_lock = False
            except Exception:  # noqa: BLE001 - unreachable endpoints are reported by the write itself
                return {}
        if not self._object_lock:
            return {}
        until = dt.datetime.now(dt.timezone.utc) + self.retention
        return {"ObjectLockMode": self.lock_mode, "ObjectLockRetainUntilDate": until}

    # -- writing ----------------------------------------------------------------
    def put(self, key: str, source: Source, *, expected_sha256: str | None = None,
            repair: bool = False) -> ObjectInfo:
        name = self._name(key)
        immutable = form_of(key) in IMMUTABLE_FORMS
        if repair and expected_sha256 is None:
            raise UsageError(f"repairing {key!r} needs the recorded sha256")
        if expected_sha256 is not None:
            expected_sha256 = check_sha256(expected_sha256)
        with open_source(source) as stream:
            if immutable and not repair:
                try:
                    existing = self.head(key)
                except NotFoundError:
                    existing = None
                if existing is not None:
                    return self._same_or_conflict(key, existing, sha256_stream(stream)[0])
            extra = self._lock_args(key)
            if immutable and not repair:
                extra["IfNoneMatch"] = "*"
            first = stream.read(self.part_size)
            try:
                if len(first) < self.part_size:
                    sha = hashlib.sha256(first).hexdigest()
                    self._check_expected(key, sha, expected_sha256)
                    self._put_single(key, name, first, sha, extra)
                    size = len(first)
                else:
                    sha, size = self._put_multipart(key, name, first, stream, expected_sha256, extra)
            except _Exists as exc:
                # Another writer created the key between our check and our write.
                return self._same_or_conflict(key, self.head(key), exc.sha256)
        info = self.head(key)
        if info.size != size:
            raise IntegrityError(f"{key!r} in {self.url} has {info.size} bytes after upload, sent {size}")
        return ObjectInfo(key, size, sha, info.modified, self.url)

    def _check_expected(self, key: str, sha: str, expected: str | None) -> None:
        if expected is not None and sha != expected:
            raise IntegrityError(f"bytes for {key!r} hash to {sha}, expected {expected}; nothing stored")

    def _same_or_conflict(self, key: str, existing: ObjectInfo, new_sha: str | None) -> ObjectInfo:
        current = existing.sha256 or self.get(key, None).sha256
        if new_sha is not None and current == new_sha:
            log.debug("identical re-put of %s: nothing to do", key)
            return ObjectInfo(key, existing.size, current, existing.modified, self.url)
        raise ConflictError(f"{key!r} already exists in {self.url} with different content (sha256 {current}, new "
                            f"{new_sha}); {form_of(key).value} objects are immutable")

    def _put_single(self, key: str, name: str, body: bytes, sha: str, extra: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        args = dict(Bucket=self.bucket, Key=name, Body=body, Metadata={"sha256": sha}, **extra)
        if self._checksums is not False:
            args["ChecksumSHA256"] = to_b64(sha)
        try:
            reply = self._call("storing", key, self.client.put_object, **args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "PreconditionFailed":
                raise _Exists(sha) from None
            if code == "BadDigest":
                raise IntegrityError(f"{self.url} received bytes for {key!r} that do not hash to {sha}; "
                                     "nothing stored") from None
            if "ChecksumSHA256" in args and code in ("InvalidRequest", "InvalidArgument", "NotImplemented"):
                log.info("%s does not accept x-amz-checksum-sha256 (%s); using metadata only", self.endpoint, code)
                self._checksums = False
                return self._put_single(key, name, body, sha, extra)
            raise StorageError(f"storing {key!r} in {self.url} failed: {exc}") from None
        if self._checksums is None:
            self._checksums = from_b64(reply.get("ChecksumSHA256", "")) == sha
            if not self._checksums:
                log.info("%s does not keep x-amz-checksum-sha256; the sha256 is in the metadata", self.endpoint)

    def _put_multipart(self, key: str, name: str, first: bytes, stream: BinaryIO, expected: str | None,
                       extra: dict[str, Any]) -> tuple[str, int]:
        from botocore.exceptions import ClientError

        create_args = {k: v for k, v in extra.items() if k != "IfNoneMatch"}
        use_checksums = self._checksums is not False
        if use_checksums:
            create_args["ChecksumAlgorithm"] = "SHA256"
        upload = self._call("starting upload of", key, self.client.create_multipart_upload,
                            Bucket=self.bucket, Key=name, **create_args)["UploadId"]
        digest = hashlib.sha256()
        size = 0
        parts: list[Future[dict[str, Any]]] = []
        slots = threading.BoundedSemaphore(self.concurrency + 1)

        def send(number: int, body: bytes) -> dict[str, Any]:
            try:
                part_args: dict[str, Any] = dict(Bucket=self.bucket, Key=name, UploadId=upload,
                                                 PartNumber=number, Body=body)
                if use_checksums:
                    part_args["ChecksumSHA256"] = to_b64(hashlib.sha256(body).hexdigest())
                reply = self._call(f"sending part {number} of", key, self.client.upload_part, **part_args)
                done = {"PartNumber": number, "ETag": reply["ETag"]}
                if use_checksums and reply.get("ChecksumSHA256"):
                    done["ChecksumSHA256"] = reply["ChecksumSHA256"]
                return done
            finally:
                slots.release()

        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="s3-put") as pool:
                block, number = first, 1
                while block:
                    digest.update(block)
                    size += len(block)
                    slots.acquire()
                    parts.append(pool.submit(send, number, block))
                    if any(p.done() and p.exception() for p in parts):
                        break
                    block, number = stream.read(self.part_size), number + 1
                finished = [p.result() for p in parts]
            sha = digest.hexdigest()
            self._check_expected(key, sha, expected)
            complete: dict[str, Any] = dict(Bucket=self.bucket, Key=name, UploadId=upload,
                                            MultipartUpload={"Parts": finished})
            if "IfNoneMatch" in extra:
                complete["IfNoneMatch"] = "*"
            try:
                self._call("completing upload of", key, self.client.complete_multipart_upload, **complete)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                    raise _Exists(sha) from None
                raise StorageError(f"completing upload of {key!r} to {self.url} failed: {exc}") from None
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload)
            except Exception:  # noqa: BLE001 - gc aborts what is left
                log.debug("could not abort upload %s of %s", upload, key, exc_info=True)
            raise
        try:
            self._call("tagging", key, self.client.put_object_tagging, Bucket=self.bucket, Key=name,
                       Tagging={"TagSet": [{"Key": "sha256", "Value": sha}]})
        except StorageError as exc:  # the database record is the reference; the tag is a convenience
            log.warning("could not tag %s with its sha256: %s", key, exc)
        return sha, size

    # -- reading ----------------------------------------------------------------
    def head(self, key: str) -> ObjectInfo:
        name = self._name(key)
        reply = self._call("reading", key, self.client.head_object, Bucket=self.bucket, Key=name,
                           ChecksumMode="ENABLED")
        sha = from_b64(reply.get("ChecksumSHA256", "")) or reply.get("Metadata", {}).get("sha256")
        if sha is None and "-" in reply.get("ETag", ""):
            try:
                tags = self._call("reading tags of", key, self.client.get_object_tagging, Bucket=self.bucket, Key=name)
                sha = {t["Key"]: t["Value"] for t in tags.get("TagSet", [])}.get("sha256")
            except StorageError:
                sha = None
        return ObjectInfo(key, int(reply["ContentLength"]), sha, reply.get("LastModified"), self.url)

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except NotFoundError:
            return False
        return True

    def _get_range(self, key: str, name: str, start: int, end: int) -> bytes:
        def fetch() -> bytes:
            body = self.client.get_object(Bucket=self.bucket, Key=name, Range=f"bytes={start}-{end}")["Body"]
            try:
                return body.read()
            finally:
                body.close()

        return self._call("reading", key, fetch)

    def read_range(self, key: str, start: int, length: int) -> bytes:
        if start < 0 or length < 0:
            raise UsageError(f"range start {start} and length {length} must be ≥ 0")
        if length == 0:
            return b""
        try:
            return self._get_range(key, self._name(key), start, start + length - 1)
        except StorageError as exc:
            if "InvalidRange" in str(exc):
                return b""
            raise

    def get(self, key: str, dest: Path | str | BinaryIO | None, *, expected_sha256: str | None = None,
            expected_size: int | None = None) -> ObjectInfo:
        where = f"{key!r} in {self.url}"
        info = self.head(key)
        if isinstance(dest, (str, Path)):
            dest = Path(dest)
            temp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
            try:
                with open(temp, "wb") as out:
                    writer = self._download(key, info.size, None, fd=out.fileno())
                writer.verify(expected_sha256, expected_size, where)
                os.replace(temp, dest)
            finally:
                temp.unlink(missing_ok=True)
        else:
            writer = self._download(key, info.size, dest)
            writer.verify(expected_sha256, expected_size, where)
        if writer.size != info.size:
            raise IntegrityError(f"{where}: read {writer.size} bytes, the store reports {info.size}")
        return ObjectInfo(key, writer.size, writer.hexdigest(), info.modified, self.url)

    def _download(self, key: str, size: int, sink: BinaryIO | None, fd: int | None = None) -> HashingWriter:
        """Concurrent ranged GETs hashed in order; written in order to ``sink``, or by the
        workers at their offsets into the file ``fd`` (so writing overlaps hashing)."""
        name = self._name(key)
        writer = HashingWriter(sink)

        def fetch(start: int, end: int) -> bytes:
            block = self._get_range(key, name, start, end)
            if fd is not None:
                view, offset = memoryview(block), start
                while view:
                    written = os.pwrite(fd, view, offset)
                    view, offset = view[written:], offset + written
            return block

        ranges = [(start, min(size, start + self.part_size) - 1) for start in range(0, size, self.part_size)]
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="s3-get") as pool:
            pending: deque[Future[bytes]] = deque()
            queue = iter(ranges)
            for start, end in queue:
                pending.append(pool.submit(fetch, start, end))
                if len(pending) >= self.concurrency:
                    break
            while pending:
                block = pending.popleft().result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append(pool.submit(fetch, *nxt))
                writer.write(block)
        return writer

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        while True:
            page = self._call("listing", prefix or "/", self.client.list_objects_v2, **args)
            for item in page.get("Contents", []):
                yield ObjectInfo(item["Key"][len(self.prefix):], int(item["Size"]), None, item.get("LastModified"),
                                 self.url)
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return
            args["ContinuationToken"] = page["NextContinuationToken"]

    # -- deleting, publishing, cleaning ------------------------------------------
    def delete(self, key: str) -> bool:
        refuse_if_immutable(key, "delete", self.url)
        if not self.exists(key):
            return False
        self._call("deleting", key, self.client.delete_object, Bucket=self.bucket, Key=self._name(key))
        return True

    def promote(self, staging: str, key: str, *, expected_sha256: str, expected_size: int) -> ObjectInfo:
        refuse_if_immutable(key, "publish over", self.url)
        staged = self.head(staging)
        if staged.size != expected_size or (staged.sha256 is not None and staged.sha256 != expected_sha256):
            raise IntegrityError(f"staged {staging!r} is {staged.size} bytes, sha256 {staged.sha256}; expected "
                                 f"{expected_size} bytes, sha256 {expected_sha256}")
        source = {"Bucket": self.bucket, "Key": self._name(staging)}
        if staged.size <= 5 << 30:
            self._call("publishing", key, self.client.copy_object, Bucket=self.bucket, Key=self._name(key),
                       CopySource=source, MetadataDirective="COPY", TaggingDirective="COPY")
        else:  # pragma: no cover - objects above 5 GiB need a multipart copy
            self._call("publishing", key, self.client.copy, CopySource=source, Bucket=self.bucket,
                       Key=self._name(key))
        final = self.head(key)
        if final.size != expected_size or (final.sha256 is not None and final.sha256 != expected_sha256):
            raise IntegrityError(f"published {key!r} is {final.size} bytes, sha256 {final.sha256}; expected "
                                 f"{expected_size} bytes, sha256 {expected_sha256}")
        self._call("deleting", staging, self.client.delete_object, Bucket=self.bucket, Key=self._name(staging))
        return ObjectInfo(key, final.size, expected_sha256, final.modified, self.url)

    def cleanup_partials(self, older_than: dt.timedelta) -> int:
        cutoff = dt.datetime.now(dt.timezone.utc) - older_than
        reply = self._call("listing uploads under", self.prefix or "/", self.client.list_multipart_uploads,
                           Bucket=self.bucket, Prefix=self.prefix)
        removed = 0
        for upload in reply.get("Uploads", []):
            if upload["Initiated"] <= cutoff:
                self._call("aborting upload of", upload["Key"], self.client.abort_multipart_upload,
                           Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                removed += 1
        return removed


_SESSIONS: dict[tuple[str | None, str | None, str], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(access_key: str | None, secret_key: str | None, region: str) -> Any:
    """One boto3 session per credential set: building a client from a new session reloads the service model."""
    import boto3

    with _SESSIONS_LOCK:
        key = (access_key, secret_key, region)
        if key not in _SESSIONS:
            _SESSIONS[key] = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                                   region_name=region)
        return _SESSIONS[key]


class _Exists(Exception):
    """A conditional write found the key already there."""

    def __init__(self, sha256: str) -> None:
        super().__init__(sha256)
        self.sha256 = sha256
