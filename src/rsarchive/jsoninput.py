"""JSON given on the command line: an inline object or a file path, validated by a model."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from rsarchive.errors import UsageError

M = TypeVar("M", bound=BaseModel)


def read_model(value: str | Path, model: type[M], what: str) -> M:
    """Parse ``value`` (``{…}`` or the path of a JSON file) into ``model``; one clear error naming ``what``."""
    text = str(value)
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise UsageError(f"{what} {text} is neither a JSON object nor an existing file")
        text = path.read_text(encoding="utf-8")
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or what}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"invalid {what}: {problems}") from None
