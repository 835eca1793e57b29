"""Using the web pages as a browser would, for tests: the CSRF token of a form and a login."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["csrf_of", "log_in"]


def csrf_of(page: Any) -> str:
    """The hidden ``csrf_token`` of the (first) form of an HTML answer (httpx response)."""
    found = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    if not found:
        raise AssertionError(f"no csrf_token in the page: {page.text[:2000]}")
    return found.group(1)


def log_in(client: Any, url: str, name: str, token: str, **headers: str) -> Any:
    """Log ``client`` (an ``httpx.Client`` keeping cookies) in at ``url``/web/login as a person would."""
    form = client.get(f"{url}/web/login", headers=headers)
    return client.post(f"{url}/web/login", headers=headers,
                       data={"name": name, "token": token, "next": "/web/", "csrf_token": csrf_of(form)})
