"""The web application: ``create_app(settings)``.

One FastAPI app with two STAC APIs (stac-fastapi-pgstac) mounted as sub-applications,
each on its own database and connection pool:

=====================  ===========================  =====================================
path                   what                         database
=====================  ===========================  =====================================
``/stac/``             public STAC API, anonymous,  public (published items only)
                       read-only
``/internal/stac/``    internal STAC API, bearer    internal (everything, each item
                       token of an officer,         shown only within the caller's
                       operator or admin            clearance)
``/browser/``          STAC Browser on ``/stac/``   —
``/docs``              OpenAPI docs of this app     (each STAC API: ``…/api.html``)
=====================  ===========================  =====================================

Starlette does not run the lifespan of mounted apps, so this app's lifespan opens and
closes both pools.  Links are right under the prefixes because a mount sets the ASGI
``root_path`` that stac-fastapi builds its ``base_url`` from.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from rsarchive.api.feeds import include_feeds
from rsarchive.api.metrics import include_metrics
from rsarchive.api.public_assets import include_public_assets
from rsarchive.api.tiles import include_tiles
from rsarchive.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["PUBLIC_PREFIX", "INTERNAL_PREFIX", "BROWSER_PREFIX", "create_app", "stac_api"]

PUBLIC_PREFIX = "/stac"
INTERNAL_PREFIX = "/internal/stac"
BROWSER_PREFIX = "/browser"


def _postgres_settings(dsn: str, application_name: str, statement_timeout_ms: int) -> Any:
    """stac-fastapi-pgstac's ``PostgresSettings`` for a DSN (it wants separate fields)."""
    from psycopg.conninfo import conninfo_to_dict
    from stac_fastapi.pgstac.config import PostgresSettings, ServerSettings

    params = conninfo_to_dict(dsn)

    class DsnPostgresSettings(PostgresSettings):
        @property
        def connection_string(self) -> str:
            return dsn

    return DsnPostgresSettings(
        pguser=str(params.get("user", "")), pgpassword=str(params.get("password", "")),
        pghost=str(params.get("host", "")), pgport=int(params.get("port", 5432) or 5432),
        pgdatabase=str(params.get("dbname", "")),
        db_min_conn_size=1, db_max_conn_size=10,
        # pgSTAC's read-only mode: a search does not record itself (searches, search_wheres
        # tables), so it never writes — both APIs only read; counts (numberMatched) stay exact
        # (why: docs/DECISIONS.md, STAC API searches: where the time went).
        # statement_timeout: the query budget of a request (setting api_statement_timeout_ms); a
        # search past it is cancelled by the server and answered 503 (rsarchive.api.errors).
        server_settings=ServerSettings(search_path="pgstac,public", application_name=application_name,
                                       statement_timeout=str(statement_timeout_ms),
                                       **{"pgstac.readonly": "true"}),
    )


def stac_api(title: str, description: str, landing_id: str, *, by_clearance: bool = False,
             statement_timeout_ms: int | None = None) -> Any:
    """A read-only stac-fastapi-pgstac ``StacApi`` with every search extension enabled.

    ``by_clearance``: every item read (search, item lists, single items) is restricted to
    the caller's clearance, which :class:`TokenAuth` puts in the request state (the
    internal API; the public database holds unclassified items only)."""
    import rsarchive
    from stac_fastapi.pgstac.app import instantiate_api
    from stac_fastapi.pgstac.config import Settings as StacSettings
    from stac_fastapi.pgstac.models.extensions import Extensions

    from rsarchive.api.errors import add_handlers

    @asynccontextmanager
    async def no_lifespan(app: Any) -> AsyncIterator[None]:  # pools are opened by the parent app
        yield

    settings = StacSettings(
        stac_fastapi_title=title, stac_fastapi_description=description, stac_fastapi_landing_id=landing_id,
        stac_fastapi_version=rsarchive.__version__,
        # Hydrate items (merge with the collection's item_assets) in Python, not in pgSTAC's
        # PL/pgSQL (why: docs/DECISIONS.md, STAC API searches: where the time went)
        use_api_hydrate=True,
        enabled_extensions=None, enable_transactions_extensions=False, openapi_url="/api", docs_url="/api.html",
    )
    from stac_fastapi.extensions.filter import (
        CollectionSearchFilterExtension,
        ItemCollectionFilterExtension,
        SearchFilterExtension,
    )
    from stac_fastapi.extensions.query import QueryConformanceClasses

    from rsarchive.api.query import ClearanceFilterClient, FullQueryExtension, QueryToFilterClient
    from rsarchive.api.queryables import BilingualFiltersClient

    from stac_fastapi.extensions.sort import ItemCollectionSortExtension, SearchSortExtension
    from stac_fastapi.extensions.sort.sort import SortConformanceClasses as Sort

    # Sort v1.1.0 as stac-fastapi declares it, plus the v1.0.0 class names of the same
    # behaviour: pystac-client 0.9 recognises only v1.0.x and otherwise drops sortby.
    extensions = Extensions(
        settings=settings,
        search_map={
            "filter": SearchFilterExtension(client=BilingualFiltersClient()),
            "query": FullQueryExtension(),
            "sort": SearchSortExtension(conformance_classes=[
                Sort.ITEM_SEARCH_SORT, Sort.ITEM_SEARCH_SORTABLES, "https://api.stacspec.org/v1.0.0/item-search#sort"]),
        },
        collection_search_map={"filter": CollectionSearchFilterExtension(client=BilingualFiltersClient())},
        item_collection_map={
            "filter": ItemCollectionFilterExtension(client=BilingualFiltersClient()),
            "query": FullQueryExtension(conformance_classes=[QueryConformanceClasses.ITEMS]),
            "sort": ItemCollectionSortExtension(conformance_classes=[
                Sort.FEATURES_SORT, Sort.FEATURES_SORTABLES, "https://api.stacspec.org/v1.0.0/ogcapi-features#sort"]),
        },
    )
    client = ClearanceFilterClient if by_clearance else QueryToFilterClient
    api = instantiate_api(client=client, settings=settings, lifespan=no_lifespan, extensions=extensions)

    api.client.landing_page_id = landing_id
    add_handlers(api.app, statement_timeout_ms)
    _without_hidden_paths(api.app)
    return api


