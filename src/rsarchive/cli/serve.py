"""``rsarchive serve``: the web application (public and internal STAC APIs, STAC Browser)."""

from __future__ import annotations

import click

from rsarchive.cli.options import get_settings


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: setting api_host).")
@click.option("--port", type=int, default=None, help="Port (default: setting api_port).")
@click.option("--workers", type=int, default=1, show_default=True, help="uvicorn worker processes.")
def command(host: str | None, port: int | None, workers: int) -> None:
    """Serve /stac/ (public), /internal/stac/ (token), /browser/ and /docs with uvicorn."""
    from rsarchive.api import serve

    settings = get_settings()
    serve(settings, host=host or settings.api_host, port=port or settings.api_port, workers=workers)
