"""Static catalog export to a directory and to a real SeaweedFS bucket: read back with
pystac, validated offline, links resolve, counts match the public database, withdrawn
items are removed on re-export, a crash mid-export leaves the previous catalog intact,
nothing classified appears, bad targets fail with one clear error."""

from __future__ import annotations

import datetime as dt
import json
import os
import posixpath
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pystac
import pytest

from rsarchive.catalog import export_catalog, init_catalogs, load_items, open_sink, publish, withdraw
from rsarchive.catalog.export import CATALOG_ID, is_export_file
from rsarchive.catalog.sinks import CatalogSink, S3Sink
from rsarchive.catalog.validation import validate_collection, validate_item
from rsarchive.db import connect
from rsarchive.errors import CatalogError, ServiceError, StorageError, UsageError
from rsarchive.settings import Settings
from rsarchive.testing.items import synthetic_item
from rsarchive.testing.server import free_port


@dataclass
class Published:
    settings: Settings      # S3 endpoint and credentials of the test SeaweedFS
    bucket: str             # an empty bucket for the mirror
    public_ids: list[str]
    secret_ids: list[str]


@pytest.fixture
def published(fresh_settings: Settings) -> Published:
    from rsarchive.services import seaweed

    access, secret = seaweed.credentials(fresh_settings)
    settings = fresh_settings.derive(s3_endpoint_url=fresh_settings.seaweed_endpoint, s3_access_key=access,
                                     s3_secret_key=secret)
    bucket = f"{settings.primary_bucket.removesuffix('-primary')}-mirror"
    seaweed.ensure_bucket(settings, bucket)
    public = [synthetic_item(i) for i in range(10)] + [synthetic_item(100 + i, form="raw") for i in range(3)]
    secret_items = [synthetic_item(900 + i, security="secret", lon=112.0, lat=16.5,
                                   when=dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=i))
                    for i in range(3)]
    init_catalogs(settings)
    with connect(settings.internal_database_dsn) as conn:
        load_items(conn, public + secret_items)
        conn.commit()
    report = publish(settings.internal_database_dsn, settings.public_database_dsn,
                     [i["id"] for i in public + secret_items])
    assert sorted(report.withheld) == sorted(i["id"] for i in secret_items)
    return Published(settings, bucket, [i["id"] for i in public], [i["id"] for i in secret_items])


def public_count(settings: Settings) -> int:
    with connect(settings.public_database_dsn) as conn:
        return int(conn.execute("SELECT count(*) FROM pgstac.items").fetchone()[0])


def bucket_objects(sink: S3Sink) -> dict[str, tuple[bytes, str]]:
    """Every object under the sink's prefix: relative key → (bytes, Content-Type)."""
    client, found = sink.store.client, {}
    for key in sink.existing():
        reply = client.get_object(Bucket=sink.bucket, Key=sink.prefix + key)
        found[key] = (reply["Body"].read(), reply["ContentType"])
    return found


