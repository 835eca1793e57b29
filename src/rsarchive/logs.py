"""Logging set-up.  The library only calls ``logging.getLogger(__name__)``;
applications (the CLI, the API server, workers) call :func:`configure`."""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def level_for(verbosity: int) -> int:
    """Map ``-v``/``-q`` counts (positive = verbose) to a logging level."""
    if verbosity >= 2:
        return logging.DEBUG
    if verbosity == 1:
        return logging.INFO
    if verbosity == 0:
        return logging.WARNING
    if verbosity == -1:
        return logging.ERROR
    return logging.CRITICAL


def configure(verbosity: int = 0) -> None:
    """Send the archive's log records to stderr at the level ``verbosity`` asks for."""
    root = logging.getLogger("rsarchive")
    root.setLevel(level_for(verbosity))
    for handler in list(root.handlers):
        if getattr(handler, "_rsarchive", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    handler._rsarchive = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # Third-party libraries stay quiet unless asked for debug output.
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "rasterio", "distributed"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 3 else logging.WARNING)
