"""``rsarchive config show``: the settings in force (secrets hidden)."""

from __future__ import annotations

import click

from rsarchive.cli.options import echo_json, get_settings


def _secret(name: str) -> bool:
    """Passwords, secret keys and DSNs (which may hold a password) are never printed as they are."""
    return name.endswith(("_password", "secret_key"))


@click.group("config")
def command() -> None:
    """Inspect the settings in force (shipped rsarchive.toml, site directory, RSARCHIVE_* environment)."""


@command.command("show")
@click.option("--key", help="Print only this setting's value.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show(key: str | None, as_json: bool) -> None:
    """Print the settings, including derived store URLs and DSNs."""
    from rsarchive.errors import UsageError
    from rsarchive.settings import config_file

    from rsarchive.db import redact
    from rsarchive.storage.domains import shared_failure_domains

    settings = get_settings()
    values = {k: ("***" if _secret(k) and v else v) for k, v in settings.model_dump(mode="json").items()}
    values |= {
        "internal_dsn": redact(settings.internal_dsn),
        "public_dsn": redact(settings.public_dsn),
        "primary_store": settings.primary_store,
        "copy_store": settings.copy_store,
        "copy_endpoint": settings.copy_endpoint,
        "internal_database_dsn": redact(settings.internal_database_dsn),
        "public_database_dsn": redact(settings.public_database_dsn),
        "secrets_path": str(settings.secrets_path),
        "settings_file": str(config_file()),
        "copy_failure_domains": [str(d) for d in shared_failure_domains(settings)] or "independent",
    }
    if key is not None:
        if key not in values:
            raise UsageError(f"unknown setting {key!r}; known: {', '.join(sorted(values))}")
        click.echo(values[key])
    elif as_json:
        echo_json(values)
    else:
        for name, value in values.items():
            click.echo(f"{name} = {value}")
