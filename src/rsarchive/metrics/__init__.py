"""Prometheus metrics of the archive (#23).

The API's ``/metrics`` (:mod:`rsarchive.api.metrics`) serves the database figures of
:class:`~rsarchive.metrics.database.ArchiveCollector` and the HTTP latency by route; each
worker serves its own (:mod:`rsarchive.jobs.metrics`, setting ``worker_metrics_port``).
"""

from __future__ import annotations

from rsarchive.metrics.database import ArchiveCollector, Figures, read_figures

__all__ = ["ArchiveCollector", "Figures", "read_figures"]
