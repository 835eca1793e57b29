"""The filter check (rsarchive.api.filters) against cql2's own JSON-schema validation."""

import pytest
from cql2 import Expr

from rsarchive.api.filters import FilterError, check_predicate, parse_filter

VALID = [
    "eo:cloud_cover < 30",
    "eo:cloud_cover BETWEEN 0 AND 20",
    "platform IN ('vnredsat-1', 'spot-6')",
    "platform LIKE 'vn%'",
    "NOT (eo:cloud_cover > 50)",
    "eo:cloud_cover < 30 AND platform = 'vnredsat-1' AND view:sun_elevation > 30",
    "(eo:cloud_cover < 30 OR eo:cloud_cover IS NULL) AND datetime > TIMESTAMP('2020-01-01T00:00:00Z')",
    "S_INTERSECTS(geometry, POLYGON((105 20, 106 20, 106 21, 105 21, 105 20)))",
    "T_INTERSECTS(datetime, INTERVAL('2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z'))",
    "A_OVERLAPS(instruments, ('pan', 'ms'))",
    "TRUE",
]
NOT_BOOLEAN = [
    "eo:cloud_cover",
    "'vnredsat'",
    "42",
    "eo:cloud_cover + 3",
    "CASEI(platform)",
    "eo:cloud_cover < 30 AND eo:cloud_cover",
    "NOT eo:cloud_cover",
]
INVALID_JSON = [
    {"op": "bad"},
    {"op": "=", "args": [{"property": "eo:cloud_cover"}]},
    {"op": "and", "args": [{"op": "=", "args": [{"property": "a"}, 1]}]},
    {"op": "between", "args": [{"property": "a"}, 1]},
    {"op": "in", "args": [{"property": "a"}, 1]},
    {"op": "not", "args": [{"property": "a"}]},
    {"op": "=", "args": "a"},
    {"property": "eo:cloud_cover"},
]


def cql2_accepts(expr) -> bool:
    try:
        Expr(expr).validate()
    except Exception:
        return False
    return True


@pytest.mark.parametrize("text", VALID)
def test_everything_cql2_accepts_is_accepted(text):
    assert cql2_accepts(text)
    tree = parse_filter(text, "cql2-text")
    assert tree == Expr(text).to_json()
    check_predicate(Expr(text).to_json())


@pytest.mark.parametrize("text", NOT_BOOLEAN)
def test_non_boolean_text_is_refused_like_cql2_does(text):
    assert not cql2_accepts(text)
    with pytest.raises(FilterError, match="boolean|operator"):
        parse_filter(text, "cql2-text")


@pytest.mark.parametrize("tree", INVALID_JSON)
def test_malformed_json_is_refused_like_cql2_does(tree):
    assert not cql2_accepts(tree)
    with pytest.raises(FilterError):
        check_predicate(tree)


def test_messages_name_the_problem():
    with pytest.raises(FilterError, match="'between' takes 3 argument"):
        check_predicate({"op": "between", "args": [{"property": "a"}, 1]})
    with pytest.raises(FilterError, match=r"filter\.args\[1\]: the property 'eo:cloud_cover' is not a boolean"):
        parse_filter("eo:cloud_cover < 30 AND eo:cloud_cover", "cql2-text")
    with pytest.raises(FilterError, match="cannot parse cql2-text"):
        parse_filter("eo:cloud_cover <", "cql2-text")
    with pytest.raises(FilterError, match="cannot parse cql2-json"):
        parse_filter("{bad", "cql2-json")
    with pytest.raises(FilterError, match="filter-lang 'sql'"):
        parse_filter("a = 1", "sql")
