"""Failure domains: does the copy store share something with the primary that one fault takes both?

Decision 81 asks for an independent copy (Art. 6.3).  Two directories of one disk, two
buckets of one S3 server or one bucket under two prefixes are not independent: a disk
failure, a lost server or a deleted bucket takes both.  :func:`shared_failure_domains`
names what the two stores share; ``config show``, ``services status`` and ``audit`` say it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from rsarchive.settings import Settings

__all__ = ["SharedDomain", "shared_failure_domains"]

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", ""}


@dataclass(frozen=True)
class SharedDomain:
    """One thing the primary and the copy share: ``kind`` is ``device``, ``server``, ``bucket`` or ``machine``."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return (f"the copy store shares a {self.kind} with the primary ({self.detail}): one failure there loses "
                "both; place the copy on an independent disk, server and site (Decision 81, Art. 6.3)")


def _device(path: Path) -> int | None:
    """The filesystem device of ``path`` or of its nearest existing parent."""
    for candidate in (path, *path.parents):
        try:
            return os.stat(candidate).st_dev
        except OSError:
            continue
    return None


def _s3(url: str) -> tuple[str, str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix


def _local(endpoint: str) -> bool:
    """True when the S3 endpoint is on this machine (a loopback address)."""
    return bool(endpoint) and endpoint != "AWS" and (urlsplit(endpoint).hostname or "") in _LOCAL_HOSTS


def shared_failure_domains(settings: Settings) -> list[SharedDomain]:
    """What the primary store and the copy store of ``settings`` share (empty: independent as far as this
    machine can tell)."""
    primary, copy = settings.primary_store, settings.copy_store
    found: list[SharedDomain] = []
    if primary.startswith("file://") and copy.startswith("file://"):
        a, b = Path(primary.removeprefix("file://")), Path(copy.removeprefix("file://"))
        dev_a, dev_b = _device(a), _device(b)
        if dev_a is not None and dev_a == dev_b:
            found.append(SharedDomain("device", f"{a} and {b} are on filesystem device {dev_a}"))
    elif primary.startswith("s3://") and copy.startswith("s3://"):
        endpoint_a = settings.s3_endpoint_url or "AWS"
        endpoint_b = settings.copy_endpoint or endpoint_a
        if endpoint_a == endpoint_b:
            found.append(SharedDomain("server", f"both at {endpoint_a}"))
            if _s3(primary)[0] == _s3(copy)[0]:
                found.append(SharedDomain("bucket", f"both in bucket {_s3(primary)[0]}"))
        elif _local(endpoint_a) and _local(endpoint_b):  # two servers, one machine (the local stack's two)
            found.append(SharedDomain("machine", f"the S3 servers at {endpoint_a} and {endpoint_b} are both on "
                                                 "this machine"))
    else:  # one on a local disk, one in S3: the same machine when the S3 server is this one
        endpoint = settings.copy_endpoint if copy.startswith("s3://") else settings.s3_endpoint_url
        endpoint = endpoint or settings.s3_endpoint_url
        if endpoint and _local(endpoint):
            found.append(SharedDomain("machine", f"the file store and the S3 server at {endpoint} are on this machine"))
    return found
