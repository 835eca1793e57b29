"""Questions on the imaging capability of Vietnam's satellites (Decision 81/2010, Art. 13a).

The Ministry asks in writing whether Vietnam's satellites can image an area in a period; the body
operating them answers in writing within the time limit of rule ``capability.answer`` from receipt (30
calendar days), so that the Ministry can report to the Prime Minister on buying foreign data.  Here an
officer (role ``officer``) records the question with the date it was received; the satellite operator's
officer (role ``operator``) answers, with the acquisition model's assessment
(:mod:`rsarchive.requests.acquisition`) kept beside the answer.  The clock, the states (``received`` →
``answered``) and the audit log work as for data requests.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Annotated, Any

from psycopg.types.json import Jsonb
from pydantic import Field

from rsarchive.errors import ConflictError, NotFoundError, UsageError
from rsarchive.law import calendar, load_basis
from rsarchive.requests import acquisition, lifecycle
from rsarchive.requests.geometry import area_from_form, to_geojson
from rsarchive.requests.paper import check_receipt
from rsarchive.requests.models import CoverageQuery, _Body
from rsarchive.requests.official_letters import OfficialLetter
from rsarchive.users.identity import Principal, require

log = logging.getLogger(__name__)

RULE = "capability.answer"
ASKERS = ("officer",)
ANSWERERS = ("operator",)
DUE_SOON_DAYS = 5
OPERATOR = ("Cơ quan quản lý vệ tinh viễn thám Việt Nam", "The operator of Viet Nam's remote-sensing satellites")
"""Who signs the answers (the body the Government made responsible for the satellites, Art. 13a)."""


class CapabilityQuestionForm(CoverageQuery):
    """The Ministry's written question: an area and period (as for a coverage check), what is asked, and
    when the letter arrived."""

    reference: Annotated[str | None, Field(default=None, max_length=200, description="the letter's number")] = None
    question: Annotated[str, Field(min_length=10, max_length=8000)]
    received: date | None = Field(default=None, description="the day the letter was received (default: today)")


class CapabilityAnswerForm(_Body):
    can_image: bool
    answer: Annotated[str, Field(min_length=1, max_length=8000)]


@dataclass
class CapabilityQuestion:
    id: int
    asked_by: str
    reference: str | None
    question: str
    area: dict[str, Any]
    wanted_start: date
    wanted_end: date
    max_gsd: float | None
    received_at: datetime
    due_date: date
    status: str
    can_image: bool | None
    answer: str | None
    assessment: dict[str, Any] | None
    answered_at: datetime | None
    answered_by: str | None

    def to_dict(self, today: date | None = None) -> dict[str, Any]:
        open_ = self.status == "received"
        left = (self.due_date - (today or calendar.today_vn())).days if open_ else None
        return {"id": self.id, "asked_by": self.asked_by, "reference": self.reference, "question": self.question,
                "area": self.area, "start": self.wanted_start.isoformat(), "end": self.wanted_end.isoformat(),
                "max_gsd": self.max_gsd,
                "received_at": self.received_at.isoformat(), "due_date": self.due_date.isoformat(),
                "days_left": left, "overdue": left is not None and left < 0, "status": self.status,
                "can_image": self.can_image, "answer": self.answer, "assessment": self.assessment,
                "answered_at": self.answered_at.isoformat() if self.answered_at else None,
                "answered_by": self.answered_by}


_SELECT = ("SELECT q.id, a.name, q.reference, q.question, ST_AsGeoJSON(q.area)::jsonb, q.wanted_start, q.wanted_end, "
           "q.max_gsd, q.received_at, q.due_date, q.status, q.can_image, q.answer, q.assessment, q.answered_at, b.name "
           "FROM rsarchive.capability_questions q JOIN rsarchive.users a ON a.id = q.asked_by "
           "LEFT JOIN rsarchive.users b ON b.id = q.answered_by ")


def ask(conn: Any, principal: Principal, form: CapabilityQuestionForm,
        received_at: datetime | None = None) -> CapabilityQuestion:
    """Record the Ministry's question, received at ``received_at`` (now); the clock starts then."""
    require(principal, *ASKERS)
    if principal.user_id is None:
        raise UsageError("a capability question is recorded by a named officer (--as NAME or --token)")
    when = received_at or form.received
    received_at = check_receipt(when) if when else datetime.now(timezone.utc)
    rule = load_basis().rule(RULE)
    due = rule.period.end(received_at)
    area = area_from_form(form.aoi, form.bbox)
    row = conn.execute(
        "INSERT INTO rsarchive.capability_questions (asked_by, reference, question, area, wanted_start, wanted_end, "
        "max_gsd, received_at, due_date) VALUES (%s, %s, %s, ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326), %s, %s, %s, %s, "
        "%s) RETURNING id",
        (principal.user_id, form.reference, form.question, json.dumps(to_geojson(area)), form.start, form.end,
         form.max_gsd, received_at, due)).fetchone()
    qid = int(row[0])
    lifecycle.log_event(conn, principal, "capability.received", None, None, None,
                        {"question_id": qid, "received_at": received_at.isoformat(), "due_date": due.isoformat(),
                         "period": rule.period.describe("en"), "basis": rule.cite("en")})
    log.info("capability question %d received, answer due %s", qid, due)
    return get(conn, principal, qid)


