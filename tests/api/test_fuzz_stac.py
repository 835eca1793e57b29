"""Fuzzing both STAC APIs from their own OpenAPI documents (schemathesis), against the
running server of the package (``loaded``: public, secret and unmarked items).

Every operation of the public API (``/stac/api``) and of the internal API
(``/internal/stac/api``, with the token of an officer cleared for 'unclassified') gets
generated requests: schemathesis' own (valid and invalid values of every parameter and
body field), steered half of the time towards what reaches the database — real
collection and item ids (secret and unmarked ones too), CQL2 filters in text and JSON
over the real queryables with literals of every type, sort keys, fields, paging tokens,
odd bboxes, datetimes and geometries.  Each answer must pass

* ``not_a_server_error``: no 5xx, ever;
* ``response_schema_conformance``: a documented answer (200) matches the schema the
  operation declares — except when the request asks for ``fields``: the fields extension
  returns partial Items and Collections by design, which the declared ``Item``,
  ``ItemCollection`` and ``Collection`` schemas (every field required) cannot describe.
  (Refusals are 400/404, which stac-fastapi does not declare — it declares FastAPI's 422 —
  so schemathesis checks their bodies against nothing; ``status_code_conformance`` is not
  run for that reason.)
* no database, driver or library text (:func:`rsarchive.testing.hygiene.library_text`);
* no withheld item: no feature of an answer is a secret or unmarked item (neither API
  shows them to this caller).

Every answer also joins a corpus, and :func:`test_corpus_has_no_library_text` asserts over
all of it once every operation has run (and that the corpus holds every operation of both
APIs, with successes and refusals).  A failing operation lists each distinct failure with
a ``curl`` line to reproduce it.

Bounded for CI: ``RSARCHIVE_FUZZ_EXAMPLES`` examples per operation (default 8; the search
operations get three times as many), derandomized.  A long run::

    RSARCHIVE_FUZZ_EXAMPLES=400 RSARCHIVE_FUZZ_RANDOM=1 RSARCHIVE_FUZZ_REPORT=/tmp/fuzz.md \\
        pytest -q -p no:cacheprovider tests/api/test_fuzz_stac.py

(``RSARCHIVE_FUZZ_RANDOM=1``: a new random seed each run; ``RSARCHIVE_FUZZ_REPORT``: a summary
of the answers per operation and status, and every distinct failure, written there.)
"""

from __future__ import annotations

import json
import os
import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks as stchecks

from rsarchive.db import transaction
from rsarchive.testing.hygiene import library_text, sent_strings
from rsarchive.users import identity

from .conftest import LoadedCatalog

pytestmark = [pytest.mark.services, pytest.mark.slow]

EXAMPLES = int(os.environ.get("RSARCHIVE_FUZZ_EXAMPLES", "8"))
RANDOM = os.environ.get("RSARCHIVE_FUZZ_RANDOM") == "1"
REPORT = os.environ.get("RSARCHIVE_FUZZ_REPORT")
SEARCHES = {"GET /search", "POST /search", "GET /collections", "GET /collections/{collection_id}/items",
            "GET /collections/{collection_id}/items/{item_id}"}
APIS = {"public": "/stac", "internal": "/internal/stac"}
PRODUCTS = "vnredsat1-product"

# -- what the requests are steered towards -------------------------------------------------

PROPERTIES = ["eo:cloud_cover", "gsd", "instruments", "platform", "view:off_nadir", "view:sun_elevation",
              "sat:absolute_orbit", "sat:orbit_state", "processing:level", "rsarchive:form",
              "rsarchive:security_classification", "rsarchive:scene_id", "datetime", "start_datetime", "created",
              "id", "collection", "geometry", "no:such_property", "properties.eo:cloud_cover", 'a"b', "x'y"]
