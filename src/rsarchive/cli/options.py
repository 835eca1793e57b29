"""Options and helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from rsarchive.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def get_settings(ctx: click.Context | None = None) -> Settings:
    """The settings for this invocation, loaded once and kept on the click context."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    if "settings" not in root.obj:
        root.obj["settings"] = load_settings()
    settings: Settings = root.obj["settings"]
    return settings


def show_progress(ctx: click.Context | None = None) -> bool:
    """Progress bars are shown on a terminal unless ``-q`` was given."""
    ctx = ctx or click.get_current_context()
    verbosity = ctx.find_root().obj.get("verbosity", 0) if ctx.find_root().obj else 0
    import sys

    return verbosity >= 0 and sys.stderr.isatty()


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (``--json`` output), Vietnamese text as is."""
    import json

    click.echo(json.dumps(data, indent=1, ensure_ascii=False))
