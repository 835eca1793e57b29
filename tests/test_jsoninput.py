from pathlib import Path

import pytest

from rsarchive.errors import UsageError
from rsarchive.jobs.ingest import ReceptionRecord, load_reception


def test_inline_and_file_json(tmp_path: Path) -> None:
    assert load_reception('{"station": "VNSC-HN", "route": "aid"}').route == "aid"
    path = tmp_path / "rec.json"
    path.write_text('{"pass_id": "p7", "aos": "2026-03-15T03:39:00Z"}')
    record = load_reception(str(path))
    assert record.pass_id == "p7" and record.aos is not None and record.aos.year == 2026
    assert load_reception(None) == ReceptionRecord()


@pytest.mark.parametrize(("value", "message"), [
    ("/no/such/file.json", "neither a JSON object nor an existing file"),
    ('{"route": "smuggled"}', "invalid reception record: route"),
    ('{"station": "X", "antenna": 3}', "antenna"),
    ("{not json", "invalid reception record"),
])
def test_bad_json_is_one_clear_error(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_reception(value)
