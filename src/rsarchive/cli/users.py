"""``rsarchive users add|revoke|list|token``: user accounts, roles, clearance and API tokens."""

from __future__ import annotations

import click

from rsarchive.cli.options import echo_json, get_settings
from rsarchive.db import transaction
from rsarchive.users import identity


@click.group("users")
def command() -> None:
    """Manage user accounts (roles: requester, officer, operator, admin) and their API tokens."""


@command.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["requester", "officer", "operator", "admin"]))
@click.option("--org", "organisation", metavar="ORG",
              help="Organisation (requesters: this or --id-number/--contact; created if new).")
@click.option("--id-number", help="Individual requester (no --org): identity-card or passport number.")
@click.option("--contact", help="Individual requester (no --org): address, e-mail or telephone.")
@click.option("--clearance", default="unclassified", show_default=True,
              type=click.Choice(["unclassified", "confidential", "secret", "top-secret"]))
def add_command(name: str, role: str, organisation: str | None, id_number: str | None, contact: str | None,
                clearance: str) -> None:
    """Create user NAME and print its API token (shown this once only)."""
    settings = get_settings()
    with transaction(settings) as conn:
        token = identity.add_user(conn, name, role, organisation, clearance,
                                  lifetime_days=settings.token_lifetime_days, id_number=id_number, contact=contact)
    click.echo(token)
    click.echo(f"user {name} ({role}{', ' + organisation if organisation else ''}, clearance {clearance}) created; "
               f"the token above is shown only now and expires in {settings.token_lifetime_days} days", err=True)


@command.command("token")
@click.argument("name")
def token_command(name: str) -> None:
    """Issue another API token for user NAME (printed once; expires after token_lifetime_days)."""
    settings = get_settings()
    with transaction(settings) as conn:
        click.echo(identity.issue_token(conn, name, lifetime_days=settings.token_lifetime_days))


@command.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Revoke user NAME and all its tokens."""
    with transaction(get_settings()) as conn:
        count = identity.revoke_user(conn, name)
    click.echo(f"revoked user {name} ({count} token{'s' if count != 1 else ''})")


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(as_json: bool) -> None:
    """List user accounts."""
    with transaction(get_settings()) as conn:
        users = identity.list_users(conn)
    if as_json:
        echo_json([u.to_dict() for u in users])
        return
    for u in users:
        state = f"revoked {u.revoked_at:%Y-%m-%d}" if u.revoked_at else f"{u.active_tokens} token(s)"
        click.echo(f"{u.name:<20} {u.role:<10} {u.clearance:<13} {u.organisation or '-':<30} {state}")
