"""``rsarchive watch DIR|s3://bucket/prefix``: queue downlinks for ingest as they land."""

from __future__ import annotations

import click

from rsarchive.cli.options import get_settings
from rsarchive.identities import for_process


@click.command("watch")
@click.argument("target")
@click.option("--pipeline", default="ingest-level0", show_default=True,
              help="Pipeline of the jobs (pipelines/<name>.yaml of the site directory or the package).")
@click.option("--once", is_flag=True, help="Queue what is complete now and exit (files still being written are "
                                           "left for the next run).")
def command(target: str, pipeline: str, once: bool) -> None:
    """Watch TARGET (a directory, or s3://bucket/prefix) and queue each complete downlink once.

    A file is complete when its size has not changed for watch_settle_seconds and no one holds
    it open for writing (inotify), or when FILE.done appears; FILE.json is its reception record.
    Workers (`rsarchive worker`) run the jobs.  Ctrl-C stops.
    """
    import signal
    import threading

    from rsarchive.watch import WatchReport, watch

    settings = for_process(get_settings(), "worker")
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        report = watch(settings, target, pipeline, once=once, stop=stop,
                       report=WatchReport(on_outcome=lambda o: click.echo(o.line(), err=o.status == "rejected")))
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    for left in report.left:
        click.echo(f"{left}: vẫn đang được ghi, để lần sau / still being written, left for the next run")
    if once:
        click.echo(f"{report.count('queued')} xếp hàng / queued, {report.count('known')} đã có / already queued, "
                   f"{report.count('rejected')} bỏ qua / skipped, {len(report.left)} để lại / left")
        if report.count("rejected"):
            raise SystemExit(1)
