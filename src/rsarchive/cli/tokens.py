"""``rsarchive tokens``: bearer tokens for the internal STAC API."""

from __future__ import annotations

import click

from rsarchive.cli.options import get_settings
from rsarchive.users.tokens import create_token, list_tokens, renew_token, revoke_token


@click.group("tokens")
def command() -> None:
    """Create, list, renew and revoke API tokens (stored hashed; they expire)."""


@command.command("add")
@click.argument("name")
def add(name: str) -> None:
    """Create a token called NAME and print it (shown only this once); it expires after
    token_lifetime_days (a setting)."""
    settings = get_settings()
    click.echo(create_token(settings.internal_database_dsn, name, settings.token_lifetime_days))


@command.command("renew")
@click.argument("name")
@click.option("--days", type=click.IntRange(1, 3650), default=None,
              help="Days from now until it expires (default: the setting token_lifetime_days).")
def renew(name: str, days: int | None) -> None:
    """Make the token called NAME (see `tokens list`; expired or not) valid again for --days."""
    settings = get_settings()
    expires = renew_token(settings.internal_database_dsn, name, days or settings.token_lifetime_days)
    click.echo(f"renewed {name}: expires {expires:%Y-%m-%d %H:%M %Z}")


@command.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke the token called NAME."""
    revoke_token(get_settings().internal_database_dsn, name)
    click.echo(f"revoked {name}")


@command.command("list")
def list_() -> None:
    """List tokens (names, dates and expiry; never the tokens)."""
    for info in list_tokens(get_settings().internal_database_dsn):
        state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "expired" if info.expired else "active"
        expiry = f"{'expired' if info.expired else 'expires'} {info.expires_at:%Y-%m-%d %H:%M %Z}"
        used = f"last used {info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never used"
        click.echo(f"{info.name}\t{state}\tcreated {info.created_at:%Y-%m-%d}\t{expiry}\t{used}")
