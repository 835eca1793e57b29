"""Foreign originals: kept byte-exact with a verified copy, catalogued, three-month deadline."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from rsarchive import originals
from rsarchive.db import connect
from rsarchive.errors import ConflictError, UsageError
from rsarchive.settings import Settings
from rsarchive.storage import Archive

pytestmark = pytest.mark.services


@pytest.fixture
def settings(fresh_settings: Settings, tmp_path: Path) -> Settings:
    root = tmp_path / "archive"
    root.mkdir()
    return fresh_settings.derive(archive_root=root)


@pytest.fixture
def delivery_files(tmp_path: Path) -> list[Path]:
    files = [tmp_path / "IMG_SPOT7_PMS_001.JP2", tmp_path / "DIM_SPOT7_PMS_001.XML"]
    files[0].write_bytes(os.urandom(200_000))
    files[1].write_bytes(b"<Dimap_Document>...</Dimap_Document>")
    return files


def _meta(**changes: object) -> originals.OriginalMetadata:
    base = {"datetime": "2026-05-30T03:10:00Z", "bbox": [105.5, 20.8, 106.1, 21.3], "platform": "spot-7",
            "instruments": ["naomi"], "gsd": 1.5, "classification": "unclassified"}  # stated: there is no default
    return originals.OriginalMetadata.model_validate(base | changes)


def _ids(dsn: str) -> list[str]:
    with connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM pgstac.items WHERE collection = 'foreign-original'")]


def test_metadata_due_three_calendar_months_after_receipt() -> None:
    # rule foreign.metadata (Art. 13.4, 3 months): the same day three months on, off a non-working day
    # 1 Jun 2026 → Tue 1 Sep 2026: National Day holiday (Mon 31 Aug swapped off, Tue 1, Wed 2 Sep) → Thu 3 Sep
    assert originals.metadata_due(dt.date(2026, 6, 1)) == dt.date(2026, 9, 3)
    # 30 Nov 2026 → no 30 Feb: Sun 28 Feb 2027 → Mon 1 Mar
    assert originals.metadata_due(dt.date(2026, 11, 30)) == dt.date(2027, 3, 1)
    # 30 Nov 2027 → Tue 29 Feb 2028 (leap year, a working day)
    assert originals.metadata_due(dt.date(2027, 11, 30)) == dt.date(2028, 2, 29)
    # 15 Mar 2026 → Mon 15 Jun 2026 (a working day)
    assert originals.metadata_due(dt.date(2026, 3, 15)) == dt.date(2026, 6, 15)


def test_register_with_metadata_keeps_original_and_copy_and_catalogues(settings: Settings,
                                                                       delivery_files: list[Path]) -> None:
    delivery = originals.register(settings, delivery_files, provider="airbus", route="purchase",
                                  received=dt.date(2026, 6, 1), metadata=_meta())
    assert delivery.item_id == delivery.delivery_id and delivery.metadata_reported_at is not None
    assert len(delivery.keys) == 2 and all(k.startswith("original/airbus/2026/06/01/") for k in delivery.keys)
    archive = Archive.from_settings(settings)
    for key, path in zip(sorted(delivery.keys), sorted(delivery_files, key=lambda p: p.name), strict=True):
        record = archive.record(key)
        assert record.copies == 2
        assert archive.primary.get(key, None).sha256 == archive.copy.get(key, None).sha256 == record.sha256
        assert key.endswith(path.name)
        with pytest.raises(ConflictError):
            archive.primary.delete(key)
    assert _ids(settings.internal_database_dsn) == [delivery.delivery_id]
    assert _ids(settings.public_database_dsn) == [delivery.delivery_id]
    with connect(settings.internal_database_dsn) as conn:
        props = conn.execute("SELECT content->'properties' FROM pgstac.items WHERE id = %s",
                             (delivery.delivery_id,)).fetchone()[0]
    assert props["rsarchive:acquisition_article"] == "5.1b" and props["rsarchive:form"] == "original"
    again = originals.register(settings, delivery_files, provider="airbus", route="purchase",
                               received=dt.date(2026, 6, 1), metadata=_meta())
    assert again.delivery_id == delivery.delivery_id and len(originals.list_deliveries(settings)) == 1


def test_missing_metadata_becomes_overdue_after_three_months(settings: Settings,
                                                           delivery_files: list[Path]) -> None:
    delivery = originals.register(settings, delivery_files, provider="jaxa", route="exchange",
                                  received=dt.date(2026, 6, 1))
    assert delivery.item_id is None and _ids(settings.internal_database_dsn) == []
    # due Thu 3 Sep 2026 (1 Sep + the National Day holidays Tue 1 and Wed 2 Sep): overdue from 4 Sep
    assert originals.overdue(settings, today=dt.date(2026, 9, 3)) == []
    assert [d.delivery_id for d in originals.overdue(settings, today=dt.date(2026, 9, 4))] == [delivery.delivery_id]
    originals.add_metadata(settings, delivery.delivery_id, _meta())
    assert originals.overdue(settings, today=dt.date(2026, 9, 4)) == []


def test_original_without_classification_is_held_until_classified_and_published_without_its_files(
        settings: Settings, delivery_files: list[Path]) -> None:
    from rsarchive.catalog.classification import classify, held_items

    meta = _meta()
    meta.classification = None
    delivery = originals.register(settings, delivery_files, provider="airbus", route="purchase",
                                  received=dt.date(2026, 6, 1), metadata=meta)
    assert _ids(settings.internal_database_dsn) == [delivery.delivery_id]
    assert _ids(settings.public_database_dsn) == [], "no classification: held, not published"
    with connect(settings.internal_database_dsn) as conn:
        assert [h.item_id for h in held_items(conn)] == [delivery.delivery_id]
        assert conn.execute("SELECT classification FROM rsarchive.originals").fetchone()[0] is None
    report = classify(settings.internal_database_dsn, settings.public_database_dsn, [delivery.delivery_id],
                      "unclassified", public_url="https://vrsa.example.vn")
    assert report.published == [delivery.delivery_id]
    with connect(settings.public_database_dsn) as conn:
        item = conn.execute("SELECT pgstac.get_item(id, collection) FROM pgstac.items").fetchone()[0]
    with connect(settings.internal_database_dsn) as conn:
        assert held_items(conn) == []
        assert conn.execute("SELECT classification FROM rsarchive.originals").fetchone()[0] == "unclassified"
    archive = Archive.from_settings(settings)
    assert item["assets"] == {}, "an original is never offered for download"
    files = {f["title"]: f for f in item["properties"]["rsarchive:files"]}
    assert sorted(files) == sorted(p.name for p in delivery_files)
    for key in delivery.keys:
        record = archive.record(key)
        assert files[key.rsplit("/", 1)[-1]]["file:checksum"] == record.checksum
        assert files[key.rsplit("/", 1)[-1]]["file:size"] == record.size
    assert "file://" not in json.dumps(item) and str(settings.archive_root) not in json.dumps(item)


def test_classified_original_is_catalogued_but_never_public(settings: Settings, delivery_files: list[Path]) -> None:
    delivery = originals.register(settings, delivery_files, provider="partner", route="aid",
                                  received=dt.date(2026, 6, 1), metadata=_meta(classification="secret"))
    assert _ids(settings.internal_database_dsn) == [delivery.delivery_id]
    assert _ids(settings.public_database_dsn) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"received": dt.date.today() + dt.timedelta(days=2)}, "in the future"),
        ({"route": "gift"}, "route 'gift'"),
        ({"metadata": "bad-bbox"}, "bbox"),
        ({"files": ["missing"]}, "no such file"),
    ],
)
def test_bad_input_stores_nothing(settings: Settings, delivery_files: list[Path], kwargs: dict[str, object],
                                  message: str) -> None:
    call: dict[str, object] = {"provider": "airbus", "route": "purchase", "received": dt.date(2026, 6, 1)}
    files: list[object] = list(delivery_files)
    if kwargs.get("metadata") == "bad-bbox":
        call["metadata"] = _meta(bbox=[106.1, 21.3, 105.5, 20.8])
    elif "files" in kwargs:
        files = [delivery_files[0].parent / "missing.jp2"]
    else:
        call.update(kwargs)
    with pytest.raises(UsageError, match=message):
        originals.register(settings, files, **call)  # type: ignore[arg-type]
    assert originals.list_deliveries(settings) == []
    assert not list(Archive.from_settings(settings).primary.list("original/"))
