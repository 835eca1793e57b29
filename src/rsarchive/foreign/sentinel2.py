"""ESA Sentinel-2 SAFE products (Level-1C, Level-2A), read with stactools-sentinel2.

The item is stactools-sentinel2's, built from the SAFE's ``manifest.safe``, the product
metadata (``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``) and the granule's ``MTD_TL.xml``:
the footprint is the product's valid-data outline, the angles the granule's means.
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

__all__ = ["PRODUCT_METADATA", "is_safe", "read_sentinel2"]

PRODUCT_METADATA = ("MTD_MSIL1C.xml", "MTD_MSIL2A.xml")


def is_safe(path: Path) -> bool:
    """``path`` is the product metadata file of a Sentinel-2 SAFE (beside its manifest)."""
    return path.name in PRODUCT_METADATA and (path.parent / "manifest.safe").is_file()


def _quality(metadata: Path) -> dict[str, Any]:
    """The product's quality checks and technical quality figures (``Quality_Indicators_Info``)."""
    try:
        root = ET.parse(metadata).getroot()
    except ET.ParseError as exc:
        raise UsageError(f"Sentinel-2 metadata {metadata.name} is not well-formed XML ({exc}); "
                         "the file is truncated or corrupt") from None
    found: dict[str, Any] = {}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "quality_check" and element.get("checkType"):
            found[f"check_{element.get('checkType', '').lower()}"] = (element.text or "").strip()
        elif tag.startswith("DEGRADED_") and element.text:
            found[tag.lower()] = float(element.text)
    return found


def read_sentinel2(metadata: Path, files: Sequence[DeliveredFile]) -> ForeignProduct:
    """The SAFE product whose product metadata is ``metadata``."""
    from stactools.sentinel2.stac import create_item

    safe = metadata.parent
    granules = sorted((safe / "GRANULE").glob("*/MTD_TL.xml"))
    if not granules:
        raise UsageError(f"Sentinel-2 product {safe.name} has no granule metadata (GRANULE/*/MTD_TL.xml); "
                         "the delivery is incomplete")
    quality = _quality(metadata)
    try:
        item = create_item(str(safe)).to_dict(include_self_link=False, transform_hrefs=False)
    except (KeyError, ValueError, AttributeError, TypeError, ET.ParseError) as exc:
        raise UsageError(f"Sentinel-2 product {safe.name}: its metadata lacks what a SAFE holds ({exc})") from None
    level = "l2a" if metadata.name == "MTD_MSIL2A.xml" else "l1c"
    delivered = {f.path.resolve() for f in files}
    bands = {key: (Path(asset["href"]), 1) for key, asset in item.get("assets", {}).items()
             if str(asset.get("href", "")).lower().endswith((".jp2", ".tif"))
             and Path(asset["href"]).resolve() in delivered and "data" in (asset.get("roles") or ())}
    return ForeignProduct(format="sentinel-2-safe", collection=f"sentinel-2-{level}",
                          mission=str(item["properties"]["platform"]), item=item, metadata_file=metadata,
                          bands=bands, quality=quality)
