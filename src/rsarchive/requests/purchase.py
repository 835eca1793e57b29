"""The opinion before a state-budget foreign purchase (Decision 81/2010, Art. 10.2; Decree 03/2019,
Art. 15.4), recorded with its reasons in both languages.

A purchase is **refused** when the national database already covers the area for the period with data
meeting the criteria (:mod:`rsarchive.requests.coverage`), or when a Vietnamese station could acquire it
in time (:mod:`rsarchive.requests.acquisition`, whose model the opinion states); otherwise it is
**allowed**, for the part of the area the archive does not cover.  ``rsarchive register --route purchase
--funding state_budget`` needs the id of an allowing opinion (:func:`check_for_registration`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from psycopg.types.json import Jsonb
from pydantic import Field, model_validator

from rsarchive.errors import ConflictError, NotFoundError, UsageError
from rsarchive.law import calendar, load_basis
from rsarchive.requests import acquisition, coverage, lifecycle
from rsarchive.requests.geometry import area_from_form, to_geojson
from rsarchive.requests.models import CoverageQuery
from rsarchive.users.identity import Principal, require

log = logging.getLogger(__name__)

CHECKERS = ("officer", "operator")
COVERED = 0.999
"""Covered fraction above which the archive counts as covering the area (areas are computed in floating
point: full coverage may come out as 0.99999…)."""
RULES = ("purchase.no-duplicate", "purchase.opinion")


class PurchaseQuery(CoverageQuery):
    """What the purchase is for: the coverage query, the date the data is needed by, and why."""

    needed_by: date
    purpose: Annotated[str, Field(min_length=3, max_length=4000)]

    @model_validator(mode="after")
    def _needed_after_start(self) -> PurchaseQuery:
        if self.needed_by < self.start:
            raise ValueError("needed_by is before the start of the period")
        return self


@dataclass
class Opinion:
    """A recorded purchase opinion."""

    id: int
    actor: str
    query: dict[str, Any]
    needed_by: date
    verdict: str
    reasons: list[dict[str, str]]
    coverage: dict[str, Any]
    stations: dict[str, Any]
    basis: list[dict[str, str]]
    created_at: datetime

    @property
    def allowed(self) -> bool:
        return self.verdict == "allowed"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "actor": self.actor, "query": self.query, "needed_by": self.needed_by.isoformat(),
                "verdict": self.verdict, "reasons": self.reasons, "coverage": self.coverage,
                "stations": self.stations, "basis": self.basis, "created_at": self.created_at.isoformat()}


def decide(coverage_result: dict[str, Any], findings: list[acquisition.Finding]) -> tuple[str, list[dict[str, str]]]:
    """The verdict and its reasons from the archive's coverage and the stations' findings (pure)."""
    reasons: list[dict[str, str]] = []
    fraction = float(coverage_result["fraction"])
    able = [f for f in findings if f.in_time]
    if fraction >= COVERED:
        reasons.append({"vi": f"Cơ sở dữ liệu viễn thám quốc gia đã có dữ liệu phủ kín khu vực trong thời gian yêu cầu "
                              f"({coverage_result['item_count']} cảnh).",
                        "en": f"The national database already covers the whole area for the period asked "
                              f"({coverage_result['item_count']} scenes)."})
    for finding in able:
        reasons.append({"vi": f"Trạm {finding.station} có thể thu nhận bằng vệ tinh {finding.facts['platform']}, "
                              f"có dữ liệu trước ngày {finding.earliest_ready}.",
                        "en": f"Station {finding.station} can acquire it with {finding.facts['platform']}, ready by "
                              f"{finding.earliest_ready}."})
    if reasons:
        return "refused", reasons
    reasons.append({"vi": f"Cơ sở dữ liệu chỉ phủ {fraction * 100:.1f}% khu vực; chỉ mua phần chưa có "
                          f"({coverage_result['aoi_km2'] - coverage_result['covered_km2']:.1f} km²).",
                    "en": f"The database covers only {fraction * 100:.1f}% of the area; buy only the rest "
                          f"({coverage_result['aoi_km2'] - coverage_result['covered_km2']:.1f} km²)."})
    for finding in findings:
        for why in finding.reasons:
            reasons.append({"vi": f"Trạm {finding.station} / {finding.facts['platform']}: {why['vi']}",
                            "en": f"Station {finding.station} / {finding.facts['platform']}: {why['en']}"})
    if not findings:
        reasons.append({"vi": "Không có trạm thu nào trong cấu hình (stations.yaml).",
                        "en": "No receiving station is configured (stations.yaml)."})
    return "allowed", reasons


def give_opinion(conn: Any, principal: Principal, query: PurchaseQuery, today: date | None = None) -> Opinion:
    """Check the archive and the stations, decide, and record the opinion."""
    require(principal, *CHECKERS)
    today = today or calendar.today_vn()
    area = area_from_form(query.aoi, query.bbox)
    covered = coverage.coverage_check(conn, principal, query).to_dict()
    findings = acquisition.assess_all(area, query.start, query.end, query.needed_by, today, query.max_gsd)
    verdict, reasons = decide(covered, findings)
    basis = load_basis()
    cites = [{"rule": key, "vi": basis.rule(key).cite("vi"), "en": basis.rule(key).cite("en")} for key in RULES]
    stations = {"model": acquisition.MODEL, "assessed_on": today.isoformat(),
                "findings": [f.to_dict() for f in findings]}
    summary = {k: covered[k] for k in ("aoi_km2", "covered_km2", "fraction", "item_count", "uncovered")}
    summary["items"] = [item["id"] for item in covered["items"]]
    row = conn.execute(
        "INSERT INTO rsarchive.purchase_opinions (asked_by, actor, query, area, needed_by, verdict, reasons, coverage, "
        "stations, basis) VALUES (%s, %s, %s, ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326), %s, %s, %s, %s, %s, %s) "
        "RETURNING id",
        (principal.user_id, principal.name, Jsonb(query.model_dump(mode="json")), json.dumps(to_geojson(area)),
         query.needed_by, verdict, Jsonb(reasons), Jsonb(summary), Jsonb(stations), Jsonb(cites))).fetchone()
    opinion_id = int(row[0])
    lifecycle.log_event(conn, principal, "purchase.opinion", None, None, None,
                        {"opinion_id": opinion_id, "verdict": verdict, "fraction": covered["fraction"],
                         "basis": [c["en"] for c in cites]})
    log.info("purchase opinion %d: %s (archive covers %.1f%%)", opinion_id, verdict, covered["fraction"] * 100)
    return get(conn, opinion_id)


def get(conn: Any, opinion_id: int) -> Opinion:
    row = conn.execute("SELECT id, actor, query, needed_by, verdict, reasons, coverage, stations, basis, created_at "
                       "FROM rsarchive.purchase_opinions WHERE id = %s", (opinion_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"purchase opinion {opinion_id} not found")
    return Opinion(*row)


def check_for_registration(conn: Any, route: str, funding: str | None, opinion_id: int | None) -> str:
    """What the delivery records about its purchase opinion; :class:`UsageError` when the rule is not met.

    A state-budget purchase needs an allowing opinion; a purchase paid otherwise needs none (recorded so);
    other routes take neither."""
    basis = load_basis()
    rule = basis.rule("purchase.opinion")
    if route != "purchase":
        if funding is not None or opinion_id is not None:
            raise UsageError(f"--funding and --opinion are for purchases (route purchase), not route {route!r}")
        return ""
    if funding not in ("state_budget", "other"):
        raise UsageError("a purchase needs --funding state_budget or --funding other "
                         f"({rule.cite('en')}: a state-budget purchase needs the Ministry's opinion)")
    if funding == "other":
        if opinion_id is not None:
            get(conn, opinion_id)
            return f"opinion {opinion_id} given (not required: not paid from the state budget)"
        return (f"không cần ý kiến: không dùng ngân sách nhà nước ({rule.cite('vi')}) / no opinion given: not paid "
                f"from the state budget ({rule.cite('en')})")
    if opinion_id is None:
        raise UsageError(f"mua bằng ngân sách nhà nước cần mã ý kiến (--opinion) theo {rule.cite('vi')} / a state-budget "
                         f"purchase needs the id of its purchase opinion (--opinion), {rule.cite('en')}; "
                         "give one with `rsarchive coverage --opinion …`")
    opinion = get(conn, opinion_id)
    if not opinion.allowed:
        why = "; ".join(r["en"] for r in opinion.reasons)
        raise ConflictError(f"purchase opinion {opinion_id} refused the purchase ({why}); a state-budget purchase is "
                            f"not allowed ({basis.rule('purchase.no-duplicate').cite('en')}, {rule.cite('en')})")
    return f"opinion {opinion_id}: allowed"
