"""A withdrawn item stays out of the public catalog — a later publish (re-publish, re-ingest)
withholds it with reason 'withdrawn' — until an officer reinstates it (API and CLI)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from reqfixtures import Archive, request_body

from rsarchive.catalog.publication import publish, withdraw
from rsarchive.cli.main import cli
from rsarchive.db import connect

pytestmark = pytest.mark.services

B, A, COLLECTION = "VNR1_PRODUCT_B", "VNR1_PRODUCT_A", "vnredsat1-product"


def public_ids(archive: Archive) -> set[str]:
    with connect(archive.settings.public_database_dsn) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM pgstac.items")}


def last_publication(archive: Archive, item_id: str) -> tuple[str, str]:
    with connect(archive.settings.internal_database_dsn) as conn:
        return conn.execute("SELECT action, reason FROM rsarchive.publications WHERE item_id = %s ORDER BY id DESC "
                            "LIMIT 1", (item_id,)).fetchone()


def republish(archive: Archive, *ids: str) -> Any:
    return publish(archive.settings.internal_database_dsn, archive.settings.public_database_dsn, list(ids))


def run(archive: Archive, *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), obj={"settings": archive.settings}, catch_exceptions=True)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_withdrawn_until_reinstated_api(client: Any, archive: Archive) -> None:
    officer, alice = archive.headers("olga"), archive.headers("alice")
    rid = client.post("/api/requests", json=request_body(), headers=alice).json()["id"]
    client.post(f"/api/requests/{rid}/approve", headers=officer)
    assert client.post(f"/api/requests/{rid}/fulfil", headers=officer).status_code == 200
    report_id = client.post(f"/api/requests/{rid}/reports", headers=alice,
                            json={"item_id": B, "description": "Stripes across band B2"}).json()["id"]
    assert B in public_ids(archive)
    done = client.post(f"/api/reports/{report_id}/triage", json={"action": "withdraw", "note": "striping"},
                       headers=officer)
    assert done.status_code == 200 and B not in public_ids(archive)

    # publishing again (as a re-publish or re-ingest would) keeps it out, and says why
    report = republish(archive, A, B)
    assert report.published == [A] and report.withheld == [B] and report.reasons == {B: "withdrawn"}
    assert B not in public_ids(archive) and A in public_ids(archive)
    assert last_publication(archive, B) == ("withheld", "withdrawn")

    listed = client.get("/api/items/withdrawn", headers=officer).json()
    assert [(i["item_id"], i["collection"], i["report_id"], i["actor"]) for i in listed] == \
        [(B, COLLECTION, report_id, "olga")]
    assert client.get("/api/items/withdrawn", headers=alice).status_code == 403

    url = f"/api/items/{COLLECTION}/{B}/reinstate"
    assert client.post(url, json={"note": "reprocessed"}, headers=alice).status_code == 403
    assert client.post(url, json={"note": ""}, headers=officer).status_code == 422
    assert client.post(f"/api/items/{COLLECTION}/{A}/reinstate", json={"note": "x"}, headers=officer).status_code == 409
    reinstated = client.post(url, json={"note": "Reprocessed with the new destriping"}, headers=officer)
    assert reinstated.status_code == 200, reinstated.text
    assert reinstated.json() == {"item_id": B, "collection": COLLECTION, "action": "reinstated", "published": True,
                                 "withheld_reason": None}
    assert B in public_ids(archive) and last_publication(archive, B) == ("published", "")
    assert client.get("/api/items/withdrawn", headers=officer).json() == []
    assert client.post(url, json={"note": "again"}, headers=officer).status_code == 409  # not withdrawn any more

    report = republish(archive, B)
    assert report.published == [B] and B in public_ids(archive)
    with connect(archive.settings.internal_database_dsn) as conn:
        actions = conn.execute("SELECT action FROM rsarchive.item_actions WHERE item_id = %s ORDER BY id", (B,)).fetchall()
        audit = conn.execute("SELECT detail FROM rsarchive.audit_log WHERE action = 'item.reinstated'").fetchall()
    assert [a[0] for a in actions] == ["withdrawn", "reinstated"]
    assert audit[0][0]["item_id"] == B and audit[0][0]["note"] == "Reprocessed with the new destriping"


def test_withdrawn_until_reinstated_cli(client: Any, archive: Archive) -> None:
    settings = archive.settings
    # the operators' withdraw (rsarchive.catalog.publication.withdraw) is sticky too
    withdraw(settings.internal_database_dsn, settings.public_database_dsn, COLLECTION, [A], "wrong georeferencing")
    assert A not in public_ids(archive)
    assert republish(archive, A).reasons == {A: "withdrawn"} and A not in public_ids(archive)

    listed = json.loads(run(archive, "reports", "withdrawn", "--as", "olga", "--json").stdout)
    assert [(i["item_id"], i["reason"]) for i in listed] == [(A, "wrong georeferencing")]
    assert f"{COLLECTION}/{A}" in run(archive, "reports", "withdrawn", "--as", "olga").stdout
    denied = CliRunner().invoke(cli, ["reports", "reinstate", A, "--collection", COLLECTION, "--note", "x",
                                      "--as", "alice"], obj={"settings": settings})
    assert denied.exit_code != 0 and A not in public_ids(archive)
    out = run(archive, "reports", "reinstate", A, "--collection", COLLECTION, "--note", "georeferencing fixed",
              "--as", "olga")
    assert out.stdout.strip() == f"reinstated and published {COLLECTION}/{A}"
    assert A in public_ids(archive) and republish(archive, A).published == [A]

    # the whole error-report path from the command line: submit, list, triage withdraw
    rid = client.post("/api/requests", json=request_body(), headers=archive.headers("alice")).json()["id"]
    run(archive, "requests", "approve", str(rid), "--as", "olga")
    run(archive, "requests", "fulfil", str(rid), "--as", "olga")
    submitted = json.loads(run(archive, "reports", "submit", str(rid), "--item", B, "--description", "Cloud mask wrong",
                               "--token", archive.tokens["alice"], "--json").stdout)
    assert submitted["status"] == "open"
    assert [r["id"] for r in json.loads(run(archive, "reports", "list", "--status", "open", "--json").stdout)] == \
        [submitted["id"]]
    triaged = run(archive, "reports", "triage", str(submitted["id"]), "--action", "withdraw", "--note", "confirmed",
                  "--as", "olga")
    assert "withdrawn" in triaged.stdout and B not in public_ids(archive)
    assert republish(archive, B).withheld == [B]
