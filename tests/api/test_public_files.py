"""The public catalog points nowhere inside, and publication fails closed (issue #26, parts 4-5).

One REAL ingest of a small simulated downlink with a pipeline and a reception record that
state no classification, and one REAL registration of a foreign delivery without one: every
item is catalogued internally and held.  An officer lists and classifies them (CLI), which
publishes them; then a real server (uvicorn) is walked: every public item and collection and
the static export hold no store href, endpoint, bucket or archive path, and no level-0 or
original file is offered; the thumbnail loads over HTTP as a PNG of the stored size; a data
file is refused to an anonymous caller with the way to request it (Vietnamese, then English)
and streamed to a requester whose delivery includes it.  Reclassifying upward (classify, or
``catalog load``) removes the public copy at once, and the next export drops it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from rsarchive import originals
from rsarchive.catalog import export_catalog, open_sink
from rsarchive.catalog.loader import fetch_items
from rsarchive.cli.main import cli
from rsarchive.db import connect, transaction, with_database
from rsarchive.jobs import JobQueue, Worker
from rsarchive.jobs.ingest import IngestRunner, ReceptionRecord, submit
from rsarchive.requests import delivery, lifecycle, payments
from rsarchive.requests.models import Approval, RequestForm
from rsarchive.resources import SITE_ENV, shipped
from rsarchive.settings import Settings
from rsarchive.storage import Archive
from rsarchive.testing import stack
from rsarchive.testing.server import free_port, serve
from rsarchive.testing.web import log_in
from rsarchive.users import identity

pytestmark = pytest.mark.services

UNMARKED = "ingest-level0-small-unmarked"


@dataclass
class Run:
    settings: Settings
    job_result: dict[str, Any]
    delivery_id: str
    internal_ids: dict[str, list[str]]     # collection -> ids


def _ids(dsn: str) -> dict[str, list[str]]:
    with connect(dsn) as conn:
        rows = conn.execute("SELECT collection, id FROM pgstac.items ORDER BY 1, 2").fetchall()
    out: dict[str, list[str]] = {}
    for collection, item_id in rows:
        out.setdefault(collection, []).append(item_id)
    return out


def _cli(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), obj={"settings": settings}, catch_exceptions=True)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def run(service_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A real ingest and a real registration, neither classified; the server's port chosen first
    so that the public base URL is the server's own."""
    from rsarchive.testing import small_downlink

    root = tmp_path_factory.mktemp("archive")
    port = free_port()
    settings = stack.fresh_buckets(stack.clone_databases(service_settings)).derive(
        archive_root=root, public_base_url=f"http://127.0.0.1:{port}", api_port=port)
    # A pipeline that states no classification (a copy of the shipped small one without it),
    # added by a site directory.
    site = tmp_path_factory.mktemp("site")
    spec = yaml.safe_load(shipped("pipelines/ingest-level0-small.yaml").read_text())
    spec["name"] = UNMARKED
    del spec["options"]["classification"]
    (site / "pipelines").mkdir()
    (site / "pipelines" / f"{UNMARKED}.yaml").write_text(yaml.safe_dump(spec))
    downlink = small_downlink(tmp_path_factory.mktemp("downlink"), scenes=1, write_truth_dn=False,
                              write_truth_radiance=False).downlink
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SITE_ENV, str(site))
        submit(settings, downlink, ReceptionRecord(station="VNSC-HN", pass_id="p0026", plan_ref="PLAN-26"), UNMARKED)
        job = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings)).run_once()
    assert job is not None and job.state == "succeeded", job and job.error
    files = tmp_path_factory.mktemp("delivery")
    (files / "IMG_SPOT7_001.JP2").write_bytes(hashlib.sha256(b"original").digest() * 4000)
    (files / "DIM_SPOT7_001.XML").write_bytes(b"<Dimap_Document>spot-7</Dimap_Document>")
    registered = originals.register(
        settings, sorted(files.iterdir()), provider="airbus", route="purchase", received=dt.date(2026, 6, 1),
        metadata=originals.OriginalMetadata.model_validate(
            {"datetime": "2026-05-30T03:10:00Z", "bbox": [105.5, 20.8, 106.1, 21.3], "platform": "spot-7"}))
    try:
        yield Run(settings, job.result or {}, registered.delivery_id, _ids(settings.internal_database_dsn))
    finally:
        stack.drop_databases(with_database(settings.internal_database_dsn, "postgres"),
                             [settings.internal_db, settings.public_db])


