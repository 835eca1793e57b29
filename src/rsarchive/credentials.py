"""The generated credentials of the local stack: one JSON file, mode 0600.

``rsarchive services up`` generates, once, a password for the owner of the local
PostgreSQL cluster and for each run-time role, and an S3 key pair for each run-time
identity of the local SeaweedFS, and keeps them in ``<archive_root>/run/secrets.json``
(setting ``secrets_file``).  The file says which server it belongs to: passwords
apply only to DSNs of that PostgreSQL address, keys only to that S3 endpoint, so a
process pointed at another server never sends them there.

Nothing here logs or prints a secret; :func:`scram_verifier` lets the server store a
password without the password itself ever being sent in SQL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from rsarchive.errors import ConfigError

SCRAM_ITERATIONS = 4096


@dataclass
class LocalCredentials:
    """What the secrets file holds."""

    pg_address: str = ""
    """``host:port`` of the PostgreSQL server the passwords are for."""
    pg_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    """Role name → password."""
    s3_endpoint: str = ""
    """The S3 endpoint the keys are for."""
    s3_keys: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    """Identity (``worker``, ``api``, ``audit``) → (access key, secret key)."""

    def password(self, role: str, address: str) -> str:
        """The password of ``role`` on the server at ``address`` (``host:port``); empty if unknown."""
        return self.pg_passwords.get(role, "") if address and address == self.pg_address else ""

    def keys(self, identity: str, endpoint: str) -> tuple[str, str] | None:
        """The key pair of ``identity`` on the S3 endpoint ``endpoint``; None if unknown."""
        if not endpoint or endpoint.rstrip("/") != self.s3_endpoint:
            return None
        return self.s3_keys.get(identity)

    def to_json(self) -> str:
        return json.dumps({
            "postgres": {"address": self.pg_address, "passwords": self.pg_passwords},
            "s3": {"endpoint": self.s3_endpoint,
                   "keys": {k: {"access_key": a, "secret_key": s} for k, (a, s) in self.s3_keys.items()}},
        }, indent=1)


def load(path: Path) -> LocalCredentials:
    """The credentials in ``path``; empty when the file does not exist."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return LocalCredentials()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        raise ConfigError(f"cannot read the local credentials file {path}: {reason}") from None
    try:
        pg, s3 = data.get("postgres", {}), data.get("s3", {})
        return LocalCredentials(
            pg_address=str(pg.get("address", "")),
            pg_passwords={str(k): str(v) for k, v in pg.get("passwords", {}).items()},
            s3_endpoint=str(s3.get("endpoint", "")).rstrip("/"),
            s3_keys={str(k): (str(v["access_key"]), str(v["secret_key"])) for k, v in s3.get("keys", {}).items()},
        )
    except (AttributeError, KeyError, TypeError):
        raise ConfigError(f"the local credentials file {path} is not in the expected form; "
                          "move it away and run `rsarchive services up` again") from None


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner may read (mode 0600 from the start)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


def save(path: Path, creds: LocalCredentials) -> None:
    """Write ``creds`` to ``path`` (mode 0600, replaced atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write_private(tmp, creds.to_json())
    tmp.replace(path)


def new_password() -> str:
    return secrets.token_urlsafe(24)


def new_key_pair(identity: str) -> tuple[str, str]:
    """An access key (``rsarchive-<identity>-<random>``) and a secret key."""
    return f"rsarchive-{identity}-{secrets.token_hex(4)}", secrets.token_urlsafe(30)


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of ``password`` (what ``pg_authid.rolpassword``
    holds): ``ALTER ROLE … PASSWORD '<verifier>'`` stores it without the password being sent."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
