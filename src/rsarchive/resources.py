"""Where the archive's data files are: shipped in the package, overridden by a site directory.

The package ships its defaults in ``rsarchive/data/`` (installed with the wheel):

==========================  ==================================================
``rsarchive.toml``          default settings (:mod:`rsarchive.settings`)
``cpf/<name>.json``         calibration parameter files
``missions/<name>.yaml``    mission profiles
``leap-seconds.yaml``       UTC − TAI table
``fees.toml``               fee schedule
``pipelines/<name>.yaml``   ingest pipelines
``catalog/*.json``          STAC collections, ``queryables.json``
``catalog/licence.html``    the data licence
``templates/*.html``        the web pages (Jinja2)
==========================  ==================================================

A *site directory* (``$RSARCHIVE_SITE_DIR``) has the same layout; a file there
replaces the shipped file of the same relative path and adds to the listings
(a new mission, CPF or pipeline is a file dropped there).  Its ``rsarchive.toml``
is read over the shipped defaults, key by key.  It may also hold
``stac-browser/`` (a STAC Browser build) and ``stac-schemas/`` (offline schemas).

Every lookup of these files goes through this module.  It imports nothing of the
archive, so that :mod:`rsarchive.settings` can use it.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["SITE_ENV", "checkout_root", "default_archive_root", "listing", "relative_base", "searched", "shipped",
           "site_dir", "site_or_shipped", "stac_browser_dir", "stac_schemas_dir", "template_dirs"]

SITE_ENV = "RSARCHIVE_SITE_DIR"

_SHIPPED = Path(str(resources.files("rsarchive").joinpath("data")))
"""The package's data folder (wheels are installed unpacked, so this is a real directory)."""


def shipped(relative: str = "") -> Path:
    """The shipped file or folder ``relative`` (``"cpf/vnredsat1.json"``, ``"pipelines"``)."""
    return _SHIPPED / relative if relative else _SHIPPED


def site_dir() -> Path | None:
    """The site directory named by ``$RSARCHIVE_SITE_DIR`` (None when unset or empty)."""
    named = os.environ.get(SITE_ENV, "").strip()
    return Path(named).expanduser().resolve() if named else None


def _folders(site: str | os.PathLike[str] | None) -> list[Path]:
    """Folders searched, first wins: the site (``site`` or ``$RSARCHIVE_SITE_DIR``), then the package."""
    chosen = Path(site).expanduser() if site is not None else site_dir()
    return [chosen, _SHIPPED] if chosen is not None and chosen != _SHIPPED else [_SHIPPED]


def site_or_shipped(relative: str, site: str | os.PathLike[str] | None = None) -> Path:
    """The site's ``relative`` file if it has one, else the shipped one (which may not exist:
    the caller reports a missing file, naming what it looked for)."""
    for folder in _folders(site):
        candidate = folder / relative
        if candidate.exists():
            return candidate
    return _SHIPPED / relative


def listing(folder: str, pattern: str, site: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """File name → path of the files matching ``pattern`` in ``folder`` of the package and the
    site (a site file replaces the shipped one of the same name), sorted by name."""
    found: dict[str, Path] = {}
    for base in reversed(_folders(site)):
        directory = base / folder
        if directory.is_dir():
            found.update((path.name, path) for path in directory.glob(pattern) if path.is_file())
    return dict(sorted(found.items()))


def template_dirs(site: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders of the web pages' templates, first wins: the site's ``templates/``, the package's."""
    return [base / "templates" for base in _folders(site) if (base / "templates").is_dir()]


def searched(folder: str, site: str | os.PathLike[str] | None = None) -> str:
    """The folders looked in for ``folder``, for error messages (``/srv/site/cpf, …/data/cpf``)."""
    return ", ".join(str(base / folder) for base in _folders(site))


@lru_cache(maxsize=1)
def checkout_root() -> Path | None:
    """The source checkout this package is imported from, or None when it is installed.

    A checkout is recognised only by its own layout: the package is ``<root>/src/rsarchive``
    and ``<root>/pyproject.toml`` declares the project ``rsarchive``.  An installed package
    sits in ``site-packages/`` and never matches.
    """
    package = Path(__file__).resolve().parent
    root = package.parents[1]
    if package.parent.name != "src":
        return None
    try:
        project = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if re.search(r'(?m)^name\s*=\s*"rsarchive"\s*$', project) else None


def default_archive_root() -> Path:
    """Where local data lives unless ``archive_root`` says otherwise: ``var/`` of a source
    checkout, else ``$XDG_DATA_HOME/rsarchive`` (``~/.local/share/rsarchive``) — never inside
    the installation."""
    root = checkout_root()
    if root is not None:
        return root / "var"
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "rsarchive"


def relative_base() -> Path:
    """What a relative path in the settings is relative to: the checkout, else the current directory."""
    return checkout_root() or Path.cwd()


def stac_browser_dir(site: str | os.PathLike[str] | None = None) -> Path:
    """The STAC Browser build: the site's ``stac-browser/``, else the checkout's
    ``build/stac-browser`` (``scripts/setup.sh`` builds it there)."""
    for base in _folders(site)[:-1]:
        if (base / "stac-browser").is_dir():
            return base / "stac-browser"
    root = checkout_root()
    return root / "build" / "stac-browser" if root is not None else (site_dir() or _SHIPPED) / "stac-browser"


def stac_schemas_dir(site: str | os.PathLike[str] | None = None) -> Path:
    """Offline STAC extension schemas: the site's ``stac-schemas/``, else ``../shared/stac-schemas``
    beside a source checkout."""
    for base in _folders(site)[:-1]:
        if (base / "stac-schemas").is_dir():
            return base / "stac-schemas"
    root = checkout_root()
    return root.parent / "shared" / "stac-schemas" if root is not None else (site_dir() or _SHIPPED) / "stac-schemas"
