"""The internal STAC API honours the caller's clearance on every item read, and a revoked
token fails on the very next request.

The package's catalog holds 72 unclassified items, 8 SECRET ones (in the Paracel box)
and 2 with no usable classification (none; "Unclassified " with a space).  An officer
cleared for 'unclassified' must never learn of the secret ones by any route: search
(GET and POST, with or without filter/query, numberMatched), item lists, single items
(404 exactly like a missing id), collections' extents and collection search.  One
cleared for 'secret' sees them; the unmarked items count as above every clearance but
the highest (fail closed), which alone gets the stored collection extents.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from rsarchive.cli.main import cli
from rsarchive.db import connect, transaction
from rsarchive.users import identity
from rsarchive.users.tokens import create_token

from .conftest import SECRET_BOX, LoadedCatalog

PRODUCTS = "vnredsat1-product"
IS_SECRET = {"op": "=", "args": [{"property": "rsarchive:security_classification"}, "secret"]}


def secret_period(loaded: LoadedCatalog) -> str:
    """A datetime interval that holds every secret item and no public one."""
    days = sorted(i["properties"]["datetime"][:10] for i in loaded.secret_items)
    return f"{days[0]}T00:00:00Z/{days[-1]}T23:59:59Z"


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
    for params in ({"ids": ids}, {"bbox": box}, {"datetime": secret_period(loaded)},
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
    assert response.status_code == 401 and "revoked" in response.json()["description_en"]
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


def _extent(api: Internal, collection: str) -> dict[str, Any]:
    response = api.get(f"collections/{collection}")
    assert response.status_code == 200, response.text
    return response.json()["extent"]


def _listed_extents(api: Internal, **params: Any) -> dict[str, dict[str, Any]]:
    """Every collection's extent (one page of up to 100: more collections than the default page of 10)."""
    response = api.get("collections", **{"limit": 100, **params})
    assert response.status_code == 200, response.text
    return {c["id"]: c["extent"] for c in response.json()["collections"]}


