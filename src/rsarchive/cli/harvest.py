"""``rsarchive harvest …``: the ministries' and provinces' catalogs in the national one
(Decree 03/2019, Art. 17.1, 18.2; :mod:`rsarchive.harvest`).

``rsarchive harvest URL --org ORG`` harvests once (short for ``rsarchive harvest once URL --org ORG``);
``add``/``list`` keep the source registry; ``run-due`` harvests the scheduled sources that are due;
``overdue`` lists harvested items still unpublished past their due date.
"""

from __future__ import annotations

from typing import Any

import click

from rsarchive.cli.options import echo_json, get_settings


class _HarvestGroup(click.Group):
    """A group whose first argument, when it is no sub-command, is the URL of ``once``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["once", *args]
        return super().parse_args(ctx, args)


@click.group("harvest", cls=_HarvestGroup)
def command() -> None:
    """Harvest ministries' and provinces' STAC catalogs: rsarchive harvest URL --org ORG."""


def _echo_report(report: Any, as_json: bool) -> None:
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(report.summary())
    for item_id, reason in sorted(report.reasons.items()):
        click.echo(f"  giữ lại / withheld {item_id}: {reason}")


@command.command("once")
@click.argument("url")
@click.option("--org", required=True, help="Id of the body (ministry or province) whose catalog this is, e.g. ha-noi.")
@click.option("--name-vi", help="The body's name in Vietnamese (needed the first time).")
@click.option("--name-en", help="The body's name in English.")
@click.option("--json", "as_json", is_flag=True)
def once_command(url: str, org: str, name_vi: str | None, name_en: str | None, as_json: bool) -> None:
    """Harvest the STAC API or static catalog at URL into the national catalog, once."""
    from rsarchive.harvest import harvest

    _echo_report(harvest(get_settings(), url, org, name_vi=name_vi, name_en=name_en), as_json)


@command.command("add")
@click.argument("org")
@click.argument("url")
@click.option("--name-vi", required=True, help="The body's name in Vietnamese.")
@click.option("--name-en", help="The body's name in English (default: the Vietnamese one).")
@click.option("--every", help="Harvest interval: 30m, 12h, 1d, 1w (default: by hand only).")
@click.option("--json", "as_json", is_flag=True)
def add_command(org: str, url: str, name_vi: str, name_en: str | None, every: str | None, as_json: bool) -> None:
    """Register (or change) the catalog of body ORG at URL."""
    from rsarchive.harvest import add_source, parse_every

    source = add_source(get_settings(), org, url, name_vi=name_vi, name_en=name_en,
                        every=parse_every(every) if every else None)
    _echo_sources([source], as_json)


def _echo_sources(sources: list[Any], as_json: bool) -> None:
    if as_json:
        echo_json([s.to_dict() for s in sources])
        return
    for s in sources:
        every = f"every {s.every}" if s.every else "by hand"
        last = f"{s.last_run_at:%Y-%m-%d %H:%M} {s.last_status}" if s.last_run_at else "never run"
        click.echo(f"{s.org:<20} {every:<18} {last:<24} {s.url}  {s.name_vi} / {s.name_en}"
                   + (f"\n  {s.last_error}" if s.last_error else ""))


@command.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_command(as_json: bool) -> None:
    """The registered sources, their interval and last run."""
    from rsarchive.harvest import list_sources

    _echo_sources(list_sources(get_settings()), as_json)


@command.command("run-due")
@click.option("--json", "as_json", is_flag=True)
def run_due_command(as_json: bool) -> None:
    """Harvest every scheduled source whose interval has passed (exit 1 if one failed)."""
    from rsarchive.harvest import run_due

    outcomes = run_due(get_settings())
    if as_json:
        echo_json([o.to_dict() for o in outcomes])
    else:
        for outcome in outcomes:
            click.echo(outcome.report.summary() if outcome.report else f"{outcome.org}: lỗi / failed: {outcome.error}")
        if not outcomes:
            click.echo("Không có nguồn nào đến hạn / no source is due")
    if any(o.error for o in outcomes):
        raise click.exceptions.Exit(1)


@command.command("overdue")
@click.option("--json", "as_json", is_flag=True)
def overdue_command(as_json: bool) -> None:
    """Harvested items still unpublished past their due date (Decree 03/2019, Art. 18.2(b))."""
    from rsarchive.harvest import overdue

    found = overdue(get_settings())
    if as_json:
        echo_json([o.to_dict() for o in found])
        return
    for o in found:
        click.echo(f"{o.org:<20} {o.collection}/{o.item_id}  hạn / due {o.publication_due}  "
                   f"trễ / late {o.working_days_late} ngày làm việc / working days  ({o.classification or 'held'})")
    if not found:
        click.echo("Không có mục nào quá hạn / nothing overdue")
