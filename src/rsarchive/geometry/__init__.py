"""Geometry: the sensor model (ephemeris + attitude + line of sight → ground), RPCs,
orthorectification, GCP refinement, cloud mask and accuracy measures — and the image
product (L2A) made from them.  Pure NumPy maths, compiled kernels (numba) for resampling;
GDAL for reading, writing and reference warps.

Layers (imports go one way): ``ellipsoid``, ``rotation`` ← ``interpolation`` ← ``sensor``
← ``rpc`` ← ``refine``, ``accuracy``; ``cloud`` (pure); ``ortho`` (grids, GDAL warping) ←
``image_coordinates`` ← ``resample``, ``occlusion``;
``product`` (the L2A writer, uses all of them and :mod:`rsarchive.raw.cog`).  ``dem``
(GeoTIFF sampling with rasterio/pyproj) is only imported by callers that read rasters.
"""

from __future__ import annotations

from typing import Any

from rsarchive.geometry.sensor import GroundPoints, SensorModel

__all__ = ["GroundPoints", "SensorModel", "RPCModel", "fit_rpc", "process_product", "ProductOptions",
           "ProductResult", "cloud_mask", "cloud_class", "REFINED", "NOT_REFINED", "PRODUCT_FORMAT"]

_LAZY = {
    "RPCModel": "rpc", "fit_rpc": "rpc", "process_product": "product", "ProductOptions": "product",
    "ProductResult": "product", "cloud_mask": "cloud", "cloud_class": "cloud", "REFINED": "refine",
    "NOT_REFINED": "refine", "PRODUCT_FORMAT": "metadata",
}


def __getattr__(name: str) -> Any:  # lazy: the product writer pulls in rasterio
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rsarchive.geometry' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"rsarchive.geometry.{module}"), name)