_text = st.text(max_size=12)
_number = st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False), st.just(0))
_instant = st.one_of(st.sampled_from(["2020-01-01T00:00:00Z", "2033-06-20T00:00:00Z", "1900-01-01", "9999-12-31T23:59:59Z",
                                      "2020-13-45T25:61:61Z", "0000-00-00", "..", "", "now", "2020-01-01T00:00:00+25:00"]),
                     _text)
_lon, _lat = st.floats(-200, 200, allow_nan=False), st.floats(-100, 100, allow_nan=False)


def _ring(lon: float, lat: float, size: float, vertices: int) -> list[list[float]]:
    import math

    ring = [[lon + size * math.cos(2 * math.pi * i / vertices), lat + size * math.sin(2 * math.pi * i / vertices)]
            for i in range(vertices)]
    return ring + [ring[0]]


GEOMETRY = st.one_of(
    st.builds(lambda x, y: {"type": "Point", "coordinates": [x, y]}, _lon, _lat),
    st.builds(lambda x, y, s, n: {"type": "Polygon", "coordinates": [_ring(x, y, s, n)]},
              _lon, _lat, st.floats(0, 50), st.integers(3, 300)),
    st.just({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),  # self-intersecting
    st.just({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}),  # too few positions
    st.just({"type": "LineString", "coordinates": [[105, 21], [106, 22]]}),
    st.just({"type": "GeometryCollection", "geometries": []}),
    st.just({"type": "Polygon", "coordinates": []}),
    st.builds(lambda t: {"type": t, "coordinates": "x"}, st.sampled_from(["Point", "Polygon", "Nope"])),
)
_wkt = st.one_of(
    st.builds(lambda x, y: f"POINT({x} {y})", _lon, _lat),
    st.just("POLYGON((105 20, 106 20, 106 21, 105 21, 105 20))"),
    st.just("POLYGON((0 0, 1 1))"),
    st.builds(lambda *v: "BBOX({},{},{},{})".format(*v), _lon, _lat, _lon, _lat),
    st.just("POINT(1)"),
)


def _quoted(text: str, escape: bool) -> str:
    return "'" + (text.replace("'", "''") if escape else text) + "'"


TEXT_LITERAL = st.one_of(
    _number.map(str), st.builds(_quoted, _text, st.booleans()),
    st.sampled_from(["TRUE", "FALSE", "NULL", "''", "'%'", "'\\'"]),
    _instant.map(lambda t: f"TIMESTAMP('{t}')"), _instant.map(lambda t: f"DATE('{t}')"),
    st.builds(lambda a, b: f"INTERVAL('{a}','{b}')", _instant, _instant), _wkt,
)


def _identifier(name: str) -> str:
    """A property in CQL2 text: bare when it is a plain identifier, else double-quoted."""
    return name if name.replace(":", "").replace("_", "").replace(".", "").isalnum() else f'"{name}"'


_prop_text = st.sampled_from(PROPERTIES).map(_identifier)


def _text_predicates() -> st.SearchStrategy[str]:
    lit = TEXT_LITERAL
    return st.one_of(
        st.builds(lambda p, o, v: f"{p} {o} {v}", _prop_text, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), lit),
        st.builds(lambda p, n, v: f"{p} {n}LIKE {v}", _prop_text, st.sampled_from(["", "NOT "]), lit),
        st.builds(lambda p, vs: f"{p} IN ({', '.join(vs)})", _prop_text, st.lists(lit, max_size=4)),
        st.builds(lambda p, a, b: f"{p} BETWEEN {a} AND {b}", _prop_text, lit, lit),
        st.builds(lambda p, n: f"{p} IS {n}NULL", _prop_text, st.sampled_from(["", "NOT "])),
        st.builds(lambda f, p, g: f"{f}({p}, {g})", st.sampled_from(["S_INTERSECTS", "S_WITHIN", "S_CONTAINS", "S_EQUALS"]),
                  _prop_text, _wkt),
        st.builds(lambda f, p, v: f"{f}({p}, {v})", st.sampled_from(["T_INTERSECTS", "T_BEFORE", "T_AFTER", "T_DURING"]),
                  _prop_text, lit),
        st.builds(lambda f, p, vs: f"{f}({p}, ({', '.join(vs)}))", st.sampled_from(["A_CONTAINS", "A_OVERLAPS", "A_EQUALS"]),
                  _prop_text, st.lists(lit, max_size=3)),
        st.builds(lambda f, p, v: f"{f}({p}) = {v}", st.sampled_from(["CASEI", "ACCENTI", "LOWER"]), _prop_text, lit),
        st.sampled_from(["TRUE", "FALSE", "1 = 1", "'a' = 'a'", "eo:cloud_cover", "(", "AND", ""]),
    )


