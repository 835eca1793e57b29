"""``rsarchive scheduler``: run the scheduled duties (duties.toml); ``scheduler status`` lists them."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from rsarchive.cli.options import echo_json, get_settings


def _instant(text: str) -> datetime:
    from rsarchive.errors import UsageError

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--once-at {text!r} is not an ISO date and time (e.g. 2026-12-09T01:30:00+07:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@click.group("scheduler", invoke_without_command=True)
@click.option("--once-at", metavar="ISO", help="Run the duties due at this time (naive = UTC) once, send the "
                                               "outbox and exit, instead of running until stopped.")
@click.option("--json", "as_json", is_flag=True, help="With --once-at: print the runs as JSON.")
@click.pass_context
def command(ctx: click.Context, once_at: str | None, as_json: bool) -> None:
    """Run each duty of duties.toml at its time, once across all running schedulers, and send
    the e-mail outbox every scheduler_tick_seconds.  Ctrl-C stops."""
    if ctx.invoked_subcommand is not None:
        return
    import signal
    import threading

    from rsarchive.duties import Scheduler

    settings = get_settings()
    if once_at is not None:
        moment = _instant(once_at)
        runs = Scheduler(settings, clock=lambda: moment).run_due()
        if as_json:
            echo_json([run.to_dict() for run in runs])
        else:
            for run in runs:
                click.echo(f"{run.duty} ({run.scheduled_at.isoformat()}): {run.outcome}"
                           + (f": {run.error}" if run.error else f": {run.summary}" if run.summary else ""))
        return
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        Scheduler(settings).run_forever(stop)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON list.")
def status_command(as_json: bool) -> None:
    """Each duty: its schedule, whether it is available here, its last run and its next time."""
    from rsarchive.duties import status

    found = status(get_settings())
    if as_json:
        echo_json([s.to_dict() for s in found])
        return
    for item in found:
        last = item.last
        last_text = (f"{last.scheduled_at.isoformat()} {last.outcome}" + (f" ({last.error})" if last.error else "")
                     if last else "never")
        click.echo(f"{item.duty.name:<18} {item.duty.cron:<14} "
                   f"{'available' if item.available else 'NOT AVAILABLE':<13} last: {last_text}; "
                   f"next: {item.next_at.isoformat() if item.next_at else '-'}")
