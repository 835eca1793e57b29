"""Fixtures of the catalog tests."""

import pytest

from rsarchive.catalog import init_catalogs


@pytest.fixture
def catalog_settings(fresh_settings):
    """Fresh databases with every collection of catalog/*.json."""
    init_catalogs(fresh_settings)
    return fresh_settings
