"""Cloud-optimised GeoTIFFs: the one writer both processing stages use.

``writer`` (tiled datasets in memory or on disk, finishing them as COGs, the COG
driver's options), ``capi`` (an in-memory dataset handed to GDAL through its C API,
without copies) and ``overviews`` (our overview kernels: average and mode, as GDAL's).
This package sits below the stages (:mod:`rsarchive.raw`, :mod:`rsarchive.product`)
and above nothing of ours but :mod:`rsarchive.errors`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_COMPRESS", "DEFAULT_TILE", "create_tiled", "finish_cog", "write_cog"]


def __getattr__(name: str) -> Any:  # lazy: keep `import rsarchive.cog` free of rasterio until used
    if name not in __all__:
        raise AttributeError(f"module 'rsarchive.cog' has no attribute {name!r}")
    from rsarchive.cog import writer

    return getattr(writer, name)
