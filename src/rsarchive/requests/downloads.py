"""Signed, expiring, per-requester download links, and reading the asset they point at.

A link is ``/downloads/<token>``; the token is ``base64url(payload).base64url(HMAC-SHA256)``
where the payload names the request, the item, the asset, the user it was issued
to and its expiry.  The HMAC key is generated once and kept in the internal
database (``rsarchive.signing_keys``), so every API worker shares it.  Serving a
link needs the same user's credentials as well: a link issued to requester A
fails for requester B, and after its expiry for everyone.

Reading the bytes is behind :func:`open_asset`: ``file://`` hrefs are read
directly; ``s3://bucket/key`` hrefs inside the archive's primary or copy store (prefix
included) go through :func:`rsarchive.storage.factory.open_store` (``read_range`` on the
ObjectStore protocol); other S3 hrefs are read from their bucket with boto3.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from rsarchive.errors import AuthError, NotFoundError, PermissionDeniedError, StorageError

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 7 * 24 * 3600
CHUNK = 1 << 20


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(conn: Any) -> bytes:
    """The archive's link-signing key (created on first use, shared through the database)."""
    row = conn.execute("SELECT secret FROM rsarchive.signing_keys WHERE id = 1").fetchone()
    if row is None:
        conn.execute("INSERT INTO rsarchive.signing_keys (id, secret) VALUES (1, %s) ON CONFLICT (id) DO NOTHING",
                     (secrets.token_bytes(32),))
        row = conn.execute("SELECT secret FROM rsarchive.signing_keys WHERE id = 1").fetchone()
    return bytes(row[0])


@dataclass(frozen=True)
class Grant:
    """What a signed link allows: one asset of one delivered item, to one user, until ``expires``."""

    request_id: int
    item_id: str
    asset: str
    user_id: int
    expires: int

    def sign(self, key: bytes) -> str:
        payload = _b64(json.dumps({"r": self.request_id, "i": self.item_id, "a": self.asset, "u": self.user_id,
                                   "e": self.expires}, separators=(",", ":")).encode())
        mac = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
        return f"{payload}.{_b64(mac)}"

    @classmethod
    def verify(cls, key: bytes, token: str, user_id: int | None, now: float | None = None) -> Grant:
        """The grant in ``token`` if its signature is good, it is not expired and it was issued
        to ``user_id``; otherwise :class:`PermissionDeniedError` (or :class:`AuthError` when no user)."""
        if user_id is None:
            raise AuthError("downloads need the API token of the user the link was issued to")
        try:
            payload, mac = token.split(".")
            good = hmac.compare_digest(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest(), _unb64(mac))
            data = json.loads(_unb64(payload)) if good else None
            grant = cls(int(data["r"]), str(data["i"]), str(data["a"]), int(data["u"]), int(data["e"])) if data else None
        except (ValueError, KeyError, TypeError, UnicodeError):
            grant = None
        if grant is None:
            raise PermissionDeniedError("download link is not valid")
        if grant.user_id != user_id:
            raise PermissionDeniedError("download link was issued to another user")
        if (now if now is not None else time.time()) > grant.expires:
            raise PermissionDeniedError("download link has expired; open the delivery again for a fresh one")
        return grant


def issue(key: bytes, request_id: int, item_id: str, asset: str, user_id: int,
          ttl_seconds: int = DEFAULT_TTL_SECONDS, now: float | None = None) -> str:
    """A signed token for one asset, valid ``ttl_seconds`` from ``now``, for ``user_id`` only."""
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    return Grant(request_id, item_id, asset, user_id, expires).sign(key)


# Reading assets ------------------------------------------------------------------------------

def open_asset(settings: Settings, href: str) -> tuple[int | None, Iterator[bytes]]:
    """The size (when known) and a chunk iterator over the bytes at ``href``."""
    parsed = urlparse(href)
    if parsed.scheme in ("", "file"):
        path = Path(unquote(parsed.path if parsed.scheme else href))
        if not path.is_file():
            raise NotFoundError(f"asset file {path} does not exist")
        return path.stat().st_size, _file_chunks(path)
    if parsed.scheme == "s3":
        return _s3_asset(settings, parsed.netloc, parsed.path.lstrip("/"))
    raise StorageError(f"cannot read asset {href!r}: expected a file:// or s3:// href")


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _store_for(settings: Settings, bucket: str, path: str) -> tuple[Any, str] | None:
    """The archive's configured S3 store (primary or copy) holding ``s3://bucket/path``, and
    the object's key in it; None when the href is outside both.

    The store URL may carry a prefix (``s3://bucket/archive``); hrefs written as
    ``store.url + "/" + key`` may then have a doubled slash, which is not part of the key."""
    from rsarchive.storage.factory import open_store

    for url, role in ((settings.primary_store, "primary"), (settings.copy_store, "copy")):
        if not url.startswith("s3://"):
            continue
        store_bucket, _, prefix = url.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        if store_bucket != bucket or (prefix and not path.startswith(prefix + "/")):
            continue
        return open_store(url, settings, role=role), path[len(prefix):].lstrip("/")
    return None


def _s3_asset(settings: Settings, bucket: str, path: str) -> tuple[int | None, Iterator[bytes]]:
    """Size and chunks of an S3 asset: through the archive's store (retries, error
    translation) when the href is in one, else straight from the bucket with boto3."""
    found = _store_for(settings, bucket, path)
    if found is None:
        return _boto3_asset(settings, bucket, path.lstrip("/"))
    store, key = found
    size = store.head(key).size

    def chunks() -> Iterator[bytes]:
        offset = 0
        while offset < size:
            data = store.read_range(key, offset, CHUNK)
            if not data:
                raise StorageError(f"{store.url} returned {offset} of the {size} bytes of {key!r}")
            offset += len(data)
            yield data

    return size, chunks()


def _boto3_asset(settings: Settings, bucket: str, key: str) -> tuple[int | None, Iterator[bytes]]:
    import boto3

    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None, region_name=settings.s3_region,
                          aws_access_key_id=settings.s3_access_key or None,
                          aws_secret_access_key=settings.s3_secret_key or None)
    try:
        obj = client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        raise NotFoundError(f"asset s3://{bucket}/{key} does not exist") from None
    body = obj["Body"]
    return int(obj.get("ContentLength") or 0) or None, iter(lambda: body.read(CHUNK), b"")


def log_download(conn: Any, grant: Grant, size: int, completed: bool) -> None:
    """One line in ``rsarchive.downloads`` (committed by the caller)."""
    conn.execute("INSERT INTO rsarchive.downloads (user_id, request_id, item_id, asset, bytes, completed) "
                 "VALUES (%s, %s, %s, %s, %s, %s)",
                 (grant.user_id, grant.request_id, grant.item_id, grant.asset, size, completed))


def logged_chunks(settings: Settings, grant: Grant, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` passed through; when they end (sent in full, or the client went away) the
    download is logged (:func:`log_download`, own transaction)."""
    from rsarchive.db import connect

    sent, done = 0, False
    try:
        for chunk in chunks:
            sent += len(chunk)
            yield chunk
        done = True
    finally:
        with connect(settings.internal_database_dsn) as conn:
            log_download(conn, grant, sent, done)
            conn.commit()
