"""``rsarchive worker``: claim ingest jobs from the queue and run them."""

from __future__ import annotations

import click

from rsarchive.cli.options import get_settings
from rsarchive.identities import for_process


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Jobs run at the same time (threads; each uses Dask for its arrays).")
@click.option("--scheduler", help="Dask distributed scheduler address (tcp://host:8786); default: local.")
@click.option("--lease", type=click.FloatRange(5, 3600), default=None,
              help="Lease length in seconds (default: the job_lease_seconds setting); heartbeats renew it, a "
                   "dead worker's job is taken after it.")
@click.option("--once", is_flag=True, help="Run queued jobs until the queue is empty, then exit.")
def command(concurrency: int, scheduler: str | None, lease: float | None, once: bool) -> None:
    """Run ingest jobs until interrupted (Ctrl-C finishes the running jobs' current stage and stops)."""
    from rsarchive.jobs.progress import run_workers
    from rsarchive.runtime import configure_process

    configure_process(worker=True)

    settings = for_process(get_settings(), "worker")
    run_workers(settings, concurrency=concurrency, scheduler=scheduler,
                lease_seconds=lease if lease is not None else settings.job_lease_seconds, once=once)
