"""``rsarchive restore``: both databases back from a backup in the stores (see README, "Backup")."""

from __future__ import annotations

import click

from rsarchive.cli.options import get_settings


@click.command("restore")
@click.argument("run", required=False)
@click.option("--force", is_flag=True, help="Replace databases that hold data.")
@click.option("--only", "only", type=click.Choice(["internal", "public"]), default=None,
              help="Restore one database only (default: both).")
def command(run: str | None, force: bool, only: str | None) -> None:
    """Restore the databases from backup RUN (default: the newest; `rsarchive backup --list`).
    Every dump is verified against its sha256 before any database is touched."""
    from rsarchive.services.backup import ORDER, restore

    report = restore(get_settings(), run, force=force, databases=[only] if only else ORDER)  # type: ignore[list-item]
    click.echo(f"restored {' and '.join(report.databases)} from backup {report.run}")
    if report.public_copies_removed:
        click.echo(f"public copies removed (not allowed by the restored internal catalog): "
                   f"{', '.join(report.public_copies_removed)}")
