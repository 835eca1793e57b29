"""The English texts the STAC API framework writes, Vietnamese first (issue #21).

stac-fastapi and pgSTAC give their links ("Root", "Queryables", "STAC search [GET]" …) and the core
queryables (``id``, ``datetime``, ``geometry``) English titles; the archive's own titles are
``"vi / en"`` (:func:`rsarchive.i18n.bilingual`).  :func:`bilingual_titles` and
:func:`bilingual_queryables` write the framework's known texts the same way.
"""

from __future__ import annotations

from typing import Any

from rsarchive.i18n import bilingual

__all__ = ["TEXTS", "bilingual_queryables", "bilingual_titles", "in_both"]

TEXTS: dict[str, str] = {
    # links of the landing page and the collections
    "This document": "Tài liệu này",
    "Root": "Danh mục gốc",
    "Collections available for this Catalog": "Các bộ dữ liệu của danh mục này",
    "STAC/OGC conformance classes implemented by this server": "Các lớp tuân thủ STAC/OGC mà máy chủ này đáp ứng",
    "STAC search [GET]": "Tìm kiếm STAC [GET]",
    "STAC search [POST]": "Tìm kiếm STAC [POST]",
    "Queryables available for this Catalog": "Các thuộc tính dùng được để lọc trong danh mục này",
    "Queryables": "Các thuộc tính dùng được để lọc",
    "OpenAPI service description": "Mô tả dịch vụ (OpenAPI)",
    "OpenAPI service documentation": "Tài liệu dịch vụ (OpenAPI)",
    "Items": "Các ảnh",
    "Parent": "Cấp trên",
    "Collection": "Bộ dữ liệu",
    # the queryables document and pgSTAC's core queryables
    "STAC Queryables.": "Các thuộc tính dùng được để lọc",
    "Item ID": "Mã ảnh",
    "Item identifier": "Mã định danh của ảnh",
    "Acquired": "Thời điểm chụp",
    "Datetime": "Thời điểm (UTC)",
    "Item Geometry": "Phạm vi ảnh",
}


def in_both(text: Any) -> Any:
    """A known English text as ``"vi / en"``; anything else unchanged."""
    return bilingual(TEXTS[text], text.rstrip(".")) if isinstance(text, str) and text in TEXTS else text


def _links(links: Any) -> None:
    for link in links if isinstance(links, list) else ():
        if isinstance(link, dict) and "title" in link:
            link["title"] = in_both(link["title"])


def bilingual_titles(document: Any) -> Any:
    """``document`` (a landing page, a collection or a list of collections) with its links' known English
    titles in both languages, Vietnamese first; changed in place and returned."""
    if isinstance(document, dict):
        _links(document.get("links"))
        for collection in document.get("collections") or ():
            if isinstance(collection, dict):
                _links(collection.get("links"))
    return document


def bilingual_queryables(document: dict[str, Any]) -> dict[str, Any]:
    """A queryables document with the known English titles and descriptions in both languages (in place)."""
    document["title"] = in_both(document.get("title"))
    for spec in (document.get("properties") or {}).values():
        if isinstance(spec, dict):
            for key in ("title", "description"):
                if key in spec:
                    spec[key] = in_both(spec[key])
    return document
