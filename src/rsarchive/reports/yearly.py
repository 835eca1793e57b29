"""The yearly publication of the national remote-sensing metadata (Decree 03/2019/NĐ-CP, Art. 18.1:
before 31 December, per Form 01, in writing; ``rsarchive reports yearly YEAR``).

What it holds: every item of the public catalog first published in the year (the archive's own
items and those harvested from ministries and provinces, :mod:`rsarchive.harvest`), one row each
with the metadata fields of :data:`COLUMNS`; counts by collection, level and body holding the
data; the number with cloud cover under 10 %; the deadline of the rule
``metadata.publication.yearly`` and whether it is met; for harvested items, their due date under
``metadata.publication.local`` and whether they were published by it, and the items still held
past it.

Form 01 itself (the annex of the Decree) could not be found; the columns follow the metadata
fields of the rule ``metadata.fields`` (Circular 09/2017, Art. 7) and the content of
``metadata.publication.content`` (Circular 35/2016), as the report's notes say.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import shape

from rsarchive.db import connect
from rsarchive.errors import UsageError
from rsarchive.harvest import OverdueItem, overdue
from rsarchive.law import LegalBasis, calendar, load_basis
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["CLOUD_LIMIT", "COLUMNS", "Form01Row", "YearlyReport", "yearly_report"]

YEARLY_RULE = "metadata.publication.yearly"
LOCAL_RULE = "metadata.publication.local"
CONTENT_RULE = "metadata.publication.content"
FIELDS_RULE = "metadata.fields"
STATION_RULE = "metadata.station.monthly"
FOREIGN_RULE = "foreign.metadata"
CLOUD_LIMIT = 10.0
"""Circular 35/2016 counts the scenes with cloud cover under 10 %."""

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("no", "STT", "No."),
    ("scene", "Tên cảnh ảnh", "Scene"),
    ("satellite", "Tên vệ tinh", "Satellite"),
    ("sensor", "Tên bộ cảm", "Sensor"),
    ("mode", "Chế độ chụp", "Imaging mode"),
    ("level", "Mức xử lý", "Processing level"),
    ("date", "Ngày chụp", "Date"),
    ("time", "Giờ chụp (UTC)", "Time (UTC)"),
    ("cloud", "Độ phủ mây (%)", "Cloud cover (%)"),
    ("incidence", "Góc tới (độ)", "Incidence angle (°)"),
    ("sun_elevation", "Cao độ mặt trời (độ)", "Sun elevation (°)"),
    ("sun_azimuth", "Phương vị mặt trời (độ)", "Sun azimuth (°)"),
    ("gsd", "Độ phân giải mặt đất (m)", "Ground sample distance (m)"),
    ("centre_lat", "Vĩ độ tâm ảnh", "Centre latitude"),
    ("centre_lon", "Kinh độ tâm ảnh", "Centre longitude"),
    ("bounds", "Phạm vi (Tây, Nam, Đông, Bắc)", "Bounds (W, S, E, N)"),
    ("custodian", "Cơ quan quản lý dữ liệu", "Body holding the data"),
    ("collection", "Bộ sưu tập", "Collection"),
    ("published", "Ngày công bố", "Published"),
    ("due", "Hạn công bố", "Publication due"),
    ("on_time", "Đúng hạn", "On time"),
)
"""Key, Vietnamese and English heading of each column of the list of items."""


@dataclass(frozen=True)
class Form01Row:
    """One published item."""

    no: int
    scene: str
    satellite: str
    sensor: str
    mode: str
    level: str
    date: dt.date | None
    time: str
    cloud: float | None
    incidence: float | None
    sun_elevation: float | None
    sun_azimuth: float | None
    gsd: float | None
    centre_lat: float | None
    centre_lon: float | None
    bounds: str
    custodian: str
    collection: str
    published: dt.date
    due: dt.date | None
    on_time: bool | None

    def value(self, key: str) -> Any:
        return getattr(self, key)


@dataclass(frozen=True)
class StationMonth:
    """The station's items acquired in one month: published by the due date of the monthly rule?"""

    month: str
    """``YYYY-MM``."""
    items: int
    due: dt.date
    on_time: int


