"""``rsarchive storage gc|head``: the object stores (see README, "Storage")."""

from __future__ import annotations

import click

from rsarchive.cli.options import echo_json, get_settings
from rsarchive.identities import for_process


@click.group("storage")
def command() -> None:
    """The archive's object stores: garbage collection, object records."""


@command.command("gc")
@click.option("--older-than", default="24h", show_default=True, metavar="DURATION",
              help="Only remove leftovers older than this (s, m, h, d, w; 0 = everything not in use).")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def gc_command(older_than: str, dry_run: bool, as_json: bool) -> None:
    """Remove staging leftovers, orphans and interrupted uploads older than a threshold."""
    from dataclasses import asdict

    from rsarchive.storage.archive import Archive
    from rsarchive.storage.gc import collect_garbage, parse_duration

    threshold = parse_duration(older_than)
    report = collect_garbage(Archive.from_settings(for_process(get_settings(), "gc")), threshold, dry_run=dry_run)
    if as_json:
        echo_json(asdict(report))
    else:
        click.echo(("dry run: " if dry_run else "") + report.summary())
        for line in report.unrecorded_immutable:
            click.echo(f"unrecorded (kept): {line}")


@command.command("head")
@click.argument("key")
def head_command(key: str) -> None:
    """Show the record of KEY: size, sha256 (and file:checksum), copies, last check."""
    from rsarchive.storage.archive import Archive

    record = Archive.from_settings(get_settings()).record(key)
    echo_json({
        "key": record.key, "form": record.form.value, "size": record.size, "sha256": record.sha256,
        "file:checksum": record.checksum, "copies": record.copies, "stored_at": record.stored_at.isoformat(),
        "primary_store": record.primary_store, "copy_store": record.copy_store,
        "last_checked_at": record.last_checked_at.isoformat() if record.last_checked_at else None,
        "last_status": record.last_status,
    })
