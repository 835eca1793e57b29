"""An S3 endpoint that is down or refuses the credentials: one clear error, nothing recorded."""

from __future__ import annotations

import datetime as dt
import socket
import time
from pathlib import Path

import pytest

from rsarchive.errors import RsArchiveError, ServiceError, StorageError
from rsarchive.settings import Settings
from rsarchive.storage import Archive, level0_key, product_key

from .conftest import s3_settings

KEY = level0_key("vnredsat1", dt.date(2026, 3, 1), "P1", "pass.cadu")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _objects(settings: Settings) -> int:
    from rsarchive.db import connect

    with connect(settings.internal_database_dsn) as conn:
        return int(conn.execute("SELECT count(*) FROM rsarchive.objects").fetchone()[0])


@pytest.fixture
def s3(module_settings: Settings) -> Settings:
    from rsarchive.db import connect

    with connect(module_settings.internal_database_dsn) as conn:
        conn.execute("TRUNCATE rsarchive.objects, rsarchive.fixity_events, rsarchive.storage_txns CASCADE")
    return s3_settings(module_settings, prefix="failures")


def test_endpoint_down_is_one_clear_error_and_nothing_is_recorded(s3: Settings, tmp_path: Path) -> None:
    down = s3.derive(s3_endpoint_url=f"http://127.0.0.1:{_free_port()}")
    archive = Archive.from_settings(down)
    src = tmp_path / "pass.cadu"
    src.write_bytes(b"downlink" * 1000)
    start = time.perf_counter()
    with pytest.raises(ServiceError) as caught:
        archive.store(KEY, src)
    assert time.perf_counter() - start < 30
    message = str(caught.value)
    assert "cannot be reached" in message and down.s3_endpoint_url in message and "\n" not in message
    assert _objects(s3) == 0
    with pytest.raises(ServiceError):
        archive.publication("down").put(product_key("vnredsat1", dt.date(2026, 3, 1), "S1", "a.tif"), b"x")
    assert _objects(s3) == 0


@pytest.mark.parametrize("access, secret", [("rsarchive", "wrong-secret"), ("nobody", "wrong-secret")])
def test_wrong_credentials_are_one_clear_error_and_nothing_is_recorded(s3: Settings, access: str, secret: str) -> None:
    archive = Archive.from_settings(s3.derive(s3_access_key=access, s3_secret_key=secret))
    with pytest.raises(StorageError) as caught:
        archive.store(KEY, b"downlink")
    assert not isinstance(caught.value, ServiceError)
    assert "refused the credentials" in str(caught.value) and "wrong-secret" not in str(caught.value)
    assert _objects(s3) == 0
    good = Archive.from_settings(s3)
    assert list(good.primary.list()) == [] and list(good.copy.list()) == []


def test_cli_shows_one_line(s3: Settings) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "RSARCHIVE_STORE_URL": s3.primary_store, "RSARCHIVE_COPY_STORE_URL": s3.copy_store,
           "RSARCHIVE_S3_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}", "RSARCHIVE_S3_ACCESS_KEY": "a",
           "RSARCHIVE_S3_SECRET_KEY": "b", "RSARCHIVE_INTERNAL_DSN": s3.internal_database_dsn,
           "RSARCHIVE_SECRETS_FILE": str(s3.secrets_path)}
    result = subprocess.run([sys.executable, "-m", "rsarchive", "storage", "gc"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == ServiceError.exit_code
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("rsarchive: error:")]
    assert len(lines) == 1 and "cannot be reached" in lines[0] and "Traceback" not in result.stderr
    assert issubclass(ServiceError, RsArchiveError)
