"""Geometry: the sensor model (ephemeris + attitude + line of sight → ground), RPCs,
orthorectification grids and resampling, GCP refinement, cloud mask and accuracy
measures.  Pure NumPy maths and compiled kernels (numba); rasterio only to read a DEM
or a reference image.  The image product (L2A) made from them is :mod:`rsarchive.product`.

Layers (imports go one way): ``ellipsoid``, ``rotation`` ← ``interpolation`` ← ``sensor``
← ``rpc`` ← ``refine``, ``accuracy``; ``cloud`` (pure); ``ortho`` (output grids, solar
geometry on them) ← ``image_coordinates`` ← ``resample``, ``occlusion``; ``dem`` (GeoTIFF
sampling with rasterio/pyproj) is only imported by callers that read rasters.
"""

from __future__ import annotations

from typing import Any

from rsarchive.geometry.sensor import GroundPoints, SensorModel

__all__ = ["GroundPoints", "SensorModel", "RPCModel", "fit_rpc", "cloud_mask", "cloud_class", "REFINED", "NOT_REFINED"]

_LAZY = {
    "RPCModel": "rpc", "fit_rpc": "rpc", "cloud_mask": "cloud", "cloud_class": "cloud", "REFINED": "refine",
    "NOT_REFINED": "refine",
}


def __getattr__(name: str) -> Any:  # lazy: keep the import light
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rsarchive.geometry' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"rsarchive.geometry.{module}"), name)
