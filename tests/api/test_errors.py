"""Malformed search parameters → 400 with a message (never 500); unknown collection → 404."""

from __future__ import annotations

import httpx
import pytest

BAD_GET = [
    {"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"bbox": "10,10,5,5"},
    {"datetime": "notadate"}, {"datetime": "2020-13-45T00:00:00Z"}, {"datetime": "2021-01-01/2020-01-01"},
    {"filter": "eo:cloud_cover <"}, {"filter": "foo =="}, {"filter-lang": "cql2-json", "filter": "{bad"},
    {"filter": "S_INTERSECTS(geometry, POINT(1))"}, {"filter": "datetime > TIMESTAMP('bad')"},
    {"limit": "-1"}, {"limit": "abc"}, {"limit": "0"},
    {"intersects": "{bad"}, {"query": "{bad"}, {"query": '{"eo:cloud_cover": {"nope": 1}}'},
]


@pytest.mark.parametrize("params", BAD_GET, ids=[str(p) for p in BAD_GET])
def test_bad_get_search_is_400(loaded, params) -> None:
    response = httpx.get(loaded.public_url + "search", params=params)
    assert response.status_code == 400, (params, response.status_code, response.text)
    body = response.json()
    assert body["description"], body


BAD_POST = [
    {"bbox": [1, 2]}, {"datetime": "yesterday"}, {"limit": "x"}, {"filter": {"op": "bad"}},
    {"filter": {"op": "=", "args": [{"property": "eo:cloud_cover"}]}}, {"sortby": [{"field": "x", "direction": "up"}]},
    {"intersects": {"type": "Polygon", "coordinates": [[1, 2]]}}, {"collections": "not-a-list-of-strings", "ids": 5},
]


@pytest.mark.parametrize("body", BAD_POST, ids=[str(b) for b in BAD_POST])
def test_bad_post_search_is_400(loaded, body) -> None:
    response = httpx.post(loaded.public_url + "search", json=body)
    assert response.status_code == 400, (body, response.status_code, response.text)
    assert response.json()["description"]


def test_not_json_body_is_400(loaded) -> None:
    response = httpx.post(loaded.public_url + "search", content=b"not json", headers={"content-type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["collections/nosuch", "collections/nosuch/items", "collections/nosuch/queryables",
                                  "collections/vnredsat1-product/items/nosuch"])
def test_unknown_is_404(loaded, path) -> None:
    response = httpx.get(loaded.public_url + path)
    assert response.status_code == 404, response.text
    assert response.json()["description"]
