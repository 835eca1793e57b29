"""stac-api-validator against the public API, offline (see rsarchive.testing.validator)."""

from __future__ import annotations

import json

import pytest

from rsarchive.testing.validator import run_stac_api_validator

CONFORMANCE = [
    "core", "collections", "features", "item-search", "filter",
    "item-search#sort", "item-search#fields", "item-search#query",
    "features#sort", "features#fields", "features#query",
]
VIETNAM = {"type": "Polygon", "coordinates": [[[102, 8], [110, 8], [110, 24], [102, 24], [102, 8]]]}


@pytest.mark.slow
def test_public_api_passes_stac_api_validator(loaded) -> None:
    report = run_stac_api_validator(
        loaded.public_url, CONFORMANCE, collection="vnredsat1-product", geometry=json.dumps(VIETNAM),
        validate_pagination=True, fields_nested_property="properties.eo:cloud_cover",
        query_config={
            "query_comparison_field": "eo:cloud_cover", "query_eq_value": "21", "query_neq_value": "21",
            "query_lt_value": "50", "query_lte_value": "49", "query_gt_value": "50", "query_gte_value": "51",
            "query_substring_field": "rsarchive:scene_id", "query_starts_with_value": "S0",
            "query_ends_with_value": "3", "query_contains_value": "0",
            # stac-api-validator checks `in` against an array property (it intersects sets).
            "query_in_field": "instruments", "query_in_values": "naomi,hrs",
        },
        # Data assets point at object-store keys that this test does not serve (thumbnails are served).
        open_assets_urls=False,
    )
    print(report)
    assert "Errors: none" in report, report


def test_collection_search_and_conformance(loaded) -> None:
    import httpx

    landing = httpx.get(loaded.public_url).json()
    conforms = set(landing["conformsTo"])
    for cls in ("core", "collections", "ogcapi-features", "item-search", "collection-search"):
        assert any(c.endswith(f"/{cls}") for c in conforms), cls
    for suffix in ("item-search#filter", "item-search#sort", "item-search#fields", "item-search#query"):
        assert any(c.endswith(suffix) for c in conforms), suffix
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in conforms
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json" in conforms
    found = httpx.get(loaded.public_url + "collections", params={"q": "reflectance"}).json()
    ids = [c["id"] for c in found["collections"]]  # the product collections (ours and foreign ones) mention it
    assert "vnredsat1-product" in ids and "vnredsat1-raw" not in ids and "vnredsat1-level0" not in ids, ids
    for collection in found["collections"]:
        text = " ".join([collection.get("title", ""), collection.get("description", ""),
                         *collection.get("keywords", [])]).lower()
        assert "reflectance" in text, collection["id"]
    # OpenAPI docs of the public API, under its prefix.
    assert httpx.get(loaded.public_url + "api").json()["openapi"].startswith("3.")
    assert httpx.get(loaded.public_url + "api.html").status_code == 200
