"""What a reader makes of a foreign product: its STAC item as the field's own library
builds it, the files as delivered and the raster bands to give an analysis-ready form."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FORMATS", "DeliveredFile", "ForeignProduct"]

FORMATS: dict[str, str] = {
    "landsat-c2": "USGS Landsat Collection 2 (Level-1 or Level-2), recognised by its *_MTL.xml",
    "sentinel-2-safe": "ESA Sentinel-2 SAFE (Level-1C or Level-2A), recognised by manifest.safe + MTD_MSIL1C/MTD_MSIL2A.xml",
    "dimap-v2": "Airbus DIMAP V2 (SPOT 6/7, Pléiades, VNREDSat-1), recognised by DIM_*.XML with METADATA_FORMAT version 2.x",
}
"""The formats recognised from a product's own metadata (format id → how it is recognised)."""


@dataclass(frozen=True)
class DeliveredFile:
    """One file of the delivery: where it is on disk and its name within the product."""

    path: Path
    name: str                                   # relative path within the delivery ("GRANULE/…/MTD_TL.xml")


@dataclass
class ForeignProduct:
    """A recognised product: the library's item (a dict, hrefs to the delivered files),
    the archive collection it belongs to and the raster bands worth a COG."""

    format: str                                 # a key of FORMATS
    collection: str                             # archive collection id (one per mission × product type)
    mission: str                                # key segment of the analysis-ready COGs ("landsat-8", "spot-7")
    item: dict[str, Any]                        # STAC item dict as the reader built it
    metadata_file: Path                         # the file the product was recognised by
    bands: dict[str, tuple[Path, int]] = field(default_factory=dict)
    """asset key → (delivered raster file, band index from 1) to write as a single-band COG;
    only delivered bands on a map grid (a sensor-geometry raster has no analysis-ready form)."""
    quality: dict[str, Any] = field(default_factory=dict)
    """The product's own quality and accuracy fields (``rsarchive:product_quality``)."""

    @property
    def item_id(self) -> str:
        return str(self.item["id"])
