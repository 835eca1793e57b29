"""CQL2 filters of search requests: parsed once, checked to be a boolean expression.

GET and POST filters take the same path (stac-fastapi-pgstac would check a GET
``filter`` with ``cql2.Expr.validate()``, a POST one not at all): the text or JSON is
parsed by cql2 (syntax errors are its messages) and the expression tree is checked here
for what the schema requires of its *shape* (else :class:`FilterError`, HTTP 400):
every node that must be a predicate is one (comparison, like, between, in, isNull,
spatial, temporal or array predicate, a boolean literal, or and/or/not of those) with
the number of arguments its operator takes.  What is left — an operand of the wrong
type inside a predicate, an unknown property — is pgSTAC's to refuse, and the API answers
those with 400 too (:mod:`rsarchive.api.errors`).  ``tests/api/test_filters.py`` holds
this check against ``cql2.Expr.validate()`` on a corpus of valid and invalid filters.
(why: docs/DECISIONS.md, STAC API searches: where the time went)
"""

from __future__ import annotations

import re
from typing import Any

from rsarchive.errors import UsageError

__all__ = ["FilterError", "check_predicate", "parse_filter"]


class FilterError(UsageError):
    """A search filter that is not a valid CQL2 boolean expression (HTTP 400)."""


_BOOLEAN = {"and": (2, None), "or": (2, None), "not": (1, 1)}
_PREDICATES: dict[str, tuple[int, int | None]] = {
    **{op: (2, 2) for op in ("=", "<>", "<", "<=", ">", ">=", "like", "in")},
    "between": (3, 3),
    "isNull": (1, 1),
    **{f"s_{name}": (2, 2) for name in ("intersects", "equals", "disjoint", "touches", "within", "overlaps",
                                        "crosses", "contains")},
    **{f"t_{name}": (2, 2) for name in ("after", "before", "contains", "disjoint", "during", "equals", "finishedBy",
                                        "finishes", "intersects", "meets", "metBy", "overlappedBy", "overlaps",
                                        "startedBy", "starts")},
    **{f"a_{name}": (2, 2) for name in ("equals", "contains", "containedBy", "overlaps")},
}


def _describe(node: Any) -> str:
    if isinstance(node, dict):
        if "property" in node:
            return f"the property {node['property']!r}"
        if "op" in node:
            return f"the {node['op']!r} expression"
    text = repr(node)
    return text if len(text) <= 60 else text[:57] + "..."


def check_predicate(node: Any, path: str = "filter") -> None:
    """Raise :class:`FilterError` unless ``node`` (CQL2-JSON) is a boolean expression of
    the right shape (see the module)."""
    if isinstance(node, bool):
        return
    if not isinstance(node, dict) or not isinstance(node.get("op"), str):
        raise FilterError(f"{path}: {_describe(node)} is not a boolean expression "
                          "(a comparison, like, between, in, isNull, spatial, temporal or array predicate, "
                          "or and/or/not of those)")
    op = node["op"]
    args = node.get("args")
    arity = _BOOLEAN.get(op) or _PREDICATES.get(op)
    if arity is None:
        known = ", ".join(sorted(_BOOLEAN) + sorted(_PREDICATES))
        raise FilterError(f"{path}: unknown or non-boolean operator {op!r}; predicates are {known}")
    if not isinstance(args, list):
        raise FilterError(f"{path}: {op!r} needs its arguments as a list in 'args'")
    low, high = arity
    if len(args) < low or (high is not None and len(args) > high):
        wanted = str(low) if low == high else f"at least {low}"
        raise FilterError(f"{path}: {op!r} takes {wanted} argument(s), got {len(args)}")
    if op in _BOOLEAN:
        for i, arg in enumerate(args):
            check_predicate(arg, f"{path}.args[{i}]")
    elif op == "in" and not isinstance(args[1], list):
        raise FilterError(f"{path}: the second argument of 'in' must be a list of values")


_PEST_POSITION = re.compile(r"-->\s*(\d+):(\d+)")
_JSON_POSITION = re.compile(r"line (\d+) column (\d+)")


def _where(message: str) -> str:
    """Where a parser stopped, in our words (its own report format is not for clients)."""
    found = _PEST_POSITION.search(message) or _JSON_POSITION.search(message)
    if not found:
        return ""
    line, column = found.groups()
    return f" at line {line}, character {column}" if line != "1" else f" at character {column}"


def parse_filter(value: str | dict[str, Any], lang: str | None) -> dict[str, Any] | bool:
    """The CQL2-JSON of a filter given as cql2-text or cql2-json (text or object), checked."""
    import orjson
    from cql2 import Expr

    if lang not in (None, "cql2-text", "cql2-json"):
        raise FilterError(f"filter-lang {lang!r} is not supported; use cql2-text or cql2-json")
    try:
        if isinstance(value, dict):
            tree = value
        elif lang == "cql2-json":
            tree = orjson.loads(value)
        else:
            tree = Expr(value).to_json()
    except Exception as exc:  # cql2 raises its ParseError, orjson its JSONDecodeError
        raise FilterError(f"filter: cannot parse {lang or 'cql2-text'}{_where(str(exc))}") from None
    if isinstance(tree, dict) and not tree:
        raise FilterError("filter: empty expression")
    check_predicate(tree)
    return tree
