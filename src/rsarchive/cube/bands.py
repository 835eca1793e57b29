"""Band names, scale/offset and quality bands of the archive's STAC items (pure: dicts in, plans out).

A product item has one COG asset per band (``B1`` … ``B4``, ``PAN``) described by
``eo:bands`` (name, ``common_name``) and ``raster:bands`` (``data_type``, ``nodata``,
``scale``, ``offset``), and quality assets (roles ``quality``/``qa``): ``qa`` with one
uint16 bitfield band per multispectral band, in the order its title lists them
(``"Quality bitfield (B1, B2, B3, B4)"``; the COG says the same in ``QA_BANDS``), and
``qa_pan`` for ``PAN``.  This module turns the names a user asks for (asset keys or
eo common names, case-insensitive) into a :class:`BandPlan`: which assets to read,
how to scale them and which QA band masks each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rsarchive.errors import UsageError

__all__ = ["QA_BITS", "DEFAULT_QA_MASK", "BandSpec", "BandPlan", "plan_bands", "qa_mask_value", "with_qa_bands",
           "describe_qa_bands"]

QA_BITS: dict[str, int] = {
    "nodata": 0, "lost": 1, "defective_detector": 2, "saturated": 3, "ancillary_degraded": 4,
    "terrain_occlusion": 5, "cloud": 6,
}
"""The archive's quality bitfield (ARCHITECTURE.md): name → bit."""

DEFAULT_QA_MASK = sum(1 << QA_BITS[n] for n in ("nodata", "lost", "saturated", "terrain_occlusion", "cloud"))
"""Pixels with any of these bits are dropped by default: no data, lost, saturated, terrain
occlusion, cloud (filled detectors and degraded ancillary data are kept: their values are usable)."""

_TITLE_BANDS = re.compile(r"\(([^()]*)\)\s*$")


@dataclass(frozen=True)
class BandSpec:
    """One output variable: its name, the asset it comes from and how to decode it."""

    name: str                 # output variable name (as the user asked)
    asset: str                # asset key in the items (B1 …, PAN)
    scale: float
    offset: float
    nodata: float | int | None
    qa: str | None            # odc-stac band key of its QA bitfield ("qa.3", "qa_pan"), if any


@dataclass(frozen=True)
class BandPlan:
    """The output variables, in the order asked."""

    bands: tuple[BandSpec, ...]


def _is_quality(asset: Mapping[str, Any]) -> bool:
    return bool({"quality", "qa"} & set(asset.get("roles") or ()))


def _is_data(asset: Mapping[str, Any]) -> bool:
    media = str(asset.get("type") or "")
    return "data" in (asset.get("roles") or ()) and not _is_quality(asset) and "tiff" in media


def describe_qa_bands(key: str, asset: Mapping[str, Any]) -> list[str]:
    """The data bands a quality asset describes, in band order ([] when it does not say)."""
    names = [str(b.get("name")) for b in asset.get("raster:bands") or () if b.get("name")]
    if names:
        return names
    match = _TITLE_BANDS.search(str(asset.get("title") or ""))
    if match:
        return [n.strip() for n in match.group(1).split(",") if n.strip()]
    return []


def _aliases(items: Sequence[Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, Mapping[str, Any]]]:
    """lower-case name or common name → asset key; asset key → its asset dict (first item having it)."""
    assets: dict[str, Mapping[str, Any]] = {}
    for item in items:
        for key, asset in (item.get("assets") or {}).items():
            if _is_data(asset):
                assets.setdefault(key, asset)
    alias: dict[str, str] = {}
    for key, asset in assets.items():
        alias[key.lower()] = key
        for band in asset.get("eo:bands") or ():
            for name in (band.get("common_name"), band.get("name")):
                if name:
                    alias.setdefault(str(name).lower(), key)
    return alias, assets


def _qa_sources(items: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """data asset key → odc-stac key of its QA band (``qa.3`` for a multi-band asset, else ``qa_pan``)."""
    found: dict[str, str] = {}
    for item in items:
        for key, asset in (item.get("assets") or {}).items():
            if not _is_quality(asset):
                continue
            names = describe_qa_bands(key, asset)
            if len(names) > 1:
                for i, name in enumerate(names, start=1):
                    found.setdefault(name, f"{key}.{i}")
            elif len(names) == 1:
                found.setdefault(names[0], key)
    return found


def plan_bands(items: Sequence[Mapping[str, Any]], names: Iterable[str] | None, *, want_qa: bool) -> BandPlan:
    """The plan for ``names`` (asset keys or eo common names; ``None``: every data band) over ``items``
    (STAC item dicts); a name no item has → :class:`UsageError` listing what there is."""
    alias, assets = _aliases(items)
    if not assets:
        raise UsageError("the items found have no raster data assets (roles 'data', GeoTIFF) to load")
    wanted = list(names) if names is not None else sorted(assets)
    if not wanted:
        raise UsageError("no bands asked for")
    qa_of = _qa_sources(items) if want_qa else {}
    specs: list[BandSpec] = []
    seen: set[str] = set()
    for name in wanted:
        key = alias.get(str(name).strip().lower())
        if key is None:
            choices = sorted(set(assets) | {n for n in alias if n not in {k.lower() for k in assets}})
            raise UsageError(f"unknown band {name!r}: the items have {', '.join(choices)} "
                             "(asset keys or eo common names)")
        if name in seen:
            raise UsageError(f"band {name!r} asked for twice")
        seen.add(name)
        raster = (assets[key].get("raster:bands") or [{}])[0]
        specs.append(BandSpec(name=str(name), asset=key, scale=float(raster.get("scale", 1.0) or 1.0),
                              offset=float(raster.get("offset", 0.0) or 0.0), nodata=raster.get("nodata"),
                              qa=qa_of.get(key)))
    return BandPlan(tuple(specs))


def qa_mask_value(mask: bool | int | str | Iterable[str]) -> int:
    """The QA bits to drop: ``True`` → :data:`DEFAULT_QA_MASK`, ``False`` → 0, an int as is,
    bit names (``"cloud,saturated"`` or a list) → their bits."""
    if mask is True:
        return DEFAULT_QA_MASK
    if mask is False or mask is None:
        return 0
    if isinstance(mask, int):
        if not 0 <= mask <= 0xFFFF:
            raise UsageError(f"QA mask {mask} must be a 16-bit value (0–65535)")
        return mask
    names = [n.strip() for n in (mask.split(",") if isinstance(mask, str) else mask) if n.strip()]
    unknown = [n for n in names if n not in QA_BITS]
    if unknown:
        raise UsageError(f"unknown QA bit(s) {', '.join(unknown)}; known: {', '.join(QA_BITS)}")
    return sum(1 << QA_BITS[n] for n in names)


def with_qa_bands(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with ``raster:bands`` on multi-band quality assets (one uint16 entry per band), so
    odc-stac sees every band (``qa.1`` …) instead of only the first.  Items catalogued since QA
    assets carry their own ``raster:bands`` are left as they are; older ones are read by title."""
    for key, asset in (item.get("assets") or {}).items():
        if not _is_quality(asset) or asset.get("raster:bands"):
            continue
        names = describe_qa_bands(key, asset)
        asset["raster:bands"] = [{"data_type": "uint16", "name": n} for n in names] or [{"data_type": "uint16"}]
    return item