def dir_objects(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class BucketStacIO(pystac.StacIO):
    """pystac reading s3:// hrefs straight from the bucket (relative links resolved by pystac)."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.client = client

    def read_text(self, source, *args, **kwargs) -> str:  # type: ignore[no-untyped-def,override]
        parsed = urlparse(str(source))
        assert parsed.scheme == "s3", source
        return self.client.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read().decode()

    def write_text(self, dest, txt, *args, **kwargs) -> None:  # type: ignore[no-untyped-def,override]
        raise AssertionError("read-only")


def check_catalog(files: dict[str, bytes], published: Published) -> None:
    """Offline-valid, every link relative and resolving, nothing classified, all public items."""
    items = 0
    for key, data in files.items():
        text = data.decode()
        for secret in published.secret_ids:
            assert secret not in text, f"classified {secret} in {key}"
        assert '"secret"' not in text and "2031-" not in text, f"classified metadata in {key}"
        if not key.endswith(".json"):
            continue
        document = json.loads(text)
        for link in document.get("links", []):
            assert "://" not in link["href"], f"absolute link in {key}: {link}"
            target = posixpath.normpath(posixpath.join(posixpath.dirname(key), link["href"]))
            assert target in files, f"dangling link in {key}: {link}"
        if document["type"] == "Feature":
            validate_item(document)
            items += 1
        elif document["type"] == "Collection":
            validate_collection(document)
        else:
            assert document["id"] == CATALOG_ID
    assert items == len(published.public_ids) == public_count(published.settings)


def test_s3_export_reads_back_as_a_valid_self_contained_catalog(published: Published, tmp_path: Path) -> None:
    sink = open_sink(f"s3://{published.bucket}/static/", published.settings)
    assert isinstance(sink, S3Sink)
    report = export_catalog(published.settings.public_database_dsn, sink)
    assert report.items == public_count(published.settings) == len(published.public_ids)
    assert report.target == f"s3://{published.bucket}/static/"

    objects = bucket_objects(sink)
    check_catalog({k: v[0] for k, v in objects.items()}, published)
    types = {k: v[1] for k, v in objects.items()}
    assert types["catalog.json"] == "application/json"
    assert types["vnredsat1-product/collection.json"] == "application/json"
    assert types["licence.html"].startswith("text/html")
    item_keys = [k for k in objects if k.count("/") == 2]
    assert item_keys and all(types[k] == "application/geo+json" for k in item_keys)

    # pystac follows the relative links inside the bucket itself.
    stac_io = BucketStacIO(sink.store.client)
    catalog = pystac.Catalog.from_file(f"s3://{published.bucket}/static/catalog.json", stac_io=stac_io)
    read_ids = sorted(item.id for item in catalog.get_items(recursive=True))
    assert read_ids == sorted(published.public_ids)
    assert {c.id for c in catalog.get_children()} >= {"vnredsat1-product", "vnredsat1-raw"}

    # Same content and layout as the directory export (one writer for both).
    export_catalog(published.settings.public_database_dsn, open_sink(str(tmp_path / "dir")))
    assert dir_objects(tmp_path / "dir") == {k: v[0] for k, v in objects.items()}

    # Downloaded, it is a catalog pystac reads from disk too.
    local = pystac.Catalog.from_file(str(tmp_path / "dir" / "catalog.json"))
    assert sum(1 for _ in local.get_items(recursive=True)) == len(published.public_ids)


@pytest.mark.parametrize("kind", ["dir", "s3"])
def test_reexport_removes_withdrawn_items_and_skips_unchanged(published: Published, tmp_path: Path, kind: str) -> None:
    target = str(tmp_path / "static") if kind == "dir" else f"s3://{published.bucket}/mirror"
    dsn = published.settings.public_database_dsn
    first = export_catalog(dsn, open_sink(target, published.settings))
    assert first.removed == 0 and first.unchanged == 0

    again = export_catalog(dsn, open_sink(target, published.settings))
    assert again.written == 0 and again.removed == 0, "an unchanged catalog is not rewritten"
    assert again.unchanged == first.written

    gone = published.public_ids[3]
    withdraw(published.settings.internal_database_dsn, dsn, "vnredsat1-product", [gone], "test: error report")
    withdrawn_file = f"vnredsat1-product/{gone}/{gone}.json"
    sink = open_sink(target, published.settings)
    assert withdrawn_file in sink.existing()
    report = export_catalog(dsn, sink)
    assert report.items == public_count(published.settings) == len(published.public_ids) - 1
    assert report.removed == 1
    after = sink.existing()
    assert withdrawn_file not in after
    assert sum(1 for k in after if k.count("/") == 2) == report.items
    collection = json.loads(sink.read_bytes("vnredsat1-product/collection.json") or b"{}")
    assert not any(gone in link["href"] for link in collection["links"])
    if kind == "dir":
        assert not (tmp_path / "static" / "vnredsat1-product" / gone).exists(), "empty item folder left behind"


class CrashingSink:
    """A real sink that dies (like a killed process) after ``allowed`` writes."""

    def __init__(self, inner: CatalogSink, allowed: int) -> None:
        self.inner, self.allowed, self.url = inner, allowed, inner.url

    def existing(self):  # type: ignore[no-untyped-def]
        return self.inner.existing()

    def read_bytes(self, path: str) -> bytes | None:
        return self.inner.read_bytes(path)

    def write_bytes(self, path: str, data: bytes, content_type: str) -> None:
        if self.allowed <= 0:
            raise KeyboardInterrupt("simulated crash")
        self.allowed -= 1
        self.inner.write_bytes(path, data, content_type)

    def delete(self, path: str) -> None:
        self.inner.delete(path)

    def sync(self) -> None:
        self.inner.sync()


def reachable(sink: CatalogSink) -> dict[str, bytes]:
    """Every file reachable from catalog.json by links (asserting each resolves)."""
    seen: dict[str, bytes] = {}
    todo = ["catalog.json"]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        data = sink.read_bytes(key)
        assert data is not None, f"dangling link to {key}"
        seen[key] = data
        if key.endswith(".json"):
            for link in json.loads(data).get("links", []):
                todo.append(posixpath.normpath(posixpath.join(posixpath.dirname(key), link["href"])))
    return seen


@pytest.mark.parametrize("kind", ["dir", "s3"])
def test_crash_mid_export_leaves_the_previous_catalog_complete(published: Published, tmp_path: Path,
                                                               kind: str) -> None:
    target = str(tmp_path / "static") if kind == "dir" else f"s3://{published.bucket}/crash"
    settings, dsn = published.settings, published.settings.public_database_dsn

    # A crash during the very first export leaves no catalog.json: nothing a mirror would take as complete.
    with pytest.raises(KeyboardInterrupt):
        export_catalog(dsn, CrashingSink(open_sink(target, settings), allowed=4), workers=1)
    sink = open_sink(target, settings)
    assert sink.read_bytes("catalog.json") is None
    export_catalog(dsn, sink)
    old_root = sink.read_bytes("catalog.json")
    old_tree = reachable(sink)

    # Change the public catalog: one item withdrawn, new ones published; then crash mid-way.
    gone = published.public_ids[0]
    withdraw(settings.internal_database_dsn, dsn, "vnredsat1-product", [gone], "test")
    new = [synthetic_item(50 + i) for i in range(4)]
    with connect(settings.internal_database_dsn) as conn:
        load_items(conn, new)
        conn.commit()
    publish(settings.internal_database_dsn, dsn, [i["id"] for i in new])
    with pytest.raises(KeyboardInterrupt):
        export_catalog(dsn, CrashingSink(open_sink(target, settings), allowed=2), workers=1)
    assert sink.read_bytes("catalog.json") == old_root, "the root changes only when everything is in place"
    tree = reachable(sink)  # every link of the previous catalog still resolves
    assert set(tree) == set(old_tree)

    # The next run finishes the job.
    report = export_catalog(dsn, sink)
    tree = reachable(sink)
    items = {k for k in tree if k.count("/") == 2}
    assert len(items) == report.items == public_count(settings)
    assert f"vnredsat1-product/{gone}/{gone}.json" not in sink.existing()
    assert all(is_export_file(k) and not k.endswith(".tmp") for k in sink.existing())


def test_bad_targets_fail_with_one_clear_error(published: Published, tmp_path: Path) -> None:
    settings, dsn = published.settings, published.settings.public_database_dsn
    with pytest.raises(UsageError, match="unsupported scheme 'gs'"):
        open_sink("gs://bucket/x", settings)
    with pytest.raises(UsageError, match="unsupported scheme 'https'"):
        open_sink("https://example.org/catalog/", settings)
    with pytest.raises(UsageError, match="names no bucket"):
        open_sink("s3:///prefix", settings)
    with pytest.raises(UsageError, match="not a valid bucket name"):
        open_sink("s3://Bad_Bucket/x", settings)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        open_sink(str(blocker), settings)

    with pytest.raises(StorageError, match="bucket 'no-such-bucket-rsarchive' does not exist"):
        export_catalog(dsn, open_sink("s3://no-such-bucket-rsarchive/static/", settings))

    dead = settings.derive(s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ServiceError, match="cannot be reached"):
        export_catalog(dsn, open_sink(f"s3://{published.bucket}/static/", dead))

    # A directory holding other things is not written into (and nothing in it is removed).
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    (home / "notes" / "notes.json").write_text("{}")  # looks like an item file: must survive
    (home / ".bashrc").write_text("")
    with pytest.raises(UsageError, match="not empty and holds no rsarchive catalog"):
        export_catalog(dsn, open_sink(str(home)))
    assert (home / "notes" / "notes.json").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "catalog.json").write_text(json.dumps({"type": "Catalog", "id": "someone-else"}))
    with pytest.raises(UsageError, match="not an rsarchive export"):
        export_catalog(dsn, open_sink(str(other)))


def test_unsafe_item_id_is_refused_before_the_root_changes(published: Published, tmp_path: Path) -> None:
    dsn = published.settings.public_database_dsn
    export_catalog(dsn, open_sink(str(tmp_path / "static")))
    root = (tmp_path / "static" / "catalog.json").read_bytes()
    bad = synthetic_item(70)
    bad["id"] = "../../escape"
    with connect(dsn) as conn:
        load_items(conn, [bad], validate=False)
        conn.commit()
    with pytest.raises(CatalogError, match="escape"):
        export_catalog(dsn, open_sink(str(tmp_path / "static")))
    assert (tmp_path / "static" / "catalog.json").read_bytes() == root
    assert not (tmp_path / "escape").exists() and not (tmp_path / "escape.json").exists()


def test_cli_export_to_s3_and_bad_targets(published: Published) -> None:
    settings = published.settings
    env = {**os.environ, "RSARCHIVE_PUBLIC_DSN": settings.public_database_dsn,
           "RSARCHIVE_S3_ENDPOINT_URL": settings.s3_endpoint_url, "RSARCHIVE_S3_ACCESS_KEY": settings.s3_access_key,
           "RSARCHIVE_S3_SECRET_KEY": settings.s3_secret_key}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rsarchive", "catalog", "export", *args], capture_output=True,
                              text=True, timeout=120, env=env)

    ok = run("--to", f"s3://{published.bucket}/cli/")
    assert ok.returncode == 0, ok.stderr
    assert f"{len(published.public_ids)} items to s3://{published.bucket}/cli/" in ok.stdout
    sink = open_sink(f"s3://{published.bucket}/cli/", settings)
    assert "catalog.json" in sink.existing()

    for target, code, message in (("ftp://host/x", 2, "unsupported scheme 'ftp'"),
                                  ("s3://no-such-bucket-rsarchive/", 8, "does not exist")):
        bad = run("--to", target)
        assert bad.returncode == code, bad.stderr
        lines = bad.stderr.strip().splitlines()
        assert lines[-1].startswith("rsarchive: error:") and message in lines[-1], bad.stderr
        assert "Traceback" not in bad.stderr