def test_unclassified_ingest_and_registration_are_held_not_published(run: Run) -> None:
    every = [i for ids in run.internal_ids.values() for i in ids]
    assert sorted(run.internal_ids) == ["foreign-original", "vnredsat1-level0", "vnredsat1-product", "vnredsat1-raw"]
    assert len(every) == 4
    assert _ids(run.settings.public_database_dsn) == {}, "nothing is published before an officer classifies it"
    assert run.job_result["published"] == [] and sorted(run.job_result["held"]) == sorted(
        i for c, ids in run.internal_ids.items() if c != "foreign-original" for i in ids)
    with connect(run.settings.internal_database_dsn) as conn:
        items = fetch_items(conn, every)
        reasons = conn.execute("SELECT DISTINCT reason FROM rsarchive.publications").fetchall()
    assert all("rsarchive:security_classification" not in i["properties"] for i in items)
    assert [r[0] for r in reasons] == ["held: no security classification; an officer classifies it "
                                       "(rsarchive catalog classify)"]
    listed = json.loads(_cli(run.settings, "catalog", "held", "--json"))
    assert sorted(h["id"] for h in listed) == sorted(every)
    # the officer's web page lists them too
    with transaction(run.settings) as conn:
        token = identity.add_user(conn, "officer-held", "officer", "Trung tâm Viễn thám Quốc gia", "top-secret")
    app_settings = run.settings
    from rsarchive.api import create_app

    with serve(create_app(app_settings)) as base:
        with httpx.Client() as client:
            assert log_in(client, base, "officer-held", token).status_code == 303
            page = client.get(base + "/web/officer/held")
            english = client.get(base + "/web/officer/held?lang=en")   # issue #21: the page's language
        assert page.status_code == 200 and "Dữ liệu chờ phân loại mật" in page.text
        assert "Items held for classification" in english.text and "Dữ liệu chờ phân loại mật" not in english.text
        assert all(f'data-item-id="{i}"' in page.text for i in every)
        anonymous = httpx.get(base + "/web/officer/held")
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/web/login")
        assert httpx.get(base + "/api/items/held", headers={"Authorization": f"Bearer {token}"}).json() == listed


@dataclass
class Published:
    run: Run
    base: str
    product: dict[str, Any]       # the internal product item
    export: Path


