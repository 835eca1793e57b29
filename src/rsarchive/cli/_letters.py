"""Writing a letter to the file a command was given: PDF for ``.pdf``, HTML otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click


def write_letter(path: str, html: Callable[[], str], pdf: Callable[[], bytes]) -> None:
    """Write the letter as ``path``'s suffix asks and say so on stderr."""
    if path.lower().endswith(".pdf"):
        Path(path).write_bytes(pdf())
    else:
        Path(path).write_text(html(), encoding="utf-8")
    click.echo(f"letter written to {path}", err=True)
