"""Classified items leave no trace in anything public: search results and counts,
items, collections' extents and summaries, queryables, the static export."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from rsarchive.catalog import export_catalog, writer_for
from .conftest import SECRET_BOX


def _public_texts(loaded) -> dict[str, str]:
    base = loaded.public_url
    texts: dict[str, str] = {}
    collections = httpx.get(base + "collections").json()["collections"]
    urls = [base, base + "collections", base + "queryables", base + "conformance",
            base + "search?limit=1000", base + f"search?bbox={','.join(map(str, SECRET_BOX))}",
            base + "search?ids=" + ",".join(loaded.secret_ids),
            base + "search?filter=" + "\"rsarchive:security_classification\" <> 'unclassified'",
            base + "search?datetime=2030-01-01T00:00:00Z/..", base + "collections?q=secret"]
    for c in collections:
        urls += [base + f"collections/{c['id']}", base + f"collections/{c['id']}/items?limit=1000",
                 base + f"collections/{c['id']}/queryables"]
    for url in urls:
        response = httpx.get(url)
        assert response.status_code == 200, (url, response.text)
        texts[url] = response.text
    for item_id in loaded.secret_ids:
        response = httpx.get(base + f"collections/vnredsat1-product/items/{item_id}")
        assert response.status_code == 404
    return texts


def _coordinates(obj):
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("coordinates", "bbox"):
                yield value
            else:
                yield from _coordinates(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _coordinates(value)


def _flat_points(value):
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _flat_points(v)


def _assert_clean(text: str, loaded, where: str) -> None:
    for item_id in loaded.secret_ids:
        assert item_id not in text, f"{item_id} leaked in {where}"
    assert '"secret"' not in text, f"a classification value leaked in {where}"
    data = json.loads(text)
    xmin, ymin, xmax, ymax = SECRET_BOX
    for coords in _coordinates(data):
        for point in _flat_points(coords):
            if len(point) >= 2:
                xs, ys = point[0::2] if len(point) == 4 else [point[0]], point[1::2] if len(point) == 4 else [point[1]]
                assert not any(xmin <= x <= xmax for x in xs) or not any(ymin <= y <= ymax for y in ys), \
                    f"a coordinate in the classified area leaked in {where}: {point}"
    assert "2033-" not in text, f"the classified items' dates leaked in {where}"
    for store in ("file://", "s3://", str(loaded.settings.archive_root)):
        assert store not in text, f"a store href ({store}) leaked in {where}"


def test_nothing_classified_in_public_responses(loaded) -> None:
    texts = _public_texts(loaded)
    for url, text in texts.items():
        _assert_clean(text, loaded, url)
    everything = json.loads(texts[loaded.public_url + "search?limit=1000"])
    assert everything["numberMatched"] == len(loaded.public_ids)
    assert json.loads(texts[loaded.public_url + f"search?bbox={','.join(map(str, SECRET_BOX))}"])["numberMatched"] == 0
    product = json.loads(texts[loaded.public_url + "collections/vnredsat1-product"])
    [[xmin, ymin, xmax, ymax]] = product["extent"]["spatial"]["bbox"]
    assert xmax < SECRET_BOX[0], "public extent must come from public items only"
    assert product["extent"]["temporal"]["interval"][0][1] < "2030"


def test_internal_api_has_them(loaded) -> None:
    from rsarchive.db import transaction
    from rsarchive.users import identity

    with transaction(loaded.settings) as conn:  # the internal API shows them to a cleared officer only
        token = identity.add_user(conn, "leak-test", "officer", "Trung tâm Viễn thám Quốc gia", "secret")
    response = httpx.get(loaded.base_url + "/internal/stac/search",
                         params={"ids": ",".join(loaded.secret_ids)}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert sorted(f["id"] for f in body["features"]) == sorted(loaded.secret_ids)
    assert body["features"][0]["links"][0]["href"].startswith(loaded.base_url + "/internal/stac/")
    internal_product = httpx.get(loaded.base_url + "/internal/stac/collections/vnredsat1-product",
                                 headers={"Authorization": f"Bearer {token}"}).json()
    assert internal_product["extent"]["spatial"]["bbox"][0][2] > SECRET_BOX[0]


def test_static_export_is_clean_and_self_contained(loaded, tmp_path: Path) -> None:
    from rsarchive.catalog.validation import validate_collection, validate_item

    report = export_catalog(loaded.settings.public_database_dsn, writer_for(str(tmp_path / "static")))
    root = tmp_path / "static"
    assert report.items == len(loaded.public_ids)
    files = list(root.rglob("*.json"))
    for path in files:
        text = path.read_text()
        _assert_clean(text, loaded, str(path))
        data = json.loads(text)
        for link in data.get("links", []):
            assert "://" not in link["href"], f"absolute link in {path}: {link}"
            assert (path.parent / link["href"]).resolve().exists(), f"dangling link in {path}: {link}"
        if data["type"] == "Feature":
            validate_item(data)
        elif data["type"] == "Collection":
            validate_collection(data)
    import pystac

    catalog = pystac.Catalog.from_file(str(root / "catalog.json"))
    assert sum(1 for _ in catalog.get_items(recursive=True)) == len(loaded.public_ids)
