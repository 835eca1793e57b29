from __future__ import annotations

from pathlib import Path

import pytest

from rsarchive.errors import ConfigError, UsageError
from rsarchive.jobs.pipeline import INGEST_STAGES, available, load_pipeline


def test_shipped_pipelines_validate() -> None:
    assert {"ingest-level0", "ingest-level0-small"} <= set(available())
    spec = load_pipeline("ingest-level0")
    assert spec.stages == list(INGEST_STAGES)
    assert spec.cpf == "vnredsat1" and spec.profile == "vnredsat1"
    assert load_pipeline("ingest-level0-small").cpf == "vnredsat1-small"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(body)
    return path


BASE = "name: p\nmission: vnredsat1\nprofile: vnredsat1\ncpf: vnredsat1-small\n"


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ("[store_level0, decode, rwa]", "unknown stage"),
        ("[store_level0, raw, decode]", "must follow the order"),
        ("[decode, raw]", "starts with store_level0"),
        ("[store_level0, decode, decode]", "listed twice"),
    ],
)
def test_bad_stage_lists_are_refused(tmp_path: Path, stages: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_pipeline(str(_write(tmp_path, BASE + f"stages: {stages}\n")))


def test_unknown_option_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="options.refin"):
        load_pipeline(str(_write(tmp_path, BASE + "stages: [store_level0]\noptions: {refin: true}\n")))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pipeline(str(_write(tmp_path, "name: [unclosed\n")))
    with pytest.raises(ConfigError, match="classification"):
        load_pipeline(str(_write(tmp_path, BASE + "stages: [store_level0]\noptions: {classification: cosmic}\n")))


def test_unknown_pipeline_names_the_available_ones() -> None:
    with pytest.raises(UsageError, match="available: .*ingest-level0"):
        load_pipeline("no-such-pipeline")


@pytest.mark.parametrize("kind,message", [("missing", "missing.cadu does not exist"),
                                          ("directory", "is a directory, not a file"),
                                          ("empty", "empty.cadu is empty")])
def test_a_downlink_that_is_no_file_is_refused_before_anything_is_queued(tmp_path: Path, kind: str, message: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``rsarchive ingest FILE``: a missing, directory or empty downlink is a usage error naming it, found
    before the queue (no database listens here: reaching it would fail otherwise)."""
    from rsarchive.jobs.ingest import submit
    from rsarchive.settings import load_settings

    monkeypatch.setenv("RSARCHIVE_PG_PORT", "1")
    path = {"missing": tmp_path / "missing.cadu", "directory": tmp_path, "empty": tmp_path / "empty.cadu"}[kind]
    if kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(UsageError, match=message):
        submit(load_settings(), path)


def test_classification_has_no_default_and_only_the_catalogs_words(tmp_path: Path) -> None:
    from rsarchive.catalog.inputs import SECURITY_LEVELS
    from rsarchive.jobs.pipeline import CLASSIFICATIONS

    assert CLASSIFICATIONS == SECURITY_LEVELS
    body = BASE + "stages: [store_level0, decode]\n"
    assert load_pipeline(str(_write(tmp_path, body))).options.classification is None  # held, not published
    assert all(load_pipeline(name).options.classification is not None for name in available())  # shipped: stated
    with pytest.raises(ConfigError, match="classification"):
        load_pipeline(str(_write(tmp_path, body + "options:\n  classification: restricted\n")))
