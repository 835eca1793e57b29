"""Test factories shared by tests, benchmarks and the demo (shipped with the package)."""

from typing import Any

__all__ = ["small_downlink", "SMALL_CPF"]


def __getattr__(name: str) -> Any:  # lazy, so importing rsarchive.testing stays light
    if name in ("small_downlink", "SMALL_CPF"):
        from rsarchive.testing import downlinks

        return getattr(downlinks, name)
    raise AttributeError(f"module 'rsarchive.testing' has no attribute {name!r}")
