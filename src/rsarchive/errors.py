"""One error hierarchy for the whole archive.

Every error the archive raises on purpose derives from :class:`RsArchiveError`.
Subclasses also inherit the matching builtin (``ValueError``, ``OSError``,
``LookupError``) so callers that catch builtins keep working.

The edges translate these: the CLI prints one line and exits with
:attr:`RsArchiveError.exit_code`; the API maps types to HTTP status codes with
:attr:`RsArchiveError.http_status`.  Messages say what failed, where, and what
was expected.
"""

from __future__ import annotations


class RsArchiveError(Exception):
    """Root of every error the archive raises on purpose."""

    exit_code: int = 1
    http_status: int = 500


class ConfigError(RsArchiveError, ValueError):
    """A setting, configuration file or profile is missing or invalid."""

    exit_code = 2
    http_status = 500


class UsageError(RsArchiveError, ValueError):
    """A caller passed a wrong parameter (bad value, unknown name, wrong kind)."""

    exit_code = 2
    http_status = 400


class NotFoundError(RsArchiveError, LookupError):
    """Something asked for by name or id does not exist."""

    exit_code = 3
    http_status = 404


class ConflictError(RsArchiveError):
    """The request conflicts with what is stored (e.g. an immutable object)."""

    exit_code = 4
    http_status = 409


class ServiceError(RsArchiveError, OSError):
    """A service (PostgreSQL, SeaweedFS, an S3 endpoint) cannot be started or reached."""

    exit_code = 5
    http_status = 503


class DecodeError(RsArchiveError, ValueError):
    """A level-0 stream (frames, packets, time codes) cannot be decoded."""

    exit_code = 6
    http_status = 422


class CalibrationError(RsArchiveError, ValueError):
    """A calibration parameter file is invalid or does not match the data."""

    exit_code = 6
    http_status = 422


class ProcessingError(RsArchiveError):
    """Radiometric or geometric processing failed on valid-looking input."""

    exit_code = 7
    http_status = 500


class StorageError(RsArchiveError, OSError):
    """An object store operation failed."""

    exit_code = 8
    http_status = 503


class DiskFullError(StorageError):
    """A filesystem has no space left: a job's work directory, the level-0 spool or a local store.

    A wait, not a failure: the job goes back to the queue without using up its attempts and
    finishes once space is freed (the message, Vietnamese first, names the place)."""

    exit_code = 12
    http_status = 507

    def __init__(self, vi: str, en: str = "") -> None:
        super().__init__(f"{vi} — {en}" if en else vi)
        self.vi, self.en = vi, en


class IntegrityError(StorageError):
    """Stored bytes do not match their recorded checksum or size."""

    exit_code = 9


class CatalogError(RsArchiveError):
    """A STAC item or collection is invalid or cannot be loaded."""

    exit_code = 10
    http_status = 422


class AuthError(RsArchiveError):
    """Missing, wrong or revoked credentials."""

    exit_code = 11
    http_status = 401


class TokenExpiredError(AuthError):
    """An API token or web session that was valid has expired (renew it: ``rsarchive tokens renew``)."""


class PermissionDeniedError(RsArchiveError):
    """The caller is known but lacks the role or clearance."""

    exit_code = 11
    http_status = 403


class PaymentRequiredError(PermissionDeniedError):
    """A delivery is held until its fee statement is paid (Circular 187/2016/TT-BTC); the message names the
    amount due."""

    http_status = 402
