"""``rsarchive requests …``: data requests from the command line (mirrors the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rsarchive.cli._actor import principal, read_aoi, token_option, validated
from rsarchive.cli.options import echo_json, get_settings
from rsarchive.db import transaction
from rsarchive.requests.models import Purpose


@click.group("requests")
def command() -> None:
    """Submit, list, review, approve, refuse and fulfil data requests (Decision 81/2010, Art. 8-11)."""


def _print_record(record: Any, as_json: bool) -> None:
    data = record.to_dict()
    if as_json:
        echo_json(data)
        return
    left = data["working_days_left"]
    click.echo(f"request {data['id']}  {data['status']}  {data['organisation']}  purpose {data['purpose']}")
    click.echo(f"received {data['received_at']}  due {data['due_date']}"
               + (f"  ({left} working days left)" if left is not None else ""))
    if data["refusal_reason"]:
        click.echo(f"reason: {data['refusal_reason']}")
    for event in data["history"]:
        arrow = f" {event['from'] or '-'} -> {event['to']}" if event["to"] else ""
        click.echo(f"  {event['at'][:19]}  {event['actor'] or '-':<16} {event['action']}{arrow}")


@command.command("submit")
@token_option
@click.option("--aoi", "aoi_file", type=click.Path(dir_okay=False), help="GeoJSON file with the area.")
@click.option("--bbox", help="Area as west,south,east,north (instead of --aoi).")
@click.option("--period", required=True, help="START/END, ISO dates.")
@click.option("--purpose", required=True,
              type=click.Choice([p.value for p in Purpose]))
@click.option("--levels", required=True, help="Comma-separated: raw, product, original.")
@click.option("--bands", default="", help="Comma-separated band names (default: all).")
@click.option("--items", default="", help="Comma-separated item ids (optional).")
@click.option("--contact-name", help="Contact person (default: the user name).")
@click.option("--contact-email", required=True)
@click.option("--intended-use", required=True, help="What the data will be used for.")
@click.option("--format", "fmt", default="cog", type=click.Choice(["cog", "geotiff"]), show_default=True)
@click.option("--json", "as_json", is_flag=True)
def submit_command(token: str | None, as_user: str | None, aoi_file: str | None, bbox: str | None, period: str,
                   purpose: str, levels: str, bands: str, items: str, contact_name: str | None, contact_email: str,
                   intended_use: str, fmt: str, as_json: bool) -> None:
    """Submit a request; prints its id and due date."""
    from rsarchive.errors import UsageError
    from rsarchive.requests import lifecycle
    from rsarchive.requests.models import RequestForm, parse_period

    start, end = parse_period(period)
    split = lambda text: [v.strip() for v in text.split(",") if v.strip()]  # noqa: E731
    body: dict[str, Any] = {"purpose": purpose, "start": start.isoformat(), "end": end.isoformat(),
                            "levels": split(levels), "bands": split(bands), "items": split(items),
                            "intended_use": intended_use, "format": fmt}
    if aoi_file:
        body["aoi"] = read_aoi(aoi_file)
    if bbox:
        try:
            body["bbox"] = [float(v) for v in split(bbox)]
        except ValueError:
            raise UsageError(f"--bbox {bbox!r} is not four numbers west,south,east,north") from None
    with transaction(get_settings()) as conn:
        actor = principal(conn, token, as_user)
        body["contact"] = {"name": contact_name or actor.name, "email": contact_email}
        record = lifecycle.submit(conn, actor, validated(RequestForm, body))
    if as_json:
        echo_json(record.to_dict())
    else:
        click.echo(f"{record.id} {record.due_date.isoformat()}")


@command.command("enter")
@token_option
@click.argument("form_file")
@click.option("--for", "requester", required=True, metavar="USER",
              help="The requester's account (an organisation's member or an individual requester).")
@click.option("--received", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="The day the archive received the letter (YYYY-MM-DD); the deadline runs from it.")
@click.option("--reference", help="The letter's number or registry entry.")
@click.option("--json", "as_json", is_flag=True)
def enter_command(token: str | None, as_user: str | None, form_file: str, requester: str, received: Any,
                  reference: str | None, as_json: bool) -> None:
    """Enter a request received on paper (officers): FORM_FILE is the request form as JSON (a file, or
    an inline object; the API's body)."""
    from rsarchive.jsoninput import read_model
    from rsarchive.requests import paper
    from rsarchive.requests.models import RequestForm

    form = read_model(form_file, RequestForm, "request form")
    with transaction(get_settings()) as conn:
        record = paper.enter(conn, principal(conn, token, as_user), requester, form, received.date(), reference)
    if as_json:
        echo_json(record.to_dict())
    else:
        click.echo(f"{record.id} {record.due_date.isoformat()}")


@command.command("list")
@token_option
@click.option("--status", type=click.Choice(["submitted", "in_review", "approved", "fulfilled", "refused", "cancelled"]))
@click.option("--json", "as_json", is_flag=True)
def list_command(token: str | None, as_user: str | None, status: str | None, as_json: bool) -> None:
    """Requests visible to the user (all of them for officers and the local administrator)."""
    from rsarchive.requests import lifecycle

    with transaction(get_settings()) as conn:
        records = lifecycle.list_requests(conn, principal(conn, token, as_user), status)
    if as_json:
        echo_json([r.to_dict() for r in records])
        return
    for r in records:
        overdue = "  OVERDUE" if r.is_open and r.working_days_left() is not None and r.working_days_left() < 0 else ""
        click.echo(f"{r.id:>6}  {r.status:<10} due {r.due_date}  {r.organisation}  {r.purpose}{overdue}")


@command.command("queue")
@token_option
@click.option("--json", "as_json", is_flag=True)
def queue_command(token: str | None, as_user: str | None, as_json: bool) -> None:
    """Overdue and due-soon requests (officers)."""
    from rsarchive.requests import lifecycle

    with transaction(get_settings()) as conn:
        lists = lifecycle.queue(conn, principal(conn, token, as_user))
    if as_json:
        echo_json({k: [r.to_dict() for r in v] for k, v in lists.items()})
        return
    for name in ("overdue", "due_soon"):
        click.echo(f"{name}: {len(lists[name])}")
        for r in lists[name]:
            click.echo(f"  {r.id:>6}  {r.status:<10} due {r.due_date}  {r.organisation}")


@command.command("show")
@token_option
@click.argument("request_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show_command(token: str | None, as_user: str | None, request_id: int, as_json: bool) -> None:
    """One request: status, due date, history."""
    from rsarchive.requests import lifecycle

    with transaction(get_settings()) as conn:
        record = lifecycle.get(conn, principal(conn, token, as_user), request_id)
    _print_record(record, as_json)


def _transition(name: str, help_text: str) -> None:
    @command.command(name, help=help_text)
    @token_option
    @click.argument("request_id", type=int)
    @click.option("--json", "as_json", is_flag=True)
    def run(token: str | None, as_user: str | None, request_id: int, as_json: bool) -> None:
        from rsarchive.requests import lifecycle

        with transaction(get_settings()) as conn:
            actor = principal(conn, token, as_user)
            record = (lifecycle.start_review if name == "review" else lifecycle.cancel)(conn, actor, request_id)
        _print_record(record, as_json)


_transition("review", "Start reviewing request REQUEST_ID (officers).")
_transition("cancel", "Cancel request REQUEST_ID.")


@command.command("approve")
@token_option
@click.argument("request_id", type=int)
@click.option("--contract", "contract_ref", help="Contract reference.")
@click.option("--allow-transfer", is_flag=True, help="The contract allows transfer to third parties (Art. 9.2).")
@click.option("--json", "as_json", is_flag=True)
def approve_command(token: str | None, as_user: str | None, request_id: int, contract_ref: str | None,
                    allow_transfer: bool, as_json: bool) -> None:
    """Approve request REQUEST_ID (officers)."""
    from rsarchive.requests import lifecycle
    from rsarchive.requests.models import Approval

    approval = validated(Approval, {"contract_ref": contract_ref, "third_party_transfer_allowed": allow_transfer})
    with transaction(get_settings()) as conn:
        record = lifecycle.approve(conn, principal(conn, token, as_user), request_id, approval)
    _print_record(record, as_json)


@command.command("refuse")
@token_option
@click.argument("request_id", type=int)
@click.option("--reason", required=True, help="The written reason (Art. 8.2(c)); required.")
@click.option("--letter", "letter_path", type=click.Path(dir_okay=False),
              help="Also write the refusal letter (.pdf or .html).")
@click.option("--json", "as_json", is_flag=True)
def refuse_command(token: str | None, as_user: str | None, request_id: int, reason: str,
                   letter_path: str | None, as_json: bool) -> None:
    """Refuse request REQUEST_ID in writing, with the reason (officers)."""
    from rsarchive.requests import lifecycle

    with transaction(get_settings()) as conn:
        record = lifecycle.refuse(conn, principal(conn, token, as_user), request_id, reason)
    if letter_path:
        _write_letter(record, letter_path)
    _print_record(record, as_json)


def _write_letter(record: Any, path: str) -> None:
    from rsarchive.requests import letters

    letter = letters.RefusalLetter.of(record)
    if path.lower().endswith(".pdf"):
        Path(path).write_bytes(letters.render_pdf(letter))
    else:
        Path(path).write_text(letters.render_html(letter), encoding="utf-8")
    click.echo(f"letter written to {path}", err=True)


@command.command("letter")
@token_option
@click.argument("request_id", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output file (.pdf or .html).")
def letter_command(token: str | None, as_user: str | None, request_id: int, out: str) -> None:
    """Write the refusal letter of a refused request."""
    from rsarchive.requests import lifecycle

    with transaction(get_settings()) as conn:
        record = lifecycle.get(conn, principal(conn, token, as_user), request_id)
    _write_letter(record, out)


@command.command("fulfil")
@token_option
@click.argument("request_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def fulfil_command(token: str | None, as_user: str | None, request_id: int, as_json: bool) -> None:
    """Search the internal catalog for approved request REQUEST_ID and record the delivery (officers)."""
    from rsarchive.requests import delivery

    settings = get_settings()
    with transaction(settings) as conn:
        result = delivery.fulfil(conn, settings, principal(conn, token, as_user), request_id)
    if as_json:
        echo_json(result.request.to_dict() | {"manifest": result.manifest,
                                              "fee_statement": result.fee_statement})
        return
    fee = result.fee_statement
    click.echo(f"request {request_id} fulfilled: {len(result.manifest['items'])} items, "
               f"fee {fee['total']:,} {fee['currency']} ({fee['basis']})"
               + ("" if fee.get("exempt") or not fee["total"] else
                  f"; released when paid: rsarchive requests pay {request_id} --amount … --date … --reference …"))


@command.command("pay")
@token_option
@click.argument("request_id", type=int)
@click.option("--amount", required=True, type=int, help="Amount received, whole đồng.")
@click.option("--date", "paid_on", required=True, help="Day it was paid (ISO date, e.g. 2026-12-08).")
@click.option("--reference", required=True, help="Receipt or bank-transfer reference.")
@click.option("--json", "as_json", is_flag=True)
def pay_command(token: str | None, as_user: str | None, request_id: int, amount: int, paid_on: str,
                reference: str, as_json: bool) -> None:
    """Record a payment of fulfilled request REQUEST_ID's fee statement (officers); prints what is still due."""
    from rsarchive.requests import payments

    form = validated(payments.PaymentForm, {"amount": amount, "paid_on": paid_on, "reference": reference})
    with transaction(get_settings()) as conn:
        state = payments.record(conn, principal(conn, token, as_user), request_id, form)
    if as_json:
        echo_json(state.to_dict())
        return
    click.echo(f"request {request_id}: paid {state.paid:,} of {state.total:,} {state.currency}; "
               f"due {state.due:,} {state.currency}" + ("  (released)" if state.released else ""))
