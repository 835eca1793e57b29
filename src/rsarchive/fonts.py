"""The Unicode TrueType fonts the archive's PDFs are drawn with (DejaVu Sans, Debian
``fonts-dejavu-core``), so that Vietnamese diacritics survive."""

from __future__ import annotations

from pathlib import Path

from rsarchive.errors import ConfigError

__all__ = ["FONT_DIRS", "dejavu"]

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


def dejavu(bold: bool = False) -> Path:
    """The DejaVu Sans (bold) font file; :class:`ConfigError` when it is not installed."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise ConfigError(f"font {name} not found in {', '.join(map(str, FONT_DIRS))}; install fonts-dejavu-core")
