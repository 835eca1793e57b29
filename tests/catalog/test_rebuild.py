"""``rsarchive catalog rebuild`` for foreign deliveries registered with ``rsarchive register``:
their rows, items and object records come back from the stores alone; a classified one is
never published; a damaged catalog record is skipped and named, the others are rebuilt."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rsarchive import originals
from rsarchive.cli.main import cli
from rsarchive.db import connect
from rsarchive.settings import Settings
from rsarchive.storage.archive import Archive
from rsarchive.testing.databases import drop_and_migrate, object_rows, search
from rsarchive.testing.ingested import s3_stores

pytestmark = pytest.mark.services

_DELIVERY_COLUMNS = ("delivery_id, provider, route, received, metadata_due, keys, metadata, item_id, classification, "
                     "metadata_reported_at, registered_at")


def _deliveries(dsn: str) -> list[tuple[Any, ...]]:
    with connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(f"SELECT {_DELIVERY_COLUMNS} FROM rsarchive.originals "
                                               "ORDER BY delivery_id")]


def _delivery(tmp_path: Path, name: str) -> list[Path]:
    folder = tmp_path / name
    folder.mkdir()
    files = [folder / f"IMG_{name}.JP2", folder / f"DIM_{name}.XML"]
    files[0].write_bytes(os.urandom(100_000))
    files[1].write_bytes(f"<Dimap_Document>{name}</Dimap_Document>".encode())
    return files


def _meta(classification: str, lon: float) -> originals.OriginalMetadata:
    return originals.OriginalMetadata.model_validate({
        "datetime": "2026-05-30T03:10:00Z", "bbox": [lon, 20.8, lon + 0.5, 21.3], "platform": "spot-7",
        "instruments": ["naomi"], "gsd": 1.5, "classification": classification})


def test_rebuild_brings_deliveries_back(fresh_settings: Settings, tmp_path: Path) -> None:
    settings = s3_stores(fresh_settings, archive_root=tmp_path / "archive")
    internal, public = settings.internal_database_dsn, settings.public_database_dsn
    received = dt.date(2026, 6, 1)
    open_one = originals.register(settings, _delivery(tmp_path, "A"), provider="airbus", route="purchase",
                                  received=received, metadata=_meta("unclassified", 105.0))
    secret = originals.register(settings, _delivery(tmp_path, "B"), provider="airbus", route="exchange",
                                received=received, metadata=_meta("secret", 106.0))
    pending = originals.register(settings, _delivery(tmp_path, "C"), provider="usgs", route="aid", received=received)
    assert pending.item_id is None
    archive = Archive.from_settings(settings)
    assert sorted(i.key for i in archive.copy.list("catalog/")) == sorted(
        f"catalog/delivery/{d.delivery_id}.json" for d in (open_one, secret, pending))
    rows, objects_before = _deliveries(internal), object_rows(internal)
    internal_items, public_items = search(internal), search(public, drop_published=True)
    assert [i["id"] for i in public_items] == [open_one.delivery_id]

    # a damaged record (both stores): named and skipped, the rest is rebuilt
    for store in (archive.primary, archive.copy):
        store.put("catalog/delivery/damaged.json", b'{"format": "rsarchive-catalog-record/1", "kind": "delivery"')

    drop_and_migrate(settings)
    result = CliRunner().invoke(cli, ["catalog", "rebuild", "--json"], obj={"settings": settings})
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert list(report["skipped"]) == ["catalog/delivery/damaged.json"]
    assert "not a catalog record" in report["skipped"]["catalog/delivery/damaged.json"]
    assert report["deliveries"] == 3 and sorted(report["withheld"]) == [secret.delivery_id]

    assert _deliveries(internal) == rows
    assert search(internal) == internal_items
    assert search(public, drop_published=True) == public_items  # the secret one is not published
    after = object_rows(internal)
    assert {k: v[:8] for k, v in after.items()} == {k: v[:8] for k, v in objects_before.items()}
    assert originals.get(settings, pending.delivery_id).keys == pending.keys


def _crashed_publication(archive: Archive, txn: str, scene: str) -> list[str]:
    """A publication whose commit dies after its catalog record is written, before the database
    commit: its objects are promoted and the record is in the stores, the database holds neither."""
    from rsarchive.catalog.records import keep
    from rsarchive.storage.keys import raw_key

    keys = [raw_key("vnredsat1", dt.date(2026, 3, 15), scene, name) for name in ("B1.tif", "metadata.json")]
    with archive.publication(txn) as publication:
        for key in keys:
            publication.put(key, f"{scene}:{key}".encode() * 100)

        def crash(conn: Any, records: list[Any]) -> None:
            keep(archive, "publication", txn, [], records, conn)
            raise OSError("the worker died before the commit")

        with pytest.raises(OSError, match="died"):
            publication.commit(on_commit=crash)
    return keys


def test_rebuild_uses_a_record_whose_objects_are_whole(fresh_settings: Settings, tmp_path: Path) -> None:
    """A crash between the catalog record and the database commit: the record's objects are whole
    and in place, so rebuild records them (what re-running the job would commit); once gc has
    removed them (unrecorded orphans), the record is skipped and named."""
    settings = s3_stores(fresh_settings, archive_root=tmp_path / "archive")
    internal = settings.internal_database_dsn
    archive = Archive.from_settings(settings)
    first = _crashed_publication(archive, "ingest-crash-000", "S1")
    assert object_rows(internal) == {} and archive.primary.exists(first[0])

    drop_and_migrate(settings)
    report = json.loads(CliRunner().invoke(cli, ["catalog", "rebuild", "--json"], obj={"settings": settings}).stdout)
    assert report["skipped"] == {} and report["objects_recorded"] == 3  # two raw objects and the record
    rows = object_rows(internal)
    assert sorted(rows) == sorted(first + ["catalog/publication/ingest-crash-000.json"])
    assert all(rows[k][7] == "ingest-crash-000" for k in first)
    with connect(internal) as conn:
        assert conn.execute("SELECT state FROM rsarchive.storage_txns WHERE txn_id = 'ingest-crash-000'"
                            ).fetchone()[0] == "committed"

    second = _crashed_publication(archive, "ingest-crash-001", "S2")
    gc = CliRunner().invoke(cli, ["storage", "gc", "--older-than", "0"], obj={"settings": settings})
    assert gc.exit_code == 0, gc.output
    assert not archive.primary.exists(second[0]) and archive.primary.exists(first[0])
    drop_and_migrate(settings)
    report = json.loads(CliRunner().invoke(cli, ["catalog", "rebuild", "--json"], obj={"settings": settings}).stdout)
    assert list(report["skipped"]) == ["catalog/publication/ingest-crash-001.json"]
    assert "is not in the primary store" in report["skipped"]["catalog/publication/ingest-crash-001.json"]
    assert sorted(object_rows(internal)) == sorted(first + ["catalog/publication/ingest-crash-000.json"])
