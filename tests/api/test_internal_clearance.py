"""The internal STAC API honours the caller's clearance on every item read, and a revoked
token fails on the very next request.

The package's catalog holds 72 unclassified items, 8 SECRET ones (in the Paracel box)
and 2 with no usable classification (none; "Unclassified " with a space).  An officer
cleared for 'unclassified' must never learn of the secret ones by any route: search
(GET and POST, with or without filter/query, numberMatched), item lists, single items
(404 exactly like a missing id).  One cleared for 'secret' sees them; the unmarked
items count as above every clearance but the highest (fail closed).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from rsarchive import identity
from rsarchive.api.auth import transaction
from rsarchive.api.tokens import create_token
from rsarchive.cli.main import cli

from .conftest import SECRET_BOX, LoadedCatalog

PRODUCTS = "vnredsat1-product"
IS_SECRET = {"op": "=", "args": [{"property": "rsarchive:security_classification"}, "secret"]}


@pytest.fixture(scope="module")
def officers(loaded: LoadedCatalog) -> dict[str, str]:
    """Tokens of officers with each clearance, plus a token made before roles existed."""
    tokens = {}
    with transaction(loaded.settings) as conn:
        for clearance in identity.CLEARANCES:
            tokens[clearance] = identity.add_user(conn, f"officer-{clearance}", "officer",
                                                  "Trung tâm Viễn thám Quốc gia", clearance)
    tokens["legacy"] = create_token(loaded.settings.internal_database_dsn, "clearance-legacy")
    return tokens


class Internal:
    def __init__(self, loaded: LoadedCatalog, token: str) -> None:
        self.base = loaded.base_url + "/internal/stac/"
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.base + path, params=params, headers=self.headers, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.base + path, json=body, headers=self.headers, timeout=30)

    def ids(self, response: httpx.Response) -> set[str]:
        assert response.status_code == 200, response.text
        return {f["id"] for f in response.json()["features"]}

    def all_ids(self, path: str, **params: Any) -> tuple[set[str], int | None]:
        """Every id of a paged listing (following next links) and the first page's numberMatched."""
        response = self.get(path, **params)
        matched = response.json().get("numberMatched")
        found: set[str] = set()
        while True:
            found |= self.ids(response)
            nxt = [link["href"] for link in response.json()["links"] if link["rel"] == "next"]
            if not nxt:
                return found, matched
            response = httpx.get(nxt[0], headers=self.headers, timeout=30)


