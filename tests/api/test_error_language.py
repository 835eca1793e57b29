"""Error answers of the public STAC API, the internal API and the requests API in Vietnamese first,
English second (issue #21): ``description`` in the language asked for (``?lang=``, ``Accept-Language``,
Vietnamese by default), both languages in ``description_vi`` / ``description_en``, the same stable
``code`` in both, and the STAC API error shape (``code`` and ``description`` strings) kept.

A sample of errors against the real server of the package's loaded catalog: 400 (a bad bbox, a bad
datetime, an invalid request form), 404 (an item, a collection, a request), 413 (a body over the limit),
401 (no token, a wrong token) and 403 (a requester's token on the internal API)."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import httpx
import pytest

from rsarchive.api.error_language import localize, split_bilingual, vietnamese
from rsarchive.db import transaction
from rsarchive.testing.languages import vietnamese_ratio
from rsarchive.users import identity

pytestmark = pytest.mark.services

DB_WORDS = ("psycopg", "asyncpg", "pgstac", "postgres", "sqlstate", "relation", "pydantic", "traceback", "starlette")


@pytest.fixture(scope="module")
def tokens(loaded) -> dict[str, str]:
    with transaction(loaded.settings) as conn:
        return {"requester": identity.add_user(conn, "error-language-requester", "requester",
                                               "Sở Tài nguyên và Môi trường Hà Nội")}


def _cases(loaded, tokens: dict[str, str]) -> list[tuple[str, int, str, dict[str, Any], tuple[str, ...]]]:
    """(what, status, code, request, Vietnamese words the answer must have)."""
    stac, item = loaded.public_url, loaded.public_ids[0]
    requester = {"Authorization": f"Bearer {tokens['requester']}"}
    return [
        ("bad bbox", 400, "InvalidParameter", {"method": "GET", "url": stac + "search", "params": {"bbox": "a,b,c,d"}},
         ("bbox không hợp lệ", "a,b,c,d")),
        ("bbox of 3 numbers", 400, "InvalidParameter",
         {"method": "GET", "url": stac + "search", "params": {"bbox": "1,2,3"}}, ("phải có 4 hoặc 6 số",)),
        ("bad datetime", 400, "InvalidParameter",
         {"method": "GET", "url": stac + "search", "params": {"datetime": "2020-13-45"}}, ("datetime",)),
        ("missing item", 404, "NotFoundError",
         {"method": "GET", "url": f"{stac}collections/vnredsat1-product/items/{item}X"},
         (f"Không có ảnh {item}X trong bộ dữ liệu vnredsat1-product",)),
        ("missing collection", 404, "NotFoundError", {"method": "GET", "url": stac + "collections/no-such"},
         ("Không có bộ dữ liệu no-such",)),
        ("body over the limit", 413, "RequestLimitExceeded",
         {"method": "POST", "url": stac + "search", "content": b"{" + b" " * (loaded.settings.api_max_body_bytes + 10)
          + b"}", "headers": {"Content-Type": "application/json"}}, ("vượt giới hạn", "api_max_body_bytes")),
        ("internal API without a token", 401, "AuthError",
         {"method": "GET", "url": loaded.base_url + "/internal/stac/collections"}, ("API nội bộ cần mã truy cập",)),
        ("requests API with a wrong token", 401, "AuthError",
         {"method": "GET", "url": loaded.base_url + "/api/requests",
          "headers": {"Authorization": "Bearer rsa_not-a-token"}}, ("mã truy cập",)),
        ("requester on the internal API", 403, "PermissionDeniedError",
         {"method": "GET", "url": loaded.base_url + "/internal/stac/collections", "headers": requester},
         ("API nội bộ chỉ dành cho cán bộ",)),
        ("invalid request form", 400, "InvalidParameter",
         {"method": "POST", "url": loaded.base_url + "/api/requests", "headers": requester,
          "json": {"purpose": "tourism", "levels": []}}, ("purpose", "bắt buộc phải điền")),
        ("missing request", 404, "NotFoundError",
         {"method": "GET", "url": loaded.base_url + "/api/requests/987654", "headers": requester},
         ("không có yêu cầu 987654",)),
    ]


def _ask(request: dict[str, Any], lang: str | None, how: str) -> httpx.Response:
    request = json.loads(json.dumps(request, default=lambda b: b.decode()))  # a copy
    if isinstance(request.get("content"), str):
        request["content"] = request["content"].encode()
    headers = dict(request.pop("headers", {}))
    params = dict(request.pop("params", {}))
    if lang and how == "header":
        headers["Accept-Language"] = {"vi": "vi-VN,vi;q=0.9", "en": "en-US,en;q=0.9,vi;q=0.5"}[lang]
    elif lang:
        params["lang"] = lang
        headers["Accept-Language"] = "en" if lang == "vi" else "vi"   # the explicit choice wins
    return httpx.request(headers=headers, params=params, timeout=30, **request)


@pytest.mark.parametrize("how", ["header", "query"])
def test_errors_answer_in_the_language_asked_with_both_given(loaded, tokens, how: str) -> None:
    for what, status, code, request, words in _cases(loaded, tokens):
        answers = {lang: _ask(request, lang, how) for lang in ("vi", "en")}
        default = _ask(request, None, how)
        for lang, response in answers.items():
            assert response.status_code == status, (what, lang, response.status_code, response.text)
            body = response.json()
            assert isinstance(body["code"], str) and isinstance(body["description"], str), (what, body)  # STAC shape
            assert body["code"] == code, (what, body)
            assert body["lang"] == lang and response.headers["content-language"] == lang, (what, body)
            assert body["description"] == body[f"description_{lang}"], (what, body)
            vi, en = body["description_vi"], body["description_en"]
            assert unicodedata.is_normalized("NFC", vi), (what, vi)
            assert vietnamese_ratio(vi) >= 0.05, (what, vi)   # written with its diacritics
            assert vietnamese_ratio(en) < 0.02 and "(chi tiết bằng tiếng Anh" not in vi, (what, vi, en)
            for word in words:
                assert word in vi, (what, word, vi)
            assert not any(w in response.text.lower() for w in DB_WORDS), (what, response.text)
        assert answers["vi"].json()["code"] == answers["en"].json()["code"]
        assert answers["vi"].json()["description_en"] == answers["en"].json()["description_en"], what
        assert default.status_code == status and default.json()["lang"] == "vi", (what, default.text)


def test_a_hidden_item_and_a_missing_one_answer_alike_in_both_languages(loaded) -> None:
    """Localizing does not tell a classified item from a missing one (same words but the id)."""
    hidden, missing = loaded.secret_ids[0], loaded.public_ids[0] + "X"
    for lang in ("vi", "en"):
        answers = [httpx.get(f"{loaded.public_url}collections/vnredsat1-product/items/{i}", params={"lang": lang})
                   for i in (hidden, missing)]
        assert [a.status_code for a in answers] == [404, 404]
        texts = [a.json()["description"].replace(i, "ID") for a, i in zip(answers, (hidden, missing))]
        assert texts[0] == texts[1], texts


def test_localize_keeps_other_members_and_leaves_other_bodies_alone() -> None:
    body = {"code": "ServerError", "description": "Lỗi nội bộ của máy chủ (mã yêu cầu 7) — internal server error "
            "(request id 7)", "request_id": "7"}
    en = localize(body, "en", 500)
    assert en == {"code": "ServerError", "description": "internal server error (request id 7)",
                  "description_vi": "Lỗi nội bộ của máy chủ (mã yêu cầu 7)",
                  "description_en": "internal server error (request id 7)", "lang": "en", "request_id": "7"}
    assert localize({"type": "FeatureCollection"}, "vi") == {"type": "FeatureCollection"}
    assert split_bilingual("only English / with a slash") is None
    # an English text with no translation: a Vietnamese summary by its code, then the English detail
    assert vietnamese("ConflictError", "user 'x' already exists", 409) == (
        "Không thực hiện được ở trạng thái hiện tại (chi tiết bằng tiếng Anh: user 'x' already exists)")


@pytest.mark.parametrize("bbox", ["1e309,0,1,1", "inf,0,1,1", "nan,0,1,1", "-1e999,-1e999,1e999,1e999"])
def test_non_finite_numbers_in_a_request_give_a_strict_json_error(loaded, bbox: str) -> None:
    """A number the request spells as infinity or NaN may be echoed in the error: the answer is still a
    4xx in strict JSON (no ``Infinity``/``NaN`` literals), never a 500."""
    for url in (loaded.public_url + "search", loaded.public_url + "collections/vnredsat1-product/items"):
        answer = httpx.get(url, params={"bbox": bbox}, timeout=30)
        assert 400 <= answer.status_code < 500, (url, bbox, answer.status_code, answer.text[:300])
        json.loads(answer.text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
        assert answer.json()["description_vi"]
