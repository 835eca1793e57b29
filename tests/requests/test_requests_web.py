"""The web pages in headless Chromium (Selenium + chromium-driver): a requester submits
(and first sees each field's error), an officer refuses one request with a reason and
fulfils another, the requester downloads and reports an error."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from reqfixtures import Archive

pytestmark = [pytest.mark.services, pytest.mark.slow]

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def live_url(archive: Archive) -> Iterator[str]:
    from rsarchive.api.requests_app import create_requests_app
    from rsarchive.testing.server import serve

    with serve(create_requests_app(archive.settings)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM and DRIVER):
        pytest.skip("chromium and chromedriver (Debian chromium, chromium-driver) are needed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="rsarchive-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def login(driver: Any, url: str, name: str, token: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/web/login")
    driver.find_element("id", "name").send_keys(name)
    driver.find_element("id", "token").send_keys(token)
    click(driver, "login")


def fill(driver: Any, **fields: str) -> None:
    for name, value in fields.items():
        element = driver.find_element("id", name)
        element.clear()
        element.send_keys(value)


def click(driver: Any, element_id: str) -> None:
    """Click a button that submits a form and wait for the next page."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(_: Any) -> bool:
        try:
            element.is_enabled()
            return False
        except WebDriverException:  # stale, or no longer in the document
            return True

    element = driver.find_element("id", element_id)
    element.click()
    WebDriverWait(driver, 15).until(gone)
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def text(driver: Any, element_id: str) -> str:
    return str(driver.find_element("id", element_id).text)


def fetch_status(driver: Any, href: str) -> int:
    return int(driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.arrayBuffer().then(() => done(r.status)));",
        href))


def submit_request(driver: Any, url: str, use: str) -> int:
    driver.get(f"{url}/web/requests/new")
    fill(driver, contact_name="Nguyễn Văn A", contact_email="a@monre.gov.vn", bbox="105.0, 21.0, 105.2, 21.2",
         start="02/15/2024", end="04/30/2024", intended_use=use)
    driver.find_element("css selector", "#purpose option[value=state_management]").click()
    driver.find_element("id", "level-product").click()
    click(driver, "submit")
    assert "/web/requests/" in driver.current_url, driver.page_source[:2000]
    return int(driver.current_url.rstrip("/").rsplit("/", 1)[1])


def test_requester_and_officer_pages(archive: Archive, live_url: str, browser: Any) -> None:
    url, driver = live_url, browser
    # not logged in → the login page; a wrong token is refused
    driver.get(f"{url}/web/requests")
    assert "/web/login" in driver.current_url
    login(driver, url, "alice", "rsa_wrong")
    assert "Wrong user name or token" in text(driver, "login-error")

    login(driver, url, "alice", archive.tokens["alice"])
    assert driver.current_url.endswith("/web/requests") and text(driver, "no-requests")
    # an incomplete form comes back with each field's error
    driver.get(f"{url}/web/requests/new")
    fill(driver, contact_email="not-an-address", intended_use="short")
    click(driver, "submit")
    errors = {li.get_attribute("data-field") for li in driver.find_elements("css selector", "#form-errors li")}
    assert {"contact.name", "contact.email", "purpose", "start", "end", "levels", "intended_use"} <= errors
    assert driver.find_element("id", "contact_email").get_attribute("value") == "not-an-address"  # kept

    first = submit_request(driver, url, "Land-use inventory of Hà Nội")
    assert text(driver, "status") == "SUBMITTED" or text(driver, "status").lower() == "submitted"
    assert "working days left" in text(driver, "due-date")
    second = submit_request(driver, url, "Flood mapping along the Red River")

    # the officer refuses the first: no reason → told so; with a reason → refused, letter
    login(driver, url, "olga", archive.tokens["olga"])
    assert driver.current_url.endswith("/web/officer")
    rows = [r.get_attribute("data-request-id") for r in driver.find_elements("css selector", "#open tbody tr")]
    assert rows == [str(first), str(second)]
    driver.get(f"{url}/web/requests/{first}")
    click(driver, "refuse")
    assert "written reason" in text(driver, "refuse-error")
    fill(driver, reason="Khu vực cấm / restricted zone")
    click(driver, "refuse")
    assert text(driver, "status").lower() == "refused"
    assert text(driver, "refusal-reason") == "Khu vực cấm / restricted zone"
    click(driver, "letter-html")
    assert "Khu vực cấm / restricted zone" in text(driver, "reason") and text(driver, "letter-date")

    # …and approves and fulfils the second
    driver.get(f"{url}/web/requests/{second}")
    click(driver, "start-review")
    fill(driver, contract_ref="HD-2024-09")
    click(driver, "approve")
    assert text(driver, "status").lower() == "approved"
    click(driver, "fulfil")
    assert text(driver, "status").lower() == "fulfilled"
    assert len(driver.find_elements("css selector", "#delivered li")) == 2
    # the officer records the payment of the fee statement; the delivery is then released
    due = int(driver.find_element("id", "payment-state").get_attribute("data-due"))
    assert due > 0 and int(driver.find_element("id", "amount").get_attribute("value")) == due
    fill(driver, paid_on="01/05/2026", reference="BL-2026-001")
    click(driver, "pay")
    assert driver.find_element("id", "payment-state").get_attribute("data-released") == "true"
    assert "BL-2026-001" in text(driver, "payments")

    # the requester downloads (its own links work, with its cookie) and reports an error
    login(driver, url, "alice", archive.tokens["alice"])
    driver.get(f"{url}/web/requests/{second}")
    links = [a.get_attribute("href") for a in driver.find_elements("css selector", "a.download")]
    assert len(links) == 2 * 3 and all("/downloads/" in href for href in links)
    assert fetch_status(driver, links[0]) == 200
    assert "third part" in text(driver, "licence") and text(driver, "fee-total")
    fill(driver, description="Stripes across band B2")
    click(driver, "report")
    assert "Stripes across band B2" in text(driver, "reports")

    # another requester's session gets 403 for the same link, and no page for the request
    login(driver, url, "bob", archive.tokens["bob"])
    assert fetch_status(driver, links[0]) == 403
    driver.get(f"{url}/web/requests/{second}")
    assert "not found" in text(driver, "error-message")
    # the pages live within their Content-Security-Policy
    refused = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not refused, refused
