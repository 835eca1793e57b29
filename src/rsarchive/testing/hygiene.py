"""Database, driver and library text in an API answer: what no answer may quote.

An answer of the archive's APIs says in its own words what is wrong with a request; it
never quotes PostgreSQL, pgSTAC, asyncpg/psycopg, pydantic, cql2, orjson, Starlette or
Python itself (a message of theirs tells an attacker what runs behind the API and how a
query reached the database, and a person nothing useful).  :func:`library_text` finds such
text in an answer, for the fuzz tests of the APIs (``tests/api/test_fuzz_stac.py``).

What counts, and why each entry cannot be the archive's own words:

* the exception **class names** of asyncpg and psycopg (one per SQLSTATE: ``RaiseError``,
  ``InvalidTextRepresentationError``, ``UndefinedColumn`` …), of Python's builtins
  (``TypeError``, ``KeyError`` …) and of the web and parsing libraries (``HTTPException``,
  ``RequestValidationError``, ``ValidationError``, ``JSONDecodeError``) — the archive's own
  error names (:mod:`rsarchive.errors`), stac-fastapi's STAC error codes
  (``NotFoundError``, ``InvalidQueryParameter`` …) and plain HTTP words (``InternalError``,
  ``InternalServerError``, ``TimeoutError``) are the API's vocabulary and allowed;
* PostgreSQL's message phrasing: ``syntax error at or near``, ``invalid input syntax``,
  ``<relation|column|function|operator|type> "x" does not exist``, ``HINT:``/``DETAIL:``/
  ``CONTEXT:``/``LINE n:``, ``SQL statement``, ``PL/pgSQL``, ``SQLSTATE``, ``current
  transaction is aborted``, ``canceling statement due to …``, ``out of range for type``,
  ``value too long for type``, ``date/time field value out of range``, ``cannot cast type``,
  casts such as ``::jsonb``;
* the names of the database and its software: PostgreSQL/Postgres, PostGIS, pgSTAC (and its
  functions ``search_query``, ``cql2_query``, ``search_wheres`` …), pypgstac, asyncpg,
  psycopg, plpgsql;
* Python's own text: ``Traceback (most recent call last)``, ``File "…", line n``,
  ``site-packages``, ``<class '…'>``, ``object at 0x…``, a JSON decoder's ``line n column n``;
* pydantic's and cql2's formatting: ``errors.pydantic.dev`` links, ``input_value=``/
  ``input_type=`` reprs, raw error objects with ``"loc":``, the word pydantic, and the cql2
  parser's (pest's) ``--> 1:5`` position marker and ``= expected …`` line.

Plain validation sentences (``datetime: Input should be a valid datetime``) are not in the
list: they are the message a client needs, whichever library wrote them first.

An answer may echo what the client sent (an unknown collection id, a filter in a paging
link); :func:`library_text` removes every string of the request from the answer first, so
that a fuzzer sending ``::jsonb`` does not see its own words as a leak.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["library_text", "sent_strings"]

_PATTERNS = [
    r"syntax error at or near",
    r"invalid input (syntax|value) for",
    r'\b(relation|column|function|operator|type|schema|table|constraint|index)\s+"?[\w.:]+"?(\([^)]*\))?\s+does not exist',
    r"\boperator does not exist\b",
    r"\b(HINT|DETAIL|CONTEXT|LINE \d+):",
    r"\bSQL (statement|function|state)\b",
    r"PL/pgSQL",
    r"\bSQLSTATE\b",
    r"current transaction is aborted",
    r"canceling statement due to",
    r"out of range for type",
    r"value too long for type",
    r"date/time field value out of range",
    r"cannot cast type",
    r"::(jsonb?|text|int\d?|integer|bigint|float\d?|numeric|timestamptz|timestamp|geometry|geography|tstzrange)\b",
    r"(?i)\b(postgres(ql)?|postgis|pg_?stac|pypgstac|asyncpg|psycopg2?|plpgsql)\b",
    r"\b(search_query|cql2_query|search_wheres|where_stats|stac_search|items_partition\w*)\b",
    r"Traceback \(most recent call last\)",
    r'File "[^"]*", line \d+',
    r"site-packages",
    r"<class '",
    r"\bobject at 0x[0-9a-fA-F]+",
    r"\bline \d+ column \d+\b",
    r"errors\.pydantic\.dev",
    r"(?i)\bpydantic(_core)?\b",
    r"\binput_(value|type)=",
    r"""['"]loc['"]\s*:""",
    r"-->\s*\d+:\d+",
    r"(^|\n)\s*= expected\b",
]


