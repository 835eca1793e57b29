"""STAC Browser at /browser/ in headless Chromium: the collections list shows, and an
item page shows its thumbnail (Debian chromium + chromium-driver, Selenium), under the
page's Content-Security-Policy (the console reports no violation).  Its interface is
Vietnamese by default (issue #21), although Chromium asks for English (Accept-Language en-US)."""

from __future__ import annotations

import re
import shutil
import tempfile
import time

import httpx
import pytest

from rsarchive.api.app import _browser_dir
from rsarchive.testing.languages import is_vietnamese

from .screens import thumbnail_likeness


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="rsarchive-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1024", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options), profile


def _wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return predicate()


@pytest.mark.slow
def test_browser_lists_collections_and_shows_thumbnail(loaded) -> None:
    if not (_browser_dir(loaded.settings) / "index.html").is_file():
        pytest.skip("STAC Browser not built (make setup builds it)")
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("Debian chromium and chromium-driver are needed")
    from selenium.webdriver.common.by import By

    landing = httpx.get(loaded.base_url + "/stac/").json()   # the catalog STAC Browser opens on
    assert landing["title"].startswith("Cơ sở dữ liệu viễn thám quốc gia / ")
    assert is_vietnamese(landing["description"].split("\n\n")[0])
    page = httpx.get(loaded.base_url + "/browser/")
    assert page.status_code == 200 and f'"catalogUrl": "{loaded.base_url}/stac/"' in page.text
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'sha256-" in policy and "unsafe-inline' " not in policy.split(
        "script-src", 1)[1].split(";", 1)[0] + " "

    driver, profile = _driver()
    try:
        driver.get(loaded.base_url + "/browser/")
        titles = ("Sản phẩm ảnh VNREDSat-1 (L2A)", "Dữ liệu ảnh thô VNREDSat-1 (L1A)",
                  "Dữ liệu thu mức 0 của VNREDSat-1")
        body = _wait(lambda: all(t in driver.find_element(By.TAG_NAME, "body").text for t in titles)
                     and driver.find_element(By.TAG_NAME, "body").text)
        assert body, driver.find_element(By.TAG_NAME, "body").text[:2000]
        # the interface's own words (browse, search.title, source.label, source.share.label, description,
        # additionalResources) in Vietnamese, and dates day first (07/12/2026) in the collections' extents
        interface = ("Duyệt", "Tìm kiếm", "Nguồn", "Chia sẻ", "Mô tả", "Tài nguyên khác", "Ngôn ngữ: Tiếng Việt")
        body = _wait(lambda: all(w in driver.find_element(By.TAG_NAME, "body").text for w in interface)
                     and driver.find_element(By.TAG_NAME, "body").text, 10)
        assert body, driver.find_element(By.TAG_NAME, "body").text[:2000]
        for english in ("Browse", "Search", "Source", "Share", "Description", "Language:"):
            assert english not in body.split("\n"), english
        assert re.search(r"Từ \d\d:\d\d:\d\d UTC 27/06/2015 đến nay", body), body[:3000]

        item_id = loaded.public_ids[0]
        driver.get(f"{loaded.base_url}/browser/collections/vnredsat1-product/items/{item_id}")

        def thumbnail_loaded() -> bool:
            return bool(driver.execute_script(
                "return Array.from(document.images).some(i => i.src === arguments[0] && i.complete && i.naturalWidth > 0)",
                loaded.thumbnail_url,
            ))

        ok = _wait(thumbnail_loaded, 40)
        shown = thumbnail_likeness(driver, loaded.thumbnail_url)   # on the tab "Ảnh thu nhỏ" (thumbnails)
        text = driver.find_element(By.TAG_NAME, "body").text
        assert item_id in text, text[:2000]
        assert _wait(lambda: "Siêu dữ liệu" in driver.find_element(By.TAG_NAME, "body").text, 10), text[:2000]
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "Tệp dữ liệu" in text and "Thời gian chụp" in text, text[:2000]   # stacAssets, fields "Time of Data"
        assert "Thông tin lưu trữ" in text and "Dạng dữ liệu" in text, text    # the rsarchive:* fields' labels
        assert "Security Classification" not in text and "Acquisition Route" not in text, text
        assert is_vietnamese(text), text[:2000]
        assert ok, [img.get_attribute("src") for img in driver.find_elements(By.TAG_NAME, "img")]
        # the screenshot shows the pixels of the thumbnail the API serves, and not some other picture
        served, other = shown
        assert served.shows(), served
        assert not other.shows() and other.correlation < served.correlation - 0.5, other
        refused = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
        assert not refused, refused
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
