"""``rsarchive jobs list|show|retry|cancel``: the ingest queue for operators."""

from __future__ import annotations

import json

import click

from rsarchive.cli.options import echo_json, get_settings


def _queue():  # type: ignore[no-untyped-def]
    from rsarchive.jobs import JobQueue

    return JobQueue(get_settings().internal_database_dsn)


@click.group("jobs")
def command() -> None:
    """List, inspect, retry and cancel ingest jobs."""


@command.command("list")
@click.option("--state", help="Only jobs in this state (queued, running, succeeded, failed, cancelled).")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_jobs(state: str | None, limit: int, as_json: bool) -> None:
    """The most recent jobs, newest first."""
    jobs = _queue().list(state, limit)
    if as_json:
        echo_json([j.to_dict() for j in jobs])
        return
    for job in jobs:
        stage = job.stage or "-"
        click.echo(f"{job.id:>6}  {job.state:<9}  {stage:<12}  attempts {job.attempts}/{job.max_attempts}  "
                   f"{job.pipeline}  {job.identity[:16]}  {(job.error or '')[:80]}")
    if not jobs:
        click.echo("no jobs")


@command.command("show")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show(job_id: int, as_json: bool) -> None:
    """One job: state, stage, per-stage progress, error, result and its event history."""
    queue = _queue()
    job = queue.get(job_id)
    events = queue.events(job_id)
    if as_json:
        echo_json(job.to_dict() | {"events": events})
        return
    click.echo(f"job {job.id}: {job.state}  (pipeline {job.pipeline}, attempts {job.attempts}/{job.max_attempts})")
    click.echo(f"identity  {job.identity}")
    click.echo(f"input     {json.dumps(job.input)}")
    for stage, p in job.progress.items():
        done, total = p.get("done", 0), max(p.get("total", 1), 1)
        bar = "#" * int(20 * done / total)
        click.echo(f"  {stage:<13} [{bar:<20}] {done}/{total}{'  ←' if stage == job.stage else ''}")
    if job.error:
        click.echo(f"error     {job.error}")
    if job.result:
        click.echo(f"result    {json.dumps(job.result)}")
    for event in events:
        click.echo(f"  {event['at']}  {event['event']:<9} {event['worker'] or ''} {event['stage'] or ''}")


@command.command("retry")
@click.argument("job_id", type=int)
def retry(job_id: int) -> None:
    """Queue a failed or cancelled job again."""
    job = _queue().retry(job_id)
    click.echo(f"job {job.id} queued again")


@command.command("cancel")
@click.argument("job_id", type=int)
def cancel(job_id: int) -> None:
    """Cancel a queued or running job."""
    job = _queue().cancel(job_id)
    click.echo(f"job {job.id} cancelled")
