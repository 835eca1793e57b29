"""Items held for want of a security classification, for officers (issue #26, fail closed):
``GET /web/officer/held`` (page), ``GET /api/items/held`` and
``POST /api/items/{collection}/{item}/classify`` (JSON, bearer token).

Classifying publishes an unclassified item and removes the public copy of any other one in
the same operation (:func:`rsarchive.catalog.classification.classify`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path as PathParam, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from rsarchive.api import lang
from rsarchive.api.auth import ErrorTranslatingRoute, require_role, session_user
from rsarchive.catalog.classification import classify, held_items
from rsarchive.db import transaction
from rsarchive.errors import AuthError, RsArchiveError
from rsarchive.resources import template_dirs
from rsarchive.users import identity
from rsarchive.users.identity import Principal

if TYPE_CHECKING:
    from rsarchive.settings import Settings

__all__ = ["Classification", "held_router"]

Segment = Annotated[str, PathParam(min_length=1, max_length=500)]


class Classification(BaseModel):
    """An officer's classification of a held (or any) item."""

    model_config = ConfigDict(extra="forbid")

    classification: Literal["unclassified", "confidential", "secret", "top-secret"]
    note: str = Field(default="", max_length=2000, description="why (recorded with the classification)")


def held_router(settings: Settings) -> APIRouter:
    """The held-items page and JSON routes."""
    router = APIRouter(route_class=ErrorTranslatingRoute, tags=["classification"])
    officer = require_role(settings, "officer")
    templates = Jinja2Templates(directory=template_dirs(settings.site_dir), context_processors=[lang.context_processor])
    lang.install(templates)

    @router.get("/api/items/held", summary="Items held for want of a security classification")
    def held(principal: Principal = Depends(officer)) -> list[dict[str, Any]]:
        with transaction(settings) as conn:
            return [h.to_dict() for h in held_items(conn)]

    @router.post("/api/items/{collection}/{item_id}/classify",
                 summary="Classify an item: unclassified is published, anything else loses its public copy")
    def classify_item(collection: Segment, item_id: Segment, body: Classification,
                      principal: Principal = Depends(officer)) -> dict[str, Any]:
        report = classify(settings.internal_database_dsn, settings.public_database_dsn, [item_id],
                          body.classification, collection=collection, actor_id=principal.user_id, note=body.note,
                          public_url=settings.public_url)
        return {"collection": collection, "id": item_id, "classification": body.classification,
                "published": item_id in report.published, "reason": report.reasons.get(item_id)}

    @router.get("/web/officer/held", include_in_schema=False)
    def held_page(request: Request) -> Response:
        try:
            principal = session_user(settings, request)
            if principal.is_anonymous:
                return RedirectResponse(f"/web/login?next={request.url.path}", status_code=303)
            identity.require(principal, "officer")
            with transaction(settings) as conn:
                found = held_items(conn)
        except AuthError:
            return RedirectResponse("/web/login", status_code=303)
        except RsArchiveError as exc:
            message = lang.error_message(lang.request_lang(request), exc)
            return lang.remember(request, templates.TemplateResponse(request, "error.html", {"me": None, "message": message},
                                                                     status_code=exc.http_status))
        return lang.remember(request, templates.TemplateResponse(request, "officer_held.html",
                                                                 {"me": principal, "held": found}))

    return router
