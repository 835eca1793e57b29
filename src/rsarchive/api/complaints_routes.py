"""JSON routes for what issue #22 adds around requests: complaints (Art. 9.5) and their letters, paper
requests, satellite-capability questions (Art. 13a) and the purchase opinion (Art. 10.2; Decree 03/2019,
Art. 15.4).  Each handler translates HTTP to one library call.

Roles: requesters file complaints about their requests; officers accept, refuse to accept and settle
them, enter paper requests and record capability questions; operators (the satellite operator's
officers) answer capability questions; officers and operators ask for purchase opinions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from rsarchive.api.auth import ErrorTranslatingRoute, require_role
from rsarchive.api.requests_routes import AUTH_RESPONSES, RequestId
from rsarchive.db import transaction
from rsarchive.requests import capability, complaint_letters, complaints, official_letters, paper, purchase
from rsarchive.users.identity import Principal

if TYPE_CHECKING:
    from rsarchive.settings import Settings

ComplaintId = Annotated[int, Path(ge=1, le=2**62, description="complaint id")]
QuestionId = Annotated[int, Path(ge=1, le=2**62, description="capability question id")]
OpinionId = Annotated[int, Path(ge=1, le=2**62, description="purchase opinion id")]
ComplaintStatus = Annotated[str | None, Query(pattern="^(received|accepted|not_accepted|settled)$")]


def complaints_router(settings: Settings) -> APIRouter:
    """The routes under ``/api/complaints``, ``/api/requests/…/complaints``, ``/api/requests/paper``,
    ``/api/capability-questions`` and ``/api/purchase-opinions``."""
    router = APIRouter(route_class=ErrorTranslatingRoute, responses=AUTH_RESPONSES)
    requester = require_role(settings, "requester")
    officer = require_role(settings, "officer")
    member = require_role(settings, "requester", "officer")
    reader = require_role(settings, "requester", "officer", cookie=True)
    satellite = require_role(settings, "officer", "operator")
    operator = require_role(settings, "operator")

    # Complaints ------------------------------------------------------------------------------
    @router.post("/api/requests/{request_id}/complaints", status_code=201, tags=["complaints"],
                 summary="Complain about a request's handling (Art. 9.5)")
    def file_complaint(request_id: RequestId, form: complaints.ComplaintForm,
                       principal: Principal = Depends(requester)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return complaints.file(conn, principal, request_id, form).to_dict()

    @router.get("/api/complaints", tags=["complaints"], summary="Complaints visible to the caller")
    def list_complaints(status: ComplaintStatus = None,
                        principal: Principal = Depends(member)) -> list[dict[str, Any]]:
        with transaction(settings) as conn:
            return [c.to_dict() for c in complaints.list_complaints(conn, principal, status)]

    @router.get("/api/complaints/queue", tags=["officers"], summary="Complaints overdue and due soon")
    def complaint_queue(soon: Annotated[int, Query(ge=0, le=45)] = complaints.DUE_SOON_DAYS,
                        principal: Principal = Depends(officer)) -> dict[str, list[dict[str, Any]]]:
        with transaction(settings) as conn:
            lists = complaints.queue(conn, principal, soon=soon)
        return {name: [c.to_dict() for c in records] for name, records in lists.items()}

    @router.get("/api/complaints/{complaint_id}", tags=["complaints"], summary="One complaint")
    def show_complaint(complaint_id: ComplaintId, principal: Principal = Depends(member)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return complaints.get(conn, principal, complaint_id).to_dict()

    @router.post("/api/complaints/{complaint_id}/accept", tags=["officers"],
                 summary="Accept a complaint: the settlement clock starts")
    def accept(complaint_id: ComplaintId, body: Annotated[complaints.Acceptance | None, Body()] = None,
               principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return complaints.accept(conn, principal, complaint_id, body).to_dict()

    @router.post("/api/complaints/{complaint_id}/not-accept", tags=["officers"],
                 summary="Do not accept a complaint, with the reason in writing")
    def not_accept(complaint_id: ComplaintId, body: complaints.NonAcceptance,
                   principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return complaints.refuse_acceptance(conn, principal, complaint_id, body).to_dict()

    @router.post("/api/complaints/{complaint_id}/settle", tags=["officers"],
                 summary="Settle an accepted complaint with a written answer")
    def settle(complaint_id: ComplaintId, body: complaints.Settlement,
               principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return complaints.settle(conn, principal, complaint_id, body).to_dict()

    @router.get("/api/complaints/{complaint_id}/letter.html", response_class=HTMLResponse, tags=["complaints"],
                summary="The written answer (HTML)")
    def letter_html(complaint_id: ComplaintId, principal: Principal = Depends(reader)) -> HTMLResponse:
        with transaction(settings) as conn:
            letter = complaint_letters.letter_for(conn, complaints.get(conn, principal, complaint_id))
        return HTMLResponse(complaint_letters.render_html(letter))

    @router.get("/api/complaints/{complaint_id}/letter.pdf", tags=["complaints"], summary="The written answer (PDF)",
                response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
    def letter_pdf(complaint_id: ComplaintId, principal: Principal = Depends(reader)) -> Response:
        with transaction(settings) as conn:
            letter = complaint_letters.letter_for(conn, complaints.get(conn, principal, complaint_id))
        return Response(complaint_letters.render_pdf(letter), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="complaint-{complaint_id}.pdf"'})

    # Paper requests --------------------------------------------------------------------------
    @router.post("/api/requests/paper", status_code=201, tags=["officers"],
                 summary="Enter a request received on paper, with its date of receipt")
    def enter_paper(body: paper.PaperRequest, principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return paper.enter(conn, principal, body.requester, body.form, body.received, body.reference).to_dict()

    # Capability questions (Art. 13a) ----------------------------------------------------------
    @router.post("/api/capability-questions", status_code=201, tags=["capability"],
                 summary="Record the Ministry's question on satellite imaging capability (Art. 13a)")
    def ask(form: capability.CapabilityQuestionForm, principal: Principal = Depends(officer)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return capability.ask(conn, principal, form).to_dict()

    @router.get("/api/capability-questions", tags=["capability"], summary="Capability questions")
    def list_questions(status: Annotated[str | None, Query(pattern="^(received|answered)$")] = None,
                       principal: Principal = Depends(satellite)) -> list[dict[str, Any]]:
        with transaction(settings) as conn:
            return [q.to_dict() for q in capability.list_questions(conn, principal, status)]

    @router.get("/api/capability-questions/queue", tags=["capability"], summary="Unanswered, overdue and due soon")
    def question_queue(principal: Principal = Depends(satellite)) -> dict[str, list[dict[str, Any]]]:
        with transaction(settings) as conn:
            lists = capability.queue(conn, principal)
        return {name: [q.to_dict() for q in records] for name, records in lists.items()}

    @router.get("/api/capability-questions/{question_id}", tags=["capability"], summary="One capability question")
    def show_question(question_id: QuestionId, principal: Principal = Depends(satellite)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return capability.get(conn, principal, question_id).to_dict()

    @router.post("/api/capability-questions/{question_id}/answer", tags=["capability"],
                 summary="The satellite operator's written answer")
    def answer(question_id: QuestionId, form: capability.CapabilityAnswerForm,
               principal: Principal = Depends(operator)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return capability.answer(conn, principal, question_id, form).to_dict()

    @router.get("/api/capability-questions/{question_id}/letter.html", response_class=HTMLResponse,
                tags=["capability"], summary="The operator's written answer (HTML)")
    def capability_letter_html(question_id: QuestionId, principal: Principal = Depends(satellite)) -> HTMLResponse:
        with transaction(settings) as conn:
            letter = capability.letter(capability.get(conn, principal, question_id))
        return HTMLResponse(official_letters.render_html(letter))

    @router.get("/api/capability-questions/{question_id}/letter.pdf", tags=["capability"],
                summary="The operator's written answer (PDF)", response_class=Response,
                responses={200: {"content": {"application/pdf": {}}}})
    def capability_letter_pdf(question_id: QuestionId, principal: Principal = Depends(satellite)) -> Response:
        with transaction(settings) as conn:
            letter = capability.letter(capability.get(conn, principal, question_id))
        return Response(official_letters.render_pdf(letter), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="capability-{question_id}.pdf"'})

    # Purchase opinions (Art. 10.2; Decree 03/2019, Art. 15.4) ------------------------------------
    @router.post("/api/coverage/opinion", status_code=201, tags=["coverage"],
                 summary="Check the archive and the stations before a state-budget foreign purchase; record the opinion")
    def give_opinion(query: purchase.PurchaseQuery, principal: Principal = Depends(satellite)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return purchase.give_opinion(conn, principal, query).to_dict()

    @router.get("/api/purchase-opinions/{opinion_id}", tags=["coverage"], summary="One recorded purchase opinion")
    def show_opinion(opinion_id: OpinionId, principal: Principal = Depends(satellite)) -> dict[str, Any]:
        with transaction(settings) as conn:
            return purchase.get(conn, opinion_id).to_dict()

    return router
