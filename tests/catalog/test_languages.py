"""Every public collection speaks Vietnamese first, English second (issue #21), with the STAC
language extension's fields, validated offline; items built by the catalog have such titles too."""

from __future__ import annotations

import json

import pytest

from rsarchive.catalog import validate_collection, validate_item
from rsarchive.catalog.items import EXTENSIONS, QA_BITFIELDS, item_dict
from rsarchive.errors import CatalogError
from rsarchive.resources import shipped
from rsarchive.testing.items import synthetic_scene
from rsarchive.testing.languages import is_english, is_vietnamese

COLLECTIONS = sorted(p for p in shipped("catalog").glob("*.json") if p.name != "queryables.json")


def _pair(text: str, separator: str) -> tuple[str, str]:
    vi, sep, en = text.partition(separator)
    assert sep, f"{text!r} is not 'Vietnamese{separator}English'"
    return vi, en


def test_detector_tells_the_languages_apart() -> None:
    assert is_vietnamese("Dữ liệu ảnh thô của VNREDSat-1") and not is_english("Dữ liệu ảnh thô của VNREDSat-1")
    assert is_english("Raw image data of VNREDSat-1") and not is_vietnamese("Raw image data of VNREDSat-1")
    assert not is_vietnamese("Du lieu anh tho cua VNREDSat-1")        # diacritics stripped: not accepted


@pytest.mark.parametrize("path", COLLECTIONS, ids=lambda p: p.stem)
def test_collection_vietnamese_first(path) -> None:
    collection = json.loads(path.read_text(encoding="utf-8"))
    vi, en = _pair(collection["title"], " / ")
    assert is_vietnamese(vi) or vi.split()[0] in en, vi           # a name may open both titles
    assert any(c in vi for c in "ảạăâđêôơưáàếềốồớờứừíìúùóò"), f"no Vietnamese diacritics in {vi!r}"
    assert not is_vietnamese(en), en
    vi_text, en_text = _pair(collection["description"], "\n\n")
    assert is_vietnamese(vi_text), vi_text
    assert is_english(en_text), en_text
    assert collection["language"]["code"] == "vi" and [x["code"] for x in collection["languages"]] == ["en"]
    assert EXTENSIONS["language"] in collection["stac_extensions"]
    keywords = collection["keywords"]
    assert any(is_vietnamese(k) or any(c in k for c in "ảạăâđêôơưệữ") for k in keywords), keywords
    for provider in collection["providers"]:
        vi_name, en_name = _pair(provider["name"], " / ")
        assert is_vietnamese(vi_name + " của") and is_english(en_name + " of"), provider["name"]
        assert " / " in provider["description"]
    licence = next(link for link in collection["links"] if link["rel"] == "license")
    assert licence["title"].startswith("Điều khoản sử dụng")
    for key, asset in collection.get("item_assets", {}).items():
        assert " / " in asset["title"], (key, asset["title"])
    validate_collection(collection)


@pytest.mark.parametrize("form", ["level0", "raw", "product"])
def test_item_titles_vietnamese_first(form) -> None:
    item = item_dict(synthetic_scene(4, form=form))
    props = item["properties"]
    vi, en = _pair(props["title"], " / ")
    assert is_vietnamese(vi + " của") and "chụp" in vi and "acquired" in en
    assert props["language"]["code"] == "vi" and props["languages"][0]["code"] == "en"
    assert EXTENSIONS["language"] in item["stac_extensions"]
    validate_item(item)
    bad = json.loads(json.dumps(item))
    bad["properties"]["language"] = {"code": "not a language code!"}
    with pytest.raises(CatalogError, match="language"):
        validate_item(bad)


def test_quality_bits_bilingual() -> None:
    for field in QA_BITFIELDS:
        vi, en = _pair(field["description"], " / ")
        assert any(c in vi for c in "ảạăâđêôơưáàếềốồớờứừíìúùóòữ") and not is_vietnamese(en)


def test_licence_page_vietnamese_first() -> None:
    import re

    from rsarchive.catalog.licence import licence_html
    from rsarchive.law import load_basis

    page = licence_html()
    assert '<html lang="vi">' in page and "{{" not in page
    basis = load_basis()
    assert "Bộ Nông nghiệp và Môi trường" in page and "Ministry of Agriculture and Environment" in page
    assert "Bộ Tài nguyên và Môi trường" not in page
    for key in ("user.no-third-party", "user.error-report", "fee.levels"):
        assert basis.rule(key).cite("vi") in page and basis.rule(key).cite("en") in page
    sections = re.findall(r'<section lang="(\w+)" id="\w+">(.*?)</section>', page, flags=re.DOTALL)
    assert [lang for lang, _ in sections] == ["vi", "en"]
    words = [re.sub(r"<[^>]+>", " ", body) for _, body in sections]
    assert is_vietnamese(words[0]) and "Quyết định 81/2010/QĐ-TTg" in words[0] and "bên thứ ba" in words[0]
    assert is_english(words[1]) and "third parties" in words[1]


def test_queryables_titles_vietnamese_first() -> None:
    queryables = json.loads(shipped("catalog/queryables.json").read_text(encoding="utf-8"))
    titles = [q["definition"]["title"] for name, q in queryables.items() if not name.startswith("$")]
    assert titles
    for title in titles:
        vi, en = _pair(title, " / ")
        assert any(c in vi for c in "ảạăâđêôơưáàếềốồớờứừíìúùóòữệộ"), title
        assert not is_vietnamese(en), title
