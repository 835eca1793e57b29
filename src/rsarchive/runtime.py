"""What a process that runs rsarchive sets once, at its start: warning filters and the heap.

Library code does not change the whole process.  The command line (``rsarchive …``,
which includes the API server), the test session and the benchmarks call
:func:`configure_process` first; a program that uses the library may call it too.  A
process that works ingest jobs (``rsarchive worker``, ``rsarchive ingest --wait``, the
ingest benchmarks) calls it with ``worker=True``.

- Warning filters are process-wide and ``warnings.catch_warnings`` is not thread-safe, so
  the warnings that our files cause by design are filtered here, once: raw scenes, QA
  files and thumbnails have no georeference (rasterio's ``NotGeoreferencedWarning``), and
  Zarr 3 warns that consolidated metadata (which the cubes write for xarray) is not in its
  specification yet, and the ``antimeridian`` package (under stactools) that it reverses the
  winding of footprints wound clockwise, which foreign metadata often are.
- Workers: glibc's heap is tuned for long-running ingest work (:func:`rsarchive.memory.tune_malloc`;
  it suits a pass of scenes, not a single short computation, so other processes keep glibc's defaults).
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["configure_process"]

log = logging.getLogger(__name__)
_configured = False


def configure_process(*, worker: bool = False) -> None:
    """Install the warning filters (once); ``worker``: tune the heap for ingest work too."""
    global _configured
    if worker:
        from rsarchive.memory import tune_malloc

        tune_malloc()  # once per process by itself
    if _configured:
        return
    # by message, not by class: importing rasterio here would slow every command's start
    warnings.filterwarnings("ignore", message="Dataset has no geotransform, gcps, or rpcs")
    warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
    warnings.filterwarnings("ignore", message="The exterior ring of this shape is wound clockwise")
    _configured = True
