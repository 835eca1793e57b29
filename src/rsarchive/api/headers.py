"""Security headers on every answer: :func:`add_security_headers` (called once from
``create_app`` and ``create_requests_app``) wraps the app in :class:`SecurityHeaders`.

=============================  =====================================================
header                         value
=============================  =====================================================
Content-Security-Policy        by path: :data:`PAGES` (web pages, licence, JSON —
                               nothing but this origin; inline styles allowed, no
                               inline script), :data:`DOCS` (the OpenAPI pages load
                               Swagger UI from cdn.jsdelivr.net with an inline
                               script) and :func:`browser_policy` (STAC Browser:
                               images and map tiles from anywhere, its inline
                               configuration script by hash, set by
                               :mod:`rsarchive.api.browser`)
X-Content-Type-Options         nosniff
X-Frame-Options                DENY (and ``frame-ancestors 'none'`` in every policy)
Referrer-Policy                strict-origin-when-cross-origin: another site sees at
                               most our origin, never a path (download links carry a
                               signed token in theirs)
Strict-Transport-Security      only on https answers: one year
=============================  =====================================================

A route that sets one of these headers itself keeps its own value.  The headers cost
nothing on JSON answers and are the same for every worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["DOCS", "PAGES", "SecurityHeaders", "add_security_headers", "browser_policy"]

_COMMON = "base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'"

PAGES = f"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; {_COMMON}"
"""Web pages, the licence, JSON: this origin only; inline ``<style>``/``style=`` (the
templates use them; a style cannot run code), never inline script."""

DOCS = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
        f"{_COMMON}")
"""The OpenAPI pages (``…/api.html``, FastAPI's Swagger UI from the jsDelivr CDN)."""


def browser_policy(script_hashes: Iterable[str] = ()) -> str:
    """STAC Browser's policy: its scripts from this origin plus the inline scripts whose
    base64 sha256 digests are given; images (thumbnails, map tiles) from anywhere."""
    hashes = "".join(f" 'sha256-{h}'" for h in script_hashes)
    return (f"default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
            f"img-src * data: blob:; font-src 'self' data:; worker-src 'self' blob:; {_COMMON}")


def _policy_for(path: str) -> str:
    if path.endswith("/api.html"):
        return DOCS
    return PAGES


class SecurityHeaders:
    """ASGI middleware adding the headers of this module to every HTTP answer that lacks them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = [
            (b"content-security-policy", _policy_for(scope.get("path", "")).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
        ]
        if scope.get("scheme") == "https":
            defaults.append((b"strict-transport-security", b"max-age=31536000"))

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in defaults if name not in present]
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_security_headers(app: Any) -> None:
    """Wrap ``app`` (FastAPI/Starlette, before it starts) in :class:`SecurityHeaders`."""
    app.add_middleware(SecurityHeaders)