@dataclass(frozen=True)
class ForeignMetadata:
    """Foreign deliveries received in the year and their metadata's clock (rule ``foreign.metadata``)."""

    received: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0
    """Due date passed, no metadata reported."""
    pending: int = 0
    """Not reported yet, still within the time limit."""


@dataclass
class YearlyReport:
    """The yearly publication's contents."""

    year: int
    generated: dt.date
    due: dt.date
    basis: LegalBasis
    rows: list[Form01Row] = field(default_factory=list)
    held_overdue: list[OverdueItem] = field(default_factory=list)
    station_months: list[StationMonth] = field(default_factory=list)
    foreign: ForeignMetadata = field(default_factory=ForeignMetadata)

    @property
    def met(self) -> bool:
        """Published (generated) by the deadline of the yearly rule."""
        return self.generated <= self.due

    @property
    def by_collection(self) -> dict[str, int]:
        return dict(sorted(Counter(r.collection for r in self.rows).items()))

    @property
    def by_level(self) -> dict[str, int]:
        return dict(sorted(Counter(r.level for r in self.rows).items()))

    @property
    def by_body(self) -> dict[str, int]:
        return dict(sorted(Counter(r.custodian for r in self.rows).items()))

    @property
    def cloud_below_limit(self) -> int:
        return sum(1 for r in self.rows if r.cloud is not None and r.cloud < CLOUD_LIMIT)

    @property
    def harvested_on_time(self) -> tuple[int, int]:
        """(published by their due date, published after it) of the harvested items."""
        judged = [r.on_time for r in self.rows if r.on_time is not None]
        return sum(judged), len(judged) - sum(judged)

    def cite(self, rule: str, lang: str = "vi") -> str:
        return self.basis.rule(rule).cite(lang)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _row(no: int, item: Mapping[str, Any], published: dt.datetime, archive: str) -> Form01Row:
    props = item.get("properties") or {}
    when = props.get("datetime") or props.get("start_datetime")
    acquired = dt.datetime.fromisoformat(when).astimezone(dt.timezone.utc) if when else None
    geometry = item.get("geometry")
    centre = shape(geometry).centroid if geometry else None
    bbox = item.get("bbox") or []
    custodian = props.get("rsarchive:custodian")
    due_text = props.get("rsarchive:publication_due")
    due = dt.date.fromisoformat(due_text) if isinstance(due_text, str) else None
    published_day = calendar.receipt_date(published)
    return Form01Row(
        no=no, scene=str(item.get("id")), satellite=str(props.get("platform") or ""),
        sensor=", ".join(str(i) for i in props.get("instruments") or []),
        mode=str(props.get("rsarchive:imaging_mode") or props.get("sar:instrument_mode") or ""),
        level=str(props.get("processing:level") or props.get("rsarchive:source_form") or props.get("rsarchive:form") or ""),
        date=acquired.date() if acquired else None, time=f"{acquired:%H:%M:%S}" if acquired else "",
        cloud=_number(props.get("eo:cloud_cover")),
        incidence=_number(props.get("view:incidence_angle", props.get("view:off_nadir"))),
        sun_elevation=_number(props.get("view:sun_elevation")), sun_azimuth=_number(props.get("view:sun_azimuth")),
        gsd=_number(props.get("gsd")),
        centre_lat=round(centre.y, 6) if centre else None, centre_lon=round(centre.x, 6) if centre else None,
        bounds=", ".join(f"{v:.5f}" for v in bbox[:4]) if len(bbox) >= 4 else "",
        custodian=str(custodian.get("name")) if isinstance(custodian, Mapping) else archive,
        collection=str(item.get("collection")), published=published_day, due=due,
        on_time=(published_day <= due) if due else None)


