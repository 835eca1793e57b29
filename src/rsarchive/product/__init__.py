"""The image product (L2A) stage: a raw scene → TOA reflectance COGs in UTM, QA, thumbnail, metadata.

``process`` orchestrates reading the raw scene, the pure computations of
:mod:`rsarchive.geometry` and :mod:`rsarchive.radiometry`, and writing with
:mod:`rsarchive.cog`; ``metadata`` is the typed product metadata and its JSON form.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NOT_REFINED", "PRODUCT_FORMAT", "REFINED", "ProductOptions", "ProductResult", "process_product"]

_LAZY = {"ProductOptions": "process", "ProductResult": "process", "process_product": "process",
         "PRODUCT_FORMAT": "metadata"}


def __getattr__(name: str) -> Any:  # lazy: the product stage pulls in rasterio and numba
    import importlib

    if name in ("REFINED", "NOT_REFINED"):
        return getattr(importlib.import_module("rsarchive.geometry.refine"), name)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rsarchive.product' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rsarchive.product.{module}"), name)
