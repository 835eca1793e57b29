"""The key layout of the object stores: every key starts with the form the law
names, so a listing of a bucket or directory shows what each object is.

Stable layout (documented in the README; never change a form's layout, add one)::

    level0/<mission>/<yyyy>/<mm>/<dd>/<pass>/<file>          date of AOS (UTC)
    raw/<mission>/<yyyy>/<mm>/<dd>/<scene>/<file>            date of acquisition (UTC)
    product/<mission>/<yyyy>/<mm>/<dd>/<scene>/<file>        date of acquisition (UTC)
    original/<provider>/<yyyy>/<mm>/<dd>/<delivery>/<file>   date of receipt (UTC)
    staging/<txn-id>/<final key>                             objects of a publication not yet committed
    catalog/<kind>/<id>.json                                 catalog record of a publication, level-0 item or
                                                             delivery: its items and object records
    backup/<yyyymmddThhmmssZ>/<file>                         database dumps and their manifest

The ``copy`` form is not a prefix: a copy lives under the *same* key in the copy
store (a second directory or bucket), so primary and copy are found by one key.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import Enum

from rsarchive.errors import UsageError

__all__ = [
    "Form", "IMMUTABLE_FORMS", "COPIED_FORMS", "level0_key", "raw_key", "product_key", "original_key",
    "staging_key", "unstage_key", "form_of", "check_key", "is_staging", "catalog_key", "backup_key",
]


class Form(str, Enum):
    """The forms of Decision 81, Art. 6.1, as stored objects (plus the staging area)."""

    LEVEL0 = "level0"
    RAW = "raw"
    PRODUCT = "product"
    ORIGINAL = "original"
    COPY = "copy"
    STAGING = "staging"
    CATALOG = "catalog"
    BACKUP = "backup"

    def __str__(self) -> str:
        return self.value


IMMUTABLE_FORMS = frozenset({Form.LEVEL0, Form.ORIGINAL, Form.COPY})
"""Never overwritten or deleted by the application (an identical re-put is a no-op)."""

COPIED_FORMS = frozenset({Form.LEVEL0, Form.ORIGINAL, Form.CATALOG, Form.BACKUP})
"""Also written to the copy store, read back and verified before they count as stored.  Catalog
records and database dumps are copied but not immutable (a record is rewritten when its
publication is committed again, old dumps are removed by the backup retention)."""

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
_PREFIXED = {Form.LEVEL0, Form.RAW, Form.PRODUCT, Form.ORIGINAL, Form.STAGING, Form.CATALOG, Form.BACKUP}


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SEGMENT.match(value) or value in (".", ".."):
        raise UsageError(
            f"{what} {value!r} cannot be part of an object key: expected letters, digits, '.', '_', '+', '-' "
            "(not starting with a dot or dash, at most 200 characters)"
        )
    return value


def _date(when: dt.datetime | dt.date, what: str) -> str:
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            raise UsageError(f"{what} {when.isoformat()} has no time zone; give an aware datetime (UTC)")
        when = when.astimezone(dt.timezone.utc).date()
    elif not isinstance(when, dt.date):
        raise UsageError(f"{what} must be a date or datetime, got {type(when).__name__}")
    return f"{when.year:04d}/{when.month:02d}/{when.day:02d}"


def _file(name: str) -> str:
    parts = name.split("/")
    for part in parts:
        _segment(part, "file name part")
    return "/".join(parts)


def level0_key(mission: str, aos: dt.datetime | dt.date, pass_id: str, name: str) -> str:
    """``level0/<mission>/<yyyy>/<mm>/<dd>/<pass>/<name>`` (date of acquisition of signal, UTC)."""
    return f"level0/{_segment(mission, 'mission')}/{_date(aos, 'AOS')}/{_segment(pass_id, 'pass id')}/{_file(name)}"


def raw_key(mission: str, acquired: dt.datetime | dt.date, scene: str, name: str) -> str:
    """``raw/<mission>/<yyyy>/<mm>/<dd>/<scene>/<name>`` (L1A, sensor geometry)."""
    return f"raw/{_segment(mission, 'mission')}/{_date(acquired, 'acquisition time')}/{_segment(scene, 'scene id')}/{_file(name)}"


def product_key(mission: str, acquired: dt.datetime | dt.date, scene: str, name: str) -> str:
    """``product/<mission>/<yyyy>/<mm>/<dd>/<scene>/<name>`` (L2A, map-projected)."""
    return (f"product/{_segment(mission, 'mission')}/{_date(acquired, 'acquisition time')}/"
            f"{_segment(scene, 'scene id')}/{_file(name)}")


def original_key(provider: str, received: dt.datetime | dt.date, delivery: str, name: str) -> str:
    """``original/<provider>/<yyyy>/<mm>/<dd>/<delivery>/<name>`` (foreign data as first received)."""
    return (f"original/{_segment(provider, 'provider')}/{_date(received, 'receipt time')}/"
            f"{_segment(delivery, 'delivery id')}/{_file(name)}")


def staging_key(txn_id: str, key: str) -> str:
    """``staging/<txn-id>/<key>``: where a publication writes ``key`` before it commits."""
    check_key(key)
    return f"staging/{_segment(txn_id, 'publication id')}/{key}"


def catalog_key(kind: str, name: str) -> str:
    """``catalog/<kind>/<name>.json``: the catalog record of a publication, a level-0 item or a delivery."""
    return f"catalog/{_segment(kind, 'catalog record kind')}/{_segment(name, 'catalog record name')}.json"


def backup_key(run: str, name: str) -> str:
    """``backup/<run>/<name>``: a file of one backup run (``run`` is its UTC time, ``yyyymmddThhmmssZ``)."""
    return f"backup/{_segment(run, 'backup run')}/{_segment(name, 'backup file')}"


def unstage_key(key: str) -> tuple[str, str]:
    """``staging/<txn>/<final>`` → (txn, final)."""
    parts = key.split("/", 2)
    if len(parts) != 3 or parts[0] != Form.STAGING.value:
        raise UsageError(f"{key!r} is not a staging key (staging/<txn-id>/<key>)")
    return parts[1], parts[2]


def is_staging(key: str) -> bool:
    return key.startswith(Form.STAGING.value + "/")


def check_key(key: str) -> str:
    """Validate a full key (known form prefix, safe segments) and return it."""
    if not isinstance(key, str) or not key:
        raise UsageError("an object key must be a non-empty string")
    parts = key.split("/")
    try:
        form = Form(parts[0])
    except ValueError:
        raise UsageError(
            f"object key {key!r} does not start with a form ({', '.join(sorted(f.value for f in _PREFIXED))})"
        ) from None
    if form not in _PREFIXED or len(parts) < 3:
        raise UsageError(f"object key {key!r} is too short or has no form prefix")
    for part in parts[1:]:
        _segment(part, f"segment of key {key!r}")
    return key


def form_of(key: str) -> Form:
    """The form a key belongs to (its first segment)."""
    check_key(key)
    return Form(key.split("/", 1)[0])
