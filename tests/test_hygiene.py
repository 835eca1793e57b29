"""The detector of database and library text in API answers (used by the API fuzz tests)."""

from __future__ import annotations

import json

import pytest

from rsarchive.testing.hygiene import library_text, sent_strings

LEAKS = [  # answers seen from the APIs before their errors were cleaned
    '{"code":"RaiseError","description":"The and operator requires an array of args."}',
    '{"code":"InvalidTextRepresentationError","description":"invalid input syntax for type double precision: \\"abc\\""}',
    '{"code":"UntranslatableCharacterError","description":"unsupported Unicode escape sequence"}',
    '{"code":"JSONDecodeError","description":"unexpected character, expected a JSON value: line 1 column 1 (char 0)"}',
    '{"code":"HTTPException","description":"Not Found"}',
    '{"code":"FilterError","description":"filter: cannot parse cql2-text: --> 1:4"}',
    '{"description":"1 validation error for SearchPostRequest [type=dict_type, input_value=\'\', input_type=str]"}',
    '{"status":"UP","pgstac":{"status":"UP","pgstac_version":"0.10.0"}}',
    'ERROR: column "foo" does not exist\nLINE 1: SELECT foo FROM items',
    'Traceback (most recent call last):\n  File "/app/x.py", line 3, in <module>',
    '{"description":"canceling statement due to statement timeout"}',
    '{"description":"function pgstac.search(jsonb) does not exist"}',
    "{'a': 1}::jsonb",
]
CLEAN = [  # the API's own words
    '{"code":"NotFoundError","description":"Collection nope does not exist."}',
    '{"code":"InvalidParameter","description":"datetime: Input should be a valid datetime"}',
    '{"code":"FilterError","description":"filter: \'and\' takes at least 2 argument(s), got 1"}',
    '{"conformsTo":["http://www.opengis.net/spec/cql2/1.0/conf/cql2-text"]}',
    '{"code":"InternalError","description":"Lỗi máy chủ / server error, request id 3f2a"}',
    '{"code":"StorageError","description":"the archive store cannot be reached"}',
]


@pytest.mark.parametrize("text", LEAKS)
def test_finds_library_text(text: str) -> None:
    assert library_text(text)


@pytest.mark.parametrize("text", CLEAN)
def test_leaves_the_apis_own_words(text: str) -> None:
    assert library_text(text) == []


def test_an_echo_of_the_request_is_not_a_leak() -> None:
    body = {"filter": {"op": "=", "args": [{"property": "x"}, "syntax error at or near ::jsonb"]}}
    answer = json.dumps({"links": [{"rel": "next", "body": body}], "features": []})
    assert library_text(answer)  # the words are there …
    assert library_text(answer, sent_strings(body)) == []  # … but the client wrote them
    url_echo = '{"href":"http://h/stac/search?q=Traceback%20%28most%20recent%20call%20last%29"}'
    assert library_text(url_echo, sent_strings({"q": "Traceback (most recent call last)"})) == []
    # an echo does not hide a real leak beside it
    assert library_text('{"code":"RaiseError","description":"bad: ::jsonb"}', {"::jsonb"}) == ["RaiseError"]