HIDDEN_PATHS = frozenset({"/_mgmt/health"})
"""Routes of stac-fastapi that the archive does not serve (answered 404, absent from the OpenAPI)."""


def _without_hidden_paths(app: Any) -> None:
    """Leave :data:`HIDDEN_PATHS` out of ``app``'s OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for path in HIDDEN_PATHS:
            schema.get("paths", {}).pop(path, None)
        return schema

    app.openapi = openapi


class MountedRoot:
    """ASGI wrapper for a mounted STAC API: make the mount path its URL root.

    Starlette builds ``request.base_url`` from the top-level ``app_root_path``, so the
    links of a mounted stac-fastapi app would miss the prefix; here the sub-app's
    ``root_path`` (which includes the mount path) becomes its ``app_root_path``."""

    def __init__(self, app: Any, hidden: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.hidden = hidden

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = dict(scope, app_root_path=scope.get("root_path", ""))
            if self.hidden and scope["type"] == "http" and scope.get("path", "").removeprefix(
                    scope.get("root_path", "")) in self.hidden:
                from starlette.responses import JSONResponse

                await JSONResponse({"code": "NotFound", "description": "Not Found"}, status_code=404)(
                    scope, receive, send)
                return
        await self.app(scope, receive, send)


class TokenAuth:
    """ASGI middleware: ``Authorization: Bearer <token>`` checked against ``rsarchive.api_tokens``.

    The token is looked up on every request (no cache: a revoked token fails on the very
    next request; the lookup is one indexed read, ~0.3 ms).  The caller's clearance goes
    into the ASGI scope's ``state`` (``request.state.clearance``), where the internal
    API's client (:class:`rsarchive.api.query.ClearanceFilterClient`) restricts every
    item read to it."""

    def __init__(self, app: Any, stac_app: Any) -> None:
        self.app = app
        self.stac_app = stac_app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        from starlette.responses import JSONResponse

        from rsarchive.users.tokens import lookup_token_async, refusal_async

        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        caller = await lookup_token_async(self.stac_app.state.readpool, token) \
            if scheme.lower() == "bearer" and token else None
        if caller is None:
            reason = await refusal_async(self.stac_app.state.readpool, token if auth else "")
            reason_vi, _, reason_en = reason.partition(" / ")
            response = JSONResponse(
                {"code": "AuthError", "description": f"the internal API needs a valid token: {reason_en}",
                 "description_vi": f"API nội bộ cần mã truy cập hợp lệ: {reason_vi}",
                 "description_en": f"the internal API needs a valid token: {reason_en}"},
                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="rsarchive-internal"'},
            )
            await response(scope, receive, send)
            return
        if not caller.allowed:  # a valid user token whose role may not read the internal catalog
            response = JSONResponse({"code": "PermissionDeniedError", "description": "the internal API is for "
                                     "officers, operators and administrators"}, status_code=403)
            await response(scope, receive, send)
            return
        state = dict(scope.get("state") or {}, token_name=caller.name, clearance=caller.clearance)
        await self.app(dict(scope, state=state), receive, send)


DEFAULT_FIELDS = ("type", "stac_version", "id", "collection", "geometry", "bbox", "links", "assets",
                  "properties.datetime")
"""What the fields extension recommends returning when ``include`` is given empty."""


def _normalise_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Fields-extension semantics where stac-fastapi-pgstac differs from the specification
    (as stac-api-validator checks them):

    * ``include`` given but empty or null, with an ``exclude`` → the default fields minus
      the excluded ones (pgSTAC would return every other field);
    * an ``exclude`` that is a parent of an ``include`` (``-properties,+properties.eo:cloud_cover``)
      → the more specific include wins;
    * a non-empty ``include`` always keeps ``type``, ``id`` and ``collection``: every feature
      stays an identifiable GeoJSON Feature (and its links can be built)."""
    include = set(fields.get("include") or ())
    exclude = set(fields.get("exclude") or ())
    if "include" in fields and not include and exclude:
        return {"include": sorted(set(DEFAULT_FIELDS) - exclude), "exclude": sorted(exclude)}
    if include:
        shadowed = {e for e in exclude if any(i.startswith(e + ".") for i in include)}
        return {"include": sorted(include | {"type", "id", "collection"}), "exclude": sorted(exclude - shadowed)}
    return fields


