"""The yearly publication written out: a spreadsheet (.xlsx, openpyxl) and a PDF (fpdf2, DejaVu Sans),
Vietnamese first and English second (:mod:`rsarchive.reports.yearly` gathers the contents).

The spreadsheet has three sheets: ``Mẫu 01`` (one row per published item, :data:`COLUMNS`),
``Tổng hợp`` (deadline, counts) and ``Ghi chú`` (the legal basis and what could not be confirmed).
The PDF says the same on A3 landscape pages.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rsarchive.fonts import dejavu
from rsarchive.i18n import format_date
from rsarchive.reports.yearly import (
    CLOUD_LIMIT,
    COLUMNS,
    CONTENT_RULE,
    FIELDS_RULE,
    FOREIGN_RULE,
    LOCAL_RULE,
    STATION_RULE,
    YEARLY_RULE,
    YearlyReport,
)

__all__ = ["notes", "summary", "title", "write_pdf", "write_xlsx", "write_yearly"]


def title(report: YearlyReport) -> tuple[str, str]:
    return (f"BÁO CÁO CÔNG BỐ SIÊU DỮ LIỆU VIỄN THÁM QUỐC GIA NĂM {report.year}",
            f"Yearly publication of the national remote-sensing metadata, {report.year}")


def _yes(value: bool) -> str:
    return "Có / Yes" if value else "Không / No"


def summary(report: YearlyReport) -> list[tuple[str, str]]:
    """(label, value) lines of the summary, bilingual labels."""
    on_time, late = report.harvested_on_time
    lines = [
        ("Năm / Year", str(report.year)),
        ("Ngày lập / Prepared", f"{format_date(report.generated, 'vi')} / {report.generated.isoformat()}"),
        ("Hạn công bố hằng năm / Yearly deadline",
         (f"{format_date(report.due, 'vi')} / {report.due.isoformat()} "
          f"({report.cite(YEARLY_RULE, 'vi')} / {report.cite(YEARLY_RULE, 'en')})")),
        ("Đạt hạn / Deadline met", _yes(report.met)),
        ("Tổng số cảnh ảnh công bố / Items published", str(len(report.rows))),
        (f"Số cảnh có độ phủ mây dưới {CLOUD_LIMIT:g}% / With cloud cover under {CLOUD_LIMIT:g} %",
         str(report.cloud_below_limit)),
        ("Siêu dữ liệu bộ, ngành, địa phương công bố đúng hạn / Bodies' metadata published on time",
         (f"{on_time} ({report.cite(LOCAL_RULE, 'vi')}: {report.basis.rule(LOCAL_RULE).period.describe('vi')} / "
          f"{report.basis.rule(LOCAL_RULE).period.describe('en')})")),
        ("Công bố trễ hạn / Published late", str(late)),
        ("Còn giữ lại quá hạn / Still held past the due date", str(len(report.held_overdue))),
    ]
    station = report.basis.rule(STATION_RULE)
    lines += [(f"Trạm thu, tháng {m.month} / Station, month {m.month}",
               (f"{m.items} cảnh, {m.on_time} đúng hạn {format_date(m.due, 'vi')} / {m.items} items, {m.on_time} "
                f"by {m.due.isoformat()} ({station.cite('vi')}: {station.period.describe('vi')})"))
              for m in report.station_months]
    f = report.foreign
    foreign = report.basis.rule(FOREIGN_RULE)
    lines.append(("Dữ liệu nước ngoài nhận trong năm / Foreign deliveries received",
                  (f"{f.received}: siêu dữ liệu đúng hạn {f.on_time}, trễ {f.late}, quá hạn chưa có {f.missing}, "
                   f"chưa đến hạn {f.pending} / metadata on time {f.on_time}, late {f.late}, overdue {f.missing}, "
                   f"not yet due {f.pending} ({foreign.cite('vi')}: {foreign.period.describe('vi')} / "
                   f"{foreign.period.describe('en')})")))
    lines += [(f"Bộ sưu tập / Collection: {k}", str(v)) for k, v in report.by_collection.items()]
    lines += [(f"Mức xử lý / Level: {k or '—'}", str(v)) for k, v in report.by_level.items()]
    lines += [(f"Cơ quan quản lý / Body: {k}", str(v)) for k, v in report.by_body.items()]
    return lines


def notes(report: YearlyReport) -> list[str]:
    """What the report rests on, and what could not be confirmed."""
    basis = report.basis
    out = [
        (f"Căn cứ / Basis: {report.cite(YEARLY_RULE, 'vi')} — {basis.rule(YEARLY_RULE).text('vi')} / "
         f"{basis.rule(YEARLY_RULE).text('en')}"),
        f"{report.cite(LOCAL_RULE, 'vi')} — {basis.rule(LOCAL_RULE).text('vi')} / {basis.rule(LOCAL_RULE).text('en')}",
        ("Chưa tìm được văn bản Mẫu số 01 (Phụ lục Nghị định); các cột theo các trường siêu dữ liệu của "
         f"{report.cite(FIELDS_RULE, 'vi')} và nội dung công bố của {report.cite(CONTENT_RULE, 'vi')}. / "
         "The text of Form 01 (the Decree's annex) was not found; the columns follow the metadata fields of "
         f"{report.cite(FIELDS_RULE, 'en')} and the published content of {report.cite(CONTENT_RULE, 'en')}."),
        "Chế độ chụp để trống khi mục không ghi. / Imaging mode is blank where the item does not state it.",
    ]
    for key in (YEARLY_RULE, LOCAL_RULE, FIELDS_RULE, CONTENT_RULE, STATION_RULE, FOREIGN_RULE):
        rule = basis.rule(key)
        if not rule.confirmed:
            out.append(f"Chưa xác minh với văn bản chính thức / Not confirmed against the official text: "
                       f"{rule.cite('vi')} ({rule.source or 'nguồn thứ cấp / secondary source'})")
    return out


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return _yes(value)
    if isinstance(value, dt.date):
        return format_date(value, "vi")
    return "" if value is None else value


def write_xlsx(report: YearlyReport, path: Path) -> Path:
    """The spreadsheet (three sheets, see the module)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Mẫu 01"
    vi, en = title(report)
    sheet.append([vi])
    sheet.append([en])
    sheet.append([f"{report.cite(YEARLY_RULE, 'vi')} / {report.cite(YEARLY_RULE, 'en')}"])
    sheet.append([f"{vi_} / {en_}" for _, vi_, en_ in COLUMNS])
    for cell in sheet[4]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet["A1"].font = Font(bold=True, size=13)
    for row in report.rows:
        sheet.append([_cell(row.value(key)) for key, _, _ in COLUMNS])
    sheet.freeze_panes = "A5"
    totals = book.create_sheet("Tổng hợp")
    totals.append(["Mục / Item", "Giá trị / Value"])
    for label, value in summary(report):
        totals.append([label, value])
    for cell in totals[1]:
        cell.font = Font(bold=True)
    remarks = book.create_sheet("Ghi chú")
    remarks.append(["Ghi chú / Notes"])
    remarks["A1"].font = Font(bold=True)
    for line in notes(report):
        remarks.append([line])
    book.properties.title = f"{vi} / {en}"
    book.properties.language = "vi"
    book.save(path)
    return path


