"""Archive storage (Decision 81, Art. 6): one :class:`ObjectStore` protocol with a
local-directory and an S3 backend, the key layout of the law's forms, sha256
checksums, independent copies, immutability, atomic publication, garbage
collection and the fixity audit.

Typical use::

    archive = Archive.from_settings(settings)
    archive.store(level0_key("vnredsat1", aos, pass_id, "pass.cadu"), path)   # primary + verified copy
    with archive.publication(txn_id) as pub:                                  # products, atomically
        pub.put(product_key("vnredsat1", t, scene, "B1.tif"), cog)
        pub.commit(on_commit=lambda conn, recs: ...)                          # catalog, same transaction
    audit(archive, sample=100, repair=True)
"""

from typing import Any

from rsarchive.storage.base import ObjectInfo, ObjectStore, Source
from rsarchive.storage.checksum import from_multihash, multihash
from rsarchive.storage.keys import (
    COPIED_FORMS,
    IMMUTABLE_FORMS,
    Form,
    form_of,
    level0_key,
    original_key,
    product_key,
    raw_key,
    staging_key,
)

__all__ = [
    "Archive", "AuditReport", "Form", "GcReport", "IMMUTABLE_FORMS", "COPIED_FORMS", "LocalStore", "ObjectInfo",
    "ObjectRecord", "ObjectStore", "Publication", "S3Store", "Source", "audit", "collect_garbage", "form_of",
    "from_multihash", "level0_key", "multihash", "open_store", "original_key", "parse_duration", "product_key",
    "raw_key", "staging_key",
]

_LAZY = {
    "Archive": "rsarchive.storage.archive",
    "AuditReport": "rsarchive.storage.fixity",
    "audit": "rsarchive.storage.fixity",
    "GcReport": "rsarchive.storage.gc",
    "collect_garbage": "rsarchive.storage.gc",
    "parse_duration": "rsarchive.storage.gc",
    "LocalStore": "rsarchive.storage.local",
    "S3Store": "rsarchive.storage.s3",
    "ObjectRecord": "rsarchive.storage.records",
    "Publication": "rsarchive.storage.publication",
    "open_store": "rsarchive.storage.factory",
}


def __getattr__(name: str) -> Any:  # boto3 and psycopg load only when used
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rsarchive.storage' has no attribute {name!r}")
