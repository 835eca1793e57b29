"""Server-rendered web pages (Jinja2, plain HTML forms) for requesters and officers.

Requesters: the request form, "my requests" (the organisation's), a request's page
with its delivery (download links, fee statement) and an error-report form.
Officers: the review queue (overdue, due soon, open), a request's page with review,
approve, refuse-with-reason and fulfil.  The login form (user name and API token)
starts a web session (:mod:`rsarchive.api.sessions`, an HttpOnly cookie); every form
POST carries a CSRF token (:mod:`rsarchive.api.csrf`); failed logins are slowed down
(:mod:`rsarchive.api.logins`).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from rsarchive.api import csrf, lang, logins, sessions
from rsarchive.api.auth import session_user
from rsarchive.api.sessions import SESSION_COOKIE
from rsarchive.db import transaction
from rsarchive.errors import AuthError, RsArchiveError, TokenExpiredError
from rsarchive.i18n import Lang
from rsarchive.law import calendar
from rsarchive.requests import delivery, lifecycle, payments, reports
from rsarchive.requests.models import (
    LEVELS,
    PURPOSE_LABELS,
    Approval,
    ErrorReportForm,
    RequestForm,
    Triage,
)
from rsarchive.resources import template_dirs
from rsarchive.users import identity
from rsarchive.users.identity import Principal

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)



def _form_to_request(data: dict[str, Any]) -> dict[str, Any]:
    """The HTML form's flat fields → the API's RequestForm body."""
    body: dict[str, Any] = {
        "contact": {"name": data.get("contact_name", ""), "email": data.get("contact_email", "")},
        "purpose": data.get("purpose", ""), "start": data.get("start", ""), "end": data.get("end", ""),
        "levels": data.get("levels", []), "intended_use": data.get("intended_use", ""),
        "format": data.get("format") or "cog",
    }
    if data.get("contact_phone"):
        body["contact"]["phone"] = data["contact_phone"]
    aoi = (data.get("aoi") or "").strip()
    bbox = (data.get("bbox") or "").strip()
    if aoi:
        try:
            body["aoi"] = json.loads(aoi)
        except json.JSONDecodeError:
            body["aoi"] = {"invalid": "not JSON"}
    if bbox:
        try:
            body["bbox"] = [float(v) for v in bbox.replace(";", ",").split(",")]
        except ValueError:
            body["bbox"] = ["not a number"]
    for key in ("bands", "items"):
        text = (data.get(key) or "").replace(",", " ").split()
        if text:
            body[key] = text
    if data.get("max_cloud_cover"):
        body["max_cloud_cover"] = data["max_cloud_cover"]
    return body


WRONG = ("Tên người dùng hoặc mã truy cập không đúng, hoặc mã đã bị thu hồi.",
         "Wrong user name or token, or the token is revoked.")
EXPIRED = ("Phiên đăng nhập đã hết hạn; hãy đăng nhập lại.", "Your session has expired; log in again.")
NEEDS_REASON = ("Từ chối phải kèm lý do bằng văn bản (Điều 8.2(c)).", "A refusal needs a written reason (Art. 8.2(c)).")


def _errors(exc: ValidationError, language: Lang) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in err["loc"]) or "form",
             "message": lang.validation_message(language, dict(err))} for err in exc.errors()]


def web_router(settings: Settings) -> APIRouter:
    """The pages under ``/web``."""
    templates = Jinja2Templates(directory=template_dirs(settings.site_dir),
                                context_processors=[csrf.template_context, lang.context_processor])
    lang.install(templates)

    def page(request: Request, name: str, principal: Principal | None, status: int = 200, **context: Any) -> HTMLResponse:
        response = templates.TemplateResponse(request, name, {"me": principal, "purposes": PURPOSE_LABELS,
                                                              "levels": LEVELS, **context}, status_code=status)
        lang.remember(request, response)
        return response

    def say(request: Request, pair: tuple[str, str]) -> str:
        return lang.text(lang.request_lang(request), *pair)

    def forged(request: Request) -> Response:
        return page(request, "error.html", None, status=403, message=csrf.REFUSAL)

    router = APIRouter(prefix="/web", include_in_schema=False, route_class=csrf.csrf_route_class(forged))
    limits = logins.LoginLimits.from_settings(settings)

    def who(request: Request) -> Principal:
        return session_user(settings, request)

    def guarded(request: Request, roles: tuple[str, ...], work: Any) -> Response:
        """Run ``work(principal)`` for a logged-in user with one of ``roles``; errors become pages."""
        try:
            principal = who(request)
            if principal.is_anonymous:
                return RedirectResponse(f"/web/login?next={request.url.path}", status_code=303)
            identity.require(principal, *roles)
            return work(principal)
        except AuthError as exc:
            expired = "?expired=1" if isinstance(exc, TokenExpiredError) else ""
            response = RedirectResponse(f"/web/login{expired}", status_code=303)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        except RsArchiveError as exc:
            return page(request, "error.html", None, status=exc.http_status,
                        message=lang.error_message(lang.request_lang(request), exc))

    def login_page(request: Request, status: int = 200, headers: dict[str, str] | None = None,
                   **context: Any) -> Response:
        csrf.login_token(request)
        response = page(request, "login.html", None, status=status, **context)
        csrf.keep_login_token(request, response)
        response.headers.update(headers or {})
        return response

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/web/", expired: bool = False) -> Response:
        return login_page(request, next=next if next.startswith("/web/") else "/web/",
                          error=say(request, EXPIRED) if expired else None)

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        name = str(form.get("name") or "").strip()
        token = str(form.get("token") or "").strip()
        target = str(form.get("next") or "/web/")
        target = target if target.startswith("/web/") else "/web/"
        keys = logins.keys_for(request.client.host if request.client else None, name)

        def attempt() -> tuple[int, str | None, str | None]:
            """(seconds to wait, session secret, error) — database work, run off the event loop."""
            with transaction(settings) as conn:
                wait = logins.retry_after(conn, keys, limits)
                if wait:
                    return wait, None, None
                try:
                    secret, _, _ = sessions.start_session(conn, name, token, settings.session_lifetime_minutes)
                except AuthError as exc:
                    logins.record_failure(conn, keys, limits)
                    return 0, None, str(exc) if isinstance(exc, TokenExpiredError) else say(request, WRONG)
                logins.clear_account(conn, keys)
                sessions.end_session(conn, request.cookies.get(SESSION_COOKIE))  # a session this browser had before
                return 0, secret, None

        wait, secret, error = await run_in_threadpool(attempt)
        if wait:
            return login_page(request, status=429, headers={"Retry-After": str(wait)}, next=target, user_name=name,
                              error=say(request, (f"Quá nhiều lần đăng nhập sai; hãy thử lại sau {wait} giây.",
                                                  f"Too many failed logins; try again in {wait} seconds.")))
        if secret is None:
            return login_page(request, status=401, next=target, user_name=name, error=error)
        response = RedirectResponse(target, status_code=303)
        sessions.set_cookie(response, request, SESSION_COOKIE, secret,
                            max_age=settings.session_lifetime_minutes * 60)
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        with transaction(settings) as conn:
            sessions.end_session(conn, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/web/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/")
    def home(request: Request) -> Response:
        def work(p: Principal) -> Response:
            return RedirectResponse("/web/officer" if p.has_role("officer") else "/web/requests", status_code=303)

        return guarded(request, ("requester", "officer"), work)

    # Requesters -----------------------------------------------------------------------------
    @router.get("/requests")
    def my_requests(request: Request) -> Response:
        def work(p: Principal) -> Response:
            with transaction(settings) as conn:
                records = lifecycle.list_requests(conn, p)
            return page(request, "requests_list.html", p, requests=records, today=calendar.today_vn())

        return guarded(request, ("requester",), work)

    @router.get("/requests/new")
    def new_request(request: Request) -> Response:
        return guarded(request, ("requester",), lambda p: page(request, "request_form.html", p, values={}, errors=[]))

    @router.post("/requests/new")
    async def submit_request(request: Request) -> Response:
        form = await request.form()
        data: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "levels"}
        data["levels"] = [str(v) for v in form.getlist("levels")]

        def work(p: Principal) -> Response:
            try:
                body = RequestForm.model_validate(_form_to_request(data))
            except ValidationError as exc:
                return page(request, "request_form.html", p, status=422, values=data,
                            errors=_errors(exc, lang.request_lang(request)))
            with transaction(settings) as conn:
                record = lifecycle.submit(conn, p, body)
            return RedirectResponse(f"/web/requests/{record.id}", status_code=303)

        return guarded(request, ("requester",), work)

    @router.get("/requests/{request_id}")
    def request_page(request: Request, request_id: int) -> Response:
        def work(p: Principal) -> Response:
            with transaction(settings) as conn:
                record = lifecycle.get(conn, p, request_id)
                delivered = (delivery.delivery_for(conn, p, request_id) if record.status == "fulfilled" else None)
                my_reports = [r for r in reports.list_reports(conn, p) if r.request_id == request_id]
            template = "officer_request.html" if p.has_role("officer") else "request_detail.html"
            return page(request, template, p, r=record, delivery=delivered, reports=my_reports,
                        today=calendar.today_vn())

        return guarded(request, ("requester", "officer"), work)

    @router.post("/requests/{request_id}/cancel")
    def cancel_request(request: Request, request_id: int) -> Response:
        def work(p: Principal) -> Response:
            with transaction(settings) as conn:
                lifecycle.cancel(conn, p, request_id, "cancelled on the web page")
            return RedirectResponse(f"/web/requests/{request_id}", status_code=303)

        return guarded(request, ("requester", "officer"), work)

    @router.post("/requests/{request_id}/report")
    async def report_error(request: Request, request_id: int) -> Response:
        form = await request.form()

        def work(p: Principal) -> Response:
            try:
                body = ErrorReportForm(item_id=str(form.get("item_id") or ""),
                                       description=str(form.get("description") or ""))
            except ValidationError as exc:
                return page(request, "error.html", p, status=422,
                            message="; ".join(f"{e['field']}: {e['message']}"
                                              for e in _errors(exc, lang.request_lang(request))))
            with transaction(settings) as conn:
                reports.report(conn, p, request_id, body)
            return RedirectResponse(f"/web/requests/{request_id}", status_code=303)

        return guarded(request, ("requester",), work)

    # Officers -------------------------------------------------------------------------------
    @router.get("/officer")
    def officer_queue(request: Request) -> Response:
        def work(p: Principal) -> Response:
            with transaction(settings) as conn:
                lists = lifecycle.queue(conn, p)
                open_reports = reports.list_reports(conn, p, "open")
            return page(request, "officer_queue.html", p, lists=lists, reports=open_reports,
                        today=calendar.today_vn())

        return guarded(request, ("officer",), work)

    @router.post("/officer/requests/{request_id}/{action}")
    async def officer_action(request: Request, request_id: int, action: str) -> Response:
        form = await request.form()

        def work(p: Principal) -> Response:
            with transaction(settings) as conn:
                if action == "review":
                    lifecycle.start_review(conn, p, request_id)
                elif action == "approve":
                    lifecycle.approve(conn, p, request_id, Approval(
                        contract_ref=str(form.get("contract_ref") or "") or None,
                        third_party_transfer_allowed=form.get("third_party_transfer_allowed") == "on"))
                elif action == "refuse":
                    reason = str(form.get("reason") or "").strip()
                    if not reason:
                        record = lifecycle.get(conn, p, request_id)
                        return page(request, "officer_request.html", p, status=422, r=record, delivery=None,
                                    reports=[], today=calendar.today_vn(),
                                    refuse_error=say(request, NEEDS_REASON))
                    lifecycle.refuse(conn, p, request_id, reason)
                elif action == "fulfil":
                    delivery.fulfil(conn, settings, p, request_id)
                elif action == "pay":
                    try:
                        paid = payments.PaymentForm.model_validate(
                            {k: str(form.get(k) or "") for k in ("amount", "paid_on", "reference")})
                    except ValidationError as exc:
                        return page(request, "error.html", p, status=422, message="; ".join(
                            f"{e['field']}: {e['message']}" for e in _errors(exc, lang.request_lang(request))))
                    payments.record(conn, p, request_id, paid)
                else:
                    return page(request, "error.html", p, status=404,
                                message=say(request, (f"Không có thao tác {action!r}", f"no action {action!r}")))
            return RedirectResponse(f"/web/requests/{request_id}", status_code=303)

        return guarded(request, ("officer",), work)

    @router.post("/officer/reports/{report_id}/triage")
    async def officer_triage(request: Request, report_id: int) -> Response:
        form = await request.form()

        def work(p: Principal) -> Response:
            try:
                decision = Triage(action=str(form.get("action") or ""), note=str(form.get("note") or ""))
            except ValidationError as exc:
                return page(request, "error.html", p, status=422,
                            message="; ".join(f"{e['field']}: {e['message']}"
                                              for e in _errors(exc, lang.request_lang(request))))
            with transaction(settings) as conn:
                reports.triage(conn, settings, p, report_id, decision)
            return RedirectResponse("/web/officer", status_code=303)

        return guarded(request, ("officer",), work)

    return router