CQL2_TEXT = st.recursive(
    _text_predicates(),
    lambda inner: st.one_of(st.builds(lambda a, o, b: f"({a}) {o} ({b})", inner, st.sampled_from(["AND", "OR"]), inner),
                            inner.map(lambda a: f"NOT ({a})")),
    max_leaves=4,
) | _text

_json_value = st.recursive(st.none() | st.booleans() | _number | _text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                           max_leaves=6)
JSON_LITERAL = st.one_of(
    _number, _text, st.booleans(), st.none(), _instant.map(lambda t: {"timestamp": t}), _instant.map(lambda t: {"date": t}),
    st.lists(_instant, min_size=0, max_size=3).map(lambda v: {"interval": v}), GEOMETRY, st.lists(_number | _text, max_size=3),
    st.sampled_from(PROPERTIES).map(lambda p: {"property": p}), _json_value,
)
_json_prop = st.sampled_from(PROPERTIES).map(lambda p: {"property": p})
_json_ops = ["=", "<>", "<", "<=", ">", ">=", "like", "in", "between", "isNull", "s_intersects", "s_within", "t_intersects",
             "t_before", "a_contains", "a_overlaps", "casei", "accenti", "no_such_op"]
CQL2_JSON = st.recursive(
    st.one_of(
        st.builds(lambda o, p, args: {"op": o, "args": [p, *args]}, st.sampled_from(_json_ops), _json_prop | JSON_LITERAL,
                  st.lists(JSON_LITERAL, max_size=2)),
        st.builds(lambda o, args: {"op": o, "args": args}, st.sampled_from(_json_ops), _json_value),
        st.booleans(),
    ),
    lambda inner: st.one_of(st.builds(lambda o, a: {"op": o, "args": a}, st.sampled_from(["and", "or"]),
                                      st.lists(inner, max_size=3)),
                            inner.map(lambda a: {"op": "not", "args": [a]})),
    max_leaves=5,
) | _json_value

SORT_TEXT = st.lists(st.builds(lambda s, p: s + p, st.sampled_from(["", "+", "-"]), st.sampled_from(PROPERTIES) | _text),
                     max_size=4).map(",".join)
FIELDS_TEXT = st.lists(st.builds(lambda s, p: s + p, st.sampled_from(["", "+", "-"]),
                                 st.sampled_from(["id", "properties", "properties.datetime", "assets", "geometry", "links",
                                                  "properties.eo:cloud_cover", "bbox"]) | _text), max_size=4).map(",".join)
BBOX_TEXT = st.lists(_number.map(str) | _text, min_size=0, max_size=7).map(",".join)
DATETIME_TEXT = st.one_of(_instant, st.builds(lambda a, b: f"{a}/{b}", _instant, _instant))
LIMIT = st.one_of(st.integers(-5, 10), st.sampled_from([0, 100, 1000, 10_000, 10**6, 10**12, 2**63, -2**63]))
TOKEN = st.builds(lambda d, v: f"{d}:{v}", st.sampled_from(["next", "prev", "nope", ""]), _text)


