"""Deliveries whose assets live in the real SeaweedFS S3 store: a request is fulfilled, the
requester downloads the bytes through its signed URL from a running server (uvicorn),
the sha256 matches the manifest, the download is logged, and an expired link or another
requester's link fails.

The archive's primary store is ``s3://<bucket>/archive`` (a prefix, as a deployment sharing a
bucket would have); the objects are written through :class:`rsarchive.storage.archive.Archive`
and the items' hrefs are built the way the ingest job builds them (``primary.url + "/" + key``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from reqfixtures import (SCENES, USERS, assert_link_is_alice_s_alone, collection_json, item_json, pay_in_full,
                         request_body)

from rsarchive.db import connect, transaction
from rsarchive.requests import downloads
from rsarchive.settings import Settings
from rsarchive.storage.archive import Archive
from rsarchive.storage.keys import product_key
from rsarchive.users import identity

pytestmark = pytest.mark.services

BIG = 2 * downloads.CHUNK + 12345  # more than one read_range chunk


@dataclass
class S3Archive:
    settings: Settings
    tokens: dict[str, str]
    url: str                      # the running requests app
    sha256: dict[tuple[str, str], str]   # (item, asset) -> sha256 recorded by the archive

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def s3_settings(settings: Settings) -> Settings:
    from rsarchive.services.seaweed import credentials

    access, secret = credentials(settings)
    return settings.derive(store_url=f"s3://{settings.primary_bucket}/archive",
                           copy_store_url=f"s3://{settings.copy_bucket}/archive",
                           s3_endpoint_url=settings.seaweed_endpoint, s3_access_key=access, s3_secret_key=secret)


@pytest.fixture
def s3_archive(fresh_settings: Settings, tmp_path: Path) -> Iterator[S3Archive]:
    from rsarchive.api.requests_app import create_requests_app
    from rsarchive.testing.server import serve

    settings = s3_settings(fresh_settings)
    tokens = {}
    with transaction(settings) as conn:
        for name, (role, org, clearance) in USERS.items():
            tokens[name] = identity.add_user(conn, name, role, org, clearance)
    archive = Archive.from_settings(settings)
    assert archive.primary.url.startswith("s3://")
    sha256 = {}
    items = []
    for item_id in ("VNR1_PRODUCT_A", "VNR1_PRODUCT_B", "VNR1_PRODUCT_S"):
        item = item_json(item_id, tmp_path)
        when = dt.datetime.fromisoformat(SCENES[item_id][1].replace("Z", "+00:00"))
        for band, asset in list(item["assets"].items()):
            if band == "thumbnail":
                del item["assets"][band]
                continue
            data = (f"{item_id}:{band}:".encode() * (BIG // 10))[:BIG] if band == "B1" else \
                Path(asset["href"].removeprefix("file://")).read_bytes()
            key = product_key("vnredsat1", when, item_id, f"{band}.tif")
            record = archive.store(key, data)
            sha256[(item_id, band)] = record.sha256
            asset.update(href=f"{archive.primary.url}/{key}", **{"file:size": len(data),
                         "file:checksum": "1220" + hashlib.sha256(data).hexdigest()})
        items.append(item)
    for dsn, public in ((settings.internal_database_dsn, False), (settings.public_database_dsn, True)):
        with connect(dsn) as conn:
            conn.execute("SELECT pgstac.upsert_collection(%s::jsonb)", (json.dumps(collection_json("vnredsat1-product")),))
            for item in items:
                if not public or item["properties"]["rsarchive:security_classification"] == "unclassified":
                    conn.execute("SELECT pgstac.upsert_item(%s::jsonb)", (json.dumps(item),))
            conn.commit()
    with serve(create_requests_app(settings)) as url:
        yield S3Archive(settings, tokens, url, sha256)


def test_fulfil_and_download_from_s3(s3_archive: S3Archive) -> None:
    api = s3_archive
    with httpx.Client(base_url=api.url, timeout=30) as http:
        rid = http.post("/api/requests", json=request_body(bands=["B1"]), headers=api.headers("alice")).json()["id"]
        assert http.post(f"/api/requests/{rid}/approve", headers=api.headers("olga")).status_code == 200
        fulfilled = http.post(f"/api/requests/{rid}/fulfil", headers=api.headers("olga"))
        assert fulfilled.status_code == 200, fulfilled.text
        pay_in_full(http, api, rid)

        delivery = http.get(f"/api/requests/{rid}/delivery", headers=api.headers("alice")).json()
        assert [i["id"] for i in delivery["items"]] == ["VNR1_PRODUCT_A", "VNR1_PRODUCT_B"]  # S is secret
        for item in delivery["items"]:
            for asset in item["assets"]:
                assert asset["url"].startswith(api.url + "/downloads/") and "s3://" not in json.dumps(asset)
                got = http.get(asset["url"], headers=api.headers("alice"))
                assert got.status_code == 200, got.text
                digest = hashlib.sha256(got.content).hexdigest()
                assert "1220" + digest == asset["checksum"]  # the manifest's multihash
                assert digest == api.sha256[(item["id"], asset["key"])]  # what the archive stored in S3
                assert int(got.headers["content-length"]) == len(got.content) == asset["size"]
        big = delivery["items"][0]["assets"][0]
        assert big["key"] == "B1" and big["size"] == BIG

        # logged, one line per download, complete, with the bytes sent
        expected = [("alice", i["id"], a["key"], a["size"], True) for i in delivery["items"] for a in i["assets"]]
        deadline = time.monotonic() + 10
        while True:  # the log line is written when the stream ends, just after the client has the bytes
            with connect(api.settings.internal_database_dsn) as conn:
                logged = conn.execute("SELECT u.name, d.item_id, d.asset, d.bytes, d.completed FROM rsarchive.downloads d "
                                      "JOIN rsarchive.users u ON u.id = d.user_id ORDER BY d.id").fetchall()
            if len(logged) >= len(expected) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert logged == expected

        # another requester's use of alice's link, no token, a tampered and an expired link: all fail
        assert_link_is_alice_s_alone(http, big["url"], api.headers, api.settings, rid)
        with connect(api.settings.internal_database_dsn) as conn:
            assert conn.execute("SELECT count(*) FROM rsarchive.downloads").fetchone()[0] == len(expected)

        # the cleared requester gets the secret scene from S3 too
        rid2 = http.post("/api/requests", json=request_body(items=["VNR1_PRODUCT_S"]),
                         headers=api.headers("sam")).json()["id"]
        http.post(f"/api/requests/{rid2}/approve", headers=api.headers("olga"))
        assert http.post(f"/api/requests/{rid2}/fulfil", headers=api.headers("olga")).status_code == 200
        pay_in_full(http, api, rid2)
        secret = http.get(f"/api/requests/{rid2}/delivery", headers=api.headers("sam")).json()["items"]
        assert [i["id"] for i in secret] == ["VNR1_PRODUCT_S"]
        asset = secret[0]["assets"][0]
        got = http.get(asset["url"], headers=api.headers("sam"))
        assert got.status_code == 200 and "1220" + hashlib.sha256(got.content).hexdigest() == asset["checksum"]
