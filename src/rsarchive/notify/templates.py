"""The text of a notice: ``templates/mail/<name>.txt`` (site directory first), a Jinja2 text
template whose first line is ``Subject: …`` and whose rest is the body.

Every template is written Vietnamese first, then English.  Two filters write dates:
``vi_date`` (``29/04/2025``) and ``en_date`` (``2025-04-29``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from rsarchive.errors import ConfigError
from rsarchive.i18n import format_date, format_datetime
from rsarchive.resources import template_dirs


@lru_cache(maxsize=4)
def _environment(search: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(list(search)), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["vi_date"] = lambda value: format_date(value, "vi") if value else ""
    env.filters["en_date"] = lambda value: format_date(value, "en") if value else ""
    env.filters["vi_datetime"] = lambda value: format_datetime(value, "vi") if value else ""
    env.filters["en_datetime"] = lambda value: format_datetime(value, "en") if value else ""
    return env


def render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of the notice ``name`` with ``context``."""
    search = tuple(str(folder / "mail") for folder in template_dirs())
    try:
        text = _environment(search).get_template(f"{name}.txt").render(**context)
    except jinja2.TemplateNotFound:
        raise ConfigError(f"mail template {name}.txt not found in {', '.join(search)}") from None
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ConfigError(f"mail template {name}.txt does not start with a 'Subject:' line")
    return first.removeprefix("Subject:").strip(), body.lstrip("\n")
