"""Limits at the edge: every request is measured before any parser sees it.

Parsers that recurse — Python's and orjson's JSON, pydantic, the ``cql2`` crate's CQL2-text
parser (a few thousand nested parentheses or ``NOT``\\ s overflow its stack and end the whole
process with SIGSEGV), pgSTAC's PL/pgSQL ``cql2_query`` (a few hundred levels: "stack depth
limit exceeded") — are reached only with input whose size and depth were checked here,
without recursion:

==============================  =====================================  ======================
what                            limit (setting)                        answer when over
==============================  =====================================  ======================
path + query string             ``api_max_url_bytes``                  414
request body                    ``api_max_body_bytes``                 413
JSON nesting (body, JSON        ``api_max_json_depth``                 400
parameters)
CQL2 filter size                ``api_max_filter_bytes``               400
CQL2 filter nesting             ``api_max_filter_depth``               400
(parentheses, ``NOT``, unary
minus, operator levels)
vertices of ``intersects`` and  ``api_max_geometry_vertices``          400
of geometry literals in filters
``fields``, ``sortby`` entries  ``api_max_list_entries``               400
``ids``, ``collections``        ``api_max_ids``                        400
``bbox`` numbers                finite (no ``nan``, ``inf``, ``1e309``) 400
``limit``                       ``api_max_page_size``                  lowered to the limit
==============================  =====================================  ======================

``limit`` above the maximum is lowered to it, not refused: the STAC API item-search
specification (and OGC API - Features, /req/core/fc-limit-response-1) says a server
returns its maximum page instead of an error; the next link pages through the rest.

Every refusal is ``{"code": "RequestLimitExceeded", "description": …}`` naming the
parameter, the limit and its setting, in Vietnamese and then English.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["EdgeLimits", "LimitExceeded", "Limits", "check_search", "read_body", "replay_body", "cql2_text_depth", "json_depth",
           "tree_depth"]


@dataclass(frozen=True)
class Limits:
    """The edge limits (defaults: the settings' defaults)."""

    max_url_bytes: int = 8192
    max_body_bytes: int = 1_048_576
    max_json_depth: int = 48
    max_filter_bytes: int = 32_768
    max_filter_depth: int = 24
    max_geometry_vertices: int = 10_000
    max_list_entries: int = 64
    max_ids: int = 1000
    max_page_size: int = 1000

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(**{name: getattr(settings, f"api_{name}") for name in cls.__dataclass_fields__})


class LimitExceeded(Exception):
    """A request over one of the edge limits (HTTP ``status``)."""

    def __init__(self, status: int, vi: str, en: str, code: str = "RequestLimitExceeded") -> None:
        super().__init__(en)
        self.status = status
        self.code = code
        self.description = f"{vi} — {en}"
        self.vi, self.en = vi, en


def _over(param: str, what_vi: str, what_en: str, value: int, limit: int, setting: str,
          status: int = 400) -> LimitExceeded:
    return LimitExceeded(
        status,
        f"{param}: {what_vi} {value} vượt giới hạn {limit} (thiết lập {setting})",
        f"{param}: {what_en} {value} exceeds the limit of {limit} (setting {setting})",
    )


# -- depth without recursion --------------------------------------------------------------

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def json_depth(data: bytes | str) -> int:
    """The deepest nesting of arrays and objects in JSON text (strings skipped; linear time,
    no recursion; on malformed text a bound that the parser will then refuse anyway)."""
    raw = data.encode() if isinstance(data, str) else data
    if b"[" not in raw and b"{" not in raw:
        return 0
    stripped = _JSON_STRING.sub(b"", raw)
    steps = _OPEN[np.frombuffer(stripped, dtype=np.uint8)]
    steps = steps[steps != 0]
    if steps.size == 0:
        return 0
    return int(np.cumsum(steps, dtype=np.int64).max())


_CQL2_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)
_CQL2_PREFIX = re.compile(r"\bnot\b|-(?![\s]*[\d.])", re.IGNORECASE)
"""Prefix operators: ``NOT`` and a minus that is not the sign of a number literal."""


def cql2_text_depth(text: str) -> int:
    """How deep a CQL2-text parser must recurse for ``text``: the deepest parenthesis
    nesting plus every prefix operator (``NOT``, unary minus), which nest without
    parentheses.  Quoted strings and identifiers are skipped.  Linear, no recursion."""
    bare = _CQL2_QUOTED.sub("", text)
    depth = deepest = 0
    for char in bare:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest + len(_CQL2_PREFIX.findall(bare))


