"""The written refusal (Art. 8.2(c)): a letter with the reasons and the date, as HTML and PDF.

The letter is bilingual, Vietnamese first and English second (issue #21); dates are written the
Vietnamese way in the Vietnamese text (``29/04/2025``, "ngày 29 tháng 04 năm 2025") and as ISO dates
in the English text.  The PDF is drawn
with fpdf2 in a Unicode TrueType font (DejaVu Sans, Debian ``fonts-dejavu-core``)
so Vietnamese diacritics survive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsarchive.errors import ConflictError
from rsarchive.fonts import dejavu
from rsarchive.i18n import format_date
from rsarchive.law import calendar, load_basis
from rsarchive.requests.models import PURPOSE_LABELS

if TYPE_CHECKING:  # lifecycle queues the refusal letter with its notice (requests.notices)
    from rsarchive.requests.lifecycle import RequestRecord


_HTML = """<!doctype html>
<html lang="vi">
<head><meta charset="utf-8"><title>Thư từ chối — yêu cầu số {{ l.request_id }} / Refusal letter — request {{ l.request_id }}</title>
<style>
 body { font-family: "DejaVu Sans", sans-serif; max-width: 44em; margin: 2em auto; line-height: 1.45 }
 .motto { text-align: center } .motto p { margin: .1em }
 h1 { text-align: center; font-size: 1.25em; margin-top: 1.5em } h1 small { display: block; font-weight: normal }
 .reason { border-left: 3px solid #a33; padding: .3em 1em; white-space: pre-wrap }
 dt { font-weight: bold } dd { margin: 0 0 .4em 0 }
</style></head>
<body>
<div class="motto"><p><strong>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</strong></p>
<p>Độc lập - Tự do - Hạnh phúc</p><p>Socialist Republic of Viet Nam — Independence - Freedom - Happiness</p></div>
<p class="issuer" id="issuer">{{ l.ministry_vi }} — {{ l.archive_vi }} / {{ l.ministry_en }} — {{ l.archive_en }}</p>
<p class="date" id="letter-date">Hà Nội, {{ l.date_vi }} ({{ l.date_vn }}) / Date: <time datetime="{{ l.date_iso }}">{{ l.date_iso }}</time></p>
<h1>THÔNG BÁO TỪ CHỐI CUNG CẤP DỮ LIỆU VIỄN THÁM
<small>Notice of refusal to supply remote-sensing data</small></h1>
<p>Kính gửi / To: <strong>{{ l.organisation }}</strong>{% if l.contact %} — {{ l.contact }}{% endif %}</p>
<dl>
 <dt>Yêu cầu số / Request no.</dt><dd>{{ l.request_id }}</dd>
 <dt>Ngày nhận / Received</dt><dd>{{ l.received_vn }} / {{ l.received }}</dd>
 <dt>Mục đích / Purpose</dt><dd>{{ l.purpose }}</dd>
 <dt>Thời gian dữ liệu / Period</dt><dd>{{ l.period_vn }} / {{ l.period }}</dd>
</dl>
<p id="basis">Căn cứ {{ l.cite_vi }}, {{ l.archive_vi }} từ chối cung cấp dữ liệu
theo yêu cầu trên vì lý do sau đây. / Under {{ l.cite_en }}, the archive refuses
to supply the data requested above, for the following reason:</p>
<h2>Lý do / Reason</h2>
<div class="reason" id="reason">{{ l.reason }}</div>
<p id="complaint">Quý cơ quan có quyền khiếu nại theo quy định của pháp luật ({{ l.complaint_vi }}). / You may complain under the law ({{ l.complaint_en }}).</p>
<p>Người ký / Signed: {{ l.officer }}</p>
</body></html>
"""


@dataclass(frozen=True)
class RefusalLetter:
    """What a refusal letter says."""

    request_id: int
    organisation: str
    contact: str
    purpose: str
    period: str
    received: str
    reason: str
    date: date
    officer: str
    archive_vi: str = ""
    archive_en: str = ""
    ministry_vi: str = ""
    ministry_en: str = ""
    cite_vi: str = ""
    cite_en: str = ""
    complaint_vi: str = ""
    complaint_en: str = ""

    @property
    def date_iso(self) -> str:
        return self.date.isoformat()

    @property
    def date_vn(self) -> str:
        """``29/04/2025``."""
        return format_date(self.date, "vi")

    @property
    def received_vn(self) -> str:
        return format_date(self.received, "vi")

    @property
    def period_vn(self) -> str:
        start, _, end = self.period.partition(" – ")
        try:
            return f"{format_date(start, 'vi')} – {format_date(end, 'vi')}"
        except ValueError:
            return self.period

    @property
    def date_vi(self) -> str:
        return f"ngày {self.date.day:02d} tháng {self.date.month:02d} năm {self.date.year}"

    @classmethod
    def of(cls, record: RequestRecord) -> RefusalLetter:
        """The letter for a refused request (409 if it is not refused)."""
        if record.status != "refused" or not record.refusal_reason or record.decided_at is None:
            raise ConflictError(f"request {record.id} is {record.status}; only a refused request has a refusal letter")
        officer = next((e["actor"] for e in reversed(record.history) if e["to"] == "refused"), None) or ""
        form = record.form
        contact = form.get("contact") or {}
        basis = load_basis()
        reply, complaint, who = basis.rule("request.reply"), basis.rule("user.complaint"), basis.authority
        return cls(
            archive_vi=who.archive("vi"), archive_en=who.archive("en"), ministry_vi=who.ministry("vi"),
            ministry_en=who.ministry("en"), cite_vi=reply.cite("vi"), cite_en=reply.cite("en"),
            complaint_vi=complaint.cite("vi"), complaint_en=complaint.cite("en"),
            request_id=record.id, organisation=record.organisation,
            contact=" ".join(str(contact.get(k) or "") for k in ("name", "email")).strip(),
            purpose=PURPOSE_LABELS.get(record.purpose, record.purpose),
            period=f"{form.get('start')} – {form.get('end')}",
            received=calendar.receipt_date(record.received_at).isoformat(),
            reason=record.refusal_reason, date=calendar.receipt_date(record.decided_at), officer=officer)


def render_html(letter: RefusalLetter) -> str:
    """The letter as a standalone HTML page (autoescaped)."""
    import jinja2

    env = jinja2.Environment(autoescape=True)
    return env.from_string(_HTML).render(l=letter)


def _font_path(bold: bool = False) -> Path:
    return dejavu(bold)


def render_pdf(letter: RefusalLetter) -> bytes:
    """The letter as a PDF (A4), text extractable."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"Thư từ chối, yêu cầu số {letter.request_id} / Refusal letter, request {letter.request_id}")
    pdf.set_author(letter.archive_en)
    pdf.add_font("DejaVu", "", str(_font_path()))
    pdf.add_font("DejaVu", "B", str(_font_path(bold=True)))
    pdf.add_page()
    width = pdf.epw

    def para(text: str, size: int = 11, style: str = "", align: str = "L", gap: float = 2) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(width, 6, text, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    para("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 11, "B", "C", 0)
    para("Độc lập - Tự do - Hạnh phúc", 10, "", "C", 0)
    para("Socialist Republic of Viet Nam — Independence - Freedom - Happiness", 9, "", "C", 4)
    para(f"{letter.ministry_vi} — {letter.archive_vi} / {letter.ministry_en} — {letter.archive_en}", 10)
    para(f"Hà Nội, {letter.date_vi} ({letter.date_vn}) / Date: {letter.date_iso}", 10, "", "R", 4)
    para("THÔNG BÁO TỪ CHỐI CUNG CẤP DỮ LIỆU VIỄN THÁM", 13, "B", "C", 0)
    para("Notice of refusal to supply remote-sensing data", 11, "", "C", 5)
    para(f"Kính gửi / To: {letter.organisation}" + (f" — {letter.contact}" if letter.contact else ""))
    para(f"Yêu cầu số / Request no.: {letter.request_id}\nNgày nhận / Received: {letter.received_vn} / {letter.received}\n"
         f"Mục đích / Purpose: {letter.purpose}\nThời gian dữ liệu / Period: {letter.period_vn} / {letter.period}")
    para(f"Căn cứ {letter.cite_vi}, {letter.archive_vi} từ chối cung cấp dữ liệu theo yêu cầu trên vì lý do sau đây. "
         f"/ Under {letter.cite_en}, the archive refuses to supply the data requested above, for the following reason:",
         10)
    para("Lý do / Reason", 12, "B", "L", 1)
    para(letter.reason, 11, "", "L", 4)
    para(f"Quý cơ quan có quyền khiếu nại theo quy định của pháp luật ({letter.complaint_vi}). / You may complain "
         f"under the law ({letter.complaint_en}).", 9)
    para(f"Người ký / Signed: {letter.officer}", 10)
    return bytes(pdf.output())


def letter_for(record: RequestRecord) -> dict[str, Any]:
    """Both forms of the refusal letter for a refused request."""
    letter = RefusalLetter.of(record)
    return {"html": render_html(letter), "pdf": render_pdf(letter), "date": letter.date_iso}