@pytest.fixture(scope="module")
def published(run: Run, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    every = [i for ids in run.internal_ids.values() for i in ids]
    out = _cli(run.settings, "catalog", "classify", *every, "--classification", "unclassified", "--note", "reviewed")
    assert out.count(": unclassified, published") == len(every), out
    assert _cli(run.settings, "catalog", "held").strip() == "0 mục đang giữ / 0 held item(s)"
    from rsarchive.api import create_app

    (product_id,) = run.internal_ids["vnredsat1-product"]
    with connect(run.settings.internal_database_dsn) as conn:
        (product,) = fetch_items(conn, [product_id], "vnredsat1-product")
    export = tmp_path_factory.mktemp("export") / "static"
    export_catalog(run.settings.public_database_dsn, open_sink(str(export), run.settings))
    with serve(create_app(run.settings), port=run.settings.api_port) as base:
        assert base == run.settings.public_url
        yield Published(run, base, product, export)


def _walk(base: str) -> dict[str, Any]:
    """Every public document: landing page, collections, every item (API)."""
    docs: dict[str, Any] = {}
    for path in ("/stac/", "/stac/collections", "/stac/search?limit=100"):
        docs[path] = httpx.get(base + path).json()
    for collection in docs["/stac/collections"]["collections"]:
        cid = collection["id"]
        docs[f"/stac/collections/{cid}"] = httpx.get(f"{base}/stac/collections/{cid}").json()
        items = httpx.get(f"{base}/stac/collections/{cid}/items?limit=100").json()
        docs[f"/stac/collections/{cid}/items"] = items
        for feature in items["features"]:
            path = f"/stac/collections/{cid}/items/{feature['id']}"
            docs[path] = httpx.get(base + path).json()
    return docs


def _secrets_of(settings: Settings) -> list[str]:
    """Strings that would tell the public where and how the archive stores its objects."""
    archive = Archive.from_settings(settings)
    return ["file://", "s3://", archive.primary.url, archive.copy.url, str(settings.archive_root),
            "objects/primary", "objects/copy", settings.primary_bucket, settings.copy_bucket,
            settings.seaweed_endpoint, f":{settings.seaweed_s3_port}/", "level0/vnredsat1/", "original/airbus/"]


def test_no_public_item_collection_or_export_points_into_the_stores(published: Published) -> None:
    settings = published.run.settings
    docs = _walk(published.base)
    exported = {str(p): json.loads(p.read_text()) for p in published.export.rglob("*.json")}
    assert len([d for d in exported.values() if d["type"] == "Feature"]) == 4
    features = [d for path, d in docs.items() if "/items/" in path] + [
        d for d in exported.values() if d["type"] == "Feature"]
    assert len(features) == 8
    for where, doc in list(docs.items()) + list(exported.items()):
        text = json.dumps(doc, ensure_ascii=False)
        for secret in _secrets_of(settings):
            assert secret not in text, f"{secret!r} leaked in {where}"
        for word in ("PLAN-26",):  # the plan reference (the pass id is part of item ids by design)
            assert word not in text, (where, text[max(0, text.index(word) - 300):text.index(word) + 100])
    for item in features:
        form = item["properties"]["rsarchive:form"]
        if form in ("level0", "original"):
            # published without their files: sizes and checksums only, nothing to download
            assert item["assets"] == {}, (item["id"], item["assets"])
            files = item["properties"]["rsarchive:files"]
            assert files and all(f["file:checksum"].startswith("1220") and f["file:size"] > 0 for f in files)
        else:
            assert item["assets"], item["id"]
            for key, asset in item["assets"].items():
                assert asset["href"] == f"{published.base}/assets/{item['collection']}/{item['id']}/{key}"
    (original,) = [i for i in features if i["properties"]["rsarchive:form"] == "original"][:1]
    assert sorted(f["title"] for f in original["properties"]["rsarchive:files"]) == [
        "DIM_SPOT7_001.XML", "IMG_SPOT7_001.JP2"]
    product = next(i for i in features if i["properties"]["rsarchive:form"] == "product")
    b1 = product["assets"]["B1"]
    assert b1["file:size"] > 0 and b1["file:checksum"].startswith("1220") and b1["raster:bands"]
    assert product["assets"]["thumbnail"]["roles"] == ["thumbnail"]


def test_the_thumbnail_loads_over_http_as_a_png(published: Published) -> None:
    from PIL import Image

    item = httpx.get(f"{published.base}/stac/collections/vnredsat1-product/items/{published.product['id']}").json()
    url = item["assets"]["thumbnail"]["href"]
    got = httpx.get(url)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(got.content))
    image.load()
    archive = Archive.from_settings(published.run.settings)
    internal_href = published.product["assets"]["thumbnail"]["href"]
    key = internal_href.removeprefix(archive.primary.url + "/")
    stored = io.BytesIO()
    archive.get(key, stored)
    assert image.format == "PNG" and image.size == Image.open(io.BytesIO(stored.getvalue())).size
    assert min(image.size) > 8 and got.content == stored.getvalue()
    assert got.headers["etag"] == f'"{hashlib.sha256(got.content).hexdigest()}"'
    assert "max-age" in got.headers["cache-control"]
    assert httpx.get(url, headers={"If-None-Match": got.headers["etag"]}).status_code == 304
    # nothing of level-0 or an original is served, nor anything not in the public catalog
    level0 = published.run.internal_ids["vnredsat1-level0"][0]
    for path in (f"vnredsat1-level0/{level0}/level0", f"foreign-original/{published.run.delivery_id}/data",
                 f"foreign-original/{published.run.delivery_id}/file1",
                 f"vnredsat1-product/{published.product['id']}/no-such-asset",
                 "vnredsat1-product/NO_SUCH_ITEM/thumbnail"):
        answer = httpx.get(f"{published.base}/assets/{path}")
        assert answer.status_code == 404, (path, answer.text)


def test_a_data_file_is_on_request_and_streams_to_a_requester_whose_delivery_includes_it(
        published: Published) -> None:
    settings, product = published.run.settings, published.product
    url = f"{published.base}/assets/vnredsat1-product/{product['id']}/B1"
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    body = anonymous.json()
    assert body["code"] == "DataOnRequest" and body["description"].startswith("Tệp B1 của ảnh")
    assert "Điều 8" in body["description_vi"] and "Art. 8" in body["description_en"]
    assert body["description"] == body["description_vi"] and body["lang"] == "vi"   # Vietnamese by default
    assert f"{published.base}/web/requests/new" in body["description"]
    with transaction(settings) as conn:
        token = identity.add_user(conn, "lan", "requester", "Bộ Tài nguyên và Môi trường")
        identity.add_user(conn, "olga", "officer", "Trung tâm Viễn thám Quốc gia", "top-secret")
    headers = {"Authorization": f"Bearer {token}"}
    refused = httpx.get(url, headers=headers)
    assert refused.status_code == 403 and "Chưa có yêu cầu" in refused.json()["description"]
    # a written request, approved and fulfilled: the delivery includes the product
    when = dt.datetime.fromisoformat(product["properties"]["datetime"].replace("Z", "+00:00")).date()
    form = RequestForm.model_validate({
        "contact": {"name": "Nguyễn Thị Lan", "email": "lan@monre.gov.vn"}, "purpose": "state_management",
        "bbox": product["bbox"], "start": str(when - dt.timedelta(days=1)), "end": str(when + dt.timedelta(days=1)),
        "levels": ["product"], "items": [product["id"]], "intended_use": "Kiểm kê đất đai / land-use inventory"})
    with transaction(settings) as conn:
        lan, olga = identity.principal_by_name(conn, "lan"), identity.principal_by_name(conn, "olga")
        record = lifecycle.submit(conn, lan, form)
        lifecycle.start_review(conn, olga, record.id)
        lifecycle.approve(conn, olga, record.id, Approval())
        delivery.fulfil(conn, settings, olga, record.id)
        due = payments.balance(conn, record.id).due
        payments.record(conn, olga, record.id, payments.PaymentForm(amount=due, paid_on=dt.date(2026, 1, 5),
                                                                    reference="BL-0001"))
    got = httpx.get(url, headers=headers)
    assert got.status_code == 200, got.text
    assert "1220" + hashlib.sha256(got.content).hexdigest() == product["assets"]["B1"]["file:checksum"]
    deadline = time.monotonic() + 10  # logged when the stream ends, which the client may see first
    while True:
        with connect(settings.internal_database_dsn) as conn:
            logged = conn.execute("SELECT item_id, asset, bytes, completed FROM rsarchive.downloads").fetchall()
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert logged == [(product["id"], "B1", len(got.content), True)]


