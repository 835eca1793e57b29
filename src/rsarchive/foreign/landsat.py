"""USGS Landsat Collection 2 products, read with stactools-landsat (offline).

The item is stactools-landsat's, built from the product's ``*_MTL.xml`` and, when
delivered, its ``*_ANG.txt`` (the valid-data outline of the scene).  USGS's STAC API is
never asked (``use_usgs_geometry=False``): the archive has no Internet.  A product
without an ANG file (Landsat 1–5 MSS) gets the outline of its four product corners
from the MTL instead of the library's bounding box.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsarchive.errors import UsageError
from rsarchive.foreign.model import DeliveredFile, ForeignProduct

log = logging.getLogger(__name__)

__all__ = ["is_landsat", "read_landsat"]

_QUALITY_PREFIXES = ("IMAGE_QUALITY", "GEOMETRIC_RMSE", "GROUND_CONTROL_POINTS")


def is_landsat(path: Path) -> bool:
    """``path`` is a Landsat Collection 2 MTL XML (``<LANDSAT_METADATA_FILE>``)."""
    if not path.name.upper().endswith("_MTL.XML"):
        return False
    with open(path, "rb") as handle:
        head = handle.read(512)
    return b"<LANDSAT_METADATA_FILE" in head


def _mtl(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise UsageError(f"Landsat metadata {path.name} is not well-formed XML ({exc}); "
                         "the file is truncated or corrupt") from None


def _corners(root: ET.Element) -> dict[str, Any] | None:
    """The polygon of the product's four corners (UL, UR, LR, LL), lon/lat."""
    attrs = root.find("PROJECTION_ATTRIBUTES")
    if attrs is None:
        return None
    ring = []
    for corner in ("UL", "UR", "LR", "LL"):
        lat, lon = attrs.findtext(f"CORNER_{corner}_LAT_PRODUCT"), attrs.findtext(f"CORNER_{corner}_LON_PRODUCT")
        if lat is None or lon is None:
            return None
        ring.append([float(lon), float(lat)])
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def _quality(root: ET.Element) -> dict[str, Any]:
    """The product's own quality and accuracy fields (image quality, geometric RMSE, GCPs)."""
    found: dict[str, Any] = {}
    for group in ("IMAGE_ATTRIBUTES", "LEVEL1_PROCESSING_RECORD"):
        for element in root.find(group) or ():
            if element.tag.startswith(_QUALITY_PREFIXES) and element.text:
                text = element.text.strip()
                try:
                    found[element.tag.lower()] = int(text) if text.lstrip("-").isdigit() else float(text)
                except ValueError:
                    found[element.tag.lower()] = text
    return found


def _collection(item: dict[str, Any]) -> str:
    level = "l2" if item["properties"].get("landsat:correction", "").startswith("L2") else "l1"
    return f"landsat-c2-{level}"


def read_landsat(mtl: Path, files: Sequence[DeliveredFile]) -> ForeignProduct:
    """The product whose MTL XML is ``mtl`` (the other delivered files beside it)."""
    from stactools.landsat.stac import create_item

    root = _mtl(mtl)
    try:
        item = create_item(str(mtl), use_usgs_geometry=False).to_dict(include_self_link=False,
                                                                       transform_hrefs=False)
    except (KeyError, ValueError, AttributeError, TypeError) as exc:
        raise UsageError(f"Landsat metadata {mtl.name} lacks what a Collection 2 MTL holds ({exc})") from None
    delivered = {f.path.resolve() for f in files}
    if not any(p.name.upper().endswith("_ANG.TXT") for p in delivered):
        corners = _corners(root)
        if corners is not None:
            item["geometry"] = corners
            log.info("%s: no ANG file; footprint from the product corners of the MTL", item["id"])
    bands = {key: (Path(asset["href"]), 1) for key, asset in item.get("assets", {}).items()
             if "image/tiff" in str(asset.get("type")) and Path(asset["href"]).resolve() in delivered}
    return ForeignProduct(format="landsat-c2", collection=_collection(item),
                          mission=str(item["properties"]["platform"]), item=item, metadata_file=mtl,
                          bands=bands, quality=_quality(root))
