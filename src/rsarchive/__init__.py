"""rsarchive: Vietnam's national remote-sensing archive and processing pipeline.

The public surface is small on purpose; heavy libraries (rasterio, dask, boto3)
are imported by the modules that use them, so ``import rsarchive`` stays fast.
"""

from rsarchive.errors import RsArchiveError

__version__ = "0.1.0"

__all__ = ["RsArchiveError", "__version__"]