def test_reclassified_upward_the_public_copy_goes_at_once_and_the_export_drops_it(
        published: Published, tmp_path: Path) -> None:
    settings, base = published.run.settings, published.base
    product_id = published.product["id"]
    (raw_id,) = published.run.internal_ids["vnredsat1-raw"]
    thumbnail = f"{base}/assets/vnredsat1-product/{product_id}/thumbnail"
    assert httpx.get(thumbnail).status_code == 200
    out = _cli(settings, "catalog", "classify", product_id, "--classification", "confidential")
    assert f"{product_id}: confidential, not public" in out
    assert httpx.get(f"{base}/stac/collections/vnredsat1-product/items/{product_id}").status_code == 404
    assert httpx.get(thumbnail).status_code == 404
    # by `catalog load`: the raw item loaded again as secret loses its public copy in the same command
    with connect(settings.internal_database_dsn) as conn:
        (raw,) = fetch_items(conn, [raw_id], "vnredsat1-raw")
    raw["properties"]["rsarchive:security_classification"] = "secret"
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(raw))
    out = _cli(settings, "catalog", "load", str(path))
    assert f"removed from the public catalog: {raw_id}" in out
    assert httpx.get(f"{base}/stac/collections/vnredsat1-raw/items/{raw_id}").status_code == 404
    report = export_catalog(settings.public_database_dsn, open_sink(str(published.export), settings))
    assert report.items == 2 and report.removed >= 2
    left = {p.name for p in published.export.rglob("*.json")}
    assert f"{product_id}.json" not in left and f"{raw_id}.json" not in left
    with connect(settings.internal_database_dsn) as conn:
        actions = conn.execute("SELECT item_id, action, reason FROM rsarchive.item_actions WHERE item_id = %s "
                               "ORDER BY id", (product_id,)).fetchall()
    assert actions[-1] == (product_id, "classified", "unclassified → confidential")


def test_republish_rewrites_copies_published_before_and_follows_a_new_public_url(published: Published) -> None:
    """A public copy as publication wrote it before this change (the internal item, store hrefs
    and all) is rewritten by ``catalog republish``; so is every copy after a new public URL."""
    settings = published.run.settings
    level0_id = published.run.internal_ids["vnredsat1-level0"][0]
    with connect(settings.internal_database_dsn) as conn:
        (legacy,) = fetch_items(conn, [level0_id], "vnredsat1-level0")
    with connect(settings.public_database_dsn) as conn:
        conn.execute("SELECT pgstac.upsert_item(%s::jsonb)", (json.dumps(legacy),))
        conn.commit()
    leaked = httpx.get(f"{published.base}/stac/collections/vnredsat1-level0/items/{level0_id}").text
    assert "file://" in leaked  # the leak of issue #26, as it was
    _cli(settings, "catalog", "classify", published.product["id"], "--classification", "unclassified")
    moved = settings.derive(public_base_url="https://vrsa.example.vn/archive")
    out = _cli(moved, "catalog", "republish")
    assert "removed 0" in out, out
    with connect(settings.public_database_dsn) as conn:
        copies = [r[0] for r in conn.execute("SELECT pgstac.get_item(id, collection) FROM pgstac.items")]
    assert len(copies) == 3  # level-0, original, product (the raw item is secret since the test above)
    assert len(next(c for c in copies if c["id"] == published.product["id"])["assets"]) > 5
    for copy in copies:
        text = json.dumps(copy)
        assert "file://" not in text and str(settings.archive_root) not in text
        assert all(a["href"].startswith("https://vrsa.example.vn/archive/assets/") for a in copy["assets"].values())
    assert next(c for c in copies if c["id"] == level0_id)["assets"] == {}
    _cli(settings, "catalog", "republish")  # back to the server's own URL
