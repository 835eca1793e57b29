"""STAC Browser's Vietnamese locale (scripts/stac-browser/vi/, issue #21): its field labels and interface
texts are Vietnamese, compared with the English locale of the pinned STAC Browser (tests/data/stac-browser-en/).

A label left equal to its English text counts as untranslated unless it is listed below as a name, an
acronym, a unit or a symbol that Vietnamese writes the same way; at most 5 % of the labels may be
untranslated, and every listed exception must still be one (an exception that is no longer used, or
that has been translated, is removed from the list)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rsarchive.testing.languages import vietnamese_ratio

ROOT = Path(__file__).resolve().parents[1]
VI = ROOT / "scripts" / "stac-browser" / "vi"
EN = ROOT / "tests" / "data" / "stac-browser-en"
MAX_UNTRANSLATED = 0.05

# Written the same in Vietnamese: proper names (missions, programmes, companies, places, software),
# acronyms and formats, units and symbols.
SAME_IN_VIETNAMESE = frozenset({
    # names
    "Alaska", "Guam", "Hawaii", "Landsat", "Sentinel-2", "Copernicus Sentinel", "CBERS", "NOAA GOES", "NOAA MRMS QPE",
    "Google Earth Engine", "Microsoft", "Microsoft Azure", "Planet Labs PBC", "Open Data Cube", "OpenID Connect",
    "openEO", "swisstopo", "xarray", "Google Cloud", "Alibaba Cloud", "Amazon S3", "Bluesky", "Mastodon.social",
    "X (Twitter)",
    # acronyms, protocols and formats
    "CARD4L", "CEOS-ARD", "DOI", "DOQ", "DOQQ", "EASE-DGGS", "ENL", "FWHM", "GSD", "HTTP", "HTTP {scheme}", "MGRS",
    "OAuth2", "OAuth 2", "PFS", "PMTiles", "PROJJSON", "Radar (SAR)", "S3", "S3 (Amazon Web Services)", "SAR",
    "TileJSON", "URL", "WKT2", "WRS-1", "WRS-2", "API", "FTP", "Cookie", "Fax",
    # units and symbols
    "%", "W/m²/μm", "dB", "GHz", "h", "km", "m", "nm", "s", "°", "°E", "°N", "μm", "✕", "⛶", "i", "+", "–",
})
_LINKED = re.compile(r"^@:[\w.]+(: \{\w+\})?$")          # a reference to another text ("@:goToParent.description")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|@:[\w.]+|\|")     # {0}, {title}, @:key, and the plural bar


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _load(folder: Path, name: str) -> dict[str, str]:
    return _flat(json.loads((folder / name).read_text(encoding="utf-8")))


def test_the_english_locale_is_of_the_pinned_stac_browser() -> None:
    script = (ROOT / "scripts" / "build-stac-browser.sh").read_text(encoding="utf-8")
    pinned = re.search(r"^STAC_BROWSER_VERSION=(\S+)$", script, re.MULTILINE)
    assert pinned and pinned.group(1) == (EN / "VERSION").read_text().strip()


@pytest.mark.parametrize("name", ["fields.json", "texts.json"])
def test_labels_are_vietnamese_but_for_names_acronyms_and_units(name: str) -> None:
    en, vi = _load(EN, name), _load(VI, name)
    assert not set(en) - set(vi), sorted(set(en) - set(vi))   # none left to the English fallback
    same = {key for key in en if vi[key] == en[key] and not _LINKED.match(en[key])}
    untranslated = sorted(key for key in same if en[key] not in SAME_IN_VIETNAMESE)
    assert len(untranslated) / len(en) <= MAX_UNTRANSLATED, untranslated
    assert not untranslated, untranslated   # today: none
    for key, english in en.items():
        translated = vi[key]
        assert sorted(_PLACEHOLDER.findall(translated)) == sorted(_PLACEHOLDER.findall(english)), (key, translated)
        assert translated.strip(), key


def test_every_exception_is_still_one() -> None:
    used = {value for name in ("fields.json", "texts.json") for key, value in _load(EN, name).items()
            if _load(VI, name)[key] == value}
    assert not SAME_IN_VIETNAMESE - used, sorted(SAME_IN_VIETNAMESE - used)


def test_remote_sensing_terms() -> None:
    fields = _load(VI, "fields.json")
    expected = {"Cloud Cover": "Độ che phủ mây", "Sun Elevation": "Góc cao Mặt Trời",
                "Ground Sample Distance": "Khoảng cách lấy mẫu mặt đất", "Off-Nadir Angle": "Góc lệch thiên đế",
                "Synthetic Aperture Radar": "Radar khẩu độ tổng hợp", "Processing Level": "Mức xử lý"}
    for english, vietnamese in expected.items():
        assert fields[english] == vietnamese
    # a translated label is written with its diacritics (most have some; a few Vietnamese words have none)
    translated = [v for k, v in fields.items() if v != k and v not in SAME_IN_VIETNAMESE]
    assert sum(vietnamese_ratio(v) > 0 for v in translated) / len(translated) > 0.95
