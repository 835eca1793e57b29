"""The edge measures without a server: depth counted without parsing agrees with the depth
of what a parser builds, and an unhandled error becomes a generic 500 with a request id."""

from __future__ import annotations

import json
import logging
import random

import httpx
import pytest

from rsarchive.api.limits import cql2_text_depth, json_depth, tree_depth


def _random_json(rng: random.Random, depth: int) -> object:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([1, 2.5, None, True, "s", 'q"[{uote', "]}", ""])
    if rng.random() < 0.5:
        return [_random_json(rng, depth - 1) for _ in range(rng.randrange(0, 4))]
    return {f"k{i}[": _random_json(rng, depth - 1) for i in range(rng.randrange(0, 4))}


def test_json_depth_is_the_parsed_depth() -> None:
    rng = random.Random(7)
    for _ in range(500):
        value = _random_json(rng, rng.randrange(0, 12))
        assert json_depth(json.dumps(value)) == tree_depth(value), value


def test_cql2_text_depth_bounds_the_parsed_depth() -> None:
    """The parser's tree is never deeper than the measure (which is what protects it)."""
    from cql2 import Expr

    cases = ["a = 1", "(a = 1)", "NOT (a = 1 AND b = 2)", "((a = 1) OR NOT (b = 'x(y'))",
             "a = -1", "a = - -1", "NOT NOT NOT a = 1", "S_INTERSECTS(geometry, POLYGON((-1 -1, 1 -1, 1 1, -1 -1)))",
             "a IN ('(', ')', '((')", "\"weird(name\" = 2"]
    for text in cases:
        tree = Expr(text).to_json()
        assert tree_depth(tree) // 2 <= cql2_text_depth(text) + 1, (text, tree)
    assert cql2_text_depth("S_INTERSECTS(geometry, POLYGON((-1 -1, 1 -1, 1 1, -1 -1)))") == 3  # signs are literals
    assert cql2_text_depth("a IN ('(', ')', '((')") == 1  # quoted parentheses do not count
    assert cql2_text_depth("NOT " * 50 + "a = 1") == 50


def test_unhandled_error_is_a_generic_500_with_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    from fastapi import FastAPI

    from rsarchive.api.errors import add_handlers
    from rsarchive.api.request_id import RequestContext
    from rsarchive.testing.server import serve

    app = FastAPI()
    add_handlers(app)
    app.add_middleware(RequestContext)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError('relation "pgstac.secret_table" does not exist at /srv/archive/objects')

    with caplog.at_level(logging.ERROR), serve(app) as base:
        response = httpx.get(base + "/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert "pgstac" not in response.text and "/srv" not in response.text and "relation" not in response.text
    assert body["description"].startswith("Lỗi nội bộ")
    logged = [r for r in caplog.records if body["request_id"] in r.getMessage()]
    assert logged and logged[0].exc_info and "secret_table" in str(logged[0].exc_info[1])
