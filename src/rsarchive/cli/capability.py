"""``rsarchive capability …``: questions on the imaging capability of Vietnam's satellites
(Decision 81/2010, Art. 13a), recorded by officers and answered by the satellite operator."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from rsarchive.cli._actor import area_fields, principal, token_option, validated
from rsarchive.cli._letters import write_letter
from rsarchive.cli.options import echo_json, get_settings
from rsarchive.db import transaction


@click.group("capability")
def command() -> None:
    """Record, list and answer capability questions (Art. 13a)."""


def _show(record: Any, as_json: bool) -> None:
    data = record.to_dict()
    if as_json:
        echo_json(data)
        return
    state = (f"answered: {'can' if data['can_image'] else 'cannot'} image" if data["status"] == "answered"
             else f"due {data['due_date']} ({data['days_left']} days left)")
    click.echo(f"question {data['id']}  {data['reference'] or '-'}  {data['start']}/{data['end']}  {state}")


@command.command("ask")
@token_option
@click.option("--question", required=True, help="The question as written.")
@click.option("--reference", help="The letter's number.")
@click.option("--aoi", "aoi_file", type=click.Path(dir_okay=False), help="GeoJSON file with the area.")
@click.option("--bbox", help="Area as west,south,east,north (instead of --aoi).")
@click.option("--period", required=True, help="START/END wanted, ISO dates.")
@click.option("--max-gsd", type=float, help="Finest ground sample distance needed, metres.")
@click.option("--received", type=click.DateTime(["%Y-%m-%d"]), help="Date the letter was received (default today).")
@click.option("--json", "as_json", is_flag=True)
def ask_command(token: str | None, as_user: str | None, question: str, reference: str | None, aoi_file: str | None,
                bbox: str | None, period: str, max_gsd: float | None, received: dt.datetime | None,
                as_json: bool) -> None:
    """Record the Ministry's question (officers); the answer is due 30 days after receipt."""
    from rsarchive.requests import capability
    from rsarchive.requests.models import parse_period

    start, end = parse_period(period)
    body: dict[str, Any] = {"question": question, "reference": reference, "start": start.isoformat(),
                            "end": end.isoformat(), "max_gsd": max_gsd,
                            "received": received.date().isoformat() if received else None}
    body.update(area_fields(aoi_file, bbox))
    form = validated(capability.CapabilityQuestionForm, body)
    with transaction(get_settings()) as conn:
        _show(capability.ask(conn, principal(conn, token, as_user), form), as_json)


@command.command("list")
@token_option
@click.option("--status", type=click.Choice(["received", "answered"]))
@click.option("--json", "as_json", is_flag=True)
def list_command(token: str | None, as_user: str | None, status: str | None, as_json: bool) -> None:
    """Capability questions, earliest deadline first."""
    from rsarchive.requests import capability

    with transaction(get_settings()) as conn:
        records = capability.list_questions(conn, principal(conn, token, as_user), status)
    if as_json:
        echo_json([r.to_dict() for r in records])
    for record in records if not as_json else []:
        _show(record, False)


@command.command("answer")
@token_option
@click.argument("question_id", type=int)
@click.option("--can-image/--cannot-image", required=True, help="The operator's answer.")
@click.option("--answer", "text", required=True, help="The written answer.")
@click.option("--letter", "letter_path", type=click.Path(dir_okay=False), help="Also write the letter (.pdf or .html).")
@click.option("--json", "as_json", is_flag=True)
def answer_command(token: str | None, as_user: str | None, question_id: int, can_image: bool, text: str,
                   letter_path: str | None, as_json: bool) -> None:
    """Answer question QUESTION_ID in writing (the satellite operator: role operator)."""
    from rsarchive.requests import capability

    form = validated(capability.CapabilityAnswerForm, {"can_image": can_image, "answer": text})
    with transaction(get_settings()) as conn:
        record = capability.answer(conn, principal(conn, token, as_user), question_id, form)
    if letter_path:
        _write_letter(record, letter_path)
    _show(record, as_json)


def _write_letter(record: Any, path: str) -> None:
    from rsarchive.requests import capability, official_letters

    letter = capability.letter(record)
    write_letter(path, lambda: official_letters.render_html(letter), lambda: official_letters.render_pdf(letter))
