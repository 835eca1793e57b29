"""Test data for the requests area: users of several organisations, a small internal catalog
(one classified item) with real asset files, and a valid request form."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsarchive.db import connect, transaction
from rsarchive.settings import Settings
from rsarchive.users import identity

COLLECTION = "vnredsat1-product"

# Four product scenes around Hà Nội in 2024 and one classified scene; all 0.1° squares.
#   A: 105.0-105.1 × 21.0-21.1   2024-03-01   unclassified
#   B: 105.1-105.2 × 21.0-21.1   2024-03-05   unclassified
#   C: 105.0-105.1 × 21.1-21.2   2024-09-10   unclassified (outside a spring period)
#   S: 105.1-105.2 × 21.1-21.2   2024-03-07   secret
#   R: 105.0-105.1 × 21.0-21.1   2024-03-02   raw level (unclassified)
SCENES = {
    "VNR1_PRODUCT_A": ((105.0, 21.0, 105.1, 21.1), "2024-03-01T03:10:00Z", "unclassified", "product"),
    "VNR1_PRODUCT_B": ((105.1, 21.0, 105.2, 21.1), "2024-03-05T03:10:00Z", "unclassified", "product"),
    "VNR1_PRODUCT_C": ((105.0, 21.1, 105.1, 21.2), "2024-09-10T03:10:00Z", "unclassified", "product"),
    "VNR1_PRODUCT_S": ((105.1, 21.1, 105.2, 21.2), "2024-03-07T03:10:00Z", "secret", "product"),
    "VNR1_RAW_R": ((105.0, 21.0, 105.1, 21.1), "2024-03-02T03:10:00Z", "unclassified", "raw"),
}


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                [west, south]]]}


def collection_json(collection_id: str) -> dict[str, Any]:
    return {"type": "Collection", "stac_version": "1.0.0", "id": collection_id, "description": "test collection",
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[102.0, 8.0, 110.0, 24.0]]},
                       "temporal": {"interval": [["2014-01-01T00:00:00Z", None]]}}}


def item_json(item_id: str, files: Path) -> dict[str, Any]:
    bbox, when, classification, level = SCENES[item_id]
    collection = f"vnredsat1-{level}"
    assets = {}
    for band in ("B1", "B2", "QA"):
        path = files / f"{item_id}_{band}.tif"
        data = f"{item_id}:{band}:".encode() * 2000
        path.write_bytes(data)
        assets[band] = {"href": path.as_uri(), "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                        "roles": ["data", "quality"] if band == "QA" else ["data"],
                        "file:checksum": "1220" + hashlib.sha256(data).hexdigest(), "file:size": len(data),
                        "eo:bands": [{"name": band}]}
    assets["thumbnail"] = {"href": (files / "thumb.png").as_uri(), "type": "image/png", "roles": ["thumbnail"]}
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": collection,
            "geometry": box(*bbox), "bbox": list(bbox), "links": [], "assets": assets,
            "properties": {"datetime": when, "gsd": 10.0 if level == "product" else 10.0, "eo:cloud_cover": 5.0,
                           "rsarchive:form": level, "rsarchive:security_classification": classification}}


def load_items(settings: Settings, files: Path, ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Load the scenes into the internal pgSTAC, and the unclassified ones into the public one."""
    files.mkdir(parents=True, exist_ok=True)
    items = [item_json(i, files) for i in (ids or list(SCENES))]
    for dsn, public in ((settings.internal_database_dsn, False), (settings.public_database_dsn, True)):
        with connect(dsn) as conn:
            for cid in ("vnredsat1-product", "vnredsat1-raw"):
                conn.execute("SELECT pgstac.upsert_collection(%s::jsonb)", (json.dumps(collection_json(cid)),))
            for item in items:
                if public and item["properties"]["rsarchive:security_classification"] != "unclassified":
                    continue
                conn.execute("SELECT pgstac.upsert_item(%s::jsonb)", (json.dumps(item),))
            conn.commit()
    return items


@dataclass
class Archive:
    """A fresh archive with users, items and tokens."""

    settings: Settings
    tokens: dict[str, str]
    files: Path

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


USERS = {
    # name: (role, organisation, clearance)
    "alice": ("requester", "Bộ Tài nguyên và Môi trường", "unclassified"),
    "anna": ("requester", "Bộ Tài nguyên và Môi trường", "unclassified"),
    "bob": ("requester", "UBND tỉnh Quảng Ninh", "unclassified"),
    "sam": ("requester", "Bộ Quốc phòng", "secret"),
    "olga": ("officer", "Trung tâm Viễn thám Quốc gia", "top-secret"),
    "oscar": ("operator", None, "unclassified"),
    "root": ("admin", None, "top-secret"),
}


def request_body(**changes: Any) -> dict[str, Any]:
    """A valid request form for the spring 2024 scenes."""
    body: dict[str, Any] = {
        "contact": {"name": "Nguyễn Văn A", "email": "a@monre.gov.vn"},
        "purpose": "state_management",
        "bbox": [105.0, 21.0, 105.2, 21.2],
        "start": "2024-02-15", "end": "2024-04-30",
        "levels": ["product"],
        "intended_use": "Land-use inventory of Hà Nội province",
    }
    body.update(changes)
    return body


def assert_link_is_alice_s_alone(client: Any, url: str, headers: Any, settings: Settings, request_id: int) -> None:
    """A download link issued to alice fails for anna (same organisation), bob, no token, a tampered
    signature and, issued an hour ago with a one-minute lifetime, as expired. ``headers(user)`` gives a
    user's auth headers."""
    import time

    from rsarchive.requests import downloads

    assert client.get(url, headers=headers("anna")).status_code == 403
    assert client.get(url, headers=headers("bob")).status_code in (403, 404)
    assert client.get(url).status_code == 401
    assert client.get(url[:-4] + "AAAA", headers=headers("alice")).status_code == 403
    with transaction(settings) as conn:
        key = downloads.signing_key(conn)
        alice_id = identity.principal_by_name(conn, "alice").user_id
    expired = downloads.issue(key, request_id, "VNR1_PRODUCT_A", "B1", alice_id, ttl_seconds=60,
                              now=time.time() - 3600)
    response = client.get(f"/downloads/{expired}", headers=headers("alice"))
    assert response.status_code == 403 and "expired" in response.text


def pay_in_full(client: Any, archive: Archive, request_id: int, officer: str = "olga") -> dict[str, Any]:
    """An officer records payment of what is due on a fulfilled request (nothing when nothing is due)."""
    state = client.get(f"/api/requests/{request_id}/payments", headers=archive.headers(officer)).json()
    if state["due"]:
        answer = client.post(f"/api/requests/{request_id}/payments", headers=archive.headers(officer),
                             json={"amount": state["due"], "paid_on": "2026-01-05", "reference": "BL-0001"})
        assert answer.status_code == 201, answer.text
        state = answer.json()
    assert state["released"]
    return state


def api_client(url: str, archive: Archive, user: str) -> Any:
    """An ``httpx.Client`` on ``url`` carrying ``user``'s token."""
    import httpx

    return httpx.Client(base_url=url, headers=archive.headers(user), timeout=30)
