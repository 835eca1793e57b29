"""Run ``stac-api-validator`` offline, in-process.

stac-api-validator validates responses with stac-validator and stac-check, which fetch
JSON Schemas by URL; the machines here have no Internet.  Every schema fetch goes
through one function, ``stac_validator.utilities._schema_cache``; while
:func:`run_stac_api_validator` runs, that function is replaced by one that answers
schema URLs from :class:`rsarchive.catalog.validation.SchemaStore` (``../shared/stac-schemas``
+ pystac's bundled core schemas) and still reads the API under test (127.0.0.1) and
local files normally.  Any other remote URL fails at once with a clear message instead
of waiting for a DNS time-out.  The output is the text the ``stac-api-validator`` CLI
prints (``Warnings: …`` / ``Errors: none``).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

from rsarchive.catalog.validation import SchemaStore, default_store

__all__ = ["offline_schemas", "run_stac_api_validator"]

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@contextlib.contextmanager
def offline_schemas(store: SchemaStore | None = None) -> Iterator[list[str]]:
    """Within the block, stac-validator resolves schemas offline; yields the list of URLs served."""
    from stac_validator import utilities

    store = store or default_store()
    original_cache = utilities._schema_cache
    original_fetch = utilities.fetch_and_parse_file
    served: list[str] = []

    def fetch(input_path: str) -> dict[str, Any]:
        parsed = urlparse(input_path)
        if parsed.scheme in ("http", "https") and parsed.hostname not in _LOCAL_HOSTS:
            served.append(input_path)
            return store.contents(input_path)  # CatalogError if not available offline
        return original_fetch(input_path)

    def fetch_file(input_path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        parsed = urlparse(str(input_path))
        if parsed.scheme in ("http", "https") and parsed.hostname not in _LOCAL_HOSTS:
            raise OSError(f"offline: refusing to fetch {input_path} (no Internet here)")
        return original_fetch(input_path, headers)

    utilities._schema_cache = fetch
    utilities.fetch_and_parse_file = fetch_file
    try:
        yield served
    finally:
        utilities._schema_cache = original_cache
        utilities.fetch_and_parse_file = original_fetch


def run_stac_api_validator(
    root_url: str,
    conformance: Sequence[str],
    *,
    collection: str | None = None,
    geometry: str | None = None,
    validate_pagination: bool = True,
    fields_nested_property: str | None = None,
    query_config: dict[str, str | None] | None = None,
    open_assets_urls: bool = True,
    auth_bearer_token: str | None = None,
) -> str:
    """Validate the API at ``root_url`` for ``conformance`` classes; return the CLI's report text."""
    from stac_api_validator.validations import QueryConfig, validate_api

    fields = ("query_comparison_field", "query_eq_value", "query_neq_value", "query_lt_value", "query_lte_value",
              "query_gt_value", "query_gte_value", "query_substring_field", "query_starts_with_value",
              "query_ends_with_value", "query_contains_value", "query_in_field", "query_in_values")
    config = QueryConfig(*[(query_config or {}).get(name) for name in fields])
    logging.getLogger("stac_api_validator").setLevel(logging.WARNING)
    out = io.StringIO()
    with offline_schemas():
        warnings, errors = validate_api(
            root_url=root_url, ccs_to_validate=list(conformance), collection=collection, geometry=geometry,
            auth_bearer_token=auth_bearer_token, auth_query_parameter=None,
            fields_nested_property=fields_nested_property, validate_pagination=validate_pagination,
            query_config=config, transaction_collection=None, headers={}, open_assets_urls=open_assets_urls,
        )
    if warnings:
        out.write("Warnings:\n" + "".join(f"- {w}\n" for w in warnings))
    else:
        out.write("Warnings: none\n")
    if errors:
        out.write("Errors:\n" + "".join(f"- {e}\n" for e in errors))
    else:
        out.write("Errors: none\n")
    return out.getvalue()
