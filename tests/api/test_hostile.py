"""Hostile requests against a real ``rsarchive serve`` process: each class of crafted
input is refused with a 4xx that names the limit, and the process goes on answering.

Before the edge limits (``rsarchive.api.limits``) a cql2-text filter nested a few thousand
parentheses deep ended the whole server process (SIGSEGV in the CQL2 parser).  The
server here runs with a URL limit raised to 64 KiB so that such filters reach the depth
check rather than stopping at the URL length; the default URL limit is tested apart.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from rsarchive.testing.server import free_port

pytestmark = [pytest.mark.services]

DB_WORDS = ("InvalidTextRepresentation", "invalid input syntax", "double precision", "asyncpg", "psycopg",
            "pgstac", "Traceback", "syntax error at or near", "stack depth", "SQLSTATE")


@dataclass
class Server:
    url: str
    process: subprocess.Popen

    @property
    def stac(self) -> str:
        return self.url + "/stac/"

    def assert_alive(self) -> None:
        assert self.process.poll() is None, f"the server process ended (exit {self.process.returncode})"
        response = httpx.get(self.stac, timeout=10)
        assert response.status_code == 200, response.text


def _start(loaded, tmp: Path, **settings: object) -> Server:
    port = free_port()
    env = dict(os.environ, RSARCHIVE_INTERNAL_DSN=loaded.settings.internal_database_dsn,
               RSARCHIVE_PUBLIC_DSN=loaded.settings.public_database_dsn,
               RSARCHIVE_ARCHIVE_ROOT=str(loaded.settings.archive_root),
               RSARCHIVE_SECRETS_FILE=str(loaded.settings.secrets_path))
    env.update({f"RSARCHIVE_{k.upper()}": str(v) for k, v in settings.items()})
    log = (tmp / f"serve-{port}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "rsarchive", "serve", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/stac/", timeout=2).status_code == 200:
                return Server(url, process)
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"rsarchive serve did not start: {(tmp / f'serve-{port}.log').read_text()[-2000:]}")
        time.sleep(0.3)


def _stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="module")
def server(loaded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = _start(loaded, tmp_path_factory.mktemp("hostile"), api_max_url_bytes=65536)
    try:
        yield srv
    finally:
        _stop(srv)


def _refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert body["code"] == "RequestLimitExceeded", body
    for word in words:
        assert word in body["description"], (word, body["description"])
    assert not any(w.lower() in response.text.lower() for w in DB_WORDS), response.text


def _nested_json_filter(levels: int) -> dict:
    node: dict = {"op": "=", "args": [{"property": "eo:cloud_cover"}, 1]}
    for _ in range(levels):
        node = {"op": "not", "args": [node]}
    return node


CQL2_TEXT = {
    "parentheses": "(" * 5000 + "eo:cloud_cover = 1" + ")" * 5000,
    "not-chain": "NOT " * 5000 + "eo:cloud_cover = 1",
    "unary-minus": "eo:cloud_cover = " + "-" * 5000 + "1",
    "function-calls": "f(" * 5000 + "1" + ")" * 5000 + " = 1",
}


@pytest.mark.parametrize("kind", sorted(CQL2_TEXT))
def test_deep_cql2_text_is_refused_and_the_server_lives(server, kind) -> None:
    response = httpx.get(server.stac + "search", params={"filter": CQL2_TEXT[kind]}, timeout=30)
    _refused(response, 400, "filter", "api_max_filter_depth")
    server.assert_alive()


def test_deep_cql2_text_on_collections_and_items_too(server) -> None:
    for path in ("collections", "collections/vnredsat1-product/items"):
        response = httpx.get(server.stac + path, params={"filter": CQL2_TEXT["parentheses"]}, timeout=30)
        _refused(response, 400, "filter")
    server.assert_alive()


def test_filter_nesting_just_inside_the_limit_is_answered(server) -> None:
    text = "(" * 20 + "eo:cloud_cover >= 0" + ")" * 20
    response = httpx.get(server.stac + "search", params={"filter": text, "limit": 1}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["features"]


def test_long_cql2_text_is_refused(server) -> None:
    text = " AND ".join(["eo:cloud_cover >= 0"] * 3000)  # ~66 KB: a flat chain that overflows the parser at ~20 000
    response = httpx.post(server.stac + "search", json={"filter": text, "filter-lang": "cql2-text"}, timeout=30)
    _refused(response, 400, "filter", "api_max_filter_bytes")
    server.assert_alive()


def test_deep_cql2_json_is_refused(server) -> None:
    response = httpx.post(server.stac + "search", json={"filter": _nested_json_filter(300)}, timeout=30)
    _refused(response, 400, "api_max_json_depth")
    response = httpx.get(server.stac + "search", params={"filter-lang": "cql2-json",
                                                         "filter": json.dumps(_nested_json_filter(300))}, timeout=30)
    _refused(response, 400, "filter", "api_max_json_depth")
    server.assert_alive()


def test_deep_json_body_is_refused(server) -> None:
    for path in ("stac/search", "api/requests", "internal/stac/search"):
        response = httpx.post(f"{server.url}/{path}", content=b"[" * 200_000 + b"]" * 200_000,
                              headers={"content-type": "application/json"}, timeout=30)
        _refused(response, 400, "body", "api_max_json_depth")
    server.assert_alive()


def _raw_post(server: Server, head: bytes, body_parts: list[bytes]) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        try:
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    return answer


def test_large_body_is_413(server) -> None:
    declared = (b"POST /stac/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 50000000\r\nConnection: close\r\n\r\n")
    answer = _raw_post(server, declared, [b"{" + b" " * 65536])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"api_max_body_bytes" in answer
    chunked = (b"POST /stac/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    chunk = b" " * 262_144
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 8 + [b"0\r\n\r\n"]
    answer = _raw_post(server, chunked, parts)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    server.assert_alive()


def test_long_url_is_414_at_the_default_limit(loaded, tmp_path) -> None:
    srv = _start(loaded, tmp_path)
    try:
        response = httpx.get(srv.stac + "search", params={"ids": "x" * 9000}, timeout=30)
        _refused(response, 414, "URL", "8192", "api_max_url_bytes")
        srv.assert_alive()
    finally:
        _stop(srv)


def _polygon(vertices: int) -> dict:
    import math

    ring = [[105 + math.cos(2 * math.pi * i / vertices), 16 + math.sin(2 * math.pi * i / vertices)]
            for i in range(vertices)]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def test_intersects_vertex_count(server) -> None:
    response = httpx.post(server.stac + "search", json={"intersects": _polygon(20_000)}, timeout=30)
    _refused(response, 400, "intersects", "10000", "api_max_geometry_vertices")
    response = httpx.get(server.stac + "search", params={"intersects": json.dumps(_polygon(300))}, timeout=30)
    assert response.status_code == 200, response.text  # under the limit (and the URL limit of this server)
    wkt = "S_INTERSECTS(geometry, POLYGON((" + ", ".join(f"{x} {y}" for x, y in _polygon(12_000)["coordinates"][0]) + ")))"
    response = httpx.post(server.stac + "search", json={"filter": wkt, "filter-lang": "cql2-text"}, timeout=30)
    assert response.status_code == 400
    assert "api_max_filter_bytes" in response.text or "api_max_geometry_vertices" in response.text
    server.assert_alive()


def test_list_lengths(server) -> None:
    fields = ",".join(f"properties.p{i}" for i in range(100))
    _refused(httpx.get(server.stac + "search", params={"fields": fields}, timeout=30), 400, "fields",
             "api_max_list_entries")
    sortby = ",".join(f"+properties.p{i}" for i in range(100))
    _refused(httpx.get(server.stac + "search", params={"sortby": sortby}, timeout=30), 400, "sortby")
    _refused(httpx.post(server.stac + "search", json={"ids": [f"i{i}" for i in range(2000)]}, timeout=30), 400,
             "ids", "api_max_ids")
    _refused(httpx.post(server.stac + "search", json={"fields": {"include": [f"p{i}" for i in range(100)]}},
                        timeout=30), 400, "fields")
    server.assert_alive()


def test_limit_above_the_maximum_is_lowered(server) -> None:
    response = httpx.get(server.stac + "search", params={"limit": 1_000_000}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["numberReturned"] == len(body["features"]) <= 1000
    response = httpx.post(server.stac + "search", json={"limit": 50_000}, timeout=30)
    assert response.status_code == 200, response.text


BAD_TYPES = [
    {"filter": "eo:cloud_cover = 'abc'"},
    {"filter": "datetime > TIMESTAMP('2020-01-01T00:00:00Z') AND eo:cloud_cover = 'x'"},
    {"filter": "eo:cloud_cover LIKE 5"},
]


@pytest.mark.parametrize("params", BAD_TYPES, ids=[p["filter"] for p in BAD_TYPES])
def test_database_errors_answer_in_our_words(server, params) -> None:
    response = httpx.get(server.stac + "search", params=params, timeout=30)
    assert response.status_code == 400, response.text[:300]
    assert not any(w.lower() in response.text.lower() for w in DB_WORDS), response.text
    assert response.json()["code"] == "InvalidParameter"
    assert response.json()["description"].startswith("filter:"), response.text
    server.assert_alive()


def test_database_error_of_a_post_body_names_its_parameter(server) -> None:
    response = httpx.post(server.stac + "search", json={"filter": {"op": "=", "args": [
        {"property": "eo:cloud_cover"}, "not a number"]}}, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["description"].startswith("filter:"), response.text
    assert "not a number" not in response.text and "double precision" not in response.text


def test_every_answer_has_a_request_id(server) -> None:
    ids = {httpx.get(server.stac, timeout=10).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3
    response = httpx.get(server.stac + "search", params={"filter": CQL2_TEXT["parentheses"]}, timeout=30)
    assert response.headers["x-request-id"]


def test_statement_timeout_is_a_503_and_the_pool_recovers(loaded, tmp_path) -> None:
    """A search held up past ``api_statement_timeout_ms`` (here by a lock another session
    holds on the items table) is cancelled by PostgreSQL and answered 503 with
    Retry-After; once the lock is gone every connection of the pool answers again."""
    srv = _start(loaded, tmp_path, api_statement_timeout_ms=700)
    try:
        with psycopg.connect(loaded.settings.public_database_dsn) as locker:
            locker.execute("LOCK TABLE pgstac.items IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            response = httpx.get(srv.stac + "search", params={"limit": 1}, timeout=30)
            waited = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert response.headers.get("retry-after")
            body = response.json()
            assert "0.7 s" in body["description"] and body["request_id"] == response.headers["x-request-id"]
            assert not any(w.lower() in response.text.lower() for w in DB_WORDS), response.text
            assert waited < 10
            locker.rollback()
        for _ in range(25):  # more than the pool's 10 connections
            response = httpx.get(srv.stac + "search", params={"limit": 1}, timeout=30)
            assert response.status_code == 200, response.text
        log = next(tmp_path.glob("serve-*.log")).read_text()
        assert body["request_id"] in log, "the server log has the request id of the 503"
    finally:
        _stop(srv)


def test_nul_characters_are_refused_at_the_edge(server) -> None:
    for response in (httpx.get(server.stac + "collections/vnredsat1-product/items/%00", timeout=30),
                     httpx.get(server.stac + "search", params={"ids": "a\x00b"}, timeout=30),
                     httpx.post(server.stac + "search", json={"ids": ["a\u0000"]}, timeout=30)):
        assert response.status_code == 400, response.text
        assert "U+0000" in response.json()["description"]
        assert not any(w.lower() in response.text.lower() for w in DB_WORDS), response.text
    server.assert_alive()


def test_requests_api_runs_under_the_same_query_budget(loaded, tmp_path) -> None:
    """The requests API's connections (psycopg) carry the statement timeout too: a listing
    held up by a lock is a generic 503 with Retry-After, and the next one answers."""
    from rsarchive.db import transaction
    from rsarchive.users import identity

    with transaction(loaded.settings) as conn:
        token = identity.add_user(conn, "budget-requester", "requester", "Sở Tài nguyên Hà Nội")
    srv = _start(loaded, tmp_path, api_statement_timeout_ms=700)
    try:
        with psycopg.connect(loaded.settings.internal_database_dsn) as locker:
            locker.execute("LOCK TABLE rsarchive.data_requests IN ACCESS EXCLUSIVE MODE")
            response = httpx.get(srv.url + "/api/requests", headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert response.status_code == 503, response.text
            assert response.headers.get("retry-after")
            assert response.json()["request_id"] == response.headers["x-request-id"]
            assert not any(w.lower() in response.text.lower() for w in DB_WORDS + ("127.0.0.1", "postgresql://"))
            locker.rollback()
        response = httpx.get(srv.url + "/api/requests", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 200, response.text
    finally:
        _stop(srv)
