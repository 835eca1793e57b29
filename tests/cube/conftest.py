"""One ingested two-scene pass per store kind (local directory, SeaweedFS S3), each served by
the API under uvicorn on a free port in a background thread (package scope: ingest runs once).

The simulated scene has clouds, so the product QA bands carry cloud bits (6) on valid pixels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rsarchive.db import with_database
from rsarchive.settings import Settings
from rsarchive.testing import stack

PIPELINE = "ingest-level0-small"


@dataclass
class ServedPass:
    settings: Settings
    base_url: str      # http://127.0.0.1:PORT
    token: str         # an analyst's (officer's) token for the internal STAC API

    @property
    def api_url(self) -> str:
        """Where analysts load cubes: the internal STAC API, whose assets point at the stores
        (the public catalog's data files are supplied on request, Decision 81 Art. 8)."""
        return f"{self.base_url}/internal/stac"


@pytest.fixture(scope="package")
def cloudy_downlink(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rsarchive.simulate.scene import SceneSpec
    from rsarchive.testing import small_downlink

    result = small_downlink(tmp_path_factory.mktemp("downlink"), scenes=2, scene=SceneSpec(cloud_fraction=0.25),
                            write_truth_dn=False, write_truth_radiance=False)
    return Path(result.downlink)


def _ingest(settings: Settings, downlink: Path) -> None:
    from rsarchive.jobs import JobQueue, Worker
    from rsarchive.jobs.ingest import IngestRunner, submit

    submit(settings, downlink, None, PIPELINE)
    final = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings)).run_once()
    assert final is not None and final.state == "succeeded", final and final.error


def _serve(settings: Settings) -> Iterator[str]:
    from rsarchive.api import create_app
    from rsarchive.testing.server import serve

    with serve(create_app(settings)) as base:
        yield base


def _stack(service_settings: Settings, root: Path, downlink: Path, **changes: object) -> Iterator[ServedPass]:
    settings = stack.fresh_buckets(stack.clone_databases(service_settings)).derive(archive_root=root)
    if changes:
        settings = settings.derive(**{k: (v(settings) if callable(v) else v) for k, v in changes.items()})
    _ingest(settings, downlink)
    from rsarchive.db import transaction
    from rsarchive.users import identity

    with transaction(settings) as conn:
        token = identity.add_user(conn, "analyst", "officer", "Cục Viễn thám quốc gia", "unclassified")
    try:
        for url in _serve(settings):
            yield ServedPass(settings.derive(api_port=int(url.rsplit(":", 1)[1])), url, token)
    finally:
        stack.drop_databases(with_database(settings.internal_database_dsn, "postgres"),
                             [settings.internal_db, settings.public_db])


@pytest.fixture(scope="package")
def local_pass(service_settings: Settings, tmp_path_factory: pytest.TempPathFactory,
               cloudy_downlink: Path) -> Iterator[ServedPass]:
    """The pass in local (file://) stores, public API served."""
    yield from _stack(service_settings, tmp_path_factory.mktemp("archive"), cloudy_downlink)


@pytest.fixture(scope="package")
def s3_pass(service_settings: Settings, tmp_path_factory: pytest.TempPathFactory,
            cloudy_downlink: Path) -> Iterator[ServedPass]:
    """The same pass in S3 stores on the test SeaweedFS (credentials in the settings only)."""
    from rsarchive.services import seaweed

    access, secret = seaweed.credentials(service_settings)
    yield from _stack(service_settings, tmp_path_factory.mktemp("archive-s3"), cloudy_downlink,
                      store_url=lambda s: f"s3://{s.primary_bucket}", copy_store_url=lambda s: f"s3://{s.copy_bucket}",
                      s3_endpoint_url=lambda s: s.seaweed_endpoint, s3_access_key=access, s3_secret_key=secret)
