"""Web pages for complaints (Decision 81/2010, Art. 9.5): the requester's complaint form and page, the
officer's complaint queue and actions (accept, do not accept with a reason, settle with an answer).
Plain HTML forms with the session's CSRF token, like :mod:`rsarchive.api.web_routes`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from rsarchive.api import csrf, lang
from rsarchive.api.auth import session_user
from rsarchive.api.sessions import SESSION_COOKIE
from rsarchive.db import transaction
from rsarchive.errors import AuthError, RsArchiveError
from rsarchive.law import calendar, load_basis
from rsarchive.requests import complaints, lifecycle
from rsarchive.resources import template_dirs
from rsarchive.users import identity
from rsarchive.users.identity import Principal

if TYPE_CHECKING:
    from rsarchive.settings import Settings

__all__ = ["complaints_web_router"]


def complaints_web_router(settings: Settings) -> APIRouter:
    """The complaint pages under ``/web``."""
    templates = Jinja2Templates(directory=template_dirs(settings.site_dir),
                                context_processors=[csrf.template_context, lang.context_processor])
    lang.install(templates)

    def page(request: Request, name: str, principal: Principal | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        response = templates.TemplateResponse(
            request, name, {"me": principal, "subjects": complaints.SUBJECT_LABELS,
                            "outcomes": complaints.OUTCOME_LABELS, "today": calendar.today_vn(), **context},
            status_code=status)
        lang.remember(request, response)
        return response

    def problem(request: Request, principal: Principal | None, status: int, message: str) -> Response:
        return page(request, "error.html", principal, status=status, message=message)

    router = APIRouter(prefix="/web", include_in_schema=False,
                       route_class=csrf.csrf_route_class(lambda r: problem(r, None, 403, csrf.REFUSAL)))

    def guarded(request: Request, roles: tuple[str, ...], work: Callable[[Principal], Response]) -> Response:
        try:
            principal = session_user(settings, request)
            if principal.is_anonymous:
                return RedirectResponse(f"/web/login?next={request.url.path}", status_code=303)
            identity.require(principal, *roles)
            return work(principal)
        except AuthError:
            response = RedirectResponse("/web/login", status_code=303)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        except RsArchiveError as exc:
            return problem(request, None, exc.http_status, lang.error_message(lang.request_lang(request), exc))

    def invalid(request: Request, p: Principal, exc: ValidationError) -> Response:
        language = lang.request_lang(request)
        return problem(request, p, 422, "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'form'}: {lang.validation_message(language, dict(e))}"
            for e in exc.errors()))

    @router.get("/requests/{request_id}/complaint")
    def complaint_form(request: Request, request_id: int) -> Response:
        def work(p: Principal) -> Response:
            with transaction(settings) as conn:
                record = lifecycle.get(conn, p, request_id)
            basis = load_basis()
            rules = {"right": basis.rule(complaints.RIGHT), "acceptance": basis.rule(complaints.ACCEPTANCE),
                     "settlement": basis.rule(complaints.SETTLEMENT)}
            return page(request, "complaint_form.html", p, r=record, rules=rules)

        return guarded(request, ("requester",), work)

    @router.post("/requests/{request_id}/complaint")
    async def file_complaint(request: Request, request_id: int) -> Response:
        form = await request.form()

        def work(p: Principal) -> Response:
            try:
                body = complaints.ComplaintForm(subject=str(form.get("subject") or ""),
                                                description=str(form.get("description") or ""))
            except ValidationError as exc:
                return invalid(request, p, exc)
            with transaction(settings) as conn:
                record = complaints.file(conn, p, request_id, body)
            return RedirectResponse(f"/web/complaints/{record.id}", status_code=303)

        return guarded(request, ("requester",), work)

    @router.get("/complaints")
    def my_complaints(request: Request) -> Response:
        def work(p: Principal) -> Response:
            with transaction(settings) as conn:
                records = complaints.list_complaints(conn, p)
            return page(request, "complaints_list.html", p, records=records)

        return guarded(request, ("requester", "officer"), work)

    @router.get("/complaints/{complaint_id}")
    def complaint_page(request: Request, complaint_id: int) -> Response:
        def work(p: Principal) -> Response:
            with transaction(settings) as conn:
                record = complaints.get(conn, p, complaint_id)
            return page(request, "complaint_detail.html", p, c=record)

        return guarded(request, ("requester", "officer"), work)

    @router.get("/officer/complaints")
    def complaint_queue(request: Request) -> Response:
        def work(p: Principal) -> Response:
            with transaction(settings) as conn:
                lists = complaints.queue(conn, p)
            return page(request, "officer_complaints.html", p, lists=lists)

        return guarded(request, ("officer",), work)

    @router.post("/officer/complaints/{complaint_id}/{action}")
    async def officer_action(request: Request, complaint_id: int, action: str) -> Response:
        form = await request.form()

        def work(p: Principal) -> Response:
            try:
                with transaction(settings) as conn:
                    if action == "accept":
                        complaints.accept(conn, p, complaint_id, complaints.Acceptance(
                            complex=form.get("complex") == "on", note=str(form.get("note") or "") or None))
                    elif action == "not-accept":
                        complaints.refuse_acceptance(conn, p, complaint_id, complaints.NonAcceptance(
                            reason=str(form.get("reason") or "")))
                    elif action == "settle":
                        complaints.settle(conn, p, complaint_id, complaints.Settlement(
                            outcome=str(form.get("outcome") or ""), answer=str(form.get("answer") or "")))
                    else:
                        return problem(request, p, 404, lang.text(lang.request_lang(request),
                                                                  f"Không có thao tác {action!r}", f"no action {action!r}"))
            except ValidationError as exc:
                return invalid(request, p, exc)
            return RedirectResponse(f"/web/complaints/{complaint_id}", status_code=303)

        return guarded(request, ("officer",), work)

    return router
