"""The requests API (JSON): data requests, their lifecycle, deliveries and signed downloads,
error reports and the coverage check.  Each handler translates HTTP to one library call.

Roles: requesters submit, see their organisation's requests, download and report errors;
officers review, approve, refuse, fulfil and triage; operators and officers may run the
coverage check; admin may do everything.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from rsarchive.api.auth import ErrorTranslatingRoute, require_role
from rsarchive.db import transaction
from rsarchive.requests import coverage, delivery, downloads, lifecycle, payments, reports
from rsarchive.requests.models import (
    Approval,
    Cancellation,
    CoverageQuery,
    ErrorReportForm,
    Refusal,
    Reinstatement,
    RequestForm,
    Triage,
)
from rsarchive.users.identity import Principal

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

RequestId = Annotated[int, Path(ge=1, le=2**62, description="request id")]
ReportId = Annotated[int, Path(ge=1, le=2**62, description="error report id")]
Status = Annotated[str | None, Query(pattern="^(submitted|in_review|approved|fulfilled|refused|cancelled)$")]
ReportStatus = Annotated[str | None, Query(pattern="^(open|dismissed|reprocess|withdrawn)$")]
CollectionId = Annotated[str, Path(min_length=1, max_length=200, description="collection id")]
ItemId = Annotated[str, Path(min_length=1, max_length=500, description="item id")]

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, wrong or revoked token"},
    403: {"description": "the user lacks the role"},
    404: {"description": "not found (or not visible to this user)"},
    409: {"description": "not allowed in the request's current state"},
}


def requests_router(settings: Settings) -> APIRouter:
    """The JSON routes under ``/api`` and the download route ``/downloads/{token}``."""
    router = APIRouter(route_class=ErrorTranslatingRoute, responses=AUTH_RESPONSES)
    requester = require_role(settings, "requester")
    officer = require_role(settings, "officer")
    member = require_role(settings, "requester", "officer")
    checker = require_role(settings, "requester", "officer", "operator")
    anyone = require_role(settings, "requester", "officer", "operator")
    downloader = require_role(settings, "requester", "officer", cookie=True)
    reader = require_role(settings, "requester", "officer", cookie=True)  # GET pages linked from the web UI

    @router.get("/api/me", tags=["identity"], summary="Who am I")
    def me(principal: Principal = Depends(anyone)) -> dict[str, Any]:
        return principal.to_dict()

    @router.post("/api/requests", status_code=201, tags=["requests"], summary="Submit a data request (Art. 8.2)")
    def submit(form: RequestForm, principal: Principal = Depends(requester)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return lifecycle.submit(conn, principal, form).to_dict()

    @router.get("/api/requests", tags=["requests"], summary="Requests visible to the caller")
    def list_requests(status: Status = None, principal: Principal = Depends(member)) -> list[dict[str, Any]]:
        with transaction(settings) as conn:
            return [r.to_dict() for r in lifecycle.list_requests(conn, principal, status)]

    @router.get("/api/requests/queue", tags=["officers"], summary="Overdue and due-soon requests")
    def queue(soon: Annotated[int, Query(ge=0, le=30)] = lifecycle.DUE_SOON_WORKING_DAYS,
              principal: Principal = Depends(officer)) -> dict[str, list[dict[str, Any]]]:
        with transaction(settings) as conn:
            lists = lifecycle.queue(conn, principal, soon=soon)
        return {name: [r.to_dict() for r in records] for name, records in lists.items()}

    @router.get("/api/requests/{request_id}", tags=["requests"], summary="One request with its history")
    def show(request_id: RequestId, principal: Principal = Depends(member)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return lifecycle.get(conn, principal, request_id).to_dict()

    @router.post("/api/requests/{request_id}/review", tags=["officers"], summary="Start reviewing")
    def review(request_id: RequestId, principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return lifecycle.start_review(conn, principal, request_id).to_dict()

    @router.post("/api/requests/{request_id}/approve", tags=["officers"], summary="Approve")
    def approve(request_id: RequestId, approval: Annotated[Approval | None, Body()] = None,
                principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return lifecycle.approve(conn, principal, request_id, approval).to_dict()

    @router.post("/api/requests/{request_id}/refuse", tags=["officers"], summary="Refuse in writing, with the reason")
    def refuse(request_id: RequestId, refusal: Refusal, principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return lifecycle.refuse(conn, principal, request_id, refusal.reason).to_dict()

    @router.post("/api/requests/{request_id}/cancel", tags=["requests"], summary="Cancel")
    def cancel(request_id: RequestId, body: Annotated[Cancellation | None, Body()] = None,
               principal: Principal = Depends(member)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return lifecycle.cancel(conn, principal, request_id, body.reason if body else None).to_dict()

    @router.post("/api/requests/{request_id}/fulfil", tags=["officers"], summary="Fulfil an approved request")
    def fulfil(request_id: RequestId, principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            result = delivery.fulfil(conn, settings, principal, request_id)
        return result.request.to_dict() | {"fee_statement": result.fee_statement,
                                           "item_count": len(result.manifest["items"])}

    @router.get("/api/requests/{request_id}/letter.html", response_class=HTMLResponse, tags=["requests"],
                summary="Refusal letter (HTML)")
    def letter_html(request_id: RequestId, principal: Principal = Depends(reader)) -> HTMLResponse:
        from rsarchive.requests import letters

        with transaction(settings) as conn:
            record = lifecycle.get(conn, principal, request_id)
        return HTMLResponse(letters.render_html(letters.RefusalLetter.of(record)))

    @router.get("/api/requests/{request_id}/letter.pdf", tags=["requests"], summary="Refusal letter (PDF)",
                response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
    def letter_pdf(request_id: RequestId, principal: Principal = Depends(reader)) -> Response:
        from rsarchive.requests import letters

        with transaction(settings) as conn:
            record = lifecycle.get(conn, principal, request_id)
        pdf = letters.render_pdf(letters.RefusalLetter.of(record))
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="refusal-{request_id}.pdf"'})

    @router.get("/api/requests/{request_id}/delivery", tags=["requests"],
                summary="Manifest, licence, fee statement and signed download URLs")
    def show_delivery(request_id: RequestId, request: Request, principal: Principal = Depends(member)) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        with transaction(settings) as conn:
            return delivery.delivery_for(conn, principal, request_id, base_url=base)

    @router.post("/api/requests/{request_id}/payments", status_code=201, tags=["officers"],
                 summary="Record a payment of the delivery's fee statement (Circular 187/2016/TT-BTC)")
    def record_payment(request_id: RequestId, form: payments.PaymentForm,
                       principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return payments.record(conn, principal, request_id, form).to_dict()

    @router.get("/api/requests/{request_id}/payments", tags=["requests"],
                summary="The fee balance: total, paid, due, released, the payments recorded")
    def show_payments(request_id: RequestId, principal: Principal = Depends(member)) -> dict[str, Any]:
        with transaction(settings) as conn:
            lifecycle.get(conn, principal, request_id)  # visibility
            return payments.balance(conn, request_id).to_dict()

    @router.post("/api/requests/{request_id}/reports", status_code=201, tags=["reports"],
                 summary="Report an error in a delivered item (Art. 9.4)")
    def report_error(request_id: RequestId, form: ErrorReportForm,
                     principal: Principal = Depends(requester)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return reports.report(conn, principal, request_id, form).to_dict()

    @router.get("/api/reports", tags=["reports"], summary="Error reports visible to the caller")
    def list_reports(status: ReportStatus = None, principal: Principal = Depends(member)) -> list[dict[str, Any]]:
        with transaction(settings) as conn:
            return [r.to_dict() for r in reports.list_reports(conn, principal, status)]

    @router.post("/api/reports/{report_id}/triage", tags=["reports"],
                 summary="Dismiss, mark for reprocessing, or withdraw from the public catalog")
    def triage(report_id: ReportId, decision: Triage, principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return reports.triage(conn, settings, principal, report_id, decision).to_dict()

    @router.get("/api/items/withdrawn", tags=["reports"], summary="Items withdrawn from the public catalog")
    def withdrawn(principal: Principal = Depends(officer)) -> list[dict[str, Any]]:
        with transaction(settings) as conn:
            return [a.to_dict() for a in reports.withdrawn_items(conn, principal)]

    @router.post("/api/items/{collection}/{item_id}/reinstate", tags=["reports"],
                 summary="Lift a withdrawal and publish the item again")
    def reinstate(collection: CollectionId, item_id: ItemId, decision: Reinstatement,
                  principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return reports.reinstate(conn, settings, principal, collection, item_id, decision)

    @router.post("/api/coverage", tags=["coverage"], summary="Coverage check before a foreign purchase (Art. 10.2)")
    def check_coverage(query: CoverageQuery, principal: Principal = Depends(checker)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return coverage.coverage_check(conn, principal, query).to_dict()

    @router.get("/downloads/{token}", tags=["downloads"], summary="Download one delivered asset (signed, expiring)",
                response_class=StreamingResponse)
    def download(token: Annotated[str, Path(max_length=4000)], principal: Principal = Depends(downloader)) -> Response:
        with transaction(settings) as conn:
            grant, asset = delivery.resolve_download(conn, principal, token)
        size, chunks = downloads.open_asset(settings, asset["href"])
        filename = asset["href"].rsplit("/", 1)[-1]
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if size is not None:
            headers["Content-Length"] = str(size)

        return StreamingResponse(downloads.logged_chunks(settings, grant, chunks),
                                 media_type=asset.get("type") or "application/octet-stream", headers=headers)

    return router
