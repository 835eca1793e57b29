"""``rsarchive ingest FILE``: queue the ingest of a level-0 downlink (and wait for it)."""

from __future__ import annotations

import click

from rsarchive.cli.options import get_settings, show_progress
from rsarchive.identities import for_process


@click.command("ingest")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--reception", help="Reception record: a JSON file or a JSON object (station, pass_id, aos, "
                                  "los, route, plan_ref, classification).")
@click.option("--pipeline", default="ingest-level0", show_default=True, help="Pipeline name (pipelines/<name>.yaml of the site directory or the package).")
@click.option("--wait", is_flag=True, help="Run the job here in the foreground (or wait for a worker) and "
                                           "show its progress.")
@click.option("--scheduler", help="With --wait: a Dask distributed scheduler (tcp://host:8786).")
def command(file: str, reception: str | None, pipeline: str, wait: bool, scheduler: str | None) -> None:
    """Queue FILE for ingest; the same file twice is one job (its sha256 is the identity)."""
    from rsarchive.jobs.ingest import load_reception, submit
    from rsarchive.jobs.progress import follow

    settings = for_process(get_settings(), "worker")
    job, created = submit(settings, file, load_reception(reception), pipeline)
    click.echo(f"job {job.id} {'queued' if created else 'already exists'} ({job.state}): {job.identity}")
    if wait:
        from rsarchive.runtime import configure_process

        configure_process(worker=True)  # this process works the job
        final = follow(settings, job.id, run_here=True, scheduler=scheduler or settings.dask_scheduler,
                       progress=show_progress())
        click.echo(f"job {final.id} {final.state}"
                   + (f": {len((final.result or {}).get('scenes', []))} scene(s)" if final.result else "")
                   + (f": {final.error}" if final.error else ""))
        held = (final.result or {}).get("held") or []
        if held:
            click.echo(f"{len(held)} mục đang giữ, chưa công bố: chưa có độ mật / {len(held)} item(s) held, not "
                       "published: no security classification (rsarchive catalog held; rsarchive catalog classify)")
        if final.state != "succeeded":
            raise SystemExit(1)
