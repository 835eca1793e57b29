"""The files the public catalog lists, served on the archive's public URL:
``GET /assets/{collection}/{item}/{asset}`` (:mod:`rsarchive.catalog.assets`).

* A preview (the thumbnail, the quicklook) of a published item: streamed from the archive's
  store to anyone, verified against its record, with ``ETag`` (its sha256) and
  ``Cache-Control``.
* A data file: supplied on written request (Decision 81/2010, Art. 8).  An anonymous
  caller gets 401 and a body saying, in Vietnamese then English, how to request it; a
  caller (bearer token or the web cookie) whose fulfilled delivery includes the file gets
  it streamed, and the download is logged like those of ``/downloads/…``; any other
  caller gets 403 with the same instructions.
* Anything else -- an item not published (classified, held, withdrawn, unknown), a
  level-0 or original file, an asset the public item does not list -- is 404, the same
  answer for all.

Plugged in by :func:`include_public_assets` (``rsarchive.api.app.create_app``).
"""

from __future__ import annotations

import io
import logging
import threading
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from rsarchive.api.auth import ErrorTranslatingRoute, bearer, principal_for, session_user, token_of
from rsarchive.api.sessions import SESSION_COOKIE
from rsarchive.catalog.assets import PublishedFile, published_file
from rsarchive.db import connect, transaction
from rsarchive.errors import PermissionDeniedError
from rsarchive.requests import delivery, downloads
from rsarchive.users.identity import Principal

if TYPE_CHECKING:
    from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["include_public_assets", "on_request_body", "public_assets_router"]

PREVIEW_MAX_AGE = 3600
Segment = Annotated[str, Path(min_length=1, max_length=500)]


def on_request_body(settings: Settings, found: PublishedFile, signed_in: bool) -> dict[str, Any]:
    """The answer to a caller who may not have a data file: how to request it (Art. 8)."""
    base = settings.public_url
    web, api = f"{base}/web/requests/new", f"{base}/api/requests"
    vi = (f"Tệp {found.asset} của ảnh {found.item_id} được cung cấp theo phiếu yêu cầu hoặc văn bản yêu cầu "
          f"(Điều 8, Quyết định 81/2010/QĐ-TTg). Gửi yêu cầu tại {web} hoặc qua API {api} (POST), nêu mã ảnh "
          f"{found.item_id}; khi yêu cầu được đáp ứng, tệp được tải tại địa chỉ này bằng mã truy cập (token) "
          "của tài khoản thuộc tổ chức đã gửi yêu cầu.")
    en = (f"File {found.asset} of item {found.item_id} is supplied on a written request (Decision 81/2010/QĐ-TTg, "
          f"Art. 8). Submit a request at {web} or through the API {api} (POST), naming item {found.item_id}; once "
          "the request is fulfilled, the file downloads at this address with the API token of an account of the "
          "organisation that made the request.")
    if signed_in:
        vi = "Chưa có yêu cầu nào đã được đáp ứng của tổ chức bạn bao gồm tệp này. " + vi
        en = "No fulfilled request of your organisation includes this file. " + en
    return {"code": "DataOnRequest", "description": f"{vi}\n\n{en}", "description_vi": vi, "description_en": en,
            "item": found.item_id, "collection": found.collection, "asset": found.asset,
            "file:size": found.record.size, "file:checksum": found.record.checksum,
            "links": [{"rel": "request-form", "href": web, "type": "text/html"},
                      {"rel": "request-api", "href": api, "type": "application/json"}]}


def public_assets_router(settings: Settings) -> APIRouter:
    """The route ``/assets/{collection}/{item}/{asset}``."""
    router = APIRouter(route_class=ErrorTranslatingRoute, tags=["assets"])
    archives: list[Any] = []
    lock = threading.Lock()

    def archive() -> Any:
        with lock:
            if not archives:
                from rsarchive.storage import Archive

                archives.append(Archive.from_settings(settings))
            return archives[0]

    @router.get("/assets/{collection}/{item_id}/{asset}", summary="A file the public catalog lists",
                response_class=Response,
                responses={200: {"content": {"image/png": {}, "image/webp": {}, "application/octet-stream": {}}},
                           304: {"description": "the preview has not changed (If-None-Match)"},
                           401: {"description": "data on request: how to request it (Vietnamese, English)"},
                           403: {"description": "no delivery of the caller includes the file"},
                           404: {"description": "not a published file"}})
    def public_asset(collection: Segment, item_id: Segment, asset: Segment, request: Request,
                     credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Response:
        with connect(settings.internal_database_dsn) as internal, connect(settings.public_database_dsn) as public:
            found = published_file(internal, public, collection, item_id, asset)
        if found.preview:
            return _preview(archive(), found, request)
        token = token_of(request, credentials)
        principal = (session_user(settings, request) if token is None and SESSION_COOKIE in request.cookies
                     else principal_for(settings, token))
        if principal.is_anonymous:
            return JSONResponse(on_request_body(settings, found, False), status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="rsarchive"'})
        return _delivered(settings, principal, found)

    return router


def _preview(archive: Any, found: PublishedFile, request: Request) -> Response:
    etag = f'"{found.record.sha256}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={PREVIEW_MAX_AGE}"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    buffer = io.BytesIO()
    archive.get(found.record.key, buffer)  # verified against the record (the copy when the primary is damaged)
    return Response(buffer.getvalue(), media_type=found.media_type, headers=headers)


def _delivered(settings: Settings, principal: Principal, found: PublishedFile) -> Response:
    with transaction(settings) as conn:
        try:
            granted = delivery.delivered_asset(conn, principal, found.collection, found.item_id, found.asset)
        except PermissionDeniedError:  # a role that receives no deliveries (operator)
            granted = None
    if granted is None:
        return JSONResponse(on_request_body(settings, found, True), status_code=403)
    grant, asset = granted
    size, chunks = downloads.open_asset(settings, asset["href"])
    filename = found.record.key.rsplit("/", 1)[-1]
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "ETag": f'"{found.record.sha256}"'}
    if size is not None:
        headers["Content-Length"] = str(size)

    return StreamingResponse(downloads.logged_chunks(settings, grant, chunks), media_type=found.media_type, headers=headers)


def include_public_assets(app: Any, settings: Settings) -> None:
    """Add ``/assets/…`` to ``app``."""
    app.include_router(public_assets_router(settings))
