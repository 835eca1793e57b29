"""Fixtures for the requests area: a fresh archive with users, items and API clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reqfixtures import USERS, Archive, load_items

from rsarchive.db import transaction
from rsarchive.settings import Settings
from rsarchive.users import identity


@pytest.fixture
def archive(fresh_settings: Settings, tmp_path: Path) -> Archive:
    tokens = {}
    with transaction(fresh_settings) as conn:
        for name, (role, org, clearance) in USERS.items():
            tokens[name] = identity.add_user(conn, name, role, org, clearance)
    files = tmp_path / "assets"
    load_items(fresh_settings, files)
    return Archive(fresh_settings, tokens, files)


@pytest.fixture
def client(archive: Archive) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from rsarchive.api.requests_app import create_requests_app

    with TestClient(create_requests_app(archive.settings)) as test_client:
        yield test_client


@pytest.fixture
def live_url(archive: Archive) -> Iterator[str]:
    """The requests app on a real uvicorn server (``rsarchive.testing.server.serve``)."""
    from rsarchive.api.requests_app import create_requests_app
    from rsarchive.testing.server import serve

    with serve(create_requests_app(archive.settings)) as url:
        yield url