def yearly_report(settings: Settings, year: int, *, today: dt.date | None = None) -> YearlyReport:
    """The items of the public catalog first published in ``year`` (Vietnamese calendar year)."""
    if not 2000 <= year <= 2999:
        raise UsageError(f"year {year} is not a year of the archive (2000-2999)")
    basis = load_basis(settings.site_dir)
    today = today or calendar.today_vn()
    due = basis.rule(YEARLY_RULE).period.end(dt.date(year, 1, 1))
    start = dt.datetime(year, 1, 1, tzinfo=calendar.VN_TZ)
    end = dt.datetime(year + 1, 1, 1, tzinfo=calendar.VN_TZ)
    with connect(settings.internal_database_dsn) as internal:
        first = {(c, i): at for c, i, at in internal.execute(
            "SELECT collection, item_id, min(at) FROM rsarchive.publications WHERE action = 'published' "
            "GROUP BY collection, item_id")}
    with connect(settings.public_database_dsn) as public:
        rows = public.execute(
            "SELECT p.collection, p.item_id, p.published_at, pgstac.get_item(p.item_id, p.collection) "
            "FROM rsarchive.published_items p ORDER BY p.collection, p.item_id").fetchall()
    chosen = []
    for collection, item_id, published_at, item in rows:
        when = first.get((collection, item_id), published_at)
        if start <= when < end and item is not None:
            chosen.append((when, item))
    chosen.sort(key=lambda pair: (pair[0], pair[1]["collection"], pair[1]["id"]))
    archive = basis.authority.archive("vi") + " / " + basis.authority.archive("en")
    report = YearlyReport(year=year, generated=today, due=due, basis=basis,
                          rows=[_row(n, item, when, archive) for n, (when, item) in enumerate(chosen, 1)])
    report.held_overdue = overdue(settings, today=today)
    report.station_months = _station_months(basis, [(when, item) for when, item in chosen])
    report.foreign = _foreign(settings, basis, year, today)
    log.info("yearly publication %d: %d item(s), due %s", year, len(report.rows), due)
    return report


def _station_months(basis: LegalBasis, published: list[tuple[dt.datetime, Mapping[str, Any]]]) -> list[StationMonth]:
    """The archive's items received at a station (route ``station``; not a body's harvested ones), by
    month of acquisition: due one period of
    the monthly rule after the month's last day, on time when first published by then."""
    period = basis.rule(STATION_RULE).period
    months: dict[str, list[bool]] = {}
    dues: dict[str, dt.date] = {}
    for when, item in published:
        props = item.get("properties") or {}
        stamp = props.get("datetime") or props.get("start_datetime")
        if props.get("rsarchive:acquisition_route") != "station" or "rsarchive:custodian" in props or not stamp:
            continue
        acquired = dt.datetime.fromisoformat(stamp).astimezone(calendar.VN_TZ).date()
        key = f"{acquired:%Y-%m}"
        last = (acquired.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        dues[key] = period.end(last)
        months.setdefault(key, []).append(calendar.receipt_date(when) <= dues[key])
    return [StationMonth(k, len(v), dues[k], sum(v)) for k, v in sorted(months.items())]


def _foreign(settings: Settings, basis: LegalBasis, year: int, today: dt.date) -> ForeignMetadata:
    """The metadata clock of the foreign deliveries received in ``year``."""
    period = basis.rule(FOREIGN_RULE).period
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute("SELECT received, metadata_reported_at FROM rsarchive.originals "
                            "WHERE received >= %s AND received < %s", (dt.date(year, 1, 1), dt.date(year + 1, 1, 1)))
        counts: Counter[str] = Counter()
        for received, reported in rows:
            due = period.end(received)
            if reported is not None:
                counts["on_time" if calendar.receipt_date(reported) <= due else "late"] += 1
            else:
                counts["missing" if today > due else "pending"] += 1
            counts["received"] += 1
    return ForeignMetadata(**counts)
