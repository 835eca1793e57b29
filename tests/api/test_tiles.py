"""Browse images, map tiles and the feed of new acquisitions (issue #21, parts 2-4).

One REAL ingest of a small simulated downlink of two scenes into S3 stores on the test
SeaweedFS (the COGs are read back through GDAL's ``/vsis3/``); the officer then classifies
the second scene's product SECRET, which removes its public copy.  A real server (uvicorn)
is asked for the quicklook, tiles, TileJSON and Atom feeds: anonymously, with an
unclassified officer's token and with a secret-cleared officer's token.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import morecantile
import numpy as np
import pytest

from rsarchive.catalog.classification import classify
from rsarchive.catalog.feed import ATOM, MEDIA
from rsarchive.catalog.publication import fetch_items
from rsarchive.catalog.validation import SchemaStore, schemas_dir
from rsarchive.catalog.webmap import WEB_MAP_LINKS
from rsarchive.db import connect, transaction, with_database
from rsarchive.settings import Settings
from rsarchive.storage import Archive
from rsarchive.testing import stack
from rsarchive.testing.ingested import ingest_small_pass, s3_stores
from rsarchive.testing.server import free_port, serve
from rsarchive.users import identity

pytestmark = pytest.mark.services

WMQ = morecantile.tms.get("WebMercatorQuad")


@dataclass
class Served:
    settings: Settings
    base: str
    public: dict[str, Any]        # the internal item of the public product
    secret: dict[str, Any]        # the internal item of the product classified secret
    tokens: dict[str, str]        # officer-unclassified, officer-secret

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module")
def served(service_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from rsarchive.api import create_app

    port = free_port()
    settings = s3_stores(stack.fresh_buckets(stack.clone_databases(service_settings)),
                         archive_root=tmp_path_factory.mktemp("archive"), public_base_url=f"http://127.0.0.1:{port}",
                         api_port=port)
    ids = ingest_small_pass(settings, tmp_path_factory.mktemp("downlink"), scenes=2, pass_id="p0021")
    assert len(ids) == 2
    report = classify(settings.internal_database_dsn, settings.public_database_dsn, [ids[1]], "secret",
                      note="tiles test", public_url=settings.public_url)
    assert report.withdrawn == [ids[1]] or report.withheld == [ids[1]], report
    with connect(settings.internal_database_dsn) as conn:
        public, classified = fetch_items(conn, ids, "vnredsat1-product")
    tokens = {}
    with transaction(settings) as conn:
        for name, clearance in (("officer-unclassified", "unclassified"), ("officer-secret", "secret")):
            tokens[name] = identity.add_user(conn, name, "officer", "Trung tâm Viễn thám Quốc gia", clearance)
    assert Archive.from_settings(settings).primary.url.startswith("s3://")
    try:
        with serve(create_app(settings), port=port) as base:
            yield Served(settings, base, public, classified, tokens)
    finally:
        stack.drop_databases(with_database(settings.internal_database_dsn, "postgres"),
                             [settings.internal_db, settings.public_db])


def _tile(item: dict[str, Any], z: int) -> morecantile.Tile:
    """The tile of zoom ``z`` at the centre of the item's bbox."""
    w, s, e, n = item["bbox"]
    return WMQ.tile((w + e) / 2, (s + n) / 2, z)


def _url(served: Served, item: dict[str, Any], tile: morecantile.Tile) -> str:
    return f"{served.base}/tiles/{item['collection']}/{item['id']}/{tile.z}/{tile.x}/{tile.y}.png"


def _rgba(png: bytes) -> np.ndarray:
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGBA"))