def get(conn: Any, principal: Principal, question_id: int, *, for_update: bool = False) -> CapabilityQuestion:
    require(principal, *ASKERS, *ANSWERERS)
    row = conn.execute(_SELECT + "WHERE q.id = %s" + (" FOR UPDATE OF q" if for_update else ""),
                       (question_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"capability question {question_id} not found")
    return CapabilityQuestion(*row)


def list_questions(conn: Any, principal: Principal, status: str | None = None) -> list[CapabilityQuestion]:
    require(principal, *ASKERS, *ANSWERERS)
    if status not in (None, "received", "answered"):
        raise UsageError(f"status {status!r} is not one of received, answered")
    sql = _SELECT + ("WHERE q.status = %s " if status else "") + "ORDER BY q.due_date, q.id"
    return [CapabilityQuestion(*row) for row in conn.execute(sql, (status,) if status else ()).fetchall()]


def assessment(question: CapabilityQuestion, today: date | None = None) -> dict[str, Any]:
    """What the acquisition model says about the question (the answer's working, not the answer)."""
    from shapely.geometry import shape

    findings = acquisition.assess_all(shape(question.area), question.wanted_start, question.wanted_end,
                                      question.wanted_end, today or calendar.today_vn(), question.max_gsd)
    return {"model": acquisition.MODEL, "findings": [f.to_dict() for f in findings],
            "any_in_time": any(f.in_time for f in findings)}


def answer(conn: Any, principal: Principal, question_id: int, form: CapabilityAnswerForm,
           now: datetime | None = None) -> CapabilityQuestion:
    """The satellite operator's written answer."""
    require(principal, *ANSWERERS)
    question = get(conn, principal, question_id, for_update=True)
    if question.status != "received":
        raise ConflictError(f"capability question {question_id} is already answered")
    now = now or datetime.now(timezone.utc)
    working = assessment(question, calendar.receipt_date(now))
    conn.execute("UPDATE rsarchive.capability_questions SET status = 'answered', can_image = %s, answer = %s, "
                 "assessment = %s, answered_at = %s, answered_by = %s WHERE id = %s",
                 (form.can_image, form.answer, Jsonb(working), now, principal.user_id, question_id))
    lifecycle.log_event(conn, principal, "capability.answered", None, None, None,
                        {"question_id": question_id, "can_image": form.can_image,
                         "on_time": calendar.receipt_date(now) <= question.due_date,
                         "model_says_in_time": working["any_in_time"], "basis": load_basis().rule(RULE).cite("en")})
    return get(conn, principal, question_id)


def queue(conn: Any, principal: Principal, today: date | None = None,
          soon: int = DUE_SOON_DAYS) -> dict[str, list[CapabilityQuestion]]:
    """Unanswered questions: ``overdue``, ``due_soon`` (within ``soon`` days) and ``open``."""
    today = today or calendar.today_vn()
    records = list_questions(conn, principal, "received")
    return {"overdue": [q for q in records if q.due_date < today],
            "due_soon": [q for q in records if 0 <= (q.due_date - today).days <= soon], "open": records}


def letter(question: CapabilityQuestion) -> OfficialLetter:
    """The operator's written answer to the Ministry (409 while unanswered)."""
    if question.status != "answered" or question.answered_at is None:
        raise ConflictError(f"capability question {question.id} is not answered yet")
    basis = load_basis()
    rule = basis.rule(RULE)
    verdict = (("Vệ tinh viễn thám Việt Nam có thể chụp khu vực trong thời gian yêu cầu.",
                "Viet Nam's remote-sensing satellites can image the area in the period asked.") if question.can_image
               else ("Vệ tinh viễn thám Việt Nam không thể chụp khu vực trong thời gian yêu cầu.",
                     "Viet Nam's remote-sensing satellites cannot image the area in the period asked."))
    received = calendar.receipt_date(question.received_at)
    return OfficialLetter(
        issuer_vi=OPERATOR[0], issuer_en=OPERATOR[1], date=calendar.receipt_date(question.answered_at),
        title_vi="TRẢ LỜI VỀ KHẢ NĂNG CHỤP ẢNH CỦA VỆ TINH VIỄN THÁM VIỆT NAM",
        title_en="Answer on the imaging capability of Viet Nam's remote-sensing satellites",
        addressee=f"{basis.authority.ministry('vi')} / {basis.authority.ministry('en')}",
        basis_vi=rule.cite("vi"), basis_en=rule.cite("en"), signed=question.answered_by or "",
        facts=[("Câu hỏi số / Question no.", str(question.id)),
               ("Văn bản / Letter", question.reference or "—"),
               ("Ngày nhận / Received", f"{received.strftime('%d/%m/%Y')} / {received.isoformat()}"),
               ("Thời gian chụp / Period", f"{question.wanted_start.isoformat()} – {question.wanted_end.isoformat()}"),
               ("Nội dung / Question", question.question)],
        body=[f"Kết luận / Conclusion: {verdict[0]} / {verdict[1]}"], answer=question.answer or "")
