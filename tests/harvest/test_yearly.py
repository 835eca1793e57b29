"""The yearly publication (Decree 03/2019, Art. 18.1, Form 01): for a year with items ingested by the
archive and items harvested from a province's API and a ministry's static catalog, the spreadsheet
(read back with openpyxl) and the PDF (text extracted with pypdf) list exactly the items published
that year, with their fields, the counts by collection, level and body, and the deadline."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Province, defence_items, write_static_catalog
from openpyxl import load_workbook
from pypdf import PdfReader

from rsarchive import originals
from rsarchive.cli.main import cli
from rsarchive.db import connect
from rsarchive.harvest import harvest
from rsarchive.law import calendar, load_basis
from rsarchive.reports import COLUMNS, write_yearly, yearly_report
from rsarchive.settings import Settings
from rsarchive.testing.ingested import ingest_small_pass

pytestmark = pytest.mark.services

TODAY = calendar.today_vn()  # items are published now: the report is of this year
YEAR = TODAY.year


def test_the_yearly_report_lists_what_was_published(province: Province, national: Settings, tmp_path: Path) -> None:
    ingested = ingest_small_pass(national, tmp_path / "downlink", scenes=1, pass_id="p0931")
    hanoi = harvest(national, province.stac, "ha-noi", name_vi="Sở Nông nghiệp và Môi trường Hà Nội",
                    name_en="Hanoi Department of Agriculture and Environment")
    public, secret, unmarked = defence_items()
    defence = harvest(national, str(write_static_catalog(tmp_path / "bqp", [public, secret, unmarked])),
                      "bo-quoc-phong", name_vi="Bộ Quốc phòng", name_en="Ministry of National Defence")
    assert defence.published == [public["id"]]
    (tmp_path / "scene.tif").write_bytes(b"II*\x00" + bytes(range(256)) * 4)
    (tmp_path / "late.tif").write_bytes(b"II*\x00" + bytes(range(255, -1, -1)) * 4)
    bought = originals.register(national, [tmp_path / "scene.tif"], provider="airbus", route="purchase",
                                received=TODAY, metadata=originals.OriginalMetadata(
                                    datetime=dt.datetime(YEAR - 1, 10, 30, 3, 0, tzinfo=dt.timezone.utc),
                                    bbox=(105.0, 20.0, 106.0, 21.0), platform="SPOT-7", classification="unclassified"))
    originals.register(national, [tmp_path / "late.tif"], provider="airbus", route="purchase",
                       received=dt.date(YEAR, 1, 2))  # no metadata: overdue from early April
    with connect(national.public_database_dsn) as conn:
        expected = {(c, i) for c, i in conn.execute("SELECT collection, item_id FROM rsarchive.published_items")}
    assert ("foreign-original", bought.item_id) in expected
    assert ("vnredsat1-product", ingested[0]) in expected and len(expected) == len(hanoi.published) + 1 + \
        sum(1 for c, _ in expected if not c.startswith("harvested-"))

    report = yearly_report(national, YEAR, today=TODAY)
    assert {(r.collection, r.scene) for r in report.rows} == expected
    assert [r.no for r in report.rows] == list(range(1, len(expected) + 1))
    assert report.due == dt.date(YEAR, 12, 31) == load_basis().rule("metadata.publication.yearly").period.end(TODAY)
    assert report.met
    archive = "Cơ sở dữ liệu viễn thám quốc gia / National Remote Sensing Archive of Viet Nam"
    bodies = report.by_body
    assert bodies["Sở Nông nghiệp và Môi trường Hà Nội / Hanoi Department of Agriculture and Environment"] == \
        len(hanoi.published)
    assert bodies["Bộ Quốc phòng / Ministry of National Defence"] == 1
    assert bodies[archive] == len(expected) - len(hanoi.published) - 1
    assert sum(report.by_collection.values()) == sum(report.by_level.values()) == len(expected)
    assert report.harvested_on_time == (len(hanoi.published) + 1, 0)
    row = next(r for r in report.rows if r.scene == ingested[0])
    with connect(national.public_database_dsn) as conn:
        (item,) = conn.execute("SELECT pgstac.get_item(%s, 'vnredsat1-product')", (ingested[0],)).fetchone()
    props = item["properties"]
    assert (row.satellite, row.level, row.cloud, row.gsd) == (props["platform"], props["processing:level"],
                                                              props["eo:cloud_cover"], props["gsd"])
    assert row.date == dt.date.fromisoformat(props["datetime"][:10]) and row.custodian == archive
    assert row.due is None and row.on_time is None
    assert report.cloud_below_limit == sum(1 for r in report.rows if r.cloud is not None and r.cloud < 10)
    harvested_row = next(r for r in report.rows if r.scene == public["id"])
    assert harvested_row.due == load_basis().rule("metadata.publication.local").period.end(defence.harvested_at)
    assert harvested_row.on_time is True and harvested_row.published <= harvested_row.due
    assert secret["id"] not in {r.scene for r in report.rows} and unmarked["id"] not in {r.scene for r in report.rows}
    # The station's pass was acquired in one month; its items were published long after that month's due date.
    with connect(national.internal_database_dsn) as conn:
        station_items = conn.execute("SELECT count(*), min(datetime) FROM pgstac.items WHERE collection LIKE 'vnredsat1-%%' "
                                     "AND id IN (SELECT item_id FROM rsarchive.publications WHERE action = 'published')"
                                     ).fetchone()
    (month,) = report.station_months
    assert month.month == f"{station_items[1]:%Y-%m}" and month.items == station_items[0]
    first = station_items[1].astimezone(calendar.VN_TZ).date()
    month_end = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    assert month.due == load_basis().rule("metadata.station.monthly").period.end(month_end)
    assert month.on_time == (month.items if TODAY <= month.due else 0)
    overdue_since = load_basis().rule("foreign.metadata").period.end(dt.date(YEAR, 1, 2))
    missing = (1, 0) if TODAY > overdue_since else (0, 1)
    assert (report.foreign.received, report.foreign.on_time, (report.foreign.missing, report.foreign.pending)) == \
        (2, 1, missing)
    late = yearly_report(national, YEAR, today=dt.date(YEAR + 1, 3, 1))
    assert not late.met and [o.item_id for o in late.held_overdue] == [unmarked["id"]]
    assert yearly_report(national, YEAR - 1, today=TODAY).rows == []

    xlsx, pdf = write_yearly(report, tmp_path / "out")
    book = load_workbook(xlsx)
    assert book.sheetnames == ["Mẫu 01", "Tổng hợp", "Ghi chú"]
    sheet = book["Mẫu 01"]
    assert sheet["A1"].value == f"BÁO CÁO CÔNG BỐ SIÊU DỮ LIỆU VIỄN THÁM QUỐC GIA NĂM {YEAR}"
    headings = [c.value for c in sheet[4]]
    assert headings == [f"{vi} / {en}" for _, vi, en in COLUMNS] and "Tên vệ tinh / Satellite" in headings
    data = [[c.value for c in r] for r in sheet.iter_rows(min_row=5)]
    assert len(data) == len(expected)
    line = next(d for d in data if d[1] == ingested[0])
    column = {key: n for n, (key, _, _) in enumerate(COLUMNS)}
    assert line[column["satellite"]] == props["platform"] and line[column["cloud"]] == props["eo:cloud_cover"]
    assert line[column["date"]] == row.date.strftime("%d/%m/%Y") and line[column["custodian"]] == archive
    line = next(d for d in data if d[1] == public["id"])
    assert line[column["custodian"]] == "Bộ Quốc phòng / Ministry of National Defence"
    assert line[column["on_time"]] == "Có / Yes"
    totals = {r[0].value: r[1].value for r in book["Tổng hợp"].iter_rows(min_row=2)}
    assert totals["Đạt hạn / Deadline met"] == "Có / Yes"
    assert totals["Tổng số cảnh ảnh công bố / Items published"] == str(len(expected))
    assert totals["Cơ quan quản lý / Body: Bộ Quốc phòng / Ministry of National Defence"] == "1"
    assert totals["Dữ liệu nước ngoài nhận trong năm / Foreign deliveries received"].startswith(
        f"2: siêu dữ liệu đúng hạn 1, trễ 0, quá hạn chưa có {missing[0]}")
    assert f"Trạm thu, tháng {month.month} / Station, month {month.month}" in totals
    assert totals["Hạn công bố hằng năm / Yearly deadline"].startswith(f"31/12/{YEAR} / {YEAR}-12-31 (Điều 18.1 Nghị định 03/2019/NĐ-CP")
    remarks = " ".join(str(r[0].value) for r in book["Ghi chú"].iter_rows())
    assert "Mẫu số 01" in remarks and "was not found" in remarks

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    flat = "".join(text.split())
    assert f"BÁOCÁOCÔNGBỐSIÊUDỮLIỆUVIỄNTHÁMQUỐCGIANĂM{YEAR}" in flat
    assert "Điều18.1Nghịđịnh03/2019/NĐ-CP" in flat and "Bộ Quốc phòng" in text
    for scene in (ingested[0], public["id"]):
        assert scene in flat
    assert f"Tổngsốcảnhảnhcôngbố/Itemspublished{len(expected)}" in flat

    result = CliRunner().invoke(cli, ["reports", "yearly", str(YEAR), "--out", str(tmp_path / "cli"), "--json"],
                                obj={"settings": national}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["items"] == len(expected) and Path(answer["xlsx"]).is_file() and Path(answer["pdf"]).is_file()
    result = CliRunner().invoke(cli, ["reports", "yearly", "1999"], obj={"settings": national})
    assert result.exit_code != 0 and "1999" in str(result.exception)