@dataclass
class Targets:
    """What the steered requests draw from: the catalog's real ids."""

    collections: list[str]
    public: list[str]         # ids of published unclassified products
    withheld: set[str]        # secret and unmarked product ids: never in an answer to this caller

    @property
    def items(self) -> list[str]:
        return self.public + sorted(self.withheld)

    def query(self, names: set[str]) -> st.SearchStrategy[dict[str, Any]]:
        ids = st.sampled_from(self.items)
        collections = st.lists(st.sampled_from(self.collections) | _text, max_size=3).map(",".join)
        choices = {
            "filter": CQL2_TEXT, "filter-lang": st.sampled_from(["cql2-text", "cql2-json", "cql-text", "x"]),
            "filter-crs": st.sampled_from(["http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326", "x"]),
            "sortby": SORT_TEXT, "fields": FIELDS_TEXT, "collections": collections,
            "ids": st.lists(ids | _text, max_size=4).map(",".join), "bbox": BBOX_TEXT, "datetime": DATETIME_TEXT,
            "limit": LIMIT.map(str), "offset": LIMIT.map(str), "token": TOKEN | ids.map(lambda i: f"next:{i}"),
            "intersects": GEOMETRY.map(json.dumps) | _text, "q": st.lists(_text | st.sampled_from(
                ["ocean", "\"", "'", "&", "|", "!", ":*", "(", "))", "\\", "%"]), max_size=3).map(",".join),
            "query": st.dictionaries(st.sampled_from(PROPERTIES), st.dictionaries(
                st.sampled_from(["eq", "neq", "lt", "gte", "startsWith", "contains", "in", "nope"]), JSON_LITERAL,
                max_size=2), max_size=2).map(json.dumps) | _text,
        }
        return st.fixed_dictionaries({}, optional={k: v for k, v in choices.items() if k in names})

    def body(self) -> st.SearchStrategy[dict[str, Any]]:
        ids = st.sampled_from(self.items) | _text
        sort = st.lists(st.fixed_dictionaries({"field": st.sampled_from(PROPERTIES) | _text},
                                              optional={"direction": st.sampled_from(["asc", "desc", "up"])}), max_size=3)
        fields = st.fixed_dictionaries({}, optional={"include": st.lists(st.sampled_from(PROPERTIES) | _text, max_size=3),
                                                     "exclude": st.lists(st.sampled_from(PROPERTIES) | _text, max_size=3)})
        return st.fixed_dictionaries({}, optional={
            "filter": CQL2_JSON, "filter-lang": st.sampled_from(["cql2-json", "cql2-text", "x"]),
            "sortby": sort, "fields": fields, "collections": st.lists(st.sampled_from(self.collections) | _text, max_size=3),
            "ids": st.lists(ids, max_size=4), "limit": LIMIT, "token": TOKEN,
            "bbox": st.lists(_number, min_size=0, max_size=7), "datetime": DATETIME_TEXT, "intersects": GEOMETRY,
            "query": st.dictionaries(st.sampled_from(PROPERTIES), st.dictionaries(
                st.sampled_from(["eq", "neq", "lt", "gte", "startsWith", "contains", "in", "nope"]), JSON_LITERAL,
                max_size=2), max_size=2),
        })

    def steer(self, schema: Any) -> Any:
        """Register schema-local hooks: half of the generated values are replaced by these."""
        targets = self

        @schema.hook("flatmap_path_parameters")
        def _paths(context: Any, path_parameters: dict[str, Any] | None) -> Any:
            params = dict(path_parameters or {})
            real = {"collection_id": st.sampled_from(targets.collections), "item_id": st.sampled_from(targets.items)}
            chosen = {k: st.one_of(st.just(v), real[k]) if k in real else st.just(v) for k, v in params.items()}
            if set(params) == {"collection_id", "item_id"}:  # an item where it is (the items are all products)
                public = st.sampled_from(targets.public).map(lambda i: {"collection_id": PRODUCTS, "item_id": i})
                withheld = st.sampled_from(sorted(targets.withheld)).map(lambda i: {"collection_id": PRODUCTS, "item_id": i})
                return st.one_of(st.fixed_dictionaries(chosen), public, withheld)
            return st.fixed_dictionaries(chosen)

        @schema.hook("flatmap_query")
        def _query(context: Any, query: dict[str, Any] | None) -> Any:
            names = {p["name"] for p in context.operation.definition.raw.get("parameters", []) if p.get("in") == "query"}
            generated = dict(query or {})
            return st.one_of(st.just(generated), targets.query(names).map(lambda extra: {**generated, **extra}))

        @schema.hook("flatmap_body")
        def _body(context: Any, body: Any) -> Any:
            if not isinstance(body, dict):
                return st.just(body)
            return st.one_of(st.just(body), targets.body().map(lambda extra: {**body, **extra}))

        return schema


