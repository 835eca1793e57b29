"""The archive's written answers to a complaint, as HTML and PDF (Vietnamese first, English second).

Three letters, by the complaint's state: the notice of acceptance (with the settlement deadline), the
notice of non-acceptance (with its reasons) and the answer settling it (with the outcome).  Each cites
the rules of the legal basis it rests on (the right to complain, then the acceptance or settlement
rule), read from ``rsarchive.law``; the issuer is the archive named there.  The PDF uses the refusal
letter's Unicode font (:func:`rsarchive.requests.letters.font_path`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from rsarchive.errors import ConflictError
from rsarchive.i18n import format_date
from rsarchive.law import calendar, load_basis
from rsarchive.requests.complaints import ACCEPTANCE, OUTCOME_LABELS, RIGHT, SETTLEMENT, SUBJECT_LABELS, ComplaintRecord

TITLES = {
    "accepted": ("THÔNG BÁO THỤ LÝ GIẢI QUYẾT KHIẾU NẠI", "Notice of acceptance of a complaint"),
    "not_accepted": ("THÔNG BÁO KHÔNG THỤ LÝ GIẢI QUYẾT KHIẾU NẠI", "Notice of non-acceptance of a complaint"),
    "settled": ("TRẢ LỜI GIẢI QUYẾT KHIẾU NẠI", "Answer settling a complaint"),
}

_HTML = """<!doctype html>
<html lang="vi">
<head><meta charset="utf-8"><title>{{ l.title_vi }} — khiếu nại số {{ l.complaint_id }} / {{ l.title_en }} — complaint {{ l.complaint_id }}</title>
<style>
 body { font-family: "DejaVu Sans", sans-serif; max-width: 44em; margin: 2em auto; line-height: 1.45 }
 .motto { text-align: center } .motto p { margin: .1em }
 h1 { text-align: center; font-size: 1.25em; margin-top: 1.5em } h1 small { display: block; font-weight: normal }
 .answer { border-left: 3px solid #345; padding: .3em 1em; white-space: pre-wrap }
 dt { font-weight: bold } dd { margin: 0 0 .4em 0 }
</style></head>
<body>
<div class="motto"><p><strong>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</strong></p>
<p>Độc lập - Tự do - Hạnh phúc</p><p>Socialist Republic of Viet Nam — Independence - Freedom - Happiness</p></div>
<p class="issuer">{{ l.archive_vi }} / {{ l.archive_en }}</p>
<p class="date" id="letter-date">Hà Nội, {{ l.date_vi }} / Date: <time datetime="{{ l.date.isoformat() }}">{{ l.date.isoformat() }}</time></p>
<h1 id="letter-title">{{ l.title_vi }}<small>{{ l.title_en }}</small></h1>
<p>Kính gửi / To: <strong>{{ l.complainant }}</strong> ({{ l.organisation }})</p>
<dl>
 <dt>Khiếu nại số / Complaint no.</dt><dd>{{ l.complaint_id }}</dd>
 <dt>Về yêu cầu số / About request no.</dt><dd>{{ l.request_id }}</dd>
 <dt>Nội dung khiếu nại / Subject</dt><dd>{{ l.subject_vi }} / {{ l.subject_en }}</dd>
 <dt>Ngày nhận khiếu nại / Received</dt><dd>{{ l.received_vn }} / {{ l.received.isoformat() }}</dd>
</dl>
<p id="basis">Căn cứ {{ l.cite_right_vi }} và {{ l.cite_rule_vi }}. / Under {{ l.cite_right_en }} and {{ l.cite_rule_en }}.</p>
{% if l.kind == "accepted" %}
<p id="body">{{ l.archive_vi }} thụ lý giải quyết khiếu nại nêu trên. Thời hạn giải quyết: đến hết ngày {{ l.due_vn }}{% if l.complex %} (vụ việc phức tạp){% endif %}. /
The archive has accepted the complaint above and will settle it by {{ l.due_iso }}{% if l.complex %} (a complex case){% endif %}.</p>
{% if l.text %}<div class="answer" id="answer">{{ l.text }}</div>{% endif %}
{% elif l.kind == "not_accepted" %}
<p id="body">{{ l.archive_vi }} không thụ lý giải quyết khiếu nại nêu trên vì lý do sau đây. / The archive does not accept the
complaint above, for the following reason:</p>
<div class="answer" id="answer">{{ l.text }}</div>
{% else %}
<p id="body">Kết luận / Conclusion: <strong id="outcome">{{ l.outcome_vi }} / {{ l.outcome_en }}</strong></p>
<div class="answer" id="answer">{{ l.text }}</div>
{% endif %}
<p>Người ký / Signed: {{ l.officer }}</p>
</body></html>
"""


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
    def date_vi(self) -> str:
        return f"ngày {self.date.day:02d} tháng {self.date.month:02d} năm {self.date.year}"

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


def render_html(letter: ComplaintLetter) -> str:
    """The letter as a standalone HTML page (autoescaped)."""
    import jinja2

    return jinja2.Environment(autoescape=True).from_string(_HTML).render(l=letter)


def render_pdf(letter: ComplaintLetter) -> bytes:
    """The letter as a PDF (A4), text extractable."""
    from fpdf import FPDF

    from rsarchive.requests.letters import _font_path

    pdf = FPDF(format="A4")
    pdf.set_title(f"{letter.title_vi} — khiếu nại số {letter.complaint_id} / {letter.title_en}")
    pdf.set_author(letter.archive_en)
    pdf.add_font("DejaVu", "", str(_font_path()))
    pdf.add_font("DejaVu", "B", str(_font_path(bold=True)))
    pdf.add_page()

    def para(text: str, size: int = 11, style: str = "", align: str = "L", gap: float = 2) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(pdf.epw, 6, text, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    para("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 11, "B", "C", 0)
    para("Độc lập - Tự do - Hạnh phúc", 10, "", "C", 0)
    para("Socialist Republic of Viet Nam — Independence - Freedom - Happiness", 9, "", "C", 4)
    para(f"{letter.archive_vi} / {letter.archive_en}", 10)
    para(f"Hà Nội, {letter.date_vi} / Date: {letter.date.isoformat()}", 10, "", "R", 4)
    para(letter.title_vi, 13, "B", "C", 0)
    para(letter.title_en, 11, "", "C", 5)
    para(f"Kính gửi / To: {letter.complainant} ({letter.organisation})")
    para(f"Khiếu nại số / Complaint no.: {letter.complaint_id}\nVề yêu cầu số / About request no.: {letter.request_id}\n"
         f"Nội dung khiếu nại / Subject: {letter.subject_vi} / {letter.subject_en}\n"
         f"Ngày nhận khiếu nại / Received: {letter.received_vn} / {letter.received.isoformat()}")
    para(f"Căn cứ {letter.cite_right_vi} và {letter.cite_rule_vi}. / Under {letter.cite_right_en} and "
         f"{letter.cite_rule_en}.", 10)
    if letter.kind == "accepted":
        para(f"{letter.archive_vi} thụ lý giải quyết khiếu nại nêu trên. Thời hạn giải quyết: đến hết ngày "
             f"{letter.due_vn}{' (vụ việc phức tạp)' if letter.complex else ''}. / The archive has accepted the "
             f"complaint above and will settle it by {letter.due_iso}{' (a complex case)' if letter.complex else ''}.")
    elif letter.kind == "not_accepted":
        para(f"{letter.archive_vi} không thụ lý giải quyết khiếu nại nêu trên vì lý do sau đây. / The archive does "
             "not accept the complaint above, for the following reason:")
    else:
        para(f"Kết luận / Conclusion: {letter.outcome_vi} / {letter.outcome_en}", 11, "B")
    if letter.text:
        para(letter.text, 11, "", "L", 4)
    para(f"Người ký / Signed: {letter.officer}", 10)
    return bytes(pdf.output())


def letter_for(conn: object, record: ComplaintRecord) -> ComplaintLetter:
    """The letter of ``record``'s current state, signed by the officer the audit log names for that step."""
    row = conn.execute(  # type: ignore[attr-defined]
        "SELECT coalesce(u.name, a.detail->>'actor') FROM rsarchive.audit_log a "
        "LEFT JOIN rsarchive.users u ON u.id = a.actor_id WHERE a.action = %s "
        "AND a.request_id = %s AND a.detail->>'complaint_id' = %s ORDER BY a.id DESC LIMIT 1",
        (f"complaint.{record.status}", record.request_id, str(record.id))).fetchone()
    return ComplaintLetter.of(record, row[0] if row and row[0] else "")
