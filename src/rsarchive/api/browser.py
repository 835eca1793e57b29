"""STAC Browser (radiantearth's ``@radiantearth/stac-browser``) served at ``/browser/``.

``scripts/setup.sh`` builds it once into ``build/stac-browser`` with ``pathPrefix``
``/browser/`` and a Vietnamese interface by default (its own locale mechanism, the locale in
``scripts/stac-browser/vi``; English is one click away).  The catalog URL is not baked in: each ``index.html`` served carries
``window.STAC_BROWSER_CONFIG = {catalogUrl: "<this server>/stac/"}``, so the same
build works behind any host name or port.  Unknown paths under the prefix get
``index.html`` (the browser's history-mode routing).  That inline script is allowed
by its hash in the page's Content-Security-Policy (:func:`rsarchive.api.headers.browser_policy`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from rsarchive.api.headers import browser_policy

log = logging.getLogger(__name__)

__all__ = ["CATALOG_TITLE", "mount_browser"]

CATALOG_TITLE = "Cơ sở dữ liệu viễn thám quốc gia / Viet Nam remote-sensing archive"
"""The browser's title; its interface is Vietnamese by default (``scripts/build-stac-browser.sh``)."""


def mount_browser(app: Any, folder: Path, prefix: str, catalog_prefix: str) -> None:
    """Add the ``prefix`` routes serving the STAC Browser build in ``folder``."""
    root = folder.resolve()

    def index(request: Request) -> Response:
        page = root / "index.html"
        if not page.is_file():
            return HTMLResponse(
                f'<html lang="vi"><meta charset="utf-8"><h1>STAC Browser chưa được dựng / STAC Browser is not built</h1>'
                f"<p>Không có {page}. Hãy chạy <code>make setup</code> (dựng trình duyệt bằng npm) rồi khởi động "
                f"lại máy chủ. / Expected {page}. Run <code>make setup</code> "
                "(it builds the browser with npm), then restart the server.</p>",
                status_code=503,
            )
        base = str(request.base_url).rstrip("/")
        config = {"catalogUrl": f"{base}{catalog_prefix}/", "catalogTitle": CATALOG_TITLE,
                  "allowExternalAccess": False, "pathPrefix": f"{prefix}/"}
        code = f"window.STAC_BROWSER_CONFIG = {json.dumps(config)};"
        html = page.read_text(encoding="utf-8").replace("<head>", f"<head><script>{code}</script>", 1)
        digest = base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode()
        return HTMLResponse(html, headers={"Cache-Control": "no-cache",
                                           "Content-Security-Policy": browser_policy([digest])})

    @app.get(prefix, include_in_schema=False)
    def browser_root() -> RedirectResponse:
        return RedirectResponse(f"{prefix}/")

    @app.get(prefix + "/{path:path}", include_in_schema=False)
    def browser(path: str, request: Request) -> Response:
        if path and path != "index.html":
            target = (root / path).resolve()
            if target.is_file() and root in target.parents:
                return FileResponse(target)
        return index(request)
