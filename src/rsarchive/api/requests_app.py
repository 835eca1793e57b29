"""Plugging the requests routes into an app: :func:`include_requests` (called by
``rsarchive.api.app.create_app``) and :func:`create_requests_app`, a small app with
only these routes (tests, fuzzing, and deployments that want the requests service alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rsarchive.settings import Settings


def include_requests(app: Any, settings: Settings) -> None:
    """Add the requests API (``/api/…``, ``/downloads/…``) and the web pages (``/web/…``) to ``app``."""
    from rsarchive.api.held_routes import held_router
    from rsarchive.api.requests_routes import requests_router
    from rsarchive.api.web_routes import web_router

    app.include_router(requests_router(settings))
    app.include_router(web_router(settings))
    app.include_router(held_router(settings))  # /api/items/held, …/classify, /web/officer/held
    include_complaints(app, settings)  # complaints, paper requests, capability questions, purchase opinions


def include_complaints(app: Any, settings: Settings) -> None:
    """Complaints (Art. 9.5) with their pages and letters, paper requests, capability questions (Art. 13a)
    and purchase opinions (Art. 10.2; Decree 03/2019, Art. 15.4)."""
    from rsarchive.api.complaints_routes import complaints_router
    from rsarchive.api.complaints_web import complaints_web_router

    app.include_router(complaints_router(settings))
    app.include_router(complaints_web_router(settings))


def create_requests_app(settings: Settings) -> Any:
    """A FastAPI app with only the requests API and web pages (as the internal API's
    role and the API's read-only S3 identity: :func:`rsarchive.identities.for_process`)."""
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    import rsarchive
    from rsarchive.api.headers import add_security_headers
    from rsarchive.identities import for_process

    settings = for_process(settings, "api")

    app = FastAPI(title="rsarchive requests", version=rsarchive.__version__,
                  description="Data requests, deliveries, error reports and the coverage check "
                              "(Decision 81/2010/QĐ-TTg, Art. 8-11).")
    include_requests(app, settings)
    add_security_headers(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/")

    return app
