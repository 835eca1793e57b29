"""``rsarchive complaints …``: complaints about a request's handling (Decision 81/2010, Art. 9.5)."""

from __future__ import annotations

from typing import Any

import click

from rsarchive.cli._actor import principal, token_option, validated
from rsarchive.cli._letters import write_letter
from rsarchive.cli.options import echo_json, get_settings
from rsarchive.db import transaction


@click.group("complaints")
def command() -> None:
    """File, list, accept, refuse to accept and settle complaints; write the written answer."""


def _show(record: Any, as_json: bool) -> None:
    data = record.to_dict()
    if as_json:
        echo_json(data)
        return
    due = f"  due {data['due_date']} ({data['days_left']} days left)" if data["due_date"] else ""
    click.echo(f"complaint {data['id']}  {data['status']}  request {data['request_id']}  {data['organisation']}  "
               f"{data['subject']}{due}")
    if data["answer"]:
        click.echo(f"answer ({data['outcome'] or 'not accepted'}): {data['answer']}")


@command.command("file")
@token_option
@click.argument("request_id", type=int)
@click.option("--subject", required=True, type=click.Choice(["refusal", "delay", "delivery", "other"]))
@click.option("--text", "description", required=True, help="What the complaint is about.")
@click.option("--json", "as_json", is_flag=True)
def file_command(token: str | None, as_user: str | None, request_id: int, subject: str, description: str,
                 as_json: bool) -> None:
    """Complain about request REQUEST_ID (requesters)."""
    from rsarchive.requests import complaints

    form = validated(complaints.ComplaintForm, {"subject": subject, "description": description})
    with transaction(get_settings()) as conn:
        _show(complaints.file(conn, principal(conn, token, as_user), request_id, form), as_json)


@command.command("list")
@token_option
@click.option("--status", type=click.Choice(["received", "accepted", "not_accepted", "settled"]))
@click.option("--json", "as_json", is_flag=True)
def list_command(token: str | None, as_user: str | None, status: str | None, as_json: bool) -> None:
    """Complaints visible to the user."""
    from rsarchive.requests import complaints

    with transaction(get_settings()) as conn:
        records = complaints.list_complaints(conn, principal(conn, token, as_user), status)
    if as_json:
        echo_json([r.to_dict() for r in records])
    for record in records if not as_json else []:
        _show(record, False)


@command.command("queue")
@token_option
@click.option("--json", "as_json", is_flag=True)
def queue_command(token: str | None, as_user: str | None, as_json: bool) -> None:
    """Open complaints overdue and due soon (officers)."""
    from rsarchive.requests import complaints

    with transaction(get_settings()) as conn:
        lists = complaints.queue(conn, principal(conn, token, as_user))
    if as_json:
        echo_json({k: [c.to_dict() for c in v] for k, v in lists.items()})
        return
    for name in ("overdue", "due_soon"):
        click.echo(f"{name}: {len(lists[name])}")
        for record in lists[name]:
            click.echo(f"  {record.id:>6}  {record.status:<9} due {record.due_date}  request {record.request_id}")


@command.command("show")
@token_option
@click.argument("complaint_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show_command(token: str | None, as_user: str | None, complaint_id: int, as_json: bool) -> None:
    """One complaint."""
    from rsarchive.requests import complaints

    with transaction(get_settings()) as conn:
        _show(complaints.get(conn, principal(conn, token, as_user), complaint_id), as_json)


@command.command("accept")
@token_option
@click.argument("complaint_id", type=int)
@click.option("--complex", "is_complex", is_flag=True, help="A complex case: the extended time limit applies.")
@click.option("--note")
@click.option("--json", "as_json", is_flag=True)
def accept_command(token: str | None, as_user: str | None, complaint_id: int, is_complex: bool, note: str | None,
                   as_json: bool) -> None:
    """Accept complaint COMPLAINT_ID; the settlement clock starts (officers)."""
    from rsarchive.requests import complaints

    body = validated(complaints.Acceptance, {"complex": is_complex, "note": note})
    with transaction(get_settings()) as conn:
        _show(complaints.accept(conn, principal(conn, token, as_user), complaint_id, body), as_json)


@command.command("not-accept")
@token_option
@click.argument("complaint_id", type=int)
@click.option("--reason", required=True, help="Why the complaint is not accepted (the written answer).")
@click.option("--json", "as_json", is_flag=True)
def not_accept_command(token: str | None, as_user: str | None, complaint_id: int, reason: str, as_json: bool) -> None:
    """Do not accept complaint COMPLAINT_ID, with the reason in writing (officers)."""
    from rsarchive.requests import complaints

    body = validated(complaints.NonAcceptance, {"reason": reason})
    with transaction(get_settings()) as conn:
        _show(complaints.refuse_acceptance(conn, principal(conn, token, as_user), complaint_id, body), as_json)


@command.command("settle")
@token_option
@click.argument("complaint_id", type=int)
@click.option("--outcome", required=True, type=click.Choice(["upheld", "partly_upheld", "rejected"]))
@click.option("--answer", required=True, help="The written answer.")
@click.option("--letter", "letter_path", type=click.Path(dir_okay=False), help="Also write the letter (.pdf or .html).")
@click.option("--json", "as_json", is_flag=True)
def settle_command(token: str | None, as_user: str | None, complaint_id: int, outcome: str, answer: str,
                   letter_path: str | None, as_json: bool) -> None:
    """Settle accepted complaint COMPLAINT_ID with a written answer (officers)."""
    from rsarchive.requests import complaints

    body = validated(complaints.Settlement, {"outcome": outcome, "answer": answer})
    with transaction(get_settings()) as conn:
        record = complaints.settle(conn, principal(conn, token, as_user), complaint_id, body)
        if letter_path:
            _write_letter(conn, record, letter_path)
    _show(record, as_json)


def _write_letter(conn: Any, record: Any, path: str) -> None:
    from rsarchive.requests import complaint_letters

    letter = complaint_letters.letter_for(conn, record)
    write_letter(path, lambda: complaint_letters.render_html(letter), lambda: complaint_letters.render_pdf(letter))


@command.command("letter")
@token_option
@click.argument("complaint_id", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output file (.pdf or .html).")
def letter_command(token: str | None, as_user: str | None, complaint_id: int, out: str) -> None:
    """Write the archive's written answer to complaint COMPLAINT_ID."""
    from rsarchive.requests import complaints

    with transaction(get_settings()) as conn:
        _write_letter(conn, complaints.get(conn, principal(conn, token, as_user), complaint_id), out)
