"""The web pages answer in Vietnamese or English as asked (issue #21): Vietnamese by default,
English for ``Accept-Language: en``, and the visible switch (``?lang=``) wins and is remembered in a
cookie.  Statuses, dates (07/12/2026) and amounts (1.500.000 đ) follow the page's language.  A real
uvicorn server and a real PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from reqfixtures import Archive, request_body

from rsarchive.api.lang import LANG_COOKIE
from rsarchive.api.requests_app import create_requests_app
from rsarchive.testing.languages import is_english, is_vietnamese
from rsarchive.testing.server import serve
from rsarchive.testing.web import csrf_of, log_in

pytestmark = pytest.mark.services


@pytest.fixture
def url(archive: Archive) -> Iterator[str]:
    with serve(create_requests_app(archive.settings)) as base:
        yield base


def visible(page: httpx.Response) -> str:
    """The text a person reads (tags, styles and the language switch's own names left out)."""
    body = page.text.split("<body>", 1)[-1]
    body = re.sub(r'<nav id="lang-switch".*?</nav>', " ", body, flags=re.DOTALL)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_login_page_in_the_language_asked(url: str) -> None:
    default = httpx.get(f"{url}/web/login")
    assert default.status_code == 200 and '<html lang="vi">' in default.text
    assert is_vietnamese(visible(default)) and "Tên người dùng" in default.text and "User name" not in default.text
    assert 'id="lang-en"' in default.text          # the switch offers the other language

    english = httpx.get(f"{url}/web/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text and is_english(visible(english))
    assert "User name" in english.text and "Tên người dùng" not in english.text

    vi_first = httpx.get(f"{url}/web/login", headers={"Accept-Language": "en;q=0.5, vi-VN"})
    assert "Tên người dùng" in vi_first.text

    with httpx.Client() as client:                  # the switch beats the header and is remembered
        switched = client.get(f"{url}/web/login?lang=en", headers={"Accept-Language": "vi"})
        assert "User name" in switched.text and client.cookies.get(LANG_COOKIE) == "en"
        assert "User name" in client.get(f"{url}/web/login", headers={"Accept-Language": "vi"}).text
        back = client.get(f"{url}/web/login?lang=vi")
        assert "Tên người dùng" in back.text and client.cookies.get(LANG_COOKIE) == "vi"
        assert "Tên người dùng" in client.get(f"{url}/web/login", headers={"Accept-Language": "en"}).text

    ignored = httpx.get(f"{url}/web/login?lang=fr", headers={"Accept-Language": "en"})
    assert "User name" in ignored.text and LANG_COOKIE not in ignored.cookies


def test_wrong_login_message_in_each_language(url: str) -> None:
    with httpx.Client() as client:
        page = log_in(client, url, "alice", "not-a-token")
        assert page.status_code == 401 and "Tên người dùng hoặc mã truy cập không đúng" in page.text
        assert "Wrong user name" not in page.text
    with httpx.Client() as client:
        page = log_in(client, url, "alice", "not-a-token", **{"Accept-Language": "en"})
        assert "Wrong user name or token" in page.text and "không đúng" not in page.text


def test_request_pages_statuses_dates_amounts(url: str, archive: Archive) -> None:
    officer = archive.headers("olga")
    created = httpx.post(f"{url}/api/requests", json=request_body(), headers=archive.headers("alice"))
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    with httpx.Client() as client:
        assert log_in(client, url, "alice", archive.tokens["alice"]).status_code in (200, 303)
        page = client.get(f"{url}/web/requests/{rid}")
        assert page.status_code == 200, page.text
        assert re.search(r'id="status" data-status="submitted">Đã nộp<', page.text), page.text
        assert "15/02/2024 – 30/04/2024" in page.text                      # the period, day first
        due = re.search(r'id="due-date"[^>]*>([^<(]+)', page.text).group(1).strip()
        assert re.fullmatch(r"\d\d/\d\d/\d{4}", due), due
        assert is_vietnamese(visible(page))

        listed = client.get(f"{url}/web/requests?lang=en")
        assert ">Submitted<" in listed.text and "Đã nộp" not in listed.text
        assert re.search(r"<td>\d{4}-\d\d-\d\d</td>", listed.text)          # received, ISO in English

        missing = client.get(f"{url}/web/requests/999999?lang=vi")
        assert missing.status_code == 404 and "Không tìm thấy: request 999999 not found" in missing.text

        for step, body in (("review", None), ("approve", {"contract_ref": "HĐ-2024-17"}), ("fulfil", None)):
            done = httpx.post(f"{url}/api/requests/{rid}/{step}", json=body, headers=officer)
            assert done.status_code == 200, done.text
        total = httpx.get(f"{url}/api/requests/{rid}/delivery", headers=archive.headers("alice")).json()[
            "fee_statement"]["total"]
        assert total >= 1000
        vi_page = client.get(f"{url}/web/requests/{rid}")
        vi_total = f"{total:,}".replace(",", ".") + " đ"
        assert f'data-amount="{total}">{vi_total}<' in vi_page.text, vi_page.text
        assert ">Đã cung cấp<" in vi_page.text and "bên thứ ba" in vi_page.text
        assert re.search(r'<td data-action="approved">Đã chấp thuận \(Đang xét duyệt → Đã chấp thuận\)</td>',
                         vi_page.text), vi_page.text
        assert ">Điều 3.1 Thông tư 187/2016/TT-BTC (sửa đổi bởi Thông tư 108/2017/TT-BTC)" in vi_page.text
        assert "<td>Sản phẩm ảnh (mức 2A) — VNR1_PRODUCT_A</td><td>1 cảnh</td>" in vi_page.text
        assert "còn phải nộp phí" in vi_page.text                       # unpaid: held, the amount due named
        en_page = client.get(f"{url}/web/requests/{rid}?lang=en")
        assert f">{total:,} VND<" in en_page.text and ">Fulfilled<" in en_page.text and "third part" in en_page.text
        assert ">Art. 3.1, Circular 187/2016/TT-BTC (as amended by Circular 108/2017/TT-BTC)" in en_page.text
        assert "<td>Image product (level 2A) — VNR1_PRODUCT_A</td><td>1 scene</td>" in en_page.text
        assert f"a fee of {total:,} VND is due" in en_page.text
        assert not is_vietnamese(re.search(r'<table id="fees">.*?</table>', en_page.text, flags=re.DOTALL).group(0))


def test_form_errors_in_each_language(url: str, archive: Archive) -> None:
    with httpx.Client() as client:
        log_in(client, url, "alice", archive.tokens["alice"])
        for language, expected, absent in (("vi", "không phải là ngày hợp lệ", "Input should be"),
                                           ("en", "Input should be", "không phải là ngày hợp lệ")):
            form = client.get(f"{url}/web/requests/new?lang={language}")
            sent = client.post(f"{url}/web/requests/new", data={
                "csrf_token": csrf_of(form), "contact_name": "Nguyễn Văn A", "contact_email": "not-an-address",
                "purpose": "state_management", "bbox": "105.0, 21.0, 105.2, 21.2", "start": "2024-13-45",
                "end": "2024-04-30", "levels": "product", "intended_use": "Kiểm kê đất đai"})
            assert sent.status_code == 422, sent.text
            errors = dict(re.findall(r'<li data-field="([^"]+)"><strong>[^<]*</strong>: ([^<]*)</li>', sent.text))
            assert expected in errors["start"] and absent not in sent.text, errors
            if language == "vi":
                assert errors["contact.email"].startswith("giá trị không hợp lệ (not an e-mail address"), errors
