"""The copy store's failure domains: what it shares with the primary is said, never silently accepted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from rsarchive.cli.main import cli
from rsarchive.settings import Settings
from rsarchive.storage.domains import shared_failure_domains


def _settings(tmp_path: Path, **values: str) -> Settings:
    return Settings(archive_root=tmp_path / "root", **values)  # type: ignore[arg-type]


def test_two_directories_of_one_disk_share_a_device(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    settings = _settings(tmp_path, store_url=(tmp_path / "a").as_uri(), copy_store_url=(tmp_path / "b" / "c").as_uri())
    (shared,) = shared_failure_domains(settings)
    assert shared.kind == "device" and str(os.stat(tmp_path).st_dev) in shared.detail
    assert "Art. 6.3" in str(shared)


def test_a_copy_on_another_filesystem_is_independent(tmp_path: Path) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem on this machine")
    settings = _settings(tmp_path, store_url=tmp_path.as_uri(), copy_store_url=(other / "rsarchive-copy").as_uri())
    assert shared_failure_domains(settings) == []


def test_buckets_of_one_server_share_the_server_and_one_bucket_shares_more(tmp_path: Path) -> None:
    one = _settings(tmp_path, store_url="s3://archive/primary", copy_store_url="s3://archive-copy",
                    s3_endpoint_url="http://10.0.0.5:8333")
    assert [d.kind for d in shared_failure_domains(one)] == ["server"]
    same = _settings(tmp_path, store_url="s3://archive/primary", copy_store_url="s3://archive/copy",
                     s3_endpoint_url="http://10.0.0.5:8333")
    assert [d.kind for d in shared_failure_domains(same)] == ["server", "bucket"]
    apart = _settings(tmp_path, store_url="s3://archive", copy_store_url="s3://archive",
                      s3_endpoint_url="http://10.0.0.5:8333", copy_s3_endpoint_url="https://s3.other-site.vn")
    assert shared_failure_domains(apart) == []
    local = _settings(tmp_path, store_url=tmp_path.as_uri(), copy_store_url="s3://copy",
                      s3_endpoint_url="http://127.0.0.1:8333")
    assert [d.kind for d in shared_failure_domains(local)] == ["machine"]


def test_the_copys_own_local_seaweedfs(tmp_path: Path) -> None:
    """copy_seaweed: the copy store defaults to the copy bucket on the second server; two servers on this
    machine share no server or bucket, but the machine, and that is said."""
    settings = _settings(tmp_path, store_url="s3://rsarchive-primary", s3_endpoint_url="http://127.0.0.1:8333",
                         copy_seaweed=True)  # type: ignore[arg-type]
    assert settings.copy_store == "s3://rsarchive-copy" and settings.copy_endpoint == "http://127.0.0.1:8334"
    (shared,) = shared_failure_domains(settings)
    assert shared.kind == "machine" and "8333" in shared.detail and "8334" in shared.detail
    elsewhere = _settings(tmp_path, store_url="s3://rsarchive-primary", s3_endpoint_url="http://127.0.0.1:8333",
                          copy_seaweed=True, copy_s3_endpoint_url="https://s3.other-site.vn")  # type: ignore[arg-type]
    assert elsewhere.copy_endpoint == "https://s3.other-site.vn" and shared_failure_domains(elsewhere) == []
    aws = _settings(tmp_path, store_url="s3://a", copy_store_url="s3://b", copy_s3_endpoint_url="http://127.0.0.1:1")
    assert shared_failure_domains(aws) == []  # AWS (no endpoint) and a local server: not one machine
    assert _settings(tmp_path).copy_store.startswith("file://")  # without copy_seaweed: a directory


def test_config_show_says_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSARCHIVE_ARCHIVE_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("RSARCHIVE_STORE_URL", raising=False)
    monkeypatch.delenv("RSARCHIVE_COPY_STORE_URL", raising=False)
    res = CliRunner().invoke(cli, ["config", "show", "--json"])
    assert res.exit_code == 0, res.output
    values = json.loads(res.output)
    assert values["copy_store"].startswith("file://") and values["primary_store"].startswith("file://")
    (text,) = values["copy_failure_domains"]  # the default: two directories of one archive root
    assert "shares a device" in text
