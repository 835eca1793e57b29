"""The archive's written answers to a complaint, as HTML and PDF (Vietnamese first, English second).

Three letters, by the complaint's state: the notice of acceptance (with the settlement deadline), the
notice of non-acceptance (with its reasons) and the answer settling it (with the outcome).  Each cites
the rules of the legal basis it rests on (the right to complain, then the acceptance or settlement
rule), read from ``rsarchive.law``; the issuer is the archive named there.  Drawn on the letterhead
of :mod:`rsarchive.requests.official_letters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from rsarchive.errors import ConflictError
from rsarchive.i18n import format_date
from rsarchive.law import calendar, load_basis
from rsarchive.requests import official_letters
from rsarchive.requests.complaints import ACCEPTANCE, OUTCOME_LABELS, RIGHT, SETTLEMENT, SUBJECT_LABELS, ComplaintRecord
from rsarchive.requests.official_letters import OfficialLetter

TITLES = {
    "accepted": ("THÔNG BÁO THỤ LÝ GIẢI QUYẾT KHIẾU NẠI", "Notice of acceptance of a complaint"),
    "not_accepted": ("THÔNG BÁO KHÔNG THỤ LÝ GIẢI QUYẾT KHIẾU NẠI", "Notice of non-acceptance of a complaint"),
    "settled": ("TRẢ LỜI GIẢI QUYẾT KHIẾU NẠI", "Answer settling a complaint"),
}


@dataclass(frozen=True)
class ComplaintLetter:
    """What a letter about a complaint says."""

    kind: str
    complaint_id: int
    request_id: int
    complainant: str
    organisation: str
    subject_vi: str
    subject_en: str
    received: date
    date: date
    text: str
    officer: str
    cite_right_vi: str
    cite_right_en: str
    cite_rule_vi: str
    cite_rule_en: str
    archive_vi: str
    archive_en: str
    due: date | None = None
    complex: bool = False
    outcome_vi: str = ""
    outcome_en: str = ""

    @property
    def title_vi(self) -> str:
        return TITLES[self.kind][0]

    @property
    def title_en(self) -> str:
        return TITLES[self.kind][1]

    @property
    def received_vn(self) -> str:
        return format_date(self.received, "vi")

    @property
    def due_vn(self) -> str:
        return format_date(self.due, "vi") if self.due else ""

    @property
    def due_iso(self) -> str:
        return self.due.isoformat() if self.due else ""

    @classmethod
    def of(cls, record: ComplaintRecord, officer: str = "") -> ComplaintLetter:
        """The letter for the complaint's current state (409 while it is only received)."""
        if record.status == "received":
            raise ConflictError(f"complaint {record.id} is not answered yet: accept it, or say in writing why not")
        basis = load_basis()
        right = basis.rule(RIGHT)
        rule = basis.rule(ACCEPTANCE if record.status in ("accepted", "not_accepted") else SETTLEMENT)
        moment: datetime | None = record.accepted_at if record.status == "accepted" else record.answered_at
        assert moment is not None
        outcome = OUTCOME_LABELS.get(record.outcome or "", ("", ""))
        subject = SUBJECT_LABELS[record.subject]
        return cls(
            kind=record.status, complaint_id=record.id, request_id=record.request_id,
            complainant=record.complainant, organisation=record.organisation, subject_vi=subject[0],
            subject_en=subject[1], received=calendar.receipt_date(record.received_at),
            date=calendar.receipt_date(moment), text=record.answer or "",
            officer=officer or record.answered_by or "", cite_right_vi=right.cite("vi"), cite_right_en=right.cite("en"),
            cite_rule_vi=rule.cite("vi"), cite_rule_en=rule.cite("en"), archive_vi=basis.authority.archive("vi"),
            archive_en=basis.authority.archive("en"), due=record.settlement_due, complex=record.complex,
            outcome_vi=outcome[0], outcome_en=outcome[1])


def official(letter: ComplaintLetter) -> OfficialLetter:
    """The letter's words on the letterhead."""
    if letter.kind == "accepted":
        body = [f"{letter.archive_vi} thụ lý giải quyết khiếu nại nêu trên. Thời hạn giải quyết: đến hết ngày "
                f"{letter.due_vn}{' (vụ việc phức tạp)' if letter.complex else ''}. / The archive has accepted the "
                f"complaint above and will settle it by {letter.due_iso}{' (a complex case)' if letter.complex else ''}."]
    elif letter.kind == "not_accepted":
        body = [f"{letter.archive_vi} không thụ lý giải quyết khiếu nại nêu trên vì lý do sau đây. / The archive does "
                "not accept the complaint above, for the following reason:"]
    else:
        body = [f"Kết luận / Conclusion: {letter.outcome_vi} / {letter.outcome_en}"]
    return OfficialLetter(
        issuer_vi=letter.archive_vi, issuer_en=letter.archive_en, date=letter.date, title_vi=letter.title_vi,
        title_en=letter.title_en, addressee=f"{letter.complainant} ({letter.organisation})",
        basis_vi=f"{letter.cite_right_vi} và {letter.cite_rule_vi}", basis_en=f"{letter.cite_right_en} and "
        f"{letter.cite_rule_en}", signed=letter.officer, body=body, answer=letter.text,
        facts=[("Khiếu nại số / Complaint no.", str(letter.complaint_id)),
               ("Về yêu cầu số / About request no.", str(letter.request_id)),
               ("Nội dung khiếu nại / Subject", f"{letter.subject_vi} / {letter.subject_en}"),
               ("Ngày nhận khiếu nại / Received", f"{letter.received_vn} / {letter.received.isoformat()}")])


def render_html(letter: ComplaintLetter) -> str:
    """The letter as a standalone HTML page."""
    return official_letters.render_html(official(letter))


def render_pdf(letter: ComplaintLetter) -> bytes:
    """The letter as a PDF (A4)."""
    return official_letters.render_pdf(official(letter))


def letter_for(conn: object, record: ComplaintRecord) -> ComplaintLetter:
    """The letter of ``record``'s current state, signed by the officer the audit log names for that step."""
    row = conn.execute(  # type: ignore[attr-defined]
        "SELECT coalesce(u.name, a.detail->>'actor') FROM rsarchive.audit_log a "
        "LEFT JOIN rsarchive.users u ON u.id = a.actor_id WHERE a.action = %s "
        "AND a.request_id = %s AND a.detail->>'complaint_id' = %s ORDER BY a.id DESC LIMIT 1",
        (f"complaint.{record.status}", record.request_id, str(record.id))).fetchone()
    return ComplaintLetter.of(record, row[0] if row and row[0] else "")
