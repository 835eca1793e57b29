"""``rsarchive storage gc``: remove what interrupted work left behind.

* staging objects of committed or abandoned publications (any age), of
  publications still staging but older than the threshold (they are then marked
  abandoned), and of unknown publications older than the threshold;
* orphans: ``raw``/``product`` objects in the primary store that no record names,
  older than the threshold (left by a commit interrupted after its objects moved);
* interrupted writes: temp files, incomplete multipart uploads older than the threshold.

Nothing in flight is touched, whatever its age or the clocks: publications
being staged or committed hold their advisory lock (and, while committing, their
row lock), so gc skips them and their keys; orphans and interrupted writes are
removed only when no write is in flight at all (:mod:`rsarchive.storage.inflight`).
The age threshold only adds to that.  Unrecorded ``level0``/``original`` objects
(a store interrupted before its record) are immutable: gc reports them and never
deletes them — running the ingest again records them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from rsarchive.errors import UsageError
from rsarchive.storage import records
from rsarchive.storage.archive import Archive
from rsarchive.storage.inflight import try_publication, try_writes
from rsarchive.storage.keys import Form, unstage_key

log = logging.getLogger(__name__)

__all__ = ["GcReport", "collect_garbage", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> dt.timedelta:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w`` or ``0`` → timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text or "")
    if not match or (not match.group(2) and float(match.group(1)) != 0):
        raise UsageError(f"duration {text!r} not understood: expected a number with a unit s, m, h, d or w "
                         "(e.g. 24h, 7d) or 0")
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS.get(match.group(2) or "s", 1))


@dataclass
class GcReport:
    staging_removed: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    partials_removed: int = 0
    publications_abandoned: list[str] = field(default_factory=list)
    unrecorded_immutable: list[str] = field(default_factory=list)
    busy_publications: list[str] = field(default_factory=list)
    writes_in_flight: bool = False
    """Orphans and interrupted writes were not looked at: some write was in flight (the next gc does it)."""

    def summary(self) -> str:
        return (f"removed {len(self.staging_removed)} staging object(s), {len(self.orphans_removed)} orphan(s), "
                f"{self.partials_removed} interrupted write(s); abandoned {len(self.publications_abandoned)} "
                f"publication(s); {len(self.unrecorded_immutable)} unrecorded level0/original object(s) kept; "
                f"{len(self.busy_publications)} publication(s) busy (skipped)"
                + ("; writes in flight: orphans and interrupted writes left for the next gc" if self.writes_in_flight else ""))


def collect_garbage(archive: Archive, older_than: dt.timedelta = dt.timedelta(hours=24), *,
                    dry_run: bool = False) -> GcReport:
    """Remove staging leftovers, orphans and interrupted writes older than ``older_than``."""
    report = GcReport()
    cutoff = dt.datetime.now(dt.timezone.utc) - older_than
    primary = archive.primary

    def old(modified: dt.datetime | None) -> bool:
        return modified is None or modified <= cutoff

    with archive.connect() as conn, conn.transaction():
        # Publications in flight first (their advisory lock, then their row lock), states after: a
        # publication gc holds cannot start, resume or commit until gc's transaction ends.
        staged = list(primary.list(Form.STAGING.value + "/"))
        named = {r[0] for r in conn.execute("SELECT txn_id FROM rsarchive.storage_txns WHERE state = 'staging'")}
        named |= {unstage_key(info.key)[0] for info in staged}
        held = {t for t in sorted(named) if not try_publication(conn, t)}
        states = dict(conn.execute("SELECT txn_id, state FROM rsarchive.storage_txns").fetchall())
        staging = [t for t, s in states.items() if s == "staging"]
        lockable = {r[0] for r in conn.execute(
            "SELECT txn_id FROM rsarchive.storage_txns WHERE txn_id = ANY(%s) FOR UPDATE SKIP LOCKED",
            (staging,))}
        busy = (set(staging) - lockable) | held
        report.busy_publications = sorted(busy)
        created = dict(conn.execute("SELECT txn_id, created_at FROM rsarchive.storage_txns WHERE txn_id = ANY(%s)",
                                    (staging,)).fetchall())
        stale = {t for t in lockable - busy if created[t] <= cutoff}
        protected = {r[0] for r in conn.execute(
            "SELECT key FROM rsarchive.storage_txn_objects WHERE txn_id = ANY(%s)", (sorted(busy),))}

        # 1. staging
        for info in staged:
            txn, _ = unstage_key(info.key)
            state = states.get(txn)
            if txn in busy:
                continue
            if state in ("committed", "abandoned") or txn in stale or (state is None and old(info.modified)):
                if not dry_run:
                    primary.delete(info.key)
                report.staging_removed.append(info.key)
        for txn in sorted(stale):
            if not dry_run:
                conn.execute("UPDATE rsarchive.storage_txns SET state = 'abandoned' WHERE txn_id = %s", (txn,))
            report.publications_abandoned.append(txn)

        # 2. orphans and 3. interrupted writes: only when no write is in flight (an object being stored
        # is unrecorded until its write ends); new writes wait for the end of gc's transaction
        idle = try_writes(conn)
        report.writes_in_flight = not idle
        known = records.keys(conn)
        for form in (Form.RAW, Form.PRODUCT):
            for info in list(primary.list(form.value + "/")) if idle else []:
                if info.key not in known and info.key not in protected and old(info.modified):
                    if not dry_run:
                        primary.delete(info.key)
                    report.orphans_removed.append(info.key)
        for form in (Form.LEVEL0, Form.ORIGINAL):
            for store in (primary, archive.copy):
                for info in store.list(form.value + "/"):
                    if info.key not in known:
                        report.unrecorded_immutable.append(f"{store.url}: {info.key}")

        if idle and not dry_run:
            report.partials_removed = primary.cleanup_partials(older_than) + archive.copy.cleanup_partials(older_than)
    for line in report.unrecorded_immutable:
        log.warning("unrecorded immutable object (re-run its ingest to record it): %s", line)
    log.info("gc: %s", report.summary())
    return report
