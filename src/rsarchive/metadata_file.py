"""Typed ``metadata.json`` files: a pydantic model in memory, JSON only on disk.

The processing stages return their scene metadata as models derived from
:class:`MetadataFile` (:class:`rsarchive.raw.metadata.RawSceneMetadata`,
:class:`rsarchive.product.metadata.ProductMetadata`); :meth:`MetadataFile.write` and
:meth:`MetadataFile.read` are the only places where they become or stop being JSON.
Models refuse fields they do not know (``extra="forbid"``): the model is the schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rsarchive.errors import UsageError

__all__ = ["MetadataFile", "Record", "absent", "load_json"]

M = TypeVar("M", bound="MetadataFile")


def absent() -> Any:
    """A field that is left out of the JSON form when it is None (a key some files do not have)."""
    return Field(None, exclude_if=lambda value: value is None)


class Record(BaseModel):
    """A nested part of a metadata file (strict about its fields, frozen once built)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MetadataFile(Record):
    """A whole ``metadata.json``: its JSON form, writing and reading."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (field aliases such as ``proj:code`` as keys)."""
        return self.model_dump(mode="json", by_alias=True)

    def write(self, path: str | Path) -> None:
        """Write as ``metadata.json`` (UTF-8, indented, NaN-free)."""
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False, allow_nan=False)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls: type[M], data: Any, what: str = "metadata") -> M:
        """Validate a JSON form; one clear error naming ``what`` and the fields that do not fit."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                                 for e in exc.errors()[:5])
            raise UsageError(f"{what} is not valid {cls.__name__}: {problems}") from None

    @classmethod
    def read(cls: type[M], path: str | Path) -> M:
        """Read a ``metadata.json`` written by :meth:`write`."""
        return cls.from_dict(load_json(Path(path)), str(path))


def load_json(path: Path) -> Any:
    """The JSON document in ``path``; a clear error when it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not JSON ({exc})") from None