def _when(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _same_extent(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal bbox (to 1e-9°) and equal instants (however the offset is spelled)."""
    boxes_a, boxes_b = a["spatial"]["bbox"], b["spatial"]["bbox"]
    return (len(boxes_a) == len(boxes_b)
            and all(x == pytest.approx(y, abs=1e-9) for p, q in zip(boxes_a, boxes_b) for x, y in zip(p, q))
            and [[_when(t) for t in i] for i in a["temporal"]["interval"]]
            == [[_when(t) for t in i] for i in b["temporal"]["interval"]])


def _stored_extents(loaded: LoadedCatalog) -> dict[str, dict[str, Any]]:
    with connect(loaded.settings.internal_database_dsn) as conn:
        return {cid: content for cid, content in conn.execute("SELECT id, content->'extent' FROM pgstac.collections")}


def test_collection_extents_follow_the_clearance(loaded: LoadedCatalog, officers: dict[str, str]) -> None:
    """The stored extent of the internal product collection covers the secret items (the
    loader computes it from every item); an officer below 'secret' gets the extent of the
    items they may see — here exactly the public API's (same items) — in the list, the
    single collection and collection search, and no search by area or date finds the
    collection through a hidden item."""
    stored = _stored_extents(loaded)
    last_secret = max(i["properties"]["datetime"] for i in loaded.secret_items)
    year = last_secret[:5]
    assert stored[PRODUCTS]["spatial"]["bbox"][0][2] > SECRET_BOX[0]  # the premise: the stored one leaks
    assert _when(stored[PRODUCTS]["temporal"]["interval"][0][1]) == _when(last_secret)
    listing = httpx.get(loaded.public_url + "collections", timeout=30).json()["collections"]
    public = {c["id"]: c["extent"] for c in listing}
    assert all(_when(e["temporal"]["interval"][0][1]) < _when(last_secret) for e in public.values()
               if e["temporal"]["interval"][0][1])
    box = ",".join(map(str, SECRET_BOX))
    period = secret_period(loaded)
    x0, y0, x1, y1 = SECRET_BOX
    polygon = f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"

    for who in ("unclassified", "confidential", "legacy"):
        api = Internal(loaded, officers[who])
        listed, single = _listed_extents(api), _extent(api, PRODUCTS)
        for extent in (listed[PRODUCTS], single):
            [[xmin, ymin, xmax, ymax]] = extent["spatial"]["bbox"]
            assert xmax < SECRET_BOX[0] and extent["temporal"]["interval"][0][1] < year, who
            assert _same_extent(extent, public[PRODUCTS]), (who, extent, public[PRODUCTS])
        for cid in ("vnredsat1-raw", "vnredsat1-level0"):
            assert _same_extent(listed[cid], public[cid]) and _same_extent(_extent(api, cid), public[cid]), (who, cid)
        assert year not in api.get("collections").text and year not in api.get(f"collections/{PRODUCTS}").text
        # collection search is evaluated on the visible extents: the same answer as the
        # public API's over the same items (foreign-original, without items, keeps its
        # world-wide default extent and matches everywhere)
        for params in ({"bbox": box}, {"datetime": period}, {"bbox": box, "datetime": period},
                       {"filter": f"S_INTERSECTS(geometry, {polygon})"}, {"sortby": "-datetime"},
                       {"limit": 2, "offset": 1}, {"q": "product"}, {"fields": "id,extent", "sortby": "title"}):
            response = api.get("collections", **params)
            assert response.status_code == 200, response.text
            found = [c["id"] for c in response.json()["collections"]]
            expected = httpx.get(loaded.public_url + "collections", params=params, timeout=30).json()
            assert found == [c["id"] for c in expected["collections"]], (who, params)
            assert response.json()["numberMatched"] == expected["numberMatched"], (who, params)
            assert response.json()["numberReturned"] == len(found), (who, params)
            if "bbox" in params or "datetime" in params or "filter" in params:
                assert PRODUCTS not in found and "vnredsat1-raw" not in found, (who, params)
        assert PRODUCTS in _listed_extents(api, bbox="105,15,106,16")  # an area with visible products
        paged = api.get("collections", limit=1, offset=1).json()
        assert paged["numberMatched"] == len(listed) and paged["numberReturned"] == 1
        assert {link["rel"] for link in paged["links"]} >= {"next", "previous"}

    # 'secret' sees the secret items, so the collection reaches the Paracel box and their
    # dates (but not the later unmarked items, visible to 'top-secret' only)
    cleared = Internal(loaded, officers["secret"])
    for extent in (_listed_extents(cleared)[PRODUCTS], _extent(cleared, PRODUCTS)):
        assert extent["spatial"]["bbox"][0][2] >= 111.5
        assert _when(extent["temporal"]["interval"][0][1]) == _when(last_secret)
    assert PRODUCTS in _listed_extents(cleared, bbox=box, datetime=period)

    # the highest clearance gets the stored extents, unchanged
    top = Internal(loaded, officers["top-secret"])
    assert _listed_extents(top) == stored
    assert _extent(top, PRODUCTS) == stored[PRODUCTS]
    assert PRODUCTS in _listed_extents(top, bbox=box, datetime=period)


def test_extent_without_visible_items_is_the_definitions(loaded: LoadedCatalog) -> None:
    """A collection none of whose items a clearance may see shows its definition's default
    extent, never the stored one."""
    import asyncio

    import asyncpg

    from rsarchive.api.extents import visible_extents
    from rsarchive.catalog.collections import collection_definitions

    async def extents(allowed: list[str]) -> dict[str, dict[str, Any]]:
        conn = await asyncpg.connect(loaded.settings.internal_database_dsn)
        try:
            return await visible_extents(conn, allowed)
        finally:
            await conn.close()

    defaults = {cid: d["extent"] for cid, d in collection_definitions().items()}
    assert asyncio.run(extents(["no-such-classification"])) == defaults
    assert _stored_extents(loaded)[PRODUCTS] != defaults[PRODUCTS]
    secret_only = asyncio.run(extents(["secret"]))
    [[xmin, ymin, xmax, ymax]] = secret_only[PRODUCTS]["spatial"]["bbox"]
    assert SECRET_BOX[0] <= xmin and xmax <= SECRET_BOX[2] and SECRET_BOX[1] <= ymin and ymax <= SECRET_BOX[3]
    assert secret_only["vnredsat1-raw"] == defaults["vnredsat1-raw"]