def test_unclassified_officer_never_sees_a_secret_item(loaded: LoadedCatalog, officers: dict[str, str]) -> None:
    api = Internal(loaded, officers["unclassified"])
    secret = set(loaded.secret_ids)
    visible = set(loaded.public_ids)
    box = ",".join(map(str, SECRET_BOX))
    ids = ",".join(loaded.secret_ids)

    # GET /search: everything, by id, by area, by the classification itself (cql2-text), numberMatched
    everything, matched = api.all_ids("search", limit=25)
    assert everything == visible and matched == len(visible)
    for params in ({"ids": ids}, {"bbox": box}, {"datetime": "2031-01-01T00:00:00Z/2031-12-31T00:00:00Z"},
                   {"filter": "\"rsarchive:security_classification\" = 'secret'"},
                   {"filter": "\"rsarchive:security_classification\" <> 'unclassified'"},
                   {"query": json.dumps({"rsarchive:security_classification": {"eq": "secret"}})}):
        response = api.get("search", **params)
        assert api.ids(response) == set() and response.json()["numberMatched"] == 0, params
    # POST /search: the same with a body (filter, query, ids, intersects)
    for body in ({"ids": loaded.secret_ids}, {"bbox": list(SECRET_BOX)}, {"filter": IS_SECRET},
                 {"filter": {"op": "or", "args": [IS_SECRET, {"op": "=", "args": [{"property": "id"},
                                                                                 loaded.secret_ids[0]]}]}},
                 {"query": {"rsarchive:security_classification": {"in": ["secret", "unclassified"]}},
                  "bbox": list(SECRET_BOX)},
                 {"intersects": {"type": "Point", "coordinates": [111.5, 16.0]}, "limit": 100}):
        response = api.post("search", body)
        assert api.ids(response) == set() and response.json()["numberMatched"] == 0, body
    # a user filter that selects public items still works under the restriction
    cloudy = api.post("search", {"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]}, "limit": 200})
    assert api.ids(cloudy) and api.ids(cloudy) <= visible
    assert api.ids(api.get("search", limit=200, ids=",".join(loaded.public_ids[:3] + loaded.secret_ids[:3]))) \
        == set(loaded.public_ids[:3])

    # /collections/{c}/items: paged listing, area, filter
    listed, matched = api.all_ids(f"collections/{PRODUCTS}/items", limit=20)
    assert not listed & secret and matched == len(listed)
    assert listed == {i for i in visible if i.startswith("VNR1_PRODUCT")}
    for params in ({"bbox": box}, {"filter": "\"rsarchive:security_classification\" = 'secret'"}):
        response = api.get(f"collections/{PRODUCTS}/items", **params)
        assert api.ids(response) == set() and response.json()["numberMatched"] == 0

    # /collections/{c}/items/{id}: 404, answered exactly like an id that does not exist
    for item_id in loaded.secret_ids + loaded.unmarked_ids:
        hidden = api.get(f"collections/{PRODUCTS}/items/{item_id}")
        missing = api.get(f"collections/{PRODUCTS}/items/{item_id}X")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["description"].replace(item_id, "ID") == missing.json()["description"].replace(
            item_id + "X", "ID")
        assert hidden.headers.get("content-type") == missing.headers.get("content-type")
    assert api.get(f"collections/{PRODUCTS}/items/{loaded.public_ids[0]}").status_code == 200


def test_clearances_see_what_they_cover(loaded: LoadedCatalog, officers: dict[str, str]) -> None:
    secret, unmarked, visible = set(loaded.secret_ids), set(loaded.unmarked_ids), set(loaded.public_ids)
    expected = {"unclassified": visible, "confidential": visible, "secret": visible | secret,
                "top-secret": visible | secret | unmarked, "legacy": visible}
    for who, ids in expected.items():
        api = Internal(loaded, officers[who])
        found, matched = api.all_ids("search", limit=100)
        assert found == ids and matched == len(ids), who
        post = api.post("search", {"filter": IS_SECRET, "limit": 100})
        assert api.ids(post) == (ids & secret) and post.json()["numberMatched"] == len(ids & secret), who
        single = api.get(f"collections/{PRODUCTS}/items/{loaded.secret_ids[0]}")
        assert single.status_code == (200 if loaded.secret_ids[0] in ids else 404), who
    cleared = Internal(loaded, officers["secret"])
    item = cleared.get(f"collections/{PRODUCTS}/items/{loaded.secret_ids[0]}").json()
    assert item["properties"]["rsarchive:security_classification"] == "secret"
    assert cleared.ids(cleared.get(f"collections/{PRODUCTS}/items", bbox=",".join(map(str, SECRET_BOX)))) == secret
    query = {"query": {"rsarchive:security_classification": {"eq": "secret"}}, "limit": 100}
    assert cleared.ids(cleared.post("search", query)) == secret
    # the unmarked items: only the highest clearance
    top = Internal(loaded, officers["top-secret"])
    for item_id in loaded.unmarked_ids:
        assert top.get(f"collections/{PRODUCTS}/items/{item_id}").status_code == 200
        assert cleared.get(f"collections/{PRODUCTS}/items/{item_id}").status_code == 404


def test_identity_agrees_with_the_api() -> None:
    """The rule the API applies (a CQL2 ``in`` list) is the rule of Principal.may_see."""
    from rsarchive.api.query import clearance_filter

    values = [None, "", "none", "Unclassified ", "UNCLASSIFIED", "bogus", *identity.CLASSIFICATION_ALIASES]
    for clearance in identity.CLEARANCES:
        principal = identity.Principal(user_id=1, name="x", role="officer", clearance=clearance)
        restriction = clearance_filter(clearance)
        for value in values:
            in_filter = restriction is None or (isinstance(value, str) and value in restriction["args"][1])
            assert principal.may_see(value) == in_filter, (clearance, value)
    assert identity.classification_rank(None) == identity.CLEARANCES.index("top-secret")
    assert identity.classification_rank("bogus") == identity.CLEARANCES.index("top-secret")
    assert clearance_filter(None) == clearance_filter("unclassified")  # no clearance in the state: the lowest


def test_revoked_token_fails_on_the_next_request(loaded: LoadedCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    url = loaded.base_url + "/internal/stac/search"
    with transaction(loaded.settings) as conn:
        token = identity.add_user(conn, "officer-leaving", "officer", "Trung tâm Viễn thám Quốc gia", "secret")
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):  # used a few times (warm: nothing may keep it alive)
        assert httpx.get(url, headers=headers).status_code == 200
    monkeypatch.setenv("RSARCHIVE_INTERNAL_DSN", loaded.settings.internal_database_dsn)
    result = CliRunner().invoke(cli, ["users", "revoke", "officer-leaving"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    response = httpx.get(url, headers=headers)
    assert response.status_code == 401 and "revoked" in response.json()["description"]
    item = httpx.get(loaded.base_url + f"/internal/stac/collections/{PRODUCTS}/items/{loaded.secret_ids[0]}",
                     headers=headers)
    assert item.status_code == 401

    legacy = create_token(loaded.settings.internal_database_dsn, "clearance-legacy-revoked")
    assert httpx.get(url, headers={"Authorization": f"Bearer {legacy}"}).status_code == 200
    assert CliRunner().invoke(cli, ["tokens", "revoke", "clearance-legacy-revoked"]).exit_code == 0
    assert httpx.get(url, headers={"Authorization": f"Bearer {legacy}"}).status_code == 401


def test_requester_token_is_forbidden(loaded: LoadedCatalog) -> None:
    with transaction(loaded.settings) as conn:
        token = identity.add_user(conn, "requester-topsecret", "requester", "Bộ Quốc phòng", "top-secret")
    response = httpx.get(loaded.base_url + "/internal/stac/search", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
