"""``/metrics`` of the API (Prometheus text format) and the latency of every request by route.

Who may read it: Prometheus on the same host or network (``metrics_allow``, default the
loopback addresses), on a request that did not come through a proxy — a request carrying
``X-Forwarded-For`` or ``Forwarded`` is never taken as local, so a reverse proxy in front of
the public API cannot open it to the Internet by mistake — and otherwise an operator's or
administrator's bearer token (Prometheus ``authorization: {credentials_file: …}``).
Anyone else gets 401/403.  It is left out of the OpenAPI document.

The latency histogram is labelled with the *route template* a request matched
(``/stac/collections/{collection_id}/items``), never its raw path: a crafted URL adds no
label value (no route matched: ``route="unmatched"``); the method is one of the HTTP
methods or ``OTHER``; the status is the one the archive answered.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector
from starlette.routing import Mount

from rsarchive.api.auth import principal_for
from rsarchive.errors import AuthError
from rsarchive.metrics import ArchiveCollector
from rsarchive.settings import Settings
from rsarchive.users import identity

__all__ = ["LATENCY_BUCKETS", "METRICS_PATH", "RouteClock", "RouteRecorder", "include_metrics", "route_template"]

METRICS_PATH = "/metrics"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
UNMATCHED = "unmatched"


ROUTE_KEY = "rsarchive.routes"
"""Scope key of the list the :class:`RouteRecorder` of each app appends its matched route to; the
scope copies that mounted apps make share the list."""


class RouteRecorder:
    """ASGI middleware of one app (the archive's, and each mounted STAC API): once its router has
    handled a request, the route it chose (``scope["route"]``, set by Starlette and FastAPI) is
    appended, with the app's ``root_path`` (its mount prefix), to the request's :data:`ROUTE_KEY`
    list — innermost app first."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            found = scope.get(ROUTE_KEY)
            route = scope.get("route")
            if isinstance(found, list) and route is not None:
                found.append((str(scope.get("root_path", "")), route))


def route_template(routes: list[tuple[str, Any]], root_path: str = "") -> str:
    """The template of the innermost route recorded for a request: its app's mount prefix (below
    ``root_path``, the server's own) and its path, e.g. ``/stac`` + ``/collections/{collection_id}``;
    ``unmatched`` when no route was."""
    if not routes:
        return UNMATCHED
    prefix, route = routes[0]
    path = prefix.removeprefix(root_path) + str(getattr(route, "path", ""))
    if isinstance(route, Mount):  # a mount whose app has no routes of its own (static files)
        path += "/{path}"
    return path or UNMATCHED


def _apps(app: Any) -> list[Any]:
    """``app`` and the apps mounted in it that take middleware (looking through ASGI wrappers)."""
    found = [app]
    for route in getattr(app, "routes", []):
        if isinstance(route, Mount):
            inner = route.app
            for _ in range(8):
                if inner is None or hasattr(inner, "add_middleware"):
                    break
                inner = getattr(inner, "app", None)
            if inner is not None and hasattr(inner, "add_middleware"):
                found.extend(_apps(inner))
    return found


class RouteClock:
    """ASGI middleware: the duration of every HTTP request, by method, route template and status."""

    def __init__(self, app: Any, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        routes: list[tuple[str, Any]] = []

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(dict(scope, **{ROUTE_KEY: routes}), receive, sending)
        finally:
            method = scope.get("method", "")
            self.histogram.labels(method if method in METHODS else "OTHER", route_template(routes, str(scope.get("root_path", ""))),
                                  str(status)).observe(time.perf_counter() - started)


def _networks(setting: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    entries = [e for e in setting.split(",") if e]
    if "*" in entries:
        return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    return [ipaddress.ip_network(e, strict=False) for e in entries]


def _local(request: Request, networks: list[Any]) -> bool:
    """A scraper in ``networks`` talking to the API directly (not through a proxy)."""
    if "x-forwarded-for" in request.headers or "forwarded" in request.headers or request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(address in n for n in networks if n.version == address.version)


def include_metrics(app: FastAPI, settings: Settings) -> CollectorRegistry:
    """Add ``/metrics`` and the request clock to ``app`` (call last: the clock is then outermost)."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    registry.register(ArchiveCollector(settings.internal_database_dsn, timeout_ms=settings.metrics_query_timeout_ms,
                                       cache_seconds=settings.metrics_cache_seconds))
    latency = Histogram("rsarchive_http_request_duration_seconds", "Seconds to answer an HTTP request, by method, "
                        "route template and status", ["method", "route", "status"], buckets=LATENCY_BUCKETS,
                        registry=registry)
    networks = _networks(settings.metrics_allow)
    for each in _apps(app):
        each.add_middleware(RouteRecorder)
    app.add_middleware(RouteClock, histogram=latency)

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not _local(request, networks):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("/metrics cần mã truy cập của người vận hành / needs an operator's API token "
                                "(Authorization: Bearer …)")
            identity.require(principal_for(settings, token.strip()), "operator")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    app.state.metrics_registry = registry
    return registry
