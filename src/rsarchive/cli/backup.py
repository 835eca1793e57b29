"""``rsarchive backup``: dumps of both databases kept as archive objects (see README, "Backup")."""

from __future__ import annotations

import click

from rsarchive.cli.options import echo_json, get_settings


@click.command("backup")
@click.option("--list", "list_runs", is_flag=True, help="List the backups in the stores; make none.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(list_runs: bool, as_json: bool) -> None:
    """Dump both databases (public, then internal) into the stores with a verified copy, then apply the
    retention (backup_keep, backup_keep_days)."""
    from rsarchive.services import backup as backups
    from rsarchive.storage.archive import Archive

    settings = get_settings()
    if list_runs:
        runs = backups.list_runs(Archive.from_settings(settings))
        if as_json:
            echo_json(runs)
        for run in [] if as_json else runs:
            click.echo(run)
        return
    report = backups.backup(settings)
    if as_json:
        echo_json({"run": report.run, "dumps": [d.model_dump(mode="json") for d in report.dumps],
                   "removed": report.removed_runs})
        return
    for dump in report.dumps:
        click.echo(f"{dump.database}: {dump.key} ({dump.size} bytes, sha256 {dump.sha256})")
    click.echo(f"backup {report.run} kept (+ copy)"
               + (f"; removed by retention: {', '.join(report.removed_runs)}" if report.removed_runs else ""))
