"""Harvest of a province's rsarchive (its public STAC API over HTTP) and of a ministry's static
catalog into the national catalog (Decree 03/2019, Art. 17.1, 18.2; issue #22): provenance kept,
re-running changes nothing, an updated item is updated, a withdrawn one is marked, classified
items are withheld, the body holding each item is listed, bad input stores nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from conftest import Province, defence_items, static_site, write_static_catalog

from rsarchive import identities
from rsarchive.catalog import load_items, publish_items
from rsarchive.catalog.classification import classify
from rsarchive.catalog.loader import fetch_items
from rsarchive.cli.main import cli
from rsarchive.db import connect
from rsarchive.errors import CatalogError, ServiceError, UsageError
from rsarchive.harvest import (
    add_source,
    harvest,
    list_sources,
    overdue,
    parse_every,
    run_due,
)
from rsarchive.law import load_basis
from rsarchive.settings import Settings
from rsarchive.testing.server import free_port, serve

pytestmark = pytest.mark.services

HANOI = {"name_vi": "Sở Nông nghiệp và Môi trường Hà Nội", "name_en": "Hanoi Department of Agriculture and Environment"}
DEFENCE = {"name_vi": "Bộ Quốc phòng", "name_en": "Ministry of National Defence"}


def _internal(settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    with connect(settings.internal_database_dsn) as conn:
        rows = conn.execute("SELECT collection, id, pgstac.get_item(id, collection) FROM pgstac.items").fetchall()
    return {(c, i): item for c, i, item in rows}


def _public(settings: Settings) -> dict[tuple[str, str], tuple[dict[str, Any], dt.datetime]]:
    with connect(settings.public_database_dsn) as conn:
        rows = conn.execute("SELECT p.collection, p.item_id, pgstac.get_item(p.item_id, p.collection), p.published_at "
                            "FROM rsarchive.published_items p").fetchall()
    return {(c, i): (item, at) for c, i, item, at in rows}


def test_a_provinces_public_api_is_harvested_with_provenance_idempotently(province: Province,
                                                                          national: Settings) -> None:
    offered = province.public_items()
    secret = province.products[-1]
    assert secret not in offered and province.products[0] in offered  # the province's own API withholds it

    report = harvest(national, province.stac, "ha-noi", **HANOI)
    assert report.kind == "api"
    assert sorted(report.added) == sorted(offered) and report.listed == len(offered)
    assert sorted(report.published) == sorted(offered) and not report.withheld
    internal = _internal(national)
    assert all(i != secret for _, i in internal)
    due_rule = load_basis().rule("metadata.publication.local")
    for (collection, item_id), item in internal.items():
        source = offered[item_id]
        props = item["properties"]
        assert collection == f"harvested-ha-noi-{source['collection']}"
        assert props["rsarchive:form"] == "metadata" and props["rsarchive:source_form"] == source["properties"]["rsarchive:form"]
        assert props["rsarchive:custodian"] == {"org": "ha-noi", "name": f"{HANOI['name_vi']} / {HANOI['name_en']}",
                                                "url": province.stac}
        assert props["providers"][0]["roles"] == ["host"] and props["providers"][0]["name"].startswith(HANOI["name_vi"])
        assert props["rsarchive:source_url"] == province.stac and props["rsarchive:source_id"] == item_id
        assert props["rsarchive:source_collection"] == source["collection"]
        assert props["title"].startswith(source["properties"]["title"].split(" / ")[0])
        assert HANOI["name_vi"] in props["title"].split(" / ")[0]
        submitted = dt.datetime.fromisoformat(props["rsarchive:submitted"])
        assert props["rsarchive:publication_due"] == due_rule.period.end(submitted).isoformat()
        via = [link for link in item["links"] if link["rel"] == "via"]
        assert len(via) == 1
        fetched = requests.get(via[0]["href"], timeout=10)  # the original, over HTTP, at the province
        assert fetched.status_code == 200 and fetched.json()["id"] == item_id
        for key in ("datetime", "platform", "instruments", "eo:cloud_cover", "gsd", "processing:level"):
            assert props.get(key) == source["properties"].get(key), key
        assert item["geometry"] == source["geometry"]

    public = _public(national)
    assert set(public) == set(internal)  # all published on harvest (well within 30 working days)
    for (collection, item_id), (item, _) in public.items():
        props = item["properties"]
        assert props["rsarchive:custodian"]["org"] == "ha-noi" and "published" in props
        assert [link["href"] for link in item["links"] if link["rel"] == "via"] == \
            [link["href"] for link in internal[(collection, item_id)]["links"] if link["rel"] == "via"]
        assert "rsarchive:plan_ref" not in props and "rsarchive:pass_id" not in props
    with connect(national.public_database_dsn) as conn:
        collections = dict(conn.execute("SELECT id, content FROM pgstac.collections WHERE id LIKE 'harvested-%'").fetchall())
    assert set(collections) == {c for c, _ in internal}
    for content in collections.values():
        assert content["providers"][0]["roles"] == ["host"] and HANOI["name_en"] in content["providers"][0]["name"]
        assert content["title"].split(" / ")[0].endswith(HANOI["name_vi"])
        assert "Điều 17.1 Nghị định 03/2019/NĐ-CP" in content["description"]

    with connect(national.internal_database_dsn) as conn:
        runs_before = conn.execute("SELECT count(*) FROM rsarchive.publications").fetchone()[0]
    again = harvest(national, province.stac, "ha-noi")  # the registered names are used
    assert sorted(again.unchanged) == sorted(offered) and not (again.added or again.updated or again.withdrawn)
    assert _internal(national) == internal and _public(national) == public
    with connect(national.internal_database_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM rsarchive.publications").fetchone()[0] == runs_before

    # The province updates one item, and classifies another: it leaves its public API.
    changed, gone = province.products[0], province.products[1]
    with connect(province.settings.internal_database_dsn) as src, connect(province.settings.public_database_dsn) as pub:
        (item,) = fetch_items(src, [changed], "vnredsat1-product")
        item["properties"]["eo:cloud_cover"] = 42.5
        load_items(src, [item])
        publish_items(src, pub, [item], public_url=province.settings.public_url)
        pub.commit()
        src.commit()
    classify(province.settings.internal_database_dsn, province.settings.public_database_dsn, [gone], "confidential",
             collection="vnredsat1-product", public_url=province.settings.public_url)
    try:
        third = harvest(national, province.stac, "ha-noi")
    finally:
        classify(province.settings.internal_database_dsn, province.settings.public_database_dsn, [gone], "unclassified",
                 collection="vnredsat1-product", public_url=province.settings.public_url)
    assert third.updated == [changed] and third.withdrawn == [gone]
    after = _internal(national)
    key = ("harvested-ha-noi-vnredsat1-product", changed)
    assert after[key]["properties"]["eo:cloud_cover"] == 42.5
    assert after[key]["properties"]["rsarchive:submitted"] == internal[key]["properties"]["rsarchive:submitted"]
    assert ("harvested-ha-noi-vnredsat1-product", gone) in after  # kept internally, marked
    assert ("harvested-ha-noi-vnredsat1-product", gone) not in _public(national)
    assert _public(national)[key][0]["properties"]["eo:cloud_cover"] == 42.5
    with connect(national.internal_database_dsn) as conn:
        marked = conn.execute("SELECT withdrawn_at IS NOT NULL FROM rsarchive.harvested_items WHERE item_id = %s",
                              (gone,)).fetchone()[0]
        action = conn.execute("SELECT action, reason FROM rsarchive.item_actions WHERE item_id = %s ORDER BY id DESC",
                              (gone,)).fetchone()
    assert marked and action[0] == "withdrawn" and province.stac in action[1]

    back = harvest(national, province.stac, "ha-noi")  # listed again by the province: reinstated and published
    assert back.reinstated == [gone] and gone in back.published
    assert ("harvested-ha-noi-vnredsat1-product", gone) in _public(national)

    # The national public API says which body holds each item, and where the original is.
    from rsarchive.api import create_app

    with serve(create_app(national)) as base:
        coll = "harvested-ha-noi-vnredsat1-product"
        described = requests.get(f"{base}/stac/collections/{coll}", timeout=30).json()
        assert described["providers"][0]["roles"] == ["host"] and HANOI["name_vi"] in described["providers"][0]["name"]
        features = requests.get(f"{base}/stac/collections/{coll}/items", timeout=30).json()["features"]
        assert sorted(f["id"] for f in features) == sorted(i for c, i in _public(national) if c == coll)
        for feature in features:
            assert feature["properties"]["rsarchive:custodian"]["org"] == "ha-noi"
            (via,) = [link["href"] for link in feature["links"] if link["rel"] == "via"]
            assert via.startswith(province.stac) and via.endswith(f"/items/{feature['id']}")


def test_a_static_catalog_keeps_classified_items_internal(national: Settings, tmp_path: Path) -> None:
    public, secret, unmarked = defence_items()
    write_static_catalog(tmp_path / "bqp", [public, secret, unmarked])
    with static_site(tmp_path / "bqp") as site:
        report = harvest(national, f"{site}/catalog.json", "bo-quoc-phong", **DEFENCE)
        internal = _internal(national)
        coll = "harvested-bo-quoc-phong-thanh-tra-2026"
        via = [link["href"] for link in internal[(coll, secret["id"])]["links"] if link["rel"] == "via"]
        assert via == [f"{site}/thanh-tra-2026/{secret['id']}/{secret['id']}.json"]
        assert requests.get(via[0], timeout=10).json()["properties"]["rsarchive:security_classification"] == "secret"
    assert report.kind == "static" and sorted(report.added) == sorted(i["id"] for i in (public, secret, unmarked))
    assert report.published == [public["id"]]
    assert "secret" in report.reasons[secret["id"]] and "held" in report.reasons[unmarked["id"]]
    assert {(coll, i["id"]) for i in (public, secret, unmarked)} <= set(internal)
    assert set(_public(national)) == {(coll, public["id"])}

    # The unmarked item is held; past its due date (30 working days) it is reported, the secret one is not.
    due = dt.date.fromisoformat(internal[(coll, unmarked["id"])]["properties"]["rsarchive:publication_due"])
    assert overdue(national, today=due) == []
    late = overdue(national, today=due + dt.timedelta(days=7))
    assert [o.item_id for o in late] == [unmarked["id"]] and late[0].working_days_late >= 1
    # An officer classifies it: published, no longer overdue; a re-harvest leaves it so.
    classify(national.internal_database_dsn, national.public_database_dsn, [unmarked["id"]], "unclassified",
             collection=coll, public_url=national.public_url)
    assert overdue(national, today=due + dt.timedelta(days=7)) == []
    assert (coll, unmarked["id"]) in _public(national)


def test_bad_input_is_refused_and_stores_nothing(national: Settings, tmp_path: Path) -> None:
    def counts() -> tuple[int, ...]:
        with connect(national.internal_database_dsn) as conn:
            internal = conn.execute("SELECT (SELECT count(*) FROM pgstac.items), (SELECT count(*) FROM "
                                    "rsarchive.harvested_items), (SELECT count(*) FROM rsarchive.harvest_sources), "
                                    "(SELECT count(*) FROM pgstac.collections)").fetchone()
        with connect(national.public_database_dsn) as conn:
            return (*internal, conn.execute("SELECT count(*) FROM pgstac.items").fetchone()[0])

    before = counts()
    with pytest.raises(ServiceError, match=r"cannot read the catalog at http://127.0.0.1:\d+/stac/: connection refused"):
        harvest(national, f"http://127.0.0.1:{free_port()}/stac/", "ha-noi", **HANOI)
    (tmp_path / "hello.json").write_text(json.dumps({"hello": "world"}))
    with pytest.raises(CatalogError, match="is not a STAC catalog or STAC API"):
        harvest(national, str(tmp_path / "hello.json"), "ha-noi", **HANOI)
    (tmp_path / "page.html").write_text("<html></html>")
    with pytest.raises(CatalogError, match="is not JSON"):
        harvest(national, str(tmp_path / "page.html"), "ha-noi", **HANOI)
    good, bad, _ = defence_items()
    del bad["geometry"]
    catalog = write_static_catalog(tmp_path / "bad", [good, bad])
    with pytest.raises(CatalogError, match=rf"item '{bad['id']}' at .*{bad['id']}.json cannot be harvested"):
        harvest(national, str(catalog), "bo-quoc-phong", **DEFENCE)
    with pytest.raises(UsageError, match="not registered"):
        harvest(national, str(catalog), "bo-cong-an")
    with pytest.raises(UsageError, match="lower-case"):
        harvest(national, str(catalog), "Bộ Công An", **DEFENCE)
    assert counts() == before


def test_scheduled_sources_run_when_due(national: Settings, tmp_path: Path) -> None:
    catalog = write_static_catalog(tmp_path / "bqp", defence_items()[:1])
    assert parse_every("12h") == dt.timedelta(hours=12)
    with pytest.raises(UsageError, match="interval"):
        parse_every("soon")
    add_source(national, "bo-quoc-phong", str(catalog), every=dt.timedelta(hours=1), **DEFENCE)
    add_source(national, "ha-giang", f"http://127.0.0.1:{free_port()}/", name_vi="Tỉnh Hà Giang",
               every=dt.timedelta(hours=1))
    add_source(national, "by-hand", str(catalog), name_vi="Thủ công")  # no interval: never due
    t0 = dt.datetime(2026, 12, 8, 1, 0, tzinfo=dt.timezone.utc)
    worker = identities.for_process(national, "worker")  # the scheduler runs harvests as the worker role
    first = {o.org: o for o in run_due(worker, now=t0)}
    assert set(first) == {"bo-quoc-phong", "ha-giang"}
    assert first["bo-quoc-phong"].report is not None and len(first["bo-quoc-phong"].report.added) == 1
    assert first["ha-giang"].report is None and "connection refused" in (first["ha-giang"].error or "")
    assert run_due(national, now=t0 + dt.timedelta(minutes=30)) == []
    later = run_due(worker, now=t0 + dt.timedelta(hours=1))
    assert [o.org for o in later] == ["bo-quoc-phong", "ha-giang"] and later[0].report is not None
    assert len(later[0].report.unchanged) == 1 and not later[0].report.added
    write_static_catalog(tmp_path / "bqp", [])  # the ministry takes its item down: withdrawn, as the worker
    (gone,) = run_due(worker, now=t0 + dt.timedelta(hours=2))[:1]
    assert gone.report is not None and len(gone.report.withdrawn) == 1 and not _public(national)
    status = {s.org: (s.last_status, s.last_error) for s in list_sources(national)}
    assert status["bo-quoc-phong"] == ("ok", None) and status["ha-giang"][0] == "failed"
    assert status["by-hand"] == (None, None)


def test_cli(national: Settings, tmp_path: Path) -> None:
    catalog = write_static_catalog(tmp_path / "bqp", defence_items())

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), obj={"settings": national}, catch_exceptions=False)

    result = run("harvest", str(catalog), "--org", "bo-quoc-phong", "--name-vi", DEFENCE["name_vi"], "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["added"]) == 3
    result = run("harvest", str(catalog), "--org", "bo-quoc-phong")
    assert result.exit_code == 0 and "0 new, 0 updated, 3 unchanged" in result.output
    result = run("harvest", "add", "bo-quoc-phong", str(catalog), "--name-vi", DEFENCE["name_vi"], "--every", "1d")
    assert result.exit_code == 0 and "every 1 day" in result.output
    assert "bo-quoc-phong" in run("harvest", "list").output
    result = run("harvest", "run-due")  # it ran a moment ago: not due for a day
    assert result.exit_code == 0 and "no source is due" in result.output
    assert "nothing overdue" in run("harvest", "overdue").output
    # A catalog read from a local path: the path is provenance kept internally, never published.
    with connect(national.public_database_dsn) as conn:
        published = json.dumps([r[0] for r in conn.execute("SELECT content FROM pgstac.items")] +
                               [r[0] for r in conn.execute("SELECT content FROM pgstac.collections")])
    assert '"rsarchive:custodian"' in published and str(tmp_path) not in published
    with connect(national.internal_database_dsn) as conn:
        hrefs = [r[0] for r in conn.execute("SELECT source_href FROM rsarchive.harvested_items")]
    assert len(hrefs) == 3 and all(h.startswith(str(tmp_path / "bqp")) for h in hrefs)