# -- the fuzz -------------------------------------------------------------------------------


@dataclass
class Answer:
    api: str
    label: str
    status: int
    request: str              # a curl line
    text: str
    sent: set[str] = field(default_factory=set)


CORPUS: list[Answer] = []
FAILURES: dict[tuple[str, str, str], str] = {}


def _labels() -> list[tuple[str, str]]:
    """(api, operation label) of both STAC APIs, from the app's schema (building the app
    connects to nothing)."""
    from rsarchive.api import create_app
    from rsarchive.settings import load_settings

    app = create_app(load_settings())
    out = []
    for api, stac in (("public", app.state.public_api), ("internal", app.state.internal_api)):
        spec = stac.app.openapi()
        out += [(api, f"{method.upper()} {path}") for path, ops in spec["paths"].items() for method in ops]
    return out


@pytest.fixture(scope="module")
def officer_token(loaded: LoadedCatalog) -> str:
    with transaction(loaded.settings) as conn:
        return identity.add_user(conn, "officer-fuzz", "officer", "Trung tâm Viễn thám Quốc gia", "unclassified")


@pytest.fixture(scope="module")
def targets(loaded: LoadedCatalog) -> Targets:
    collections = [c["id"] for c in httpx.get(loaded.public_url + "collections", timeout=30).json()["collections"]]
    assert collections
    withheld = set(loaded.secret_ids) | set(loaded.unmarked_ids)
    return Targets(collections, loaded.public_ids[:5], withheld)


@pytest.fixture(scope="module")
def schemas(loaded: LoadedCatalog, officer_token: str, targets: Targets) -> dict[str, Any]:
    out = {}
    for api, prefix in APIS.items():
        schema = schemathesis.openapi.from_url(loaded.base_url + prefix + "/api", headers=_headers(api, officer_token),
                                               timeout=30)
        schema.config.output.sanitization.enabled = False  # keep the paging ``token`` in reproductions
        out[api] = targets.steer(schema)
    return out


