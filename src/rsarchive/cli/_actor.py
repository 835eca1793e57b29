"""Who a CLI command acts as: ``--token`` (any user), ``--as NAME`` (a user, trusting the
local database access) or, with neither, the local administrator ``cli:<login>``."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click

from rsarchive.errors import UsageError
from rsarchive.users import identity


def token_option(func: Any) -> Any:
    func = click.option("--as", "as_user", metavar="NAME", help="Act as this user (local database access).")(func)
    return click.option("--token", envvar="RSARCHIVE_TOKEN", metavar="T",
                        help="API token of the user to act as (env RSARCHIVE_TOKEN).")(func)


def principal(conn: Any, token: str | None, as_user: str | None) -> Any:
    if token and as_user:
        raise UsageError("give --token or --as, not both")
    if token:
        return identity.authenticate(conn, token)
    if as_user:
        return identity.principal_by_name(conn, as_user)
    return identity.Principal(user_id=None, name=f"cli:{getpass.getuser()}", role="admin", clearance="top-secret")


def read_aoi(path: str) -> dict[str, Any]:
    """A GeoJSON file's contents."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"AOI file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"AOI file {path} is not readable GeoJSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"AOI file {path} does not hold a GeoJSON object")
    return data


def validated(model: Any, data: dict[str, Any]) -> Any:
    """``model`` validated from ``data``; errors become one UsageError line per field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"invalid {model.__name__}: {problems}") from None


def area_fields(aoi_file: str | None, bbox: str | None) -> dict[str, Any]:
    """``--aoi FILE`` / ``--bbox W,S,E,N`` as the ``aoi`` / ``bbox`` fields of a body."""
    body: dict[str, Any] = {}
    if aoi_file:
        body["aoi"] = read_aoi(aoi_file)
    if bbox:
        try:
            body["bbox"] = [float(v) for v in bbox.split(",")]
        except ValueError:
            raise UsageError(f"--bbox {bbox!r} is not four numbers west,south,east,north") from None
    return body
