"""``rsarchive reports …``: error reports (Art. 9.4), their triage, withdrawn items, and the yearly
publication of the metadata (``reports yearly YEAR``, Decree 03/2019, Art. 18.1)
(mirrors ``/api/requests/{id}/reports``, ``/api/reports``, ``/api/items/…``)."""

from __future__ import annotations

from typing import Any

import click

from rsarchive.cli._actor import principal, token_option, validated
from rsarchive.cli.options import echo_json, get_settings
from rsarchive.db import transaction


@click.group("reports")
def command() -> None:
    """Error reports on delivered items; withdraw items from the public catalog and reinstate them."""


def _echo_report(report: Any, as_json: bool) -> None:
    data = report.to_dict()
    if as_json:
        echo_json(data)
        return
    click.echo(f"{data['id']:>6}  {data['status']:<10} request {data['request_id']}  {data['item_id']}  "
               f"{data['reporter']}: {data['description']}"
               + (f"  -> {data['resolution']}" if data["resolution"] else ""))


@command.command("submit")
@token_option
@click.argument("request_id", type=int)
@click.option("--item", "item_id", required=True, help="Id of the delivered item with the problem.")
@click.option("--description", required=True, help="What is wrong.")
@click.option("--json", "as_json", is_flag=True)
def submit_command(token: str | None, as_user: str | None, request_id: int, item_id: str, description: str,
                   as_json: bool) -> None:
    """Report an error in an item delivered for REQUEST_ID (requesters)."""
    from rsarchive.requests import reports
    from rsarchive.requests.models import ErrorReportForm

    form = validated(ErrorReportForm, {"item_id": item_id, "description": description})
    with transaction(get_settings()) as conn:
        report = reports.report(conn, principal(conn, token, as_user), request_id, form)
    _echo_report(report, as_json)


@command.command("list")
@token_option
@click.option("--status", type=click.Choice(["open", "dismissed", "reprocess", "withdrawn"]))
@click.option("--json", "as_json", is_flag=True)
def list_command(token: str | None, as_user: str | None, status: str | None, as_json: bool) -> None:
    """Error reports visible to the user (all of them for officers), newest first."""
    from rsarchive.requests import reports

    with transaction(get_settings()) as conn:
        found = reports.list_reports(conn, principal(conn, token, as_user), status)
    if as_json:
        echo_json([r.to_dict() for r in found])
        return
    for report in found:
        _echo_report(report, False)


@command.command("triage")
@token_option
@click.argument("report_id", type=int)
@click.option("--action", required=True, type=click.Choice(["dismiss", "reprocess", "withdraw"]),
              help="withdraw: remove the item from the public catalog until it is reinstated.")
@click.option("--note", required=True, help="The officer's note (recorded).")
@click.option("--json", "as_json", is_flag=True)
def triage_command(token: str | None, as_user: str | None, report_id: int, action: str, note: str,
                   as_json: bool) -> None:
    """Decide on open error report REPORT_ID (officers)."""
    from rsarchive.requests import reports
    from rsarchive.requests.models import Triage

    decision = validated(Triage, {"action": action, "note": note})
    settings = get_settings()
    with transaction(settings) as conn:
        report = reports.triage(conn, settings, principal(conn, token, as_user), report_id, decision)
    _echo_report(report, as_json)


@command.command("withdrawn")
@token_option
@click.option("--json", "as_json", is_flag=True)
def withdrawn_command(token: str | None, as_user: str | None, as_json: bool) -> None:
    """Items withdrawn from the public catalog and not reinstated (officers)."""
    from rsarchive.requests import reports

    with transaction(get_settings()) as conn:
        items = reports.withdrawn_items(conn, principal(conn, token, as_user))
    if as_json:
        echo_json([a.to_dict() for a in items])
        return
    for a in items:
        click.echo(f"{a.collection}/{a.item_id}  withdrawn {a.at:%Y-%m-%d %H:%M} by {a.actor or '-'}: {a.reason}")


@command.command("reinstate")
@token_option
@click.argument("item_id")
@click.option("--collection", required=True, help="Collection of the item.")
@click.option("--note", required=True, help="Why the withdrawal is lifted (recorded).")
@click.option("--json", "as_json", is_flag=True)
def reinstate_command(token: str | None, as_user: str | None, item_id: str, collection: str, note: str,
                      as_json: bool) -> None:
    """Lift the withdrawal of ITEM_ID and publish it again (officers)."""
    from rsarchive.requests import reports
    from rsarchive.requests.models import Reinstatement

    decision = validated(Reinstatement, {"note": note})
    settings = get_settings()
    with transaction(settings) as conn:
        result = reports.reinstate(conn, settings, principal(conn, token, as_user), collection, item_id, decision)
    if as_json:
        echo_json(result)
    elif result["published"]:
        click.echo(f"reinstated and published {collection}/{item_id}")
    else:
        click.echo(f"reinstated {collection}/{item_id}; withheld: {result['withheld_reason']}")


@command.command("yearly")
@click.argument("year", type=int)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder for the spreadsheet and the PDF.")
@click.option("--json", "as_json", is_flag=True)
def yearly_command(year: int, out_dir: str, as_json: bool) -> None:
    """The yearly publication of the national metadata for YEAR (Decree 03/2019, Art. 18.1, Form 01): .xlsx and .pdf."""
    from pathlib import Path

    from rsarchive.reports import write_yearly, yearly_report

    report = yearly_report(get_settings(), year)
    xlsx, pdf = write_yearly(report, Path(out_dir))
    data = {"year": year, "items": len(report.rows), "due": report.due.isoformat(), "met": report.met,
            "held_overdue": len(report.held_overdue), "xlsx": str(xlsx), "pdf": str(pdf)}
    if as_json:
        echo_json(data)
    else:
        click.echo(f"{year}: {len(report.rows)} mục / items, hạn / due {report.due} "
                   f"({'đạt / met' if report.met else 'trễ / late'}); {xlsx}; {pdf}")
