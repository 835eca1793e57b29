"""A written answer on the state letterhead, as HTML and PDF: the motto, the issuer, the date, a
bilingual title (Vietnamese first), the addressee, the facts it answers, the legal basis it cites, the
body and the signature.  Complaint answers (:mod:`rsarchive.requests.complaint_letters`) and the
satellite operator's capability answers (:mod:`rsarchive.requests.capability`) are drawn with it; the
PDF uses the refusal letter's Unicode font (DejaVu Sans, :mod:`rsarchive.requests.letters`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from rsarchive.requests.letters import _font_path

MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
         "Socialist Republic of Viet Nam — Independence - Freedom - Happiness")

_HTML = """<!doctype html>
<html lang="vi">
<head><meta charset="utf-8"><title>{{ l.title_vi }} / {{ l.title_en }}</title>
<style>
 body { font-family: "DejaVu Sans", sans-serif; max-width: 44em; margin: 2em auto; line-height: 1.45 }
 .motto { text-align: center } .motto p { margin: .1em }
 h1 { text-align: center; font-size: 1.25em; margin-top: 1.5em } h1 small { display: block; font-weight: normal }
 .answer { border-left: 3px solid #345; padding: .3em 1em; white-space: pre-wrap }
 dt { font-weight: bold } dd { margin: 0 0 .4em 0 }
</style></head>
<body>
<div class="motto"><p><strong>{{ motto[0] }}</strong></p><p>{{ motto[1] }}</p><p>{{ motto[2] }}</p></div>
<p class="issuer">{{ l.issuer_vi }} / {{ l.issuer_en }}</p>
<p class="date" id="letter-date">Hà Nội, {{ l.date_vi }} / Date: <time datetime="{{ l.date.isoformat() }}">{{ l.date.isoformat() }}</time></p>
<h1 id="letter-title">{{ l.title_vi }}<small>{{ l.title_en }}</small></h1>
<p>Kính gửi / To: <strong>{{ l.addressee }}</strong></p>
<dl>{% for label, value in l.facts %}<dt>{{ label }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>
<p id="basis">Căn cứ {{ l.basis_vi }}. / Under {{ l.basis_en }}.</p>
{% for text in l.body %}<p class="body">{{ text }}</p>{% endfor %}
{% if l.answer %}<div class="answer" id="answer">{{ l.answer }}</div>{% endif %}
<p>Người ký / Signed: {{ l.signed }}</p>
</body></html>
"""


@dataclass(frozen=True)
class OfficialLetter:
    """What a written answer says; every text is already bilingual where a person reads it."""

    issuer_vi: str
    issuer_en: str
    date: date
    title_vi: str
    title_en: str
    addressee: str
    basis_vi: str
    basis_en: str
    signed: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    answer: str = ""

    @property
    def date_vi(self) -> str:
        return f"ngày {self.date.day:02d} tháng {self.date.month:02d} năm {self.date.year}"


def render_html(letter: OfficialLetter) -> str:
    """The letter as a standalone HTML page (autoescaped)."""
    import jinja2

    return jinja2.Environment(autoescape=True).from_string(_HTML).render(l=letter, motto=MOTTO)


def render_pdf(letter: OfficialLetter) -> bytes:
    """The letter as a PDF (A4), text extractable."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"{letter.title_vi} / {letter.title_en}")
    pdf.set_author(letter.issuer_en)
    pdf.add_font("DejaVu", "", str(_font_path()))
    pdf.add_font("DejaVu", "B", str(_font_path(bold=True)))
    pdf.add_page()

    def para(text: str, size: int = 11, style: str = "", align: str = "L", gap: float = 2) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(pdf.epw, 6, text, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    para(MOTTO[0], 11, "B", "C", 0)
    para(MOTTO[1], 10, "", "C", 0)
    para(MOTTO[2], 9, "", "C", 4)
    para(f"{letter.issuer_vi} / {letter.issuer_en}", 10)
    para(f"Hà Nội, {letter.date_vi} / Date: {letter.date.isoformat()}", 10, "", "R", 4)
    para(letter.title_vi, 13, "B", "C", 0)
    para(letter.title_en, 11, "", "C", 5)
    para(f"Kính gửi / To: {letter.addressee}")
    if letter.facts:
        para("\n".join(f"{label}: {value}" for label, value in letter.facts))
    para(f"Căn cứ {letter.basis_vi}. / Under {letter.basis_en}.", 10)
    for text in letter.body:
        para(text)
    if letter.answer:
        para(letter.answer, 11, "", "L", 4)
    para(f"Người ký / Signed: {letter.signed}", 10)
    return bytes(pdf.output())