def test_the_quicklook_is_an_overview_served_with_cache_headers(served: Served) -> None:
    item = httpx.get(f"{served.base}/stac/collections/vnredsat1-product/items/{served.public['id']}").json()
    quicklook = item["assets"]["quicklook"]
    assert quicklook["roles"] == ["overview"] and quicklook["type"] == "image/webp"
    got = httpx.get(quicklook["href"])
    assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
    from PIL import Image

    image = Image.open(io.BytesIO(got.content))
    thumbnail = Image.open(io.BytesIO(httpx.get(item["assets"]["thumbnail"]["href"]).content))
    assert image.format == "WEBP" and max(image.size) >= max(thumbnail.size)
    assert got.headers["etag"] == f'"{hashlib.sha256(got.content).hexdigest()}"'
    assert "max-age" in got.headers["cache-control"]
    again = httpx.get(quicklook["href"], headers={"If-None-Match": got.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # the classified product's quicklook is not served
    secret = f"{served.base}/assets/vnredsat1-product/{served.secret['id']}/quicklook"
    assert httpx.get(secret).status_code == 404


def test_public_items_carry_web_map_links_and_valid_tilejson(served: Served) -> None:
    item = httpx.get(f"{served.base}/stac/collections/vnredsat1-product/items/{served.public['id']}").json()
    links = {link["rel"]: link for link in item["links"]}
    base = f"{served.base}/tiles/vnredsat1-product/{served.public['id']}"
    assert links["tilejson"]["href"] == base + "/tilejson.json" and links["tilejson"]["type"] == "application/json"
    assert "xyz" not in links  # a bare template would send map clients past the public zoom
    assert WEB_MAP_LINKS in item["stac_extensions"]
    SchemaStore(schemas_dir()).validate(item, WEB_MAP_LINKS, "the public product item")  # offline schema
    doc = httpx.get(links["tilejson"]["href"])
    assert doc.status_code == 200
    tj = doc.json()
    assert tj["tilejson"] == "3.0.0" and tj["tiles"] == [base + "/{z}/{x}/{y}.png"] and tj["scheme"] == "xyz"
    assert 0 <= tj["minzoom"] <= tj["maxzoom"] == served.settings.tiles_public_max_zoom
    w, s, e, n = tj["bounds"]
    assert (w, s, e, n) == tuple(item["bbox"]) and w < tj["center"][0] < e and s < tj["center"][1] < n
    full = httpx.get(links["tilejson"]["href"], headers=served.auth("officer-unclassified")).json()
    assert full["maxzoom"] > served.settings.tiles_public_max_zoom  # the 10 m COGs' own zoom (14 here)


def test_public_tiles_stop_at_the_preview_zoom_and_an_officer_gets_every_zoom(served: Served) -> None:
    top = served.settings.tiles_public_max_zoom
    assert top == 12
    preview = httpx.get(_url(served, served.public, _tile(served.public, top)))
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
    assert "public" in preview.headers["cache-control"]
    assert (_rgba(preview.content)[..., 3] > 0).any()
    finer = _url(served, served.public, _tile(served.public, top + 1))
    refused = httpx.get(finer)
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["code"] == "PreviewZoomExceeded" and body["max_zoom"] == top
    assert body["description"].startswith("Bản đồ công khai") and "Điều 8, Điều 11" in body["description_vi"]
    assert "Art. 8 and 11" in body["description_en"] and "supplied on a written request" in body["description_en"]
    assert body["description"] == body["description_vi"] and body["lang"] == "vi"   # Vietnamese unless asked
    english = httpx.get(finer, headers={"Accept-Language": "en"}).json()
    assert english["description"] == body["description_en"] and english["code"] == body["code"]
    officer = httpx.get(finer, headers=served.auth("officer-unclassified"))
    assert officer.status_code == 200 and officer.headers["cache-control"].startswith("private")
    # a wrong token is refused, not treated as the public
    assert httpx.get(finer, headers={"Authorization": "Bearer rsa_wrong"}).status_code == 401
    # a tile outside the item, and a tile that does not exist
    far = WMQ.tile(100.0, 60.0, 10)
    assert httpx.get(_url(served, served.public, far)).status_code == 404
    assert httpx.get(f"{served.base}/tiles/vnredsat1-product/{served.public['id']}/3/9/1.png").status_code == 400


def test_classified_tiles_are_404_without_clearance(served: Served) -> None:
    tile = _tile(served.secret, 12)
    url = _url(served, served.secret, tile)
    tilejson = f"{served.base}/tiles/vnredsat1-product/{served.secret['id']}/tilejson.json"
    for headers in ({}, served.auth("officer-unclassified")):
        assert httpx.get(url, headers=headers).status_code == 404
        assert httpx.get(tilejson, headers=headers).status_code == 404
    deeper = _url(served, served.secret, _tile(served.secret, 14))
    assert httpx.get(deeper).status_code == 404  # not 403: nothing is told about a classified item
    cleared = httpx.get(url, headers=served.auth("officer-secret"))
    assert cleared.status_code == 200 and (_rgba(cleared.content)[..., 3] > 0).any()
    assert httpx.get(tilejson, headers=served.auth("officer-secret")).status_code == 200


def _direct(served: Served, item: dict[str, Any], tile: morecantile.Tile) -> bytes:
    """The same tile read by rio-tiler straight from the item's COGs in the S3 store."""
    import rasterio
    from rasterio.session import AWSSession
    from rio_tiler.io import Reader
    from rio_tiler.models import ImageData

    from rsarchive.catalog.webmap import true_colour_assets
    from rsarchive.tiles import TRUE_COLOUR_RANGE

    keys = true_colour_assets(item)
    paths = [item["assets"][keys[c]]["href"].replace("s3://", "/vsis3/", 1) for c in ("red", "green", "blue")]
    s = served.settings
    session = AWSSession(aws_access_key_id=s.s3_access_key, aws_secret_access_key=s.s3_secret_key)
    with rasterio.Env(session=session, AWS_S3_ENDPOINT=s.seaweed_endpoint.removeprefix("http://"), AWS_HTTPS="NO",
                      AWS_VIRTUAL_HOSTING="FALSE"):
        bands = []
        for path in paths:
            with Reader(path) as src:
                bands.append(src.tile(tile.x, tile.y, tile.z))
    image = ImageData.create_from_list(bands)
    return image.rescale(in_range=(TRUE_COLOUR_RANGE,) * 3).render(img_format="PNG")


def test_tile_pixels_equal_rio_tiler_reading_the_cog(served: Served) -> None:
    for z, headers in ((12, {}), (14, served.auth("officer-unclassified"))):
        tile = _tile(served.public, z)
        got = httpx.get(_url(served, served.public, tile), headers=headers)
        assert got.status_code == 200
        ours, direct = _rgba(got.content), _rgba(_direct(served, served.public, tile))
        assert ours.shape == (256, 256, 4) and (ours[..., 3] == 255).sum() > 1000
        assert np.array_equal(ours, direct), (z, np.abs(ours.astype(int) - direct).max())


def test_the_mosaic_of_a_search_shows_only_what_the_caller_may_see(served: Served) -> None:
    # a tile over both scenes (one below the other along the track)
    w = min(served.public["bbox"][0], served.secret["bbox"][0])
    e = max(served.public["bbox"][2], served.secret["bbox"][2])
    s = min(served.public["bbox"][1], served.secret["bbox"][1])
    n = max(served.public["bbox"][3], served.secret["bbox"][3])
    z = 11
    while z > 0 and len(list(WMQ.tiles(w, s, e, n, [z]))) > 1:
        z -= 1
    (tile,) = list(WMQ.tiles(w, s, e, n, [z]))
    mosaic = f"{served.base}/tiles/mosaic/{tile.z}/{tile.x}/{tile.y}.png?collections=vnredsat1-product"
    answer = httpx.get(mosaic)
    assert answer.status_code == 200, (answer.status_code, answer.text)
    public = _rgba(answer.content)
    alone = _rgba(httpx.get(_url(served, served.public, tile)).content)
    assert np.array_equal(public, alone), "the public mosaic is the public product alone"
    cleared = httpx.get(mosaic, headers=served.auth("officer-secret"))
    assert cleared.status_code == 200
    both = _rgba(cleared.content)
    assert (both[..., 3] > 0).sum() > (public[..., 3] > 0).sum(), "the secret scene adds pixels for its clearance"
    unclassified = _rgba(httpx.get(mosaic, headers=served.auth("officer-unclassified")).content)
    assert np.array_equal(unclassified, public)
    # nothing in the search: 204; beyond the preview zoom: 403; the TileJSON keeps the search
    empty = httpx.get(f"{served.base}/tiles/mosaic/{tile.z}/{tile.x}/{tile.y}.png?collections=vnredsat1-raw")
    assert empty.status_code == 204
    deep = _tile(served.public, 13)
    assert httpx.get(f"{served.base}/tiles/mosaic/13/{deep.x}/{deep.y}.png").status_code == 403
    tj = httpx.get(f"{served.base}/tiles/mosaic/tilejson.json?collections=vnredsat1-product").json()
    assert tj["tiles"] == [f"{served.base}/tiles/mosaic/{{z}}/{{x}}/{{y}}.png?collections=vnredsat1-product"]
    assert httpx.get(f"{served.base}/tiles/mosaic/tilejson.json?bbox=1,2,3").status_code == 400


def _entries(xml: bytes) -> list[ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == f"{{{ATOM}}}feed"
    return root.findall(f"{{{ATOM}}}entry")


def test_the_atom_feeds_list_public_items_newest_first(served: Served) -> None:
    got = httpx.get(f"{served.base}/feeds/acquisitions.atom")
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/atom+xml")
    entries = _entries(got.content)
    ids = [e.findtext(f"{{{ATOM}}}id") for e in entries]
    updated = [e.findtext(f"{{{ATOM}}}updated") for e in entries]
    assert len(entries) == 4 and updated == sorted(updated, reverse=True)  # level-0, 2 raw, 1 product
    assert len(set(updated)) == 4, "distinct times: the order is not a tie"
    assert not any(served.secret["id"] in (i or "") for i in ids), "a classified item is not in the feed"
    # the public STAC API sorts by created the same way
    search = httpx.get(f"{served.base}/stac/search", params={"sortby": "-created", "limit": 100}).json()
    assert [f["id"] for f in search["features"]] == [i.rsplit("/", 1)[1] for i in ids]
    ascending = httpx.get(f"{served.base}/stac/search", params={"sortby": "+created", "limit": 100}).json()
    assert [f["id"] for f in ascending["features"]] == [f["id"] for f in search["features"]][::-1]
    # each entry links to the item (it loads) and, for a product, to its thumbnail
    product = next(e for e in entries if served.public["id"] in (e.findtext(f"{{{ATOM}}}id") or ""))
    alternate = product.find(f"{{{ATOM}}}link[@rel='alternate']")
    assert alternate is not None and httpx.get(alternate.get("href", "")).json()["id"] == served.public["id"]
    thumb = product.find(f"{{{MEDIA}}}thumbnail")
    assert thumb is not None and httpx.get(thumb.get("url", "")).headers["content-type"] == "image/png"
    assert (product.findtext(f"{{{ATOM}}}summary") or "").startswith("Thời điểm chụp ")
    # one collection's feed
    one = _entries(httpx.get(f"{served.base}/feeds/vnredsat1-product.atom").content)
    assert [e.findtext(f"{{{ATOM}}}id") for e in one] == [i for i in ids if "/vnredsat1-product/" in (i or "")]
    assert len(one) == 1
    missing = httpx.get(f"{served.base}/feeds/no-such-collection.atom")
    assert missing.status_code == 404 and "no-such-collection" in missing.json()["description"]


@pytest.mark.slow
def test_stac_browser_draws_the_product_on_its_map(served: Served) -> None:
    """STAC Browser's item page (headless Chromium) follows the item's web-map links: it loads the
    TileJSON and the product's true-colour tiles down to the public zoom (drawn larger beyond it),
    and the page's Content-Security-Policy refuses nothing.  Its screenshot shows them: the map's pixels
    differ from the same map with the tiles blocked, in the colours of the tiles the server sent; and the
    thumbnails tab shows the pixels of the thumbnail the API serves."""
    import shutil

    from selenium.webdriver.common.by import By

    from rsarchive.api.app import _browser_dir

    from .screens import (
        crop,
        element_box,
        palette,
        quantised,
        screenshot,
        thumbnail_likeness,
    )
    from .test_browser import _driver, _wait

    if not (_browser_dir(served.settings) / "index.html").is_file():
        pytest.skip("STAC Browser not built (make setup builds it)")
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("Debian chromium and chromium-driver are needed")
    driver, profile = _driver()
    try:
        driver.get(f"{served.base}/browser/collections/vnredsat1-product/items/{served.public['id']}")
        base = f"{served.base}/tiles/vnredsat1-product/{served.public['id']}/"

        def tiles() -> list[str]:
            names = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
            return [n for n in names if n.startswith(base) and n.endswith(".png")]

        answers: dict[str, httpx.Response] = {}

        def painted() -> bool:  # the map has loaded a tile with pixels of the product (edge tiles may come first)
            for url in tiles():
                if url not in answers:
                    answers[url] = httpx.get(url)
            return any(a.status_code == 200 and (_rgba(a.content)[..., 3] > 0).any() for a in answers.values())

        assert _wait(painted, 40), (answers, driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"))
        # it follows the TileJSON: public zooms only (finer ones drawn from them), each a tile of the product
        zooms = {int(u.removeprefix(base).split("/")[0]) for u in answers}
        assert max(zooms) <= served.settings.tiles_public_max_zoom, list(answers)
        assert {a.status_code for a in answers.values()} <= {200, 404}, answers  # 404: a tile past the image's edge
        refused = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
        assert not refused, refused
        # the screenshot: the map shows the product's tiles (compared with the same map without them),
        # and the thumbnail tab the product's thumbnail as the API serves it
        time.sleep(2)   # the last tiles drawn
        with_tiles = crop(screenshot(driver), element_box(driver, driver.find_element(By.CSS_SELECTOR, ".map")))
        tiles_rgba = [_rgba(a.content) for a in answers.values() if a.status_code == 200]
        shown, flipped = thumbnail_likeness(driver, f"{served.base}/assets/vnredsat1-product/{served.public['id']}"
                                            "/thumbnail")
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/tiles/*"]})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        driver.get(f"{served.base}/browser/collections/vnredsat1-product/items/{served.public['id']}?blank=1")
        assert _wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".map canvas"), 30)
        time.sleep(4)   # the footprint and the (blocked) layer settled
        blank = crop(screenshot(driver), element_box(driver, driver.find_element(By.CSS_SELECTOR, ".map")))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert shown.shows() and not flipped.shows(), (shown, flipped)
    assert with_tiles.shape == blank.shape, (with_tiles.shape, blank.shape)
    changed = np.abs(with_tiles.astype(int) - blank.astype(int)).sum(axis=2) > 24
    colours = palette(tiles_rgba)
    drawn = np.isin(quantised(with_tiles[changed]), list(colours))
    before = np.isin(quantised(blank[changed]), list(colours))
    assert changed.mean() >= 0.01, changed.mean()      # the overlay covers part of the map
    assert drawn.mean() >= 0.8, drawn.mean()           # in the colours of the product's tiles
    assert before.mean() <= drawn.mean() - 0.3, (before.mean(), drawn.mean())   # which the blank map lacks


def test_a_cog_missing_from_the_store_is_a_storage_error_that_quotes_no_library(served: Served) -> None:
    """A product whose COG is not in the store (read through /vsis3/ on the real SeaweedFS): an
    archive StorageError (503 in the API) naming the item, not GDAL's words."""
    from rsarchive.errors import StorageError
    from rsarchive.tiles import ReadEnv, TileSource, read_tile

    gone = f"/vsis3/{served.settings.primary_bucket}/product/vnredsat1/missing/B3.tif"
    source = TileSource("vnredsat1-product", "MISSING_L2A", (gone, gone, gone), None)
    tile = _tile(served.public, 12)
    with pytest.raises(StorageError, match="MISSING_L2A") as caught:
        read_tile(source, tile.z, tile.x, tile.y, ReadEnv.from_settings(served.settings))
    assert StorageError.http_status == 503 and "vsis3" not in str(caught.value) and "CURL" not in str(caught.value)


def _texts(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) of every title and description in a JSON answer."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("title", "description", "attribution") and isinstance(inner, str):
                yield f"{where}/{key}", inner
            else:
                yield from _texts(inner, f"{where}/{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _texts(inner, f"{where}[{i}]")


def test_public_titles_and_descriptions_are_vietnamese_first(served: Served) -> None:
    """Every title and description a person reads in the public answers (the entry point, the landing
    page and its links, the collections, items and their assets and bands, the queryables, the TileJSON,
    the Atom feed)
    starts in Vietnamese (with its diacritics); the English follows where there is one."""
    from rsarchive.testing.languages import vietnamese_ratio

    item = served.public
    urls = [served.base + "/", served.base + "/stac/", served.base + "/stac/collections",
            f"{served.base}/stac/collections/{item['collection']}",
            f"{served.base}/stac/collections/{item['collection']}/items/{item['id']}",
            f"{served.base}/stac/search?collections={item['collection']}",
            f"{served.base}/tiles/{item['collection']}/{item['id']}/tilejson.json",
            f"{served.base}/stac/queryables", f"{served.base}/stac/collections/{item['collection']}/queryables"]
    english: list[tuple[str, str, str]] = []
    for url in urls:
        answer = httpx.get(url)
        assert answer.status_code == 200, (url, answer.text[:300])
        for where, text in _texts(answer.json()):
            first = text.split(" / ")[0].split("\n\n")[0]
            if vietnamese_ratio(first) == 0:
                english.append((url, where, text))
    feed = ET.fromstring(httpx.get(f"{served.base}/feeds/acquisitions.atom").content)
    for element in feed.iter():
        texts = [element.text or ""] if element.tag in (f"{{{ATOM}}}title", f"{{{ATOM}}}summary") else []
        texts += [element.get("title")] if element.get("title") else []
        for text in texts:
            if vietnamese_ratio(text.split(" / ")[0].split(" — ")[0]) == 0:
                english.append(("feed", element.tag, text))
    assert not english, english
    # the English half is written properly (not lower-cased by the feed)
    summaries = [e.findtext(f"{{{ATOM}}}summary") or "" for e in feed.iter(f"{{{ATOM}}}entry")]
    assert summaries and all(" UTC, platform VNREDSat-1" in s for s in summaries), summaries
