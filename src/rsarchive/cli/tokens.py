"""``rsarchive tokens``: bearer tokens for the internal STAC API."""

from __future__ import annotations

import click

from rsarchive.cli.options import get_settings


@click.group("tokens")
def command() -> None:
    """Create, list and revoke tokens of the internal API (stored hashed)."""


@command.command("add")
@click.argument("name")
def add(name: str) -> None:
    """Create a token called NAME and print it (shown only this once)."""
    from rsarchive.api.tokens import create_token

    click.echo(create_token(get_settings().internal_database_dsn, name))


@command.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke the token called NAME."""
    from rsarchive.api.tokens import revoke_token

    revoke_token(get_settings().internal_database_dsn, name)
    click.echo(f"revoked {name}")


@command.command("list")
def list_() -> None:
    """List tokens (names and dates; never the tokens)."""
    from rsarchive.api.tokens import list_tokens

    for info in list_tokens(get_settings().internal_database_dsn):
        state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "active"
        used = f"last used {info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never used"
        click.echo(f"{info.name}\t{state}\tcreated {info.created_at:%Y-%m-%d}\t{used}")
