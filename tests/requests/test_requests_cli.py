"""The CLI mirrors the API: users, requests submit/list/show/approve/refuse/fulfil, coverage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from reqfixtures import Archive, box

from rsarchive.cli.main import cli
from rsarchive.errors import AuthError, UsageError

pytestmark = pytest.mark.services


def run(archive: Archive, *args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args), obj={"settings": archive.settings}, catch_exceptions=True)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_users_requests_and_coverage(archive: Archive, tmp_path: Path) -> None:
    created = run(archive, "users", "add", "chi", "--role", "requester", "--org", "Viện Địa lý")
    token = created.stdout.strip().splitlines()[0]
    assert token.startswith("rsa_") and len(token) > 40
    listed = json.loads(run(archive, "users", "list", "--json").stdout)
    chi = next(u for u in listed if u["name"] == "chi")
    assert chi["organisation"] == "Viện Địa lý" and chi["active_tokens"] == 1 and token not in json.dumps(listed)
    requester_without_org = run(archive, "users", "add", "x", "--role", "requester", ok=False)
    assert isinstance(requester_without_org.exception, UsageError)

    aoi = tmp_path / "aoi.geojson"
    aoi.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": box(105.0, 21.0, 105.2, 21.2)}))
    submitted = run(archive, "requests", "submit", "--token", token, "--aoi", str(aoi), "--period",
                    "2024-02-15/2024-04-30", "--purpose", "research_education", "--levels", "product",
                    "--contact-email", "chi@vdl.ac.vn", "--intended-use", "Mapping of the Red River delta")
    rid, due = submitted.stdout.split()
    shown = json.loads(run(archive, "requests", "show", rid, "--json").stdout)
    assert shown["status"] == "submitted" and shown["due_date"] == due and shown["history"][0]["action"] == "submitted"
    assert [r["id"] for r in json.loads(run(archive, "requests", "list", "--token", token, "--json").stdout)] == [int(rid)]

    run(archive, "requests", "approve", rid, "--as", "olga", "--contract", "HD-7")
    fulfilled = run(archive, "requests", "fulfil", rid, "--as", "olga", "--json")
    data = json.loads(fulfilled.stdout)
    assert data["status"] == "fulfilled" and [i["id"] for i in data["manifest"]["items"]] == ["VNR1_PRODUCT_A", "VNR1_PRODUCT_B"]
    fee = data["fee_statement"]
    assert fee["basis"].startswith("Art. 3.1, Circular 187/2016/TT-BTC") and fee["total"] > 0
    # the officer records the payment: bad input is refused (non-zero exit), a part leaves the rest due
    assert run(archive, "requests", "pay", rid, "--as", "chi", "--amount", "1000", "--date", "2026-01-05",
               "--reference", "BL-1", ok=False).exit_code != 0                       # not an officer
    assert run(archive, "requests", "pay", rid, "--as", "olga", "--amount", "1000", "--date", "05/01/2026",
               "--reference", "BL-1", ok=False).exit_code != 0                       # not an ISO date
    part = json.loads(run(archive, "requests", "pay", rid, "--as", "olga", "--amount", "1000", "--date",
                          "2026-01-05", "--reference", "BL-1", "--json").stdout)
    assert part["due"] == fee["total"] - 1000 and not part["released"]
    rest = run(archive, "requests", "pay", rid, "--as", "olga", "--amount", str(fee["total"] - 1000), "--date",
               "2026-01-06", "--reference", "BL-2")
    assert "due 0" in rest.stdout and "(released)" in rest.stdout
    history = json.loads(run(archive, "requests", "show", rid, "--json").stdout)["history"]
    assert [(e["actor"], e["to"] or e["action"]) for e in history] == [
        ("chi", "submitted"), ("olga", "approved"), ("olga", "fulfilled"), ("olga", "payment"), ("olga", "payment")]

    # refuse: --reason is required; with it, the letter is written
    second = run(archive, "requests", "submit", "--token", token, "--bbox", "105,21,105.2,21.2", "--period",
                 "2024-02-15/2024-04-30", "--purpose", "commercial_other", "--levels", "raw",
                 "--contact-email", "chi@vdl.ac.vn", "--intended-use", "Commercial resale study").stdout.split()[0]
    assert run(archive, "requests", "refuse", second, ok=False).exit_code == 2  # click: missing --reason
    letter = tmp_path / "letter.pdf"
    refused = run(archive, "requests", "refuse", second, "--reason", "Resale is forbidden (Art. 9.2)",
                  "--letter", str(letter))
    assert "reason: Resale is forbidden" in refused.stdout and letter.read_bytes().startswith(b"%PDF")

    covered = json.loads(run(archive, "coverage", "--aoi", str(aoi), "--period", "2024-03-01/2024-03-31",
                             "--levels", "product", "--token", token, "--json").stdout)
    assert covered["item_count"] == 2 and covered["fraction"] == pytest.approx(0.5, abs=0.002)
    summary = run(archive, "coverage", "--bbox", "105,21,105.2,21.2", "--period", "2024-03-01/2024-03-31",
                  "--max-gsd", "20")
    assert "by 4 items" in summary.stdout  # the local administrator sees the secret scene and the raw one

    run(archive, "users", "revoke", "chi")
    revoked = run(archive, "requests", "list", "--token", token, ok=False)
    assert isinstance(revoked.exception, AuthError)