def _headers(api: str, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if api == "internal" else {}


def _curl(api: str, command: str) -> str:
    """A curl line with the officer's token as a shell variable (not the test's token)."""
    return command.replace("curl ", "curl -H \"Authorization: Bearer $TOKEN\" ", 1) if api == "internal" else command


def _withheld_in(text: str, withheld: set[str]) -> list[str]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    features = data.get("features") if isinstance(data.get("features"), list) else [data]
    return sorted({f.get("id") for f in features if isinstance(f, dict) and f.get("id") in withheld})


def _problems(answer: Answer, withheld: set[str]) -> list[str]:
    problems = []
    if answer.status >= 500:
        problems.append(f"server error {answer.status}")
    leaked = library_text(answer.text, answer.sent)
    if leaked:
        problems.append(f"library text {leaked}")
    shown = _withheld_in(answer.text, withheld) if answer.status == 200 else []
    if shown:
        problems.append(f"withheld items {shown}")
    return problems


def _record(api: str, label: str, status: int, request: str, text: str, sent: set[str], withheld: set[str],
            failures: dict[str, str], extra: Sequence[str] = ()) -> None:
    answer = Answer(api, label, status, request, text, sent)
    CORPUS.append(answer)
    for problem in [*_problems(answer, withheld), *extra]:
        kind = problem.split("\n")[0][:160]
        key = (api, label, f"{status} {kind}")
        if key not in FAILURES:
            FAILURES[key] = f"{request}\n    -> {status} {text[:300]}\n    {problem[:600]}"
        failures.setdefault(f"{status} {kind}", FAILURES[key])


def _asks_fields(case: Any) -> bool:
    body = case.body if isinstance(case.body, dict) else {}
    return "fields" in (case.query or {}) or "fields" in body


@pytest.mark.parametrize(("api", "label"), _labels())
def test_operation(api: str, label: str, schemas: dict[str, Any], loaded: LoadedCatalog, officer_token: str,
                   targets: Targets) -> None:
    schema = schemas[api]
    operation = next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)
    headers = _headers(api, officer_token)
    base_url = loaded.base_url + APIS[api]
    failures: dict[str, str] = {}
    sent_count = [0]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES * (3 if label in SEARCHES else 1), deadline=None, derandomize=not RANDOM,
              database=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        sent_count[0] += 1
        checks = [stchecks.not_a_server_error]
        if not _asks_fields(case):
            checks.append(stchecks.response_schema_conformance)
        extra = []
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except BaseException as exc:  # schemathesis raises a FailureGroup (an exception group)
            extra.append(f"schemathesis: {str(exc).strip()[:800]}")
        sent = sent_strings([case.path_parameters, case.query, case.body])
        _record(api, label, response.status_code, _curl(api, case.as_curl_command(base_url=base_url)), response.text,
                sent, targets.withheld, failures, extra)

    run()
    assert sent_count[0] > 0
    assert not failures, f"{api} {label}: {len(failures)} distinct failure(s):\n" + "\n".join(
        f"- {k}\n  {v}" for k, v in failures.items())


# Requests that reached the database's own errors (or a 500) in earlier runs, kept as a
# fixed regression list for both APIs: (method, path, query, JSON body).
HARD: list[tuple[str, str, dict[str, str], Any]] = [
    ("POST", "/search", {}, {"foo": 123456789012345678901234567890}),
    ("POST", "/search", {}, {"query": {}}),
    ("POST", "/search", {}, {"datetime": "x", "query": {"eo:cloud_cover": {"lt": 5}}, "filter": {"op": "=", "args": [1, 1]}}),
    ("POST", "/search", {}, {"filter": {"op": "=", "args": [{"property": "eo:cloud_cover"}, "abc"]}}),
    ("POST", "/search", {}, {"filter": {"op": "and", "args": "x"}}),
    ("POST", "/search", {}, {"sortby": [{"field": "nope;drop", "direction": "asc"}]}),
    ("POST", "/search", {}, {"token": "next:nope"}),
    ("POST", "/search", {}, {"limit": 2**63}),
    ("POST", "/search", {}, {"intersects": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}),
    ("GET", "/search", {"query": ""}, None),
    ("GET", "/search", {"intersects": "x"}, None),
    ("GET", "/search", {"bbox": "x"}, None),
    ("GET", "/search", {"token": "next:zz"}, None),
    ("GET", "/search", {"filter": "eo:cloud_cover='abc'"}, None),
    ("GET", "/search", {"filter": "a ="}, None),
    ("GET", "/search", {"filter": "datetime = 'x'"}, None),
    ("GET", "/search", {"filter": "T_INTERSECTS(datetime, INTERVAL('2020-13-01','..'))"}, None),
    ("GET", "/search", {"filter": "eo:cloud_cover BETWEEN 'a' AND 2"}, None),
    ("GET", "/search", {"sortby": "-nope"}, None),
    ("GET", "/search", {"datetime": "99999-01-01T00:00:00Z"}, None),
    ("GET", "/search", {"datetime": "0001-01-01T00:00:00Z/0001-01-02T00:00:00Z"}, None),
    ("GET", "/search", {"limit": str(10**12)}, None),
    ("GET", "/search", {"fields": "id,,properties"}, None),
    ("GET", "/collections", {"fields": ","}, None),
    ("GET", "/collections", {"fields": "-id,+assets"}, None),
    ("GET", "/collections/vnredsat1-product/items", {"fields": ","}, None),
    ("GET", "/collections", {"offset": "-1"}, None),
    ("GET", "/collections", {"q": "\x1dv+\U0001cacb"}, None),
    ("GET", "/collections", {"q": "\"&|!:*"}, None),
    ("GET", "/collections", {"query": "x"}, None),
    ("GET", "/collections", {"datetime": ""}, None),
    ("GET", "/collections", {"datetime": "x"}, None),
    ("GET", "/collections/vnredsat1-product/items", {"query": "x"}, None),
    ("GET", "/collections/vnredsat1-product/items", {"filter": "\"rsarchive:security_classification\" = 'secret'"}, None),
    ("GET", "/collections/vnredsat1-product/items/%00", {}, None),
    ("GET", "/nope", {}, None),
    ("GET", "/_mgmt/health", {}, None),
]