def tree_depth(node: Any) -> int:
    """The nesting depth of a parsed JSON value (iterative)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in value)
    return deepest


def _vertices(node: Any) -> int:
    """Coordinate positions (lists of numbers) anywhere in a parsed value (iterative)."""
    count = 0
    stack = [node]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                count += 1
            else:
                stack.extend(value)
    return count


_WKT_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


# -- the checks ---------------------------------------------------------------------------

class _Checker:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def json_text(self, param: str, text: bytes | str) -> None:
        depth = json_depth(text)
        if depth > self.limits.max_json_depth:
            raise _over(param, "độ lồng JSON", "JSON nesting depth", depth, self.limits.max_json_depth,
                        "api_max_json_depth")

    def filter_text(self, text: str, lang: str | None) -> None:
        size = len(text.encode())
        if size > self.limits.max_filter_bytes:
            raise _over("filter", "kích thước bộ lọc (byte)", "filter size in bytes", size,
                        self.limits.max_filter_bytes, "api_max_filter_bytes")
        if lang == "cql2-json":
            self.json_text("filter", text)
            import orjson

            try:
                tree = orjson.loads(text)
            except ValueError:
                return  # the filter parser names the syntax error
            self.filter_tree(tree)
            return
        depth = cql2_text_depth(text)
        if depth > self.limits.max_filter_depth:
            raise _over("filter", "độ lồng của bộ lọc CQL2", "CQL2 filter nesting depth", depth,
                        self.limits.max_filter_depth, "api_max_filter_depth")
        numbers = len(_WKT_NUMBER.findall(_CQL2_QUOTED.sub("", text)))
        if numbers // 2 > self.limits.max_geometry_vertices:
            raise _over("filter", "số đỉnh hình học", "geometry vertex count", numbers // 2,
                        self.limits.max_geometry_vertices, "api_max_geometry_vertices")

    def filter_tree(self, tree: Any) -> None:
        # An operator level of CQL2-JSON is two JSON levels: {"op", "args": [...]}.
        depth = (tree_depth(tree) + 1) // 2
        if depth > self.limits.max_filter_depth:
            raise _over("filter", "độ lồng của bộ lọc CQL2", "CQL2 filter nesting depth", depth,
                        self.limits.max_filter_depth, "api_max_filter_depth")
        self.vertices("filter", tree)

    def vertices(self, param: str, geometry: Any) -> None:
        count = _vertices(geometry)
        if count > self.limits.max_geometry_vertices:
            raise _over(param, "số đỉnh hình học", "geometry vertex count", count,
                        self.limits.max_geometry_vertices, "api_max_geometry_vertices")

    def entries(self, param: str, count: int) -> None:
        limit, setting = ((self.limits.max_ids, "api_max_ids") if param in ("ids", "collections")
                          else (self.limits.max_list_entries, "api_max_list_entries"))
        if count > limit:
            raise _over(param, "số phần tử", "number of entries", count, limit, setting)

    def page_size(self, value: Any) -> Any:
        try:
            number = int(value)
        except (TypeError, ValueError):
            return value  # not a number: the request model names the error
        return min(number, self.limits.max_page_size) if number > self.limits.max_page_size else value


def _split(value: str) -> int:
    return len([v for v in value.split(",") if v.strip()])


def _json_parameter(name: str, value: str) -> Any:
    import orjson

    try:
        return orjson.loads(value)
    except ValueError:
        what = "a GeoJSON geometry" if name == "intersects" else "a JSON object"
        raise LimitExceeded(400, f"{name}: không phải JSON hợp lệ", f"{name}: not valid JSON ({what} expected)",
                            code="InvalidParameter") from None


def _finite_bbox(numbers: list[Any]) -> None:
    """A bbox whose numbers are not all finite (``nan``, ``inf``, ``1e309``) is refused: it would search
    nothing meaningful (or everything) and cannot be echoed in strict JSON."""
    import math

    for number in numbers:
        try:
            value = float(number)
        except (TypeError, ValueError):
            return  # not a number: the STAC API's own check names it
        if not math.isfinite(value):
            raise LimitExceeded(400, f"bbox: {number} không phải số hữu hạn (cần các số tây,nam,đông,bắc)",
                                f"bbox: {number} is not a finite number (west,south,east,north expected)",
                                code="InvalidParameter")


def check_query_params(params: list[tuple[str, str]], limits: Limits) -> list[tuple[str, str]] | None:
    """Check GET parameters; the parameters with ``limit`` lowered, or None when unchanged."""
    checker = _Checker(limits)
    lang = next((v for n, v in params if n in ("filter-lang", "filter_lang")), None)
    changed = False
    out: list[tuple[str, str]] = []
    for name, value in params:
        if name == "filter":
            checker.filter_text(value, lang)
        elif name in ("intersects", "query"):
            checker.json_text(name, value)
            parsed = _json_parameter(name, value)
            if name == "intersects":
                checker.vertices(name, parsed)
        elif name in ("fields", "sortby", "ids", "collections"):
            checker.entries(name, _split(value))
        elif name == "bbox":
            _finite_bbox(value.split(","))
        elif name == "limit":
            lowered = checker.page_size(value)
            if lowered != value:
                value, changed = str(lowered), True
        out.append((name, value))
    return out if changed else None


def check_search(body: dict[str, Any], limits: Limits) -> bool:
    """Check a parsed search body (POST ``…/search``) in place; True when ``limit`` was lowered."""
    checker = _Checker(limits)
    flt = body.get("filter")
    if isinstance(flt, str):
        checker.filter_text(flt, body.get("filter-lang") or body.get("filter_lang"))
    elif flt is not None:
        checker.filter_tree(flt)
    if body.get("intersects") is not None:
        checker.vertices("intersects", body["intersects"])
    if isinstance(body.get("bbox"), list):
        _finite_bbox(body["bbox"])
    for name in ("ids", "collections", "sortby"):
        if isinstance(body.get(name), list):
            checker.entries(name, len(body[name]))
    fields = body.get("fields")
    if isinstance(fields, dict):
        count = sum(len(v) for v in fields.values() if isinstance(v, list))
        checker.entries("fields", count)
    if "limit" in body:
        lowered = checker.page_size(body["limit"])
        if lowered != body["limit"]:
            body["limit"] = lowered
            return True
    return False


# -- the middleware -----------------------------------------------------------------------

_BODY_METHODS = {"POST", "PUT", "PATCH"}


class EdgeLimits:
    """ASGI middleware applying :class:`Limits` to every HTTP request (see the module)."""

    def __init__(self, app: Any, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            scope = self._check_url(scope)
            if scope.get("method") in _BODY_METHODS:
                body = await self._read_body(scope, receive)
                body, scope = self._check_body(scope, body)
                receive = replay_body(body, receive)
        except LimitExceeded as exc:
            log.info("%s %s refused: %s", scope.get("method"), scope.get("path"), exc)
            await _refuse(exc, scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check_url(self, scope: Any) -> Any:
        path = scope.get("raw_path") or scope.get("path", "").encode()
        query = scope.get("query_string") or b""
        size = len(path) + len(query)
        if size > self.limits.max_url_bytes:
            raise _over("URL", "độ dài (byte)", "length in bytes", size, self.limits.max_url_bytes,
                        "api_max_url_bytes", status=414)
        if b"%00" in path or b"%00" in query or b"\x00" in path or b"\x00" in query:
            raise _nul("URL")
        if not query:
            return scope
        params = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
        params = [(k.encode("latin-1").decode("utf-8", "replace"), v.encode("latin-1").decode("utf-8", "replace"))
                  for k, v in params]
        lowered = check_query_params(params, self.limits)
        if lowered is None:
            return scope
        return dict(scope, query_string=urlencode(lowered).encode())

    async def _read_body(self, scope: Any, receive: Any) -> bytes:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limits.max_body_bytes:
            raise _body_over(int(declared), self.limits.max_body_bytes)
        return await read_body(receive, self.limits.max_body_bytes)

    def _check_body(self, scope: Any, body: bytes) -> tuple[bytes, Any]:
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        looks_json = ctype.endswith(b"json") or body[:1] in (b"{", b"[")
        if not body or not looks_json:
            return body, scope
        _Checker(self.limits).json_text("body", body)
        if b"\\u0000" in body or b"\x00" in body:
            raise _nul("body")
        if not scope.get("path", "").endswith("/search"):
            return body, scope
        import orjson

        try:
            data = orjson.loads(body)
        except ValueError:
            return body, scope  # the request model names the syntax error
        if isinstance(data, dict):
            from rsarchive.api.errors import SEARCH_PARAMS_KEY

            scope.setdefault("state", {})[SEARCH_PARAMS_KEY] = sorted(data)
        if isinstance(data, dict) and check_search(data, self.limits):
            body = orjson.dumps(data)
            kept = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
            scope = dict(scope, headers=kept + [(b"content-length", str(len(body)).encode())])
        return body, scope


def _body_over(size: int, limit: int) -> LimitExceeded:
    return _over("body", "kích thước (byte)", "size in bytes", size, limit, "api_max_body_bytes", status=413)


async def read_body(receive: Any, max_bytes: int | None = None) -> bytes:
    """The whole body of an HTTP request from ASGI ``receive``; :class:`LimitExceeded` (413)
    as soon as it passes ``max_bytes`` (None: no limit)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise _body_over(size, max_bytes)
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _nul(where: str) -> LimitExceeded:
    # No text of the archive holds U+0000 (PostgreSQL's text cannot): refused before the database says so.
    return LimitExceeded(400, f"{where}: chứa ký tự NUL (U+0000)", f"{where}: contains a NUL character (U+0000)",
                         code="InvalidParameter")


def replay_body(body: bytes, receive: Any) -> Any:
    """An ASGI ``receive`` that gives ``body`` (already read) once, then what ``receive`` gives."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(exc: LimitExceeded, scope: Any, receive: Any, send: Any) -> None:
    from starlette.responses import JSONResponse

    response = JSONResponse({"code": exc.code, "description": exc.description, "description_vi": exc.vi,
                             "description_en": exc.en},
                            status_code=exc.status, headers={"Connection": "close"} if exc.status == 413 else None)
    await response(scope, receive, send)