def write_pdf(report: YearlyReport, path: Path) -> Path:
    """The PDF (A3 landscape): heading, summary, the list of items, notes."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", format="A3")
    vi, en = title(report)
    pdf.set_title(f"{vi} / {en}")
    pdf.set_author(report.basis.authority.archive("en"))
    pdf.add_font("DejaVu", "", str(dejavu()))
    pdf.add_font("DejaVu", "B", str(dejavu(bold=True)))
    pdf.add_page()
    width = pdf.epw

    def para(text: str, size: float = 10, style: str = "", align: str = "L", gap: float = 1.5) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(width, size * 0.55, text, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    authority = report.basis.authority
    para("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 11, "B", "C", 0)
    para("Độc lập - Tự do - Hạnh phúc", 10, "", "C", 0)
    para("Socialist Republic of Viet Nam — Independence - Freedom - Happiness", 9, "", "C", 3)
    para(f"{authority.ministry('vi')} — {authority.archive('vi')} / {authority.ministry('en')} — {authority.archive('en')}", 10)
    para(f"Hà Nội, ngày {report.generated.day:02d} tháng {report.generated.month:02d} năm {report.generated.year} "
         f"/ Date: {report.generated.isoformat()}", 10, "", "R", 3)
    para(vi, 14, "B", "C", 0)
    para(en, 11, "", "C", 4)
    para("Tổng hợp / Summary", 12, "B", "L", 1)
    pdf.set_font("DejaVu", "", 8.5)
    with pdf.table(col_widths=(2, 3), text_align="LEFT", first_row_as_headings=False) as table:
        for label, value in summary(report):
            row = table.row()
            row.cell(label)
            row.cell(value)
    pdf.ln(3)
    para("Danh mục siêu dữ liệu đã công bố / Metadata published", 12, "B", "L", 1)
    pdf.set_font("DejaVu", "", 5.5)
    widths = (3, 14, 7, 6, 5, 5, 6, 5, 4, 4, 4, 4, 4, 5, 5, 12, 12, 10, 6, 6, 5)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=2.6) as table:
        heading = table.row()
        for _, vi_, en_ in COLUMNS:
            heading.cell(f"{vi_} / {en_}")
        for item in report.rows:
            row = table.row()
            for key, _, _ in COLUMNS:
                row.cell(str(_cell(item.value(key))))
    pdf.ln(3)
    para("Ghi chú / Notes", 12, "B", "L", 1)
    for line in notes(report):
        para(line, 8.5)
    path.write_bytes(bytes(pdf.output()))
    return path


def write_yearly(report: YearlyReport, out_dir: Path) -> tuple[Path, Path]:
    """``cong-bo-sieu-du-lieu-YEAR.xlsx`` and ``.pdf`` in ``out_dir`` (made if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"cong-bo-sieu-du-lieu-{report.year}"
    return write_xlsx(report, out_dir / f"{stem}.xlsx"), write_pdf(report, out_dir / f"{stem}.pdf")
