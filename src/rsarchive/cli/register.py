"""``rsarchive register``: foreign data as first received (Art. 5.1 b–d, 13.4); a purchase states how it was
paid for, and a state-budget purchase the purchase opinion it rests on (Art. 10.2; Decree 03/2019, Art. 15.4)."""

from __future__ import annotations

import datetime as dt

import click

from rsarchive.cli.options import echo_json, get_settings


class _RegisterGroup(click.Group):
    """``register FILE…`` registers; ``register overdue|list|metadata`` are sub-commands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["files", *args]
        elif args and args[0].startswith("-") and args[0] not in ("-h", "--help"):
            args = ["files", *args]
        return super().parse_args(ctx, args)


@click.group("register", cls=_RegisterGroup)
def command() -> None:
    """Register foreign data: `register PATH… --provider P --route R --received DATE [--metadata JSON]`
    (a purchase also `--funding state_budget --opinion ID`, or `--funding other`)
    (PATH: a product directory, a SAFE folder, a .tar/.tar.gz/.zip archive or files),
    `register metadata DELIVERY --metadata JSON`, `register list`, `register overdue`."""


def _show(delivery: object, as_json: bool) -> None:
    data = delivery.to_dict()  # type: ignore[attr-defined]
    if as_json:
        echo_json(data)
        return
    state = ("catalogued " + data["item_id"]) if data["item_id"] else (
        "METADATA OVERDUE" if data["overdue"] else "metadata pending")
    click.echo(f"{data['delivery_id']}  {data['provider']} ({data['route']}) received {data['received']}, "
               f"metadata due {data['metadata_due']}: {state}  [{len(data['keys'])} file(s)]")


@command.command("files", hidden=True)
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--provider", required=True, help="Who delivered the data (e.g. airbus, usgs, jaxa).")
@click.option("--route", required=True, type=click.Choice(["purchase", "exchange", "aid", "foreign-station"]),
              help="Art. 5.1 b (purchase), c (exchange, cooperation, aid) or d (foreign-station: a station "
                   "provided by a foreign party or run jointly with one).")
@click.option("--funding", type=click.Choice(["state_budget", "other"]),
              help="Route purchase: paid from the state budget or otherwise (required for a purchase).")
@click.option("--opinion", "opinion_id", type=int,
              help="Route purchase, state budget: the id of the purchase opinion allowing it "
                   "(`rsarchive coverage --opinion …`).")
@click.option("--received", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Date received (YYYY-MM-DD).")
@click.option("--metadata", help="Metadata JSON (file or object): datetime, geometry or bbox, platform, … "
                                 "(for a recognised product: the fields that override its own metadata).")
@click.option("--classification", type=click.Choice(["unclassified", "confidential", "secret", "top-secret"]),
              help="Security classification; without one the item is held until an officer classifies it.")
@click.option("--json", "as_json", is_flag=True)
def register_files(files: tuple[str, ...], provider: str, route: str, funding: str | None, opinion_id: int | None,
                   received: dt.datetime, metadata: str | None, classification: str | None, as_json: bool) -> None:
    """Keep PATH… byte-exact as originals with a verified copy; catalogue the product from its own
    metadata (Landsat C2, Sentinel-2 SAFE, DIMAP V2) or from --metadata.  A state-budget purchase
    without an allowing purchase opinion is refused before anything is stored."""
    from rsarchive import originals
    from rsarchive.db import transaction
    from rsarchive.requests.purchase import check_for_registration

    settings = get_settings()
    with transaction(settings) as conn:
        note = check_for_registration(conn, route, funding, opinion_id)

    parsed = originals.parse_metadata(metadata)
    if classification is not None:
        parsed = (parsed or originals.MetadataOverrides()).model_copy(update={"classification": classification})
    delivery = originals.register(settings, files, provider=provider, route=route,  # type: ignore[arg-type]
                                  received=received.date(), metadata=parsed,
                                  funding=originals.Funding(funding, opinion_id, note))
    if note:
        click.echo(note, err=True)
    _show(delivery, as_json)


@command.command("metadata")
@click.argument("delivery_id")
@click.option("--metadata", required=True, help="Metadata JSON (file or object).")
def add_metadata(delivery_id: str, metadata: str) -> None:
    """Give a registered delivery its metadata: it is catalogued (and published unless classified)."""
    from rsarchive import originals

    parsed = originals.parse_metadata(metadata)
    assert parsed is not None
    _show(originals.add_metadata(get_settings(), delivery_id, parsed.complete()), False)


@command.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_command(as_json: bool) -> None:
    """Every registered delivery with its metadata deadline."""
    from rsarchive import originals

    deliveries = originals.list_deliveries(get_settings())
    if as_json:
        echo_json([d.to_dict() for d in deliveries])
    for delivery in deliveries if not as_json else []:
        _show(delivery, False)


@command.command("overdue")
@click.option("--json", "as_json", is_flag=True)
def overdue_command(as_json: bool) -> None:
    """Deliveries whose metadata is past its three-month deadline (exit 1 when there are any)."""
    from rsarchive import originals

    late = originals.overdue(get_settings())
    if as_json:
        echo_json([d.to_dict() for d in late])
    else:
        for delivery in late:
            _show(delivery, False)
        if not late:
            click.echo("no overdue metadata")
    if late:
        raise SystemExit(1)
