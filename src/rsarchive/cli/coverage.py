"""``rsarchive coverage``: the coverage check before a foreign purchase (Art. 10.2)."""

from __future__ import annotations

from typing import Any

import click

from rsarchive.cli._actor import area_fields, principal, token_option, validated
from rsarchive.cli.options import echo_json, get_settings
from rsarchive.db import transaction


@click.command("coverage")
@token_option
@click.option("--aoi", "aoi_file", type=click.Path(dir_okay=False), help="GeoJSON file with the area.")
@click.option("--bbox", help="Area as west,south,east,north (instead of --aoi).")
@click.option("--period", required=True, help="START/END, ISO dates.")
@click.option("--max-gsd", type=float, help="Finest ground sample distance needed, metres.")
@click.option("--levels", default="raw,product,original", show_default=True, help="Comma-separated levels.")
@click.option("--max-cloud", type=float, help="Maximum cloud cover, percent.")
@click.option("--opinion", is_flag=True,
              help="Give and record the purchase opinion (Art. 10.2; Decree 03/2019, Art. 15.4): the archive's "
                   "coverage and whether a Vietnamese station could acquire it in time; needs --needed-by, --purpose.")
@click.option("--needed-by", type=click.DateTime(["%Y-%m-%d"]), help="With --opinion: the date the data is needed by.")
@click.option("--purpose", help="With --opinion: what the purchase is for.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result (items, uncovered GeoJSON).")
def command(token: str | None, as_user: str | None, aoi_file: str | None, bbox: str | None, period: str,
            max_gsd: float | None, levels: str, max_cloud: float | None, opinion: bool, needed_by: Any,
            purpose: str | None, as_json: bool) -> None:
    """How much of an area the archive already covers for a period (and which items); with --opinion,
    the recorded purchase opinion (its id is what `register --route purchase --opinion ID` needs)."""
    from rsarchive.errors import UsageError
    from rsarchive.requests.coverage import coverage_check
    from rsarchive.requests.models import CoverageQuery, parse_period

    start, end = parse_period(period)
    body: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat(), "max_gsd": max_gsd,
                            "max_cloud_cover": max_cloud,
                            "levels": [v.strip() for v in levels.split(",") if v.strip()]}
    body.update(area_fields(aoi_file, bbox))
    if opinion:
        _opinion(token, as_user, body, needed_by, purpose, as_json)
        return
    if needed_by or purpose:
        raise UsageError("--needed-by and --purpose go with --opinion")
    query = validated(CoverageQuery, body)
    with transaction(get_settings()) as conn:
        result = coverage_check(conn, principal(conn, token, as_user), query)
    data = result.to_dict()
    if as_json:
        echo_json(data)
        return
    click.echo(f"covered {data['fraction'] * 100:.2f}% of {data['aoi_km2']:.3f} km² "
               f"({data['covered_km2']:.3f} km²) by {data['item_count']} items; "
               f"uncovered {data['aoi_km2'] - data['covered_km2']:.3f} km²")
    for item in data["items"]:
        click.echo(f"  {item['id']}  {item['level']}  {item['datetime']}  gsd {item['gsd']}")


def _opinion(token: str | None, as_user: str | None, body: dict[str, Any], needed_by: Any, purpose: str | None,
             as_json: bool) -> None:
    from rsarchive.errors import UsageError
    from rsarchive.requests import purchase

    if needed_by is None or not purpose:
        raise UsageError("--opinion needs --needed-by DATE and --purpose TEXT")
    query = validated(purchase.PurchaseQuery, {**body, "needed_by": needed_by.date().isoformat(), "purpose": purpose})
    with transaction(get_settings()) as conn:
        result = purchase.give_opinion(conn, principal(conn, token, as_user), query)
    data = result.to_dict()
    if as_json:
        echo_json(data)
        return
    click.echo(f"opinion {data['id']}: purchase {data['verdict']} "
               f"(archive covers {data['coverage']['fraction'] * 100:.2f}%)")
    for reason in data["reasons"]:
        click.echo(f"  - {reason['vi']}\n    {reason['en']}")
