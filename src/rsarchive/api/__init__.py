"""The web layer: ``create_app(settings)`` (public and internal STAC APIs, STAC Browser)
and :func:`serve` (uvicorn)."""

from __future__ import annotations

from typing import Any

from rsarchive.settings import Settings

__all__ = ["create_app", "serve", "uvicorn_options"]


def create_app(settings: Settings) -> Any:
    """The FastAPI application (see :mod:`rsarchive.api.app`)."""
    from rsarchive.api.app import create_app as _create

    return _create(settings)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy options for ``settings``: X-Forwarded-For/-Proto are believed only from
    the addresses of ``trusted_proxies`` (uvicorn's ProxyHeadersMiddleware); they decide the
    client address (failed-login counts) and the scheme (Secure cookies, HSTS)."""
    return {"proxy_headers": bool(settings.trusted_proxies), "forwarded_allow_ips": settings.trusted_proxies or None}


def serve(settings: Settings, host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    if workers > 1:
        import os

        from rsarchive.identities import for_process

        # uvicorn needs an import string for several workers; settings come from the environment
        # (the API's own DSNs, not the owner's: create_app derives the API roles from them).
        api = for_process(settings, "api")
        os.environ.setdefault("RSARCHIVE_INTERNAL_DSN", api.internal_database_dsn)
        os.environ.setdefault("RSARCHIVE_PUBLIC_DSN", api.public_database_dsn)
        os.environ.setdefault("RSARCHIVE_SECRETS_FILE", str(settings.secrets_path))
        uvicorn.run("rsarchive.api.app:app_from_environment", factory=True, host=host, port=port,
                    workers=workers, log_level=log_level, **uvicorn_options(settings))
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, **uvicorn_options(settings))
