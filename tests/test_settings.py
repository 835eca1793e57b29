from __future__ import annotations

from pathlib import Path

import pytest

from rsarchive.cli.main import main
from rsarchive.errors import ConfigError
from rsarchive.resources import SITE_ENV, checkout_root
from rsarchive.settings import load_settings

PROJECT_ROOT = checkout_root()


def test_defaults_come_from_the_shipped_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RSARCHIVE_CONFIG", raising=False)
    monkeypatch.delenv(SITE_ENV, raising=False)
    settings = load_settings()
    assert PROJECT_ROOT is not None  # the tests run from the source checkout
    assert settings.archive_root == PROJECT_ROOT / "var"  # a checkout keeps its data in var/
    assert settings.site_dir is None
    assert settings.pg_port == 5439
    assert settings.primary_store == (PROJECT_ROOT / "var" / "objects" / "primary").as_uri()
    # the owner's password comes from the local credentials file once `services up` has made one
    from psycopg.conninfo import conninfo_to_dict

    dsn = conninfo_to_dict(settings.internal_database_dsn)
    assert (dsn["user"], dsn["host"], dsn["port"], dsn["dbname"]) == ("rsarchive", "127.0.0.1", "5439", "rsarchive")
    assert dsn.get("password", "") == settings.local_credentials().password("rsarchive", "127.0.0.1:5439")
    assert settings.public_database_dsn.endswith("/rsarchive_public")
    assert settings.dask_scheduler == ""


def test_environment_overrides_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RSARCHIVE_ARCHIVE_ROOT", str(tmp_path))
    monkeypatch.setenv("RSARCHIVE_PG_PORT", "6543")
    monkeypatch.setenv("RSARCHIVE_STORE_URL", "s3://national-archive")
    monkeypatch.setenv("RSARCHIVE_DASK_SCHEDULER", "tcp://10.0.0.5:8786")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    settings = load_settings()
    assert settings.archive_root == tmp_path
    assert settings.pg_port == 6543
    assert settings.primary_store == "s3://national-archive"
    assert settings.copy_store == (tmp_path / "objects" / "copy").as_uri()
    assert settings.internal_database_dsn == "postgresql://rsarchive@127.0.0.1:6543/rsarchive"
    assert settings.dask_scheduler == "tcp://10.0.0.5:8786"
    assert settings.s3_access_key == "AKIDEXAMPLE"


def test_settings_file_named_by_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('archive_root = "/srv/rsarchive"\napi_port = 9100\npublic_dsn = "postgresql://u@db:5432/pub"\n')
    monkeypatch.setenv("RSARCHIVE_CONFIG", str(config))
    settings = load_settings()
    assert settings.archive_root == Path("/srv/rsarchive")
    assert settings.api_port == 9100
    assert settings.public_database_dsn == "postgresql://u@db:5432/pub"
    assert settings.pg_port == 5439  # not in the file: the default


def test_invalid_values_are_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSARCHIVE_PG_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="pg_port"):
        load_settings()


def test_unknown_key_in_file_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('archve_root = "/typo"\n')
    monkeypatch.setenv("RSARCHIVE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="archve_root"):
        load_settings()


def test_store_url_scheme_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSARCHIVE_STORE_URL", "ftp://somewhere")
    with pytest.raises(ConfigError, match="file:// or s3://"):
        load_settings()


def test_missing_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RSARCHIVE_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_cli_reports_bad_settings_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RSARCHIVE_API_PORT", "70000")
    with pytest.raises(SystemExit) as exit_info:
        main(["services", "status"])
    assert exit_info.value.code == ConfigError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rsarchive: error: invalid settings") and "api_port" in err[0]


def test_site_directory_overrides_shipped_files_and_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from rsarchive.cpf import load_cpf
    from rsarchive.jobs.pipeline import available, load_pipeline
    from rsarchive.resources import shipped

    site = tmp_path / "site"
    (site / "cpf").mkdir(parents=True)
    (site / "rsarchive.toml").write_text("api_port = 9200\npg_port = 6000\n")
    custom = shipped("cpf/vnredsat1-small.json").read_text().replace('"VNR1-SMALL-2026.1"', '"SITE-1"')
    assert custom != shipped("cpf/vnredsat1-small.json").read_text()
    (site / "cpf" / "vnredsat1-small.json").write_text(custom)
    (site / "pipelines").mkdir()
    (site / "pipelines" / "site-only.yaml").write_text(
        shipped("pipelines/ingest-level0-small.yaml").read_text().replace("name: ingest-level0-small", "name: site-only"))
    later = tmp_path / "later.toml"
    later.write_text("pg_port = 6100\n")
    monkeypatch.setenv(SITE_ENV, str(site))
    monkeypatch.setenv("RSARCHIVE_CONFIG", str(later))
    settings = load_settings()
    assert settings.site_dir == site
    assert (settings.api_port, settings.pg_port) == (9200, 6100)  # site file over shipped, RSARCHIVE_CONFIG over site
    assert settings.token_lifetime_days == 90  # neither file: the shipped default
    assert load_cpf("vnredsat1-small").version == "SITE-1"  # the site's file replaces the shipped one
    assert load_cpf("vnredsat1").source == str(shipped("cpf/vnredsat1.json"))  # the rest stay shipped
    assert {"site-only", "ingest-level0", "ingest-level0-small"} <= set(available())
    assert load_pipeline("site-only").name == "site-only"


def test_site_directory_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SITE_ENV, str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="site directory .*absent.*RSARCHIVE_SITE_DIR.* does not exist"):
        load_settings()
    config = tmp_path / "site.toml"
    config.write_text(f'site_dir = "{tmp_path}"\n')
    monkeypatch.setenv(SITE_ENV, str(tmp_path))
    monkeypatch.setenv("RSARCHIVE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="site_dir cannot be set in a settings file"):
        load_settings()
