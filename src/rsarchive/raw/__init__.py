"""The raw level (L1A): decoded, radiometrically equalised images in sensor geometry.

One directory per scene: a uint16 radiance COG per band (scale/offset in the
file), the QA bitfield COG(s) and ``metadata.json`` (schema in
:mod:`rsarchive.raw.metadata`).  The pure array work is :mod:`rsarchive.radiometry`;
this package does the I/O (decoding, spooling, COG writing).
"""

from __future__ import annotations

from typing import Any

__all__ = ["RawProcessor", "RawResult", "SceneResult", "SceneSpan", "datastrip_id", "lines_per_scene",
           "process_raw", "scene_id", "split_scenes"]

_LAZY = {
    "RawProcessor": "process", "RawResult": "process", "SceneResult": "process", "process_raw": "process",
    "SceneSpan": "scenes", "datastrip_id": "scenes", "lines_per_scene": "scenes", "scene_id": "scenes",
    "split_scenes": "scenes",
}


def __getattr__(name: str) -> Any:  # lazy: keep `import rsarchive.raw` light (rasterio, dask load on use)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rsarchive.raw' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"rsarchive.raw.{module}"), name)
