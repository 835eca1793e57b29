"""Checksums: sha256 computed while bytes stream past, the STAC ``file:checksum``
multihash, and conversions to the forms S3 uses."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import BinaryIO

from rsarchive.errors import IntegrityError, UsageError

__all__ = ["CHUNK", "multihash", "from_multihash", "sha256_file", "sha256_stream", "to_b64", "from_b64",
           "HashingWriter", "check_sha256"]

CHUNK = 8 << 20
"""Read size for streaming (8 MiB): large enough for throughput, small enough for memory."""

_SHA2_256_PREFIX = "1220"  # multihash: code 0x12 (sha2-256), length 0x20 (32 bytes)


def check_sha256(value: str) -> str:
    """A lower-case 64-hex-digit sha256, or :class:`UsageError`."""
    if not isinstance(value, str) or len(value) != 64 or any(c not in "0123456789abcdef" for c in value.lower()):
        raise UsageError(f"{value!r} is not a sha256 hex digest (64 hex digits)")
    return value.lower()


def multihash(sha256_hex: str) -> str:
    """The STAC ``file:checksum`` of a sha256: the hex multihash ``1220<digest>``."""
    return _SHA2_256_PREFIX + check_sha256(sha256_hex)


def from_multihash(value: str) -> str:
    """The sha256 hex digest inside a ``file:checksum`` multihash (only sha2-256 is used here)."""
    if not value.startswith(_SHA2_256_PREFIX) or len(value) != 68:
        raise UsageError(f"file:checksum {value!r} is not a sha2-256 multihash (1220 + 64 hex digits)")
    return check_sha256(value[4:])


def to_b64(sha256_hex: str) -> str:
    """S3's form of a sha256 (``x-amz-checksum-sha256``): base64 of the raw digest."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def from_b64(value: str) -> str | None:
    """The hex digest of an S3 ``ChecksumSHA256``; None for a composite (multipart) checksum."""
    if not value or "-" in value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


def sha256_stream(stream: BinaryIO, chunk: int = CHUNK) -> tuple[str, int]:
    """(sha256 hex, size) of everything left in ``stream``, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    while block := stream.read(chunk):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size) of a file, streamed."""
    with open(path, "rb", buffering=0) as fh:
        return sha256_stream(fh)  # type: ignore[arg-type]


class HashingWriter:
    """A binary sink that hashes what is written and passes it on (or drops it when ``target`` is None)."""

    def __init__(self, target: BinaryIO | None = None) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.digest.update(data)
        self.size += len(data)
        if self.target is not None:
            self.target.write(data)
        return len(data)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()

    def verify(self, expected_sha256: str | None, expected_size: int | None, where: str) -> None:
        """Raise :class:`IntegrityError` unless what passed matches the expectations given."""
        if expected_size is not None and self.size != expected_size:
            raise IntegrityError(f"{where}: read {self.size} bytes, expected {expected_size}")
        if expected_sha256 is not None and self.hexdigest() != expected_sha256:
            raise IntegrityError(f"{where}: sha256 {self.hexdigest()} does not match the recorded {expected_sha256}")
