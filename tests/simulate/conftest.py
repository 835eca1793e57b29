"""Simulated downlinks shared by the simulator tests (built once per module)."""

from __future__ import annotations

import pytest

from rsarchive.testing import small_downlink


@pytest.fixture(scope="module")
def clean_pass(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return small_downlink(tmp_path_factory.mktemp("clean"))
