"""``rsarchive services up|down|status``: the local PostgreSQL/pgSTAC and SeaweedFS."""

from __future__ import annotations

import click

from rsarchive.cli.options import echo_json, get_settings


@click.group("services")
def command() -> None:
    """Start, stop and check the local services (PostgreSQL + pgSTAC, SeaweedFS)."""


def _print(statuses: list, as_json: bool) -> bool:  # type: ignore[type-arg]
    if as_json:
        echo_json([s.to_dict() for s in statuses])
    else:
        width = max(len(s.name) for s in statuses)
        for s in statuses:
            state = "up" if s.answers else "DOWN"
            click.echo(f"{s.name:<{width}}  {state:<4}  {s.address}  {s.detail}")
    return all(s.answers for s in statuses)


@command.command("up")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--only", type=click.Choice(["postgres", "seaweedfs"]),
              help="Start this service alone (a host that runs only the database or only the object store).")
def up_command(as_json: bool, only: str | None) -> None:
    """Start what is not running, create databases and buckets, migrate. Idempotent."""
    from rsarchive import services

    statuses = services.up(get_settings(), only=only)
    if only is not None:
        click.echo(f"{only}: up")
        return
    if not _print(statuses, as_json):
        raise SystemExit(1)


@command.command("down")
def down_command() -> None:
    """Stop the services that `services up` started (nothing else)."""
    from rsarchive import services

    stopped = services.down(get_settings())
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop (services up started nothing here)")


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(as_json: bool) -> None:
    """Show each service, its address and whether it answers (exit 1 when one does not)."""
    from rsarchive import services

    from rsarchive.storage.domains import shared_failure_domains

    settings = get_settings()
    answering = _print(services.status(settings), as_json)
    for shared in shared_failure_domains(settings):
        click.echo(f"rsarchive: warning: {shared}", err=True)
    if not answering:
        raise SystemExit(1)
