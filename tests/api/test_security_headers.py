"""Security headers on the full app (create_app): the licence page, the web pages, the
STAC APIs' JSON and their OpenAPI pages — each with the Content-Security-Policy of its kind."""

from __future__ import annotations

import httpx

COMMON = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
          "referrer-policy": "strict-origin-when-cross-origin"}


def test_headers_on_pages_and_json(loaded) -> None:
    from rsarchive.api.headers import DOCS, PAGES

    for path, policy in (("/licence", PAGES), ("/web/login", PAGES), ("/stac/", PAGES),
                         ("/internal/stac/collections", PAGES), ("/api.html", DOCS), ("/stac/api.html", DOCS)):
        response = httpx.get(loaded.base_url + path)
        assert response.status_code in (200, 401), (path, response.status_code)
        assert {k: response.headers.get(k) for k in COMMON} == COMMON, path
        assert response.headers["content-security-policy"] == policy, path
        assert "strict-transport-security" not in response.headers  # plain http
    assert "frame-ancestors 'none'" in PAGES and "script-src" not in PAGES  # default-src 'self': no inline script
    licence = httpx.get(loaded.base_url + "/licence")
    assert licence.headers["content-type"].startswith("text/html")
    # a route's own policy is kept (STAC Browser's page carries its inline script's hash)
    browser = httpx.get(loaded.base_url + "/browser/")
    if browser.status_code == 200:
        assert browser.headers["content-security-policy"] != PAGES and "'sha256-" in browser.headers[
            "content-security-policy"]