def _subclasses(root: type) -> Iterator[type]:
    seen: set[type] = set()
    todo = [root]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
                yield sub


@cache
def _foreign_exception_names() -> frozenset[str]:
    """Exception class names of the database drivers, Python and the web/parsing libraries,
    less the API's own vocabulary (the archive's errors and stac-fastapi's STAC codes)."""
    import asyncpg
    import orjson
    import psycopg
    import pydantic
    from fastapi.exceptions import RequestValidationError, ResponseValidationError
    from stac_fastapi.types import errors as stac_errors
    from starlette.exceptions import HTTPException, WebSocketException

    from rsarchive import errors as ours

    names = {c.__name__ for c in _subclasses(asyncpg.PostgresError)}
    names |= {c.__name__ for c in _subclasses(asyncpg.exceptions.InterfaceError)}
    names |= {c.__name__ for c in _subclasses(psycopg.Error)}
    names |= {n for n, v in vars(builtins).items()
              if isinstance(v, type) and issubclass(v, BaseException) and not issubclass(v, Warning)}
    names |= {c.__name__ for c in (HTTPException, WebSocketException, RequestValidationError,
                                   ResponseValidationError, pydantic.ValidationError, orjson.JSONDecodeError,
                                   json.JSONDecodeError)}
    names |= {"JSONDecodeError", "ValidationError", "PydanticUserError"}
    allowed = {c.__name__ for c in _subclasses(ours.RsArchiveError)} | {"RsArchiveError"}
    allowed |= {n for n in ("StacApiError", "NotFoundError", "ConflictError", "ForeignKeyError", "InvalidQueryParameter")
                if hasattr(stac_errors, n)}
    # Plain HTTP words that a driver also happens to use (psycopg's InternalError, asyncpg's
    # InternalServerError) say nothing about what runs behind the API; the archive's own
    # IntegrityError (a damaged stored object) shares its name with psycopg's.
    allowed |= {"InternalError", "InternalServerError", "TimeoutError", "Exception", "BaseException"}
    return frozenset(names - allowed)


@cache
def _compiled() -> list[re.Pattern[str]]:
    names = sorted(_foreign_exception_names(), key=len, reverse=True)
    return [re.compile(p) for p in _PATTERNS] + [re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")]


def sent_strings(value: Any) -> set[str]:
    """Every string (keys included) and number in what a request sent (query, path
    parameters, JSON body), as text."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= sent_strings(key) | sent_strings(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            found |= sent_strings(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        found.add(str(value))
    elif isinstance(value, bytes):
        found.add(value.decode("utf-8", "replace"))
    return found


def _scrub(text: str, sent: Iterable[str]) -> str:
    """``text`` with every sent string of 3 or more characters removed, as sent and as an
    answer may spell it (JSON-escaped, URL-encoded)."""
    for value in sorted({s for s in sent if len(s) >= 3}, key=len, reverse=True):
        for spelling in {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
                         quote(value), quote(value, safe=""), quote_plus(value), repr(value)[1:-1]}:
            if len(spelling) >= 3:
                text = text.replace(spelling, " ")
    return text


def library_text(text: str, sent: Iterable[str] = ()) -> list[str]:
    """The database/driver/library text found in an answer ``text`` (empty: none), not
    counting what the request itself ``sent`` (:func:`sent_strings`)."""
    scrubbed = _scrub(text, sent)
    return [m.group(0) for pattern in _compiled() for m in [pattern.search(scrubbed)] if m]
