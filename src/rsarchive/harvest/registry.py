"""The harvest source registry: which bodies' catalogs are harvested, how often, and how it went.

``rsarchive harvest add ORG URL --every 1d`` registers a source; :func:`run_due` harvests every
source whose interval has passed since its last run -- the one function the operator
console's scheduler (issue #23) calls.  :func:`overdue` lists the harvested items still
unpublished past the due date of Decree 03/2019, Art. 18.2(b) (held for a classification).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from rsarchive.catalog.classification import PROPERTY as CLASSIFICATION
from rsarchive.catalog.inputs import SECURITY_LEVELS
from rsarchive.catalog.publication import PUBLIC_CLASSIFICATION
from rsarchive.db import connect
from rsarchive.errors import NotFoundError, RsArchiveError, UsageError
from rsarchive.harvest.convert import check_org
from rsarchive.harvest.run import HarvestReport, harvest
from rsarchive.law import calendar
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["DueOutcome", "HarvestSource", "OverdueItem", "add_source", "list_sources", "overdue", "parse_every",
           "run_due"]

_EVERY = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_every(value: str) -> dt.timedelta:
    """``30m``, ``12h``, ``1d``, ``2w`` → a positive interval (:class:`UsageError` otherwise)."""
    match = _EVERY.match(value or "")
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"interval {value!r} is not a positive number followed by m, h, d or w (e.g. 1d, 12h)")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class HarvestSource:
    """A registered body's catalog."""

    org: str
    name_vi: str
    name_en: str
    url: str
    every: dt.timedelta | None
    last_run_at: dt.datetime | None
    last_status: str | None
    last_error: str | None

    def is_due(self, now: dt.datetime) -> bool:
        """Scheduled, and never run or its interval has passed since the last run."""
        return self.every is not None and (self.last_run_at is None or now - self.last_run_at >= self.every)

    def to_dict(self) -> dict[str, Any]:
        return {"org": self.org, "name_vi": self.name_vi, "name_en": self.name_en, "url": self.url,
                "every_seconds": self.every.total_seconds() if self.every else None,
                "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
                "last_status": self.last_status, "last_error": self.last_error}


_COLUMNS = "org, name_vi, name_en, url, every, last_run_at, last_status, last_error"


def add_source(settings: Settings, org: str, url: str, *, name_vi: str, name_en: str | None = None,
               every: dt.timedelta | None = None) -> HarvestSource:
    """Register the catalog of body ``org`` (or change its URL, names and interval)."""
    check_org(org)
    if not name_vi.strip():
        raise UsageError("the body's Vietnamese name (--name-vi) is required")
    if every is not None and every <= dt.timedelta(0):
        raise UsageError("the harvest interval must be positive")
    with connect(settings.internal_database_dsn) as conn:
        row = conn.execute(
            "INSERT INTO rsarchive.harvest_sources (org, name_vi, name_en, url, every) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (org) DO UPDATE SET name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en, "
            f"url = EXCLUDED.url, every = EXCLUDED.every RETURNING {_COLUMNS}",
            (org, name_vi.strip(), (name_en or name_vi).strip(), url, every)).fetchone()
        conn.commit()
    return HarvestSource(*row)


def list_sources(settings: Settings) -> list[HarvestSource]:
    """Every registered source, by body id."""
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM rsarchive.harvest_sources ORDER BY org").fetchall()
    return [HarvestSource(*row) for row in rows]


def get_source(settings: Settings, org: str) -> HarvestSource:
    for source in list_sources(settings):
        if source.org == org:
            return source
    raise NotFoundError(f"no harvest source for body {org!r} (rsarchive harvest list)")


@dataclass(frozen=True)
class DueOutcome:
    """One source's run by :func:`run_due`: its report, or why it failed."""

    org: str
    report: HarvestReport | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"org": self.org, "report": self.report.to_dict() if self.report else None, "error": self.error}


def run_due(settings: Settings, now: dt.datetime | None = None) -> list[DueOutcome]:
    """Harvest every scheduled source that is due (see :meth:`HarvestSource.is_due`).

    A failing source is recorded (``last_status`` ``failed`` and the reason) and does not stop
    the others; what it failed on stored nothing (:func:`~rsarchive.harvest.run.harvest`)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    outcomes = []
    for source in list_sources(settings):
        if not source.is_due(now):
            continue
        try:
            report = harvest(settings, source.url, source.org, now=now)
            outcomes.append(DueOutcome(source.org, report, None))
        except RsArchiveError as exc:
            log.warning("harvest of %s (%s) failed: %s", source.org, source.url, exc)
            with connect(settings.internal_database_dsn) as conn:
                conn.execute("UPDATE rsarchive.harvest_sources SET last_run_at = %s, last_status = 'failed', "
                             "last_error = %s WHERE org = %s", (now, str(exc), source.org))
                conn.commit()
            outcomes.append(DueOutcome(source.org, None, str(exc)))
    return outcomes


@dataclass(frozen=True)
class OverdueItem:
    """A harvested item not public past its publication due date."""

    org: str
    collection: str
    item_id: str
    submitted_at: dt.datetime
    publication_due: dt.date
    classification: str | None
    working_days_late: int

    def to_dict(self) -> dict[str, Any]:
        return {"org": self.org, "collection": self.collection, "id": self.item_id,
                "submitted_at": self.submitted_at.isoformat(), "publication_due": self.publication_due.isoformat(),
                "classification": self.classification, "working_days_late": self.working_days_late}


def overdue(settings: Settings, today: dt.date | None = None) -> list[OverdueItem]:
    """Harvested items held (no valid classification, or marked unclassified but not public) past
    their publication due date; an item classified by its body or an officer is not owed to the
    public and an item the source withdrew is not listed.  Oldest due date first."""
    today = today or calendar.today_vn()
    with connect(settings.internal_database_dsn) as internal:
        rows = internal.execute(
            "SELECT h.org, h.collection, h.item_id, h.submitted_at, h.publication_due, "
            f"i.content->'properties'->>'{CLASSIFICATION}' FROM rsarchive.harvested_items h "
            "JOIN pgstac.items i ON i.collection = h.collection AND i.id = h.item_id "
            "WHERE h.withdrawn_at IS NULL AND h.publication_due < %s "
            f"AND coalesce(i.content->'properties'->>'{CLASSIFICATION}', '') <> ALL(%s) "
            "ORDER BY h.publication_due, h.collection, h.item_id",
            (today, [level for level in SECURITY_LEVELS if level != PUBLIC_CLASSIFICATION])).fetchall()
    if not rows:
        return []
    with connect(settings.public_database_dsn) as public:
        public_now = {(c, i) for c, i in public.execute(
            "SELECT collection, item_id FROM rsarchive.published_items WHERE collection = ANY(%s)",
            (sorted({r[1] for r in rows}),))}
    return [OverdueItem(org, cid, item_id, submitted, due, classification,
                        -calendar.working_days_left(due, today))
            for org, cid, item_id, submitted, due, classification in rows if (cid, item_id) not in public_now]
