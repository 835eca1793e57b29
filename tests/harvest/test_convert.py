"""A body's item as a national item, without services: provenance fields, the body as host, the due
date from the legal basis (Decree 03/2019, Art. 18.2(b), read from the text: 30 working days)."""

from __future__ import annotations

import datetime as dt

import pytest

from rsarchive.catalog.items import EXTENSIONS
from rsarchive.catalog.validation import (
    default_store,
    validate_collection,
    validate_item,
)
from rsarchive.errors import UsageError
from rsarchive.harvest.convert import (
    Body,
    check_org,
    collection_id,
    fingerprint,
    national_collection,
    national_item,
)
from rsarchive.harvest.reader import SourceItem
from rsarchive.law import load_basis
from rsarchive.testing.items import synthetic_item

BODY = Body("ha-noi", "Sở Nông nghiệp và Môi trường Hà Nội", "Hanoi Department of Agriculture and Environment",
            "https://stac.hanoi.example/")
WMS = "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json"


def test_the_decrees_time_limit_is_the_basis_rule() -> None:
    rule = load_basis().rule("metadata.publication.local")
    assert rule.confirmed and rule.article == "18.2(b)" and rule.instrument == "decree-03-2019"
    assert (rule.period.count, rule.period.unit) == (30, "working_days") and "30 ngày làm việc" in rule.text_vi
    yearly = load_basis().rule("metadata.publication.yearly")
    assert yearly.confirmed and yearly.article == "18.1" and "Mẫu số 01" in yearly.text_vi
    assert yearly.period.end(dt.date(2026, 5, 4)) == dt.date(2026, 12, 31)
    # Submitted Fri 24 Apr 2026: 27 Apr (Hùng Kings' day off), 30 Apr, 1 May and weekends not counted:
    # 28, 29 Apr (2), 4-29 May (22), 1-5 Jun (27), 8, 9, 10 Jun (30).
    assert rule.period.end(dt.date(2026, 4, 24)) == dt.date(2026, 6, 10)


def test_national_item_keeps_provenance_and_names_the_body() -> None:
    source = synthetic_item(3, seed=5)
    source["stac_extensions"] = [*source["stac_extensions"], WMS, "https://example.org/unknown/v1.0.0/schema.json"]
    source["properties"]["published"] = "2026-11-01T00:00:00Z"
    href = "https://stac.hanoi.example/collections/anh-2026/items/" + source["id"]
    harvested = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.timezone.utc)
    store = default_store()

    def known(url: str) -> bool:
        return url != "https://example.org/unknown/v1.0.0/schema.json"

    due = load_basis().rule("metadata.publication.local").period.end(harvested)
    item = national_item(SourceItem(dict(source, collection="anh-2026"), href), BODY, source_url=BODY.url,
                         harvested=harvested, submitted=harvested, due=due, known_extension=known)
    validate_item(item, store)
    props = item["properties"]
    assert item["collection"] == "harvested-ha-noi-anh-2026" and item["id"] == source["id"]
    assert props["rsarchive:form"] == "metadata" and props["rsarchive:source_form"] == "product"
    assert props["rsarchive:source_published"] == "2026-11-01T00:00:00Z" and "published" not in props
    assert props["rsarchive:custodian"]["name"] == f"{BODY.name_vi} / {BODY.name_en}"
    assert props["providers"][0] == BODY.provider() and props["providers"][0]["roles"] == ["host"]
    assert props["rsarchive:submitted"] == "2026-12-07T09:30:00Z" and props["rsarchive:publication_due"] == due.isoformat()
    assert props["title"].split(" / ")[0].endswith(f"— {BODY.name_vi}")
    assert props["title"].split(" / ")[1].endswith(f"— {BODY.name_en}")
    assert [link["rel"] for link in item["links"]] == ["collection", "via"] and item["links"][1]["href"] == href
    assert WMS not in item["stac_extensions"] and EXTENSIONS["language"] in item["stac_extensions"]
    assert all(e in item["stac_extensions"] for e in source["stac_extensions"][:-2])
    assert props["rsarchive:security_classification"] == source["properties"]["rsarchive:security_classification"]

    collection = national_collection(BODY, "anh-2026", {"title": "Ảnh 2026 / Images 2026", "license": "CC-BY-4.0"},
                                     basis_cite=("Điều 17.1 Nghị định 03/2019/NĐ-CP", "Art. 17.1, Decree 03/2019/NĐ-CP"))
    validate_collection(collection, store)
    assert collection["id"] == item["collection"] and collection["license"] == "CC-BY-4.0"
    assert collection["title"] == f"Ảnh 2026 — {BODY.name_vi} / Images 2026 — {BODY.name_en}"
    assert collection["providers"] == [BODY.provider()]


def test_ids_and_fingerprints() -> None:
    assert collection_id("bo-quoc-phong", None) == "harvested-bo-quoc-phong"
    assert collection_id("ha-noi", "Ảnh SPOT_6") == "harvested-ha-noi-nh-spot-6"
    for bad in ("", "Hà Nội", "-x", "a" * 41, "ha_noi"):
        with pytest.raises(UsageError, match="lower-case"):
            check_org(bad)
    item = synthetic_item(1)
    assert fingerprint(item) == fingerprint(dict(reversed(list(item.items()))))
    changed = dict(item, properties=dict(item["properties"], **{"eo:cloud_cover": 99.0}))
    assert fingerprint(changed) != fingerprint(item)
