"""An Atom feed (RFC 4287) of published items, newest first: what the archive has added.

Each entry is one public item: its id and ``alternate`` link are the item in the public
STAC API, its ``updated`` time is the item's ``created`` (when the archive catalogued it),
``published`` when it was made public; its thumbnail is a ``media:thumbnail`` and a
``related`` link.  Text is Vietnamese first, English second; dates in the summary are
written the Vietnamese way in Vietnamese (``07/12/2026 03:39 UTC``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from rsarchive.i18n import bilingual, platform_name

__all__ = ["ATOM", "MEDIA", "FeedInfo", "atom_feed", "item_url"]

ATOM = "http://www.w3.org/2005/Atom"
MEDIA = "http://search.yahoo.com/mrss/"
ET.register_namespace("", ATOM)
ET.register_namespace("media", MEDIA)

PUBLISHER = "Cục Viễn thám quốc gia / National Remote Sensing Department"  # as in the collections' providers


@dataclass(frozen=True)
class FeedInfo:
    """What a feed is: its own URL (also its id), title, and the page a person reads."""

    url: str
    title: str
    alternate: str


def item_url(public_url: str, collection: str, item_id: str) -> str:
    """The item in the public STAC API."""
    return f"{public_url.rstrip('/')}/stac/collections/{quote(collection, safe='')}/items/{quote(item_id, safe='')}"


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _summary(item: Mapping[str, Any]) -> str:
    props = item.get("properties") or {}
    acquired = _time(props.get("datetime") or props.get("start_datetime"))
    cloud = props.get("eo:cloud_cover")
    platform = props.get("platform") or ""
    vi, en = [], []
    if acquired is not None:
        utc = acquired.astimezone(dt.timezone.utc)
        vi.append(f"Thời điểm chụp {utc:%d/%m/%Y %H:%M} UTC")
        en.append(f"acquired {utc:%Y-%m-%d %H:%M} UTC")
    if platform:
        vi.append(f"vệ tinh {platform_name(platform)}")
        en.append(f"platform {platform_name(platform)}")
    if isinstance(cloud, (int, float)):
        vi.append(f"mây {str(round(float(cloud), 1)).replace('.', ',')} %")
        en.append(f"cloud {round(float(cloud), 1)} %")
    english = ", ".join(en)
    return f"{', '.join(vi)}. — {english[:1].upper()}{english[1:]}." if vi else str(item.get("id"))


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = ATOM, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def atom_feed(info: FeedInfo, items: Iterable[Mapping[str, Any]], public_url: str,
              now: dt.datetime | None = None) -> bytes:
    """The feed of ``items`` (public STAC items, in the order given: newest first) as UTF-8 XML."""
    entries = list(items)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "vi"})
    _sub(feed, "id", info.url)
    _sub(feed, "title", info.title)
    times = [t for t in (_time((i.get("properties") or {}).get("created")) for i in entries) if t is not None]
    _sub(feed, "updated", _rfc3339(max(times) if times else (now or dt.datetime.now(dt.timezone.utc))))
    _sub(feed, "link", rel="self", href=info.url, type="application/atom+xml")
    _sub(feed, "link", rel="alternate", href=info.alternate, type="text/html")
    _sub(_sub(feed, "author"), "name", PUBLISHER)
    _sub(feed, "generator", "rsarchive")
    for item in entries:
        props = item.get("properties") or {}
        url = item_url(public_url, str(item.get("collection")), str(item.get("id")))
        entry = _sub(feed, "entry")
        _sub(entry, "id", url)
        _sub(entry, "title", str(props.get("title") or item.get("id")))
        created = _time(props.get("created")) or _time(props.get("datetime")) or (now or dt.datetime.now(dt.timezone.utc))
        _sub(entry, "updated", _rfc3339(created))
        published = _time(props.get("published"))
        if published is not None:
            _sub(entry, "published", _rfc3339(published))
        _sub(entry, "link", rel="alternate", href=url, type="application/geo+json")
        _sub(entry, "category", term=str(item.get("collection")))
        _sub(entry, "summary", _summary(item))
        thumbnail = (item.get("assets") or {}).get("thumbnail")
        if thumbnail and thumbnail.get("href"):
            kind = str(thumbnail.get("type") or "image/png")
            _sub(entry, "link", rel="related", href=str(thumbnail["href"]), type=kind,
                 title=bilingual("Ảnh thu nhỏ", "Thumbnail"))
            _sub(entry, "thumbnail", ns=MEDIA, url=str(thumbnail["href"]))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
