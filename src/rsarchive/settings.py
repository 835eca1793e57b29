"""Deployment settings: typed, one env prefix (``RSARCHIVE_``), defaults shipped in the
package (``rsarchive/data/rsarchive.toml``).

Precedence, highest first: keyword arguments, environment variables
(``RSARCHIVE_ARCHIVE_ROOT``, ``RSARCHIVE_STORE_URL`` …, plus the standard
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_REGION``), the TOML file named by
``RSARCHIVE_CONFIG``, the site directory's ``rsarchive.toml`` (``$RSARCHIVE_SITE_DIR``,
see :mod:`rsarchive.resources`), the shipped ``rsarchive.toml``, then the defaults below.
Relative paths are resolved against the source checkout when running from one, else
against the current directory.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rsarchive.credentials import LocalCredentials, load
from rsarchive.errors import ConfigError
from rsarchive.resources import SITE_ENV, default_archive_root, relative_base, shipped, site_dir


def config_files() -> list[Path]:
    """The settings files read, later over earlier: the shipped defaults, the site's
    ``rsarchive.toml`` (when it has one), the file named by ``$RSARCHIVE_CONFIG``."""
    files = [shipped("rsarchive.toml")]
    site = site_dir()
    if site is not None and (site / "rsarchive.toml").is_file():
        files.append(site / "rsarchive.toml")
    named = os.environ.get("RSARCHIVE_CONFIG")
    if named:
        files.append(Path(named))
    return files


def config_file() -> Path:
    """The most specific settings file in force (the last of :func:`config_files`)."""
    return config_files()[-1]


class _SettingsFiles(TomlConfigSettingsSource):
    """The TOML files; ``site_dir`` is refused there (the site directory holds the file)."""

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        if "site_dir" in data:
            raise ValueError(f"site_dir cannot be set in a settings file; set the environment variable {SITE_ENV}")
        return data


class Settings(BaseSettings):
    """Everything a deployment may change.  See the shipped ``rsarchive/data/rsarchive.toml``."""

    model_config = SettingsConfigDict(
        env_prefix="RSARCHIVE_",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    archive_root: Path = Field(default_factory=default_archive_root,
                               description="where local data, logs and the embedded services live (default: var/ "
                                           "of a source checkout, else $XDG_DATA_HOME/rsarchive)")
    site_dir: Path | None = Field(default_factory=site_dir,
                                  description="site directory whose cpf/, missions/, pipelines/, catalog/ … files "
                                              f"override the shipped ones (environment only: {SITE_ENV})")

    store_url: str = Field(default="", description="primary store: file:///dir or s3://bucket (empty: <archive_root>/objects/primary)")
    copy_store_url: str = Field(default="", description="copy store: second directory or bucket (empty: <archive_root>/objects/copy)")
    s3_endpoint_url: str = Field(default="", description="S3 endpoint for s3:// stores (empty: AWS)")
    copy_s3_endpoint_url: str = Field(default="", description="S3 endpoint of the copy store (empty: same as primary)")
    s3_region: str = Field(default="us-east-1", validation_alias=AliasChoices("RSARCHIVE_S3_REGION", "AWS_REGION", "s3_region"))
    s3_access_key: str = Field(default="", validation_alias=AliasChoices("RSARCHIVE_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "s3_access_key"))
    s3_secret_key: str = Field(default="", repr=False, validation_alias=AliasChoices("RSARCHIVE_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "s3_secret_key"))

    pg_host: str = Field(default="127.0.0.1", description="address PostgreSQL listens on and clients connect to")
    pg_hba_networks: list[str] = Field(default_factory=list, description="networks (CIDR) besides the local host "
                                       "allowed to connect to the local PostgreSQL with a password (other hosts)")
    pg_port: int = Field(default=5439, ge=1, le=65535)
    pg_user: str = "rsarchive"
    internal_db: str = "rsarchive"
    public_db: str = "rsarchive_public"
    internal_dsn: str = Field(default="", description="the owner's DSN of the internal database; overrides pg_host/pg_port/pg_user/internal_db")
    public_dsn: str = Field(default="", description="the owner's DSN of the public database; overrides pg_host/pg_port/pg_user/public_db")
    pg_password: str = Field(default="", repr=False, description="the owner's password (empty: the local credentials file)")

    # Run-time identities (least privilege).  The owner (pg_user) only migrates and administers;
    # the processes connect as these roles (rsarchive.identities).  Empty passwords and keys:
    # the local credentials file that `services up` generates (secrets_file).
    worker_pg_role: str = Field(default="rsarchive_worker", description="PostgreSQL role of the worker, ingest, audit and gc")
    api_public_pg_role: str = Field(default="rsarchive_api_public", description="PostgreSQL role of the public STAC API (read only, public database only)")
    api_internal_pg_role: str = Field(default="rsarchive_api_internal", description="PostgreSQL role of the internal API (reads the internal catalog, writes request and audit tables)")
    worker_pg_password: str = Field(default="", repr=False)
    api_public_pg_password: str = Field(default="", repr=False)
    api_internal_pg_password: str = Field(default="", repr=False)
    worker_s3_access_key: str = Field(default="", description="S3 identity of the worker (read and write)")
    worker_s3_secret_key: str = Field(default="", repr=False)
    api_s3_access_key: str = Field(default="", description="S3 identity of the API (read only)")
    api_s3_secret_key: str = Field(default="", repr=False)
    audit_s3_access_key: str = Field(default="", description="S3 identity of the fixity audit (read; write to repair)")
    audit_s3_secret_key: str = Field(default="", repr=False)
    secrets_file: str = Field(default="", description="generated local credentials, mode 0600 (empty: <archive_root>/run/secrets.json)")

    pg_bindir: str = Field(default="", description="PostgreSQL server binaries (empty: /usr/lib/postgresql/15/bin or PATH)")
    seaweed_binary: str = Field(default="", description="the weed executable (empty: beside Python, then PATH)")
    seaweed_host: str = Field(default="127.0.0.1", description="address the local SeaweedFS listens on and its "
                              "S3 endpoint's host")
    seaweed_s3_port: int = Field(default=8333, ge=1, le=65535)
    seaweed_master_port: int = Field(default=9333, ge=1, le=55535)
    seaweed_volume_port: int = Field(default=8480, ge=1, le=55535)
    seaweed_filer_port: int = Field(default=8888, ge=1, le=55535)
    primary_bucket: str = "rsarchive-primary"
    copy_bucket: str = "rsarchive-copy"

    dask_scheduler: str = Field(default="", description="tcp://host:port of a distributed scheduler; empty = local")
    threads: int = Field(default=0, ge=0, le=512, description="CPU threads one job may keep busy (computing, GDAL "
                         "encoding, COG overviews); 0 = every core of the machine")
    io_threads: int = Field(default=4, ge=1, le=64, description="transfers one job runs at once (object store parts, "
                            "catalog export files)")
    job_lease_seconds: float = Field(default=60.0, ge=1, le=3600, description="lease of a claimed job (renewed by "
                                     "heartbeats); a dead worker's job is taken over after it (worker, ingest --wait)")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_statement_timeout_ms: int = Field(default=5000, ge=1, description="PostgreSQL statement_timeout of the API's "
                                          "connections: a search running longer is cancelled and answered 503")
    api_max_url_bytes: int = Field(default=8192, ge=256, description="longest path + query string (else 414)")
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024, description="largest request body (else 413)")
    api_max_json_depth: int = Field(default=48, ge=4, le=512, description="deepest JSON nesting of a body or a "
                                    "JSON parameter (else 400)")
    api_max_filter_bytes: int = Field(default=32_768, ge=256, le=65_536, description="largest CQL2 filter (else 400)")
    api_max_filter_depth: int = Field(default=24, ge=2, le=100, description="deepest CQL2 filter nesting: "
                                      "parentheses, NOT, unary minus, operator levels (else 400)")
    api_max_geometry_vertices: int = Field(default=10_000, ge=4, description="most vertices of an intersects "
                                           "geometry or of the geometries of a filter (else 400)")
    api_max_list_entries: int = Field(default=64, ge=1, description="most fields or sortby entries (else 400)")
    api_max_ids: int = Field(default=1000, ge=1, description="most ids or collections in a search (else 400)")
    api_max_page_size: int = Field(default=1000, ge=1, le=10_000, description="largest page (limit); a larger "
                                   "limit is lowered to it, as the STAC API specification asks")
    trusted_proxies: str = Field(
        default="127.0.0.1",
        description="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For/-Proto "
                    "headers are believed (uvicorn's forwarded_allow_ips; empty: none, '*': any)")

    token_lifetime_days: int = Field(default=90, ge=1, le=3650,
                                     description="an API token expires this many days after it is issued or renewed")
    session_lifetime_minutes: int = Field(default=480, ge=1, le=10080,
                                          description="a web session ends this many minutes after login (absolute, "
                                                      "not idle), or earlier when its token expires")
    login_max_failures: int = Field(default=5, ge=1, le=1000,
                                    description="failed web logins allowed per account and per client address "
                                                "within login_window_seconds before logins are refused (429)")
    login_window_seconds: int = Field(default=900, ge=1, le=86400,
                                      description="the sliding window counting failed web logins")
    public_base_url: str = Field(default="", description="the archive's public URL, base of public asset hrefs "
                                 "(https://host[/prefix]; empty: http://<api_host>:<api_port>)")
    tiles_public_max_zoom: int = Field(default=12, ge=0, le=24,
                                       description="finest web-map zoom served to the public (Decision 81/2010, Art. "
                                                   "8, 11: full resolution on request): 12 is ≥ 35 m per pixel across "
                                                   "Viet Nam (8.2-23.4° N), zoom 13 would be 17.5 m at 23.4° N "
                                                   "(rsarchive.tiles.zoom.preview_max_zoom)")
    tiles_mosaic_max_items: int = Field(default=20, ge=1, le=200,
                                        description="most items read for one tile of a mosaic (newest first)")

    # Operations: triggers (`rsarchive watch`) and metrics (/metrics, workers' metrics port)
    watch_settle_seconds: float = Field(default=5.0, ge=0.1, le=3600,
                                        description="a watched downlink is taken when its size and modification "
                                                    "time (object: size and ETag) have not changed for this long and "
                                                    "no writer holds it open (inotify), or at once when its "
                                                    "<file>.done marker is there")
    watch_poll_seconds: float = Field(default=2.0, ge=0.1, le=3600,
                                      description="how often a watched directory is scanned and a watched bucket "
                                                  "listed")
    watch_polling: bool = Field(default=False, description="watch directories with watchdog's polling observer "
                                "instead of inotify (network file systems, where inotify sees no remote writes)")
    watch_spool_dir: str = Field(default="", description="where downlinks taken from a bucket are copied for the "
                                 "workers (a directory the workers can read; empty: <archive_root>/watch/spool)")
    watch_s3_endpoint_url: str = Field(default="", description="S3 endpoint of watched buckets (empty: "
                                       "s3_endpoint_url); read with the worker's S3 identity")
    metrics_allow: str = Field(default="127.0.0.1,::1",
                               description="comma-separated addresses or networks that may read the API's /metrics "
                                           "without a token, when the request did not come through a proxy "
                                           "(X-Forwarded-For/Forwarded); anyone else needs an operator's or "
                                           "administrator's bearer token (empty: a token always)")
    metrics_cache_seconds: float = Field(default=10.0, ge=0, le=3600,
                                         description="the database figures of /metrics are queried at most this "
                                                     "often; scrapes in between get the last answer")
    metrics_query_timeout_ms: int = Field(default=2000, ge=50, le=60_000,
                                          description="statement_timeout of the /metrics queries (a slow database "
                                                      "gives a scrape without those figures, never a long one)")
    worker_metrics_port: int = Field(default=0, ge=0, le=65535,
                                     description="port of a worker's own Prometheus /metrics (job runs, stage "
                                                 "durations, real-time factor); 0 = off")
    worker_metrics_host: str = Field(default="127.0.0.1", description="address the worker's metrics port listens on")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _SettingsFiles(settings_cls, toml_file=config_files())
        return (init_settings, env_settings, toml)

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"public base URL {value!r} must start with https:// or http://")
        return value.rstrip("/")

    @field_validator("site_dir", mode="before")
    @classmethod
    def _unset_if_empty(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("archive_root", "site_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        return value if value.is_absolute() else (relative_base() / value).resolve()

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _proxies(cls, value: str, info: ValidationInfo) -> str:
        import ipaddress

        what = "trusted proxy" if info.field_name == "trusted_proxies" else "metrics client"

        entries = [e.strip() for e in value.split(",") if e.strip()]
        for entry in entries:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{what} {entry!r} is not an IP address, a network or '*'") from None
        return ",".join(entries)

    @field_validator("pg_user", "worker_pg_role", "api_public_pg_role", "api_internal_pg_role")
    @classmethod
    def _role_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
            raise ValueError(f"PostgreSQL role name {value!r} must be lower-case letters, digits and _")
        return value

    @field_validator("store_url", "copy_store_url")
    @classmethod
    def _store_scheme(cls, value: str) -> str:
        if value and not value.startswith(("file://", "s3://")):
            raise ValueError(f"store URL {value!r} must start with file:// or s3://")
        return value

    def derive(self, **changes: Any) -> Settings:
        """A copy with some fields changed (derived values recomputed)."""
        return type(self)(**(self.model_dump() | changes))

    # Derived values -------------------------------------------------------
    @cached_property
    def primary_store(self) -> str:
        return self.store_url or (self.archive_root / "objects" / "primary").as_uri()

    @cached_property
    def copy_store(self) -> str:
        return self.copy_store_url or (self.archive_root / "objects" / "copy").as_uri()

    @cached_property
    def public_url(self) -> str:
        """The archive's public URL (no trailing slash): ``public_base_url`` or the API's own address."""
        return self.public_base_url or f"http://{self.api_host}:{self.api_port}"

    @cached_property
    def secrets_path(self) -> Path:
        """The local credentials file (see :mod:`rsarchive.credentials`)."""
        return Path(self.secrets_file).expanduser() if self.secrets_file else self.archive_root / "run" / "secrets.json"

    def local_credentials(self) -> LocalCredentials:
        """The credentials ``services up`` generated (read now; empty when there are none)."""
        return load(self.secrets_path)

    def _dsn(self, database: str) -> str:
        password = self.pg_password or self.local_credentials().password(self.pg_user, f"{self.pg_host}:{self.pg_port}")
        auth = f"{self.pg_user}:{quote(password, safe='')}" if password else self.pg_user
        return f"postgresql://{auth}@{self.pg_host}:{self.pg_port}/{database}"

    @cached_property
    def internal_database_dsn(self) -> str:
        return self.internal_dsn or self._dsn(self.internal_db)

    @cached_property
    def public_database_dsn(self) -> str:
        return self.public_dsn or self._dsn(self.public_db)

    @cached_property
    def seaweed_endpoint(self) -> str:
        return f"http://{self.seaweed_host}:{self.seaweed_s3_port}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning any invalid value into one :class:`ConfigError` line."""
    path = config_file()
    if os.environ.get("RSARCHIVE_CONFIG") and not path.is_file():
        raise ConfigError(f"settings file {path} (RSARCHIVE_CONFIG) does not exist")
    site = site_dir()
    if site is not None and not site.is_dir():
        raise ConfigError(f"site directory {site} ({SITE_ENV}) does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings ({path}, RSARCHIVE_* environment): {problems}") from None
    except (OSError, ValueError) as exc:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read settings file {path}: {exc}") from None
