"""The data licence page (``catalog/licence.html``): a template filled from the legal basis, so the page names
the ministry in charge and cites each rule as ``law/legal-basis.toml`` says."""

from __future__ import annotations

from pathlib import Path

from rsarchive.catalog.collections import catalog_file
from rsarchive.law import load_basis

__all__ = ["licence_html"]


def licence_html(site: Path | None = None) -> str:
    """The licence page of ``site`` (else the site directory) or of the package, rendered."""
    import jinja2

    basis = load_basis(site)
    source = catalog_file("licence.html", site).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(source).render(basis=basis, who=basis.authority, rule=basis.rule)