class SearchBodyNormaliser:
    """ASGI middleware for ``POST …/search``: a lone string for ``collections`` or ``ids``
    is taken as a one-element list (clients and stac-api-validator send that),
    ``"fields": null`` is refused with 400 (it is not a fields object), and ``fields``
    follows the extension's specification (:func:`_normalise_fields`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope.get("path", "").endswith("/search"):
            await self.app(scope, receive, send)
            return
        import json

        from rsarchive.api.limits import read_body, replay_body

        body = await read_body(receive)  # EdgeLimits, outside, has bounded it
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        if isinstance(data, dict):
            if "fields" in data and data["fields"] is None:
                from starlette.responses import JSONResponse

                response = JSONResponse({"code": "InvalidParameter", "description": "fields: must be an object with "
                                         "include and/or exclude lists, not null"}, status_code=400)
                await response(scope, receive, send)
                return
            changed = False
            if isinstance(data.get("fields"), dict):
                fixed = _normalise_fields(data["fields"])
                changed = fixed is not data["fields"]
                data["fields"] = fixed
            for key in ("collections", "ids"):
                if isinstance(data.get(key), str):
                    data[key] = [data[key]]
                    changed = True
            if changed:
                body = json.dumps(data).encode()
                headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
                scope = dict(scope, headers=headers + [(b"content-length", str(len(body)).encode())])
        await self.app(scope, replay_body(body, receive), send)


def _browser_dir(settings: Settings) -> Path:
    from rsarchive.resources import stac_browser_dir

    return stac_browser_dir(settings.site_dir)


def create_app(settings: Settings) -> Any:
    """The archive's web application for ``settings`` (nothing connects until start-up)."""
    from stac_fastapi.pgstac.db import close_db_connection, connect_to_db

    import rsarchive
    from rsarchive.api.browser import mount_browser
    from rsarchive.catalog.licence import licence_html
    from rsarchive.identities import api_public_dsn, for_process

    public = stac_api(
        "Cơ sở dữ liệu viễn thám quốc gia / Viet Nam national remote-sensing archive",
        "Siêu dữ liệu được công bố của cơ sở dữ liệu viễn thám quốc gia (Quyết định 81/2010/QĐ-TTg, Điều 7): "
        "dữ liệu mức 0, dữ liệu ảnh thô và sản phẩm ảnh VNREDSat-1, cùng dữ liệu gốc nước ngoài đã đăng ký.\n\n"
        "Published metadata of the national remote-sensing archive (Decision 81/2010/QĐ-TTg, Art. 7): "
        "VNREDSat-1 level-0, raw image data and image products, and registered foreign originals.",
        "rsarchive-public", statement_timeout_ms=settings.api_statement_timeout_ms,
    )
    internal = stac_api(
        "rsarchive internal catalog",
        "Everything the archive holds, classified items included. Bearer token required; "
        "items above the token holder's clearance are not shown.",
        "rsarchive-internal", by_clearance=True, statement_timeout_ms=settings.api_statement_timeout_ms,
    )

    # Least privilege (rsarchive.identities): the public STAC API reads as the public API role,
    # everything else runs as the internal API role with the API's read-only S3 identity.
    public_dsn = api_public_dsn(settings)
    settings = for_process(settings, "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await connect_to_db(public.app, postgres_settings=_postgres_settings(public_dsn, "rsarchive-public-api",
                                                                       settings.api_statement_timeout_ms))
        try:
            await connect_to_db(internal.app, postgres_settings=_postgres_settings(settings.internal_database_dsn, "rsarchive-internal-api",
                                                                                 settings.api_statement_timeout_ms))
            try:
                yield
            finally:
                await close_db_connection(internal.app)
        finally:
            await close_db_connection(public.app)

    app = FastAPI(
        title="rsarchive", version=rsarchive.__version__, lifespan=lifespan,
        # Same paths as the mounted STAC APIs: their landing pages build the service-desc and
        # service-doc links with url_for("openapi"), which resolves against this app's routes.
        openapi_url="/api", docs_url="/api.html", redoc_url=None,
        description="Cơ sở dữ liệu viễn thám quốc gia của Việt Nam. API STAC công khai tại /stac/ "
                    "(OpenAPI: /stac/api.html), API STAC nội bộ tại /internal/stac/ (cần mã truy cập), "
                    "STAC Browser tại /browser/.\n\n"
                    "Viet Nam's national remote-sensing archive. Public STAC API at /stac/ "
                    "(OpenAPI: /stac/api.html), internal STAC API at /internal/stac/ (token), "
                    "STAC Browser at /browser/.",
    )
    app.state.settings = settings
    app.state.public_api = public
    app.state.internal_api = internal

    from rsarchive.api.error_language import LocalizedErrors
    from rsarchive.api.errors import add_handlers
    from rsarchive.api.headers import add_security_headers
    from rsarchive.api.limits import EdgeLimits, Limits
    from rsarchive.api.request_id import RequestContext

    add_handlers(app, settings.api_statement_timeout_ms)
    add_security_headers(app)  # CSP, nosniff, X-Frame-Options … (rsarchive.api.headers)
    # Outermost first: the request id and last-resort 500, then the limits before any parser.
    app.add_middleware(EdgeLimits, limits=Limits.from_settings(settings))
    app.add_middleware(RequestContext)
    app.add_middleware(LocalizedErrors)  # every JSON error in the caller's language, both given (#21)

    @app.get("/", include_in_schema=True, summary="Entry points")
    def root(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "title": "Cơ sở dữ liệu viễn thám quốc gia / Viet Nam national remote-sensing archive",
            "links": [
                {"rel": "service-desc", "href": f"{base}{PUBLIC_PREFIX}/api",
                 "title": "API STAC công khai (OpenAPI) / public STAC API (OpenAPI)"},
                {"rel": "data", "href": f"{base}{PUBLIC_PREFIX}/", "title": "API STAC công khai / public STAC API"},
                {"rel": "data", "href": f"{base}{INTERNAL_PREFIX}/",
                 "title": "API STAC nội bộ (cần mã truy cập) / internal STAC API (token)"},
                {"rel": "alternate", "href": f"{base}{BROWSER_PREFIX}/",
                 "title": "Trình duyệt danh mục (STAC Browser) / STAC Browser"},
                {"rel": "license", "href": f"{base}/licence", "title": "điều khoản sử dụng / terms of use"},
            ],
        }

    licence = licence_html(settings.site_dir)

    @app.get("/licence", response_class=HTMLResponse, summary="Terms of use (Decision 81/2010, Art. 9)")
    def licence_page() -> str:
        return licence

    @app.get("/docs", include_in_schema=False)
    def docs() -> RedirectResponse:
        return RedirectResponse("/api.html")

    @app.get(PUBLIC_PREFIX, include_in_schema=False)
    def public_slash() -> RedirectResponse:
        return RedirectResponse(f"{PUBLIC_PREFIX}/")

    # Neither API tells its callers which database software and version it runs on
    # (/_mgmt/health names them; operators have `rsarchive services status`); /_mgmt/ping stays
    # for load balancers.
    app.mount(PUBLIC_PREFIX, SearchBodyNormaliser(MountedRoot(public.app, hidden=HIDDEN_PATHS)))
    app.mount(INTERNAL_PREFIX, TokenAuth(SearchBodyNormaliser(MountedRoot(internal.app, hidden=HIDDEN_PATHS)),
                                         internal.app))
    mount_browser(app, _browser_dir(settings), BROWSER_PREFIX, PUBLIC_PREFIX)
    from rsarchive.api.requests_app import include_requests

    include_requests(app, settings)  # /api/… (requests, coverage), /downloads/…, /web/…
    include_public_assets(app, settings)  # /assets/…: previews to anyone, data files on request (Art. 8)
    include_tiles(app, settings)  # /tiles/…: web-map tiles, public down to the preview zoom (#21)
    include_feeds(app, settings)  # /feeds/….atom: newly published items (#21)
    include_metrics(app, settings)  # /metrics for Prometheus, and the request clock (#23; last: outermost)
    return app


def app_from_environment() -> Any:
    """uvicorn ``--factory`` entry point: settings from ``RSARCHIVE_*`` and the TOML file."""
    from rsarchive.settings import load_settings

    return create_app(load_settings())
