"""``rsarchive audit``: the fixity audit of the object stores."""

from __future__ import annotations

import click

from rsarchive.cli.options import echo_json, get_settings, show_progress
from rsarchive.identities import for_process

_FORMS = ["level0", "raw", "product", "original", "catalog", "backup", "copy"]


@click.command("audit")
@click.option("--all", "check_all", is_flag=True, help="Check every recorded object (the default).")
@click.option("--sample", type=click.IntRange(min=1), metavar="N",
              help="Check N objects, least recently checked first.")
@click.option("--repair", is_flag=True, help="Restore a damaged or missing replica from the intact one.")
@click.option("--form", "forms", type=click.Choice(_FORMS), multiple=True,
              help="Only objects of this form (repeatable); 'copy' checks only the copies.")
@click.option("--json", "as_json", is_flag=True, help="Print every object's result as JSON.")
def command(check_all: bool, sample: int | None, repair: bool, forms: tuple[str, ...], as_json: bool) -> None:
    """Re-hash stored objects and compare with their recorded sha256; exit non-zero
    when something is damaged and was not (or could not be) repaired."""
    from dataclasses import asdict

    from tqdm import tqdm

    from rsarchive.errors import IntegrityError, UsageError
    from rsarchive.storage.archive import Archive
    from rsarchive.storage.domains import shared_failure_domains
    from rsarchive.storage.fixity import audit
    from rsarchive.storage.keys import Form

    if check_all and sample:
        raise UsageError("give either --all or --sample N, not both")
    for shared in shared_failure_domains(get_settings()):
        click.echo(f"rsarchive: warning: {shared}", err=True)
    bar = tqdm(total=0, unit="obj", disable=not show_progress(), desc="audit", leave=False)

    def started(total: int) -> None:
        bar.total = total
        bar.refresh()

    try:
        report = audit(Archive.from_settings(for_process(get_settings(), "audit")), sample=sample, repair=repair,
                       forms=[Form(f) for f in forms] or None, on_start=started, on_object=lambda _: bar.update())
    finally:
        bar.close()
    if as_json:
        echo_json([asdict(o) for o in report.objects])
    for item in report.objects:
        if item.status != "ok" and not as_json:
            click.echo(f"{item.status}: {item.key}: {item.detail}")
    click.echo(report.summary(), err=as_json)
    if not report.clean:
        names = ", ".join(o.key for o in report.unrepaired[:5])
        more = f" (+{len(report.unrepaired) - 5} more)" if len(report.unrepaired) > 5 else ""
        hint = "" if repair else "; run with --repair"
        raise IntegrityError(f"audit: {len(report.unrepaired)} object(s) damaged and not repaired: {names}{more}{hint}")
