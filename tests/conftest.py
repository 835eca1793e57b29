"""Session fixtures: a real PostgreSQL + PostGIS + pgSTAC and SeaweedFS stack,
started once per test run on free ports under /tmp (or reused when
RSARCHIVE_TEST_SERVICES=reuse), and fresh databases/buckets per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rsarchive.runtime import configure_process
from rsarchive.settings import Settings
from rsarchive.testing import stack


def pytest_configure(config: pytest.Config) -> None:
    configure_process()  # as every rsarchive process does at its start (warning filters)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"

os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repository (specs, real test data, STAC schemas)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared/ not found beside the repository ({SHARED})")
    return SHARED


@pytest.fixture(scope="session")
def service_settings() -> Iterator[Settings]:
    """Settings of a running stack (started for this test run, stopped at the end)."""
    with stack.service_stack() as settings:
        yield settings


@pytest.fixture
def fresh_settings(service_settings: Settings) -> Settings:
    """Settings with fresh, migrated internal and public databases and fresh buckets."""
    return stack.fresh_buckets(stack.clone_databases(service_settings))