@pytest.mark.parametrize("api", sorted(APIS))
def test_hard_requests(api: str, loaded: LoadedCatalog, officer_token: str, targets: Targets) -> None:
    headers = _headers(api, officer_token)
    failures: dict[str, str] = {}
    with httpx.Client(base_url=loaded.base_url + APIS[api], headers=headers, timeout=60) as client:
        for method, path, params, body in HARD:
            content = json.dumps(body) if body is not None else None  # json.dumps writes big integers as they are
            response = client.request(method, path, params=params, content=content,
                                      headers={"Content-Type": "application/json"} if content else {})
            request = _curl(api, " ".join(["curl", "-X", method, *(["-d", shlex.quote(content)] if content else []),
                                           shlex.quote(str(response.request.url))]))
            _record(api, f"{method} {path}", response.status_code, request, response.text,
                    sent_strings([params, body, path]), targets.withheld, failures)
    assert not failures, f"{api}: {len(failures)} distinct failure(s):\n" + "\n".join(
        f"- {k}\n  {v}" for k, v in failures.items())


def test_corpus_has_no_library_text(targets: Targets) -> None:
    """Over every answer of the run: no 5xx, no library text, no withheld item; and the
    corpus covers every operation of both APIs, with successes and refusals."""
    if not CORPUS:
        pytest.skip("run with the fuzz tests of this module (the corpus is theirs)")
    wanted = set(_labels())
    covered = {(a.api, a.label) for a in CORPUS}
    statuses = Counter((a.api, a.label, a.status) for a in CORPUS)
    _write_report(statuses)
    bad = [(a, p) for a in CORPUS for p in _problems(a, targets.withheld)]
    assert not bad, f"{len(bad)} of {len(CORPUS)} answers fail; first ones:\n" + "\n".join(
        f"- {a.api} {a.status} {p}: {a.request[:300]} -> {a.text[:200]}" for a, p in bad[:15])
    assert wanted <= covered, sorted(wanted - covered)
    for api in APIS:
        assert any(a.api == api and a.status == 200 and '"features"' in a.text and '"id"' in a.text for a in CORPUS)
        assert any(a.api == api and 400 <= a.status < 500 for a in CORPUS)


def _write_report(statuses: Counter[tuple[str, str, int]]) -> None:
    if not REPORT:
        return
    lines = [f"# STAC API fuzz: {len(CORPUS)} answers, {EXAMPLES} examples per operation "
             f"({'random' if RANDOM else 'derandomized'})", "", "## Answers per operation and status", ""]
    for (api, label, status), n in sorted(statuses.items()):
        lines.append(f"- {api} {label} {status}: {n}")
    lines += ["", f"## Distinct failures ({len(FAILURES)})", ""]
    for (api, label, kind), text in sorted(FAILURES.items()):
        lines += [f"### {api} {label}: {kind}", "", "    " + text.replace("\n", "\n    "), ""]
    Path(REPORT).write_text("\n".join(lines), encoding="utf-8")
