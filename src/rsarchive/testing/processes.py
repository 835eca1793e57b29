"""The environment of an ``rsarchive`` command started by a test on the test stack."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rsarchive.settings import Settings

__all__ = ["STACK_SETTINGS", "settings_env"]

STACK_SETTINGS = ("archive_root", "pg_port", "internal_db", "public_db", "seaweed_s3_port", "primary_bucket",
                  "copy_bucket", "secrets_file")
"""What tells a command which stack, databases, buckets and archive root a test uses."""


def settings_env(settings: Settings, *names: str, **values: Any) -> dict[str, str]:
    """This process's environment without its ``RSARCHIVE_*`` variables, plus the stack's settings, the
    settings ``names`` of ``settings`` and ``values``, as ``RSARCHIVE_<NAME>``; the source tree this
    ``rsarchive`` was imported from comes first on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RSARCHIVE_")}
    for name in (*STACK_SETTINGS, *names):
        env[f"RSARCHIVE_{name.upper()}"] = str(getattr(settings, name))
    for name, value in values.items():
        env[f"RSARCHIVE_{name.upper()}"] = str(value)
    source = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
    return env
