"""Analysts' cubes: STAC search on the archive's API → lazy ``xarray.Dataset`` (odc-stac, Dask),
reading the product COGs locally (``file://``) or from S3 (GDAL ``/vsis3/``).

Public names: :func:`load`, :func:`write`, :func:`quicklook`, :data:`QA_BITS`,
:data:`DEFAULT_QA_MASK`.  Heavy libraries load on first use.
"""

from typing import Any

__all__ = ["load", "write", "quicklook", "QA_BITS", "DEFAULT_QA_MASK"]

_WHERE = {"load": "loader", "write": "output", "quicklook": "output", "QA_BITS": "bands", "DEFAULT_QA_MASK": "bands"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"rsarchive.cube.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'rsarchive.cube' has no attribute {name!r}")
