"""The purchase check (Decision 81 Art. 10.2; Decree 03/2019 Art. 15.4): the archive's coverage and
whether a Vietnamese station could acquire the area in time, recorded as the opinion a state-budget
purchase needs on `register --route purchase`.  The acquisition model is checked against hand
computations; the opinion and the registration run on a real PostgreSQL and SeaweedFS."""

from __future__ import annotations

import json
import math
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
from click.testing import CliRunner
from reqfixtures import Archive

from rsarchive.cli.main import cli
from rsarchive.db import connect, transaction
from rsarchive.errors import ConflictError, PermissionDeniedError, UsageError
from rsarchive.requests import acquisition, purchase
from rsarchive.users import identity

TODAY = date(2026, 12, 8)


def _station(**changes: Any) -> acquisition.Station:
    base = {"id": "hanoi", "name_vi": "Trạm", "name_en": "Station", "lat": 21.03, "lon": 105.80,
            "min_elevation_deg": 5.0, "missions": ("vnredsat1",), "tasking_days": 1, "delivery_days": 1}
    return acquisition.Station(**(base | changes))


def test_reception_mask_radius_by_hand() -> None:
    # h = 680 km, ε = 5°: R/(R+h) = 6371/7051 = 0.903560; × cos 5° (0.996195) = 0.900121;
    # arccos = 25.826°; − 5° = 20.826° = 0.36348 rad; × 6371 km = 2315.7 km
    assert _station().mask_radius_km(680) == pytest.approx(2315.7, abs=0.5)
    # ε = 0: the horizon, arccos(0.903560) = 25.370° = 0.44279 rad → 2821 km
    assert _station(min_elevation_deg=0).mask_radius_km(680) == pytest.approx(2821, abs=1)


def test_acquisition_model() -> None:
    missions = acquisition.load_missions()
    vnr = missions["vnredsat1"]
    assert (vnr.swath_km, vnr.revisit_days, vnr.gsd_m) == (17.5, 3, 2.5)
    # reach: 680 km × tan 30° = 392.6 km
    assert vnr.reach_km == pytest.approx(392.6, abs=0.1)
    station = _station()
    hanoi = shapely.box(105.5, 20.9, 105.55, 20.95)  # 5 km square, ~35 km from the station: one strip
    # window Wed 9 Dec (tasking 1 day) … needed 20 Dec − 1 day of delivery = 19 Dec: 11 days ≥ 3 → in time
    found = acquisition.assess(station, vnr, hanoi, date(2026, 12, 1), date(2027, 1, 31), date(2026, 12, 20), TODAY)
    assert found.in_time and found.facts["strips"] == 1 and found.facts["window_days"] == 11
    assert found.earliest_ready == date(2026, 12, 12)  # 9 Dec + 3 days − 1 + 1 day of delivery
    # needed by Fri 11 Dec: window 9–10 Dec, 2 days < 3 → not in time
    late = acquisition.assess(station, vnr, hanoi, date(2026, 12, 1), date(2027, 1, 31), date(2026, 12, 11), TODAY)
    assert not late.in_time and "3 days are needed" in late.reasons[0]["en"]
    # a period in the past cannot be acquired now
    past = acquisition.assess(station, vnr, hanoi, date(2024, 1, 1), date(2024, 6, 30), date(2027, 1, 1), TODAY)
    assert not past.in_time and "past" in past.reasons[0]["en"]
    # Paris is ~9000 km away: outside the mask, and VNREDSat-1 records nothing on board here
    paris = shapely.box(2.3, 48.8, 2.4, 48.9)
    far = acquisition.assess(station, vnr, paris, date(2026, 12, 1), date(2027, 1, 31), date(2027, 1, 31), TODAY)
    assert not far.in_time and "reception mask" in far.reasons[0]["en"] and far.facts["farthest_km"] > 9000
    # a 1° wide area (~104 km at 21° N) needs ceil(104 / 17.5) = 6 strips × 3 days = 18 days
    wide = shapely.box(105.0, 21.0, 106.0, 22.0)
    strips = acquisition.assess(station, vnr, wide, date(2026, 12, 1), date(2027, 1, 31), date(2026, 12, 25), TODAY)
    assert strips.facts["strips"] == math.ceil(1.0 * 111.32 * math.cos(math.radians(21.5)) / 17.5) == 6
    assert strips.facts["days_needed"] == 18 and not strips.in_time  # window 9–24 Dec: 16 days
    # too coarse: S-NPP's 375 m for a 10 m need
    snpp = acquisition.assess(_station(missions=("snpp",)), missions["snpp"], hanoi, date(2026, 12, 1),
                              date(2027, 1, 31), date(2027, 1, 31), TODAY, max_gsd=10)
    assert not snpp.in_time and "coarser" in snpp.reasons[0]["en"]


def test_decide_is_pure() -> None:
    full = {"fraction": 1.0, "item_count": 2, "aoi_km2": 10.0, "covered_km2": 10.0}
    verdict, reasons = purchase.decide(full, [])
    assert verdict == "refused" and "already covers" in reasons[0]["en"] and reasons[0]["vi"].startswith("Cơ sở dữ liệu")
    half = {"fraction": 0.5, "item_count": 1, "aoi_km2": 10.0, "covered_km2": 5.0}
    verdict, reasons = purchase.decide(half, [])
    assert verdict == "allowed" and "5.0 km²" in reasons[0]["en"] and "No receiving station" in reasons[-1]["en"]


def run(settings: Any, *args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args), obj={"settings": settings}, catch_exceptions=True)
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.mark.services
def test_purchase_refused_because_the_archive_covers_it(archive: Archive, tmp_path: Path) -> None:
    settings = archive.settings.derive(archive_root=tmp_path / "archive")
    query = purchase.PurchaseQuery.model_validate({
        "bbox": [105.0, 21.0, 105.1, 21.1], "start": "2024-02-15", "end": "2024-04-30", "levels": ["product"],
        "needed_by": "2024-05-15", "purpose": "Bản đồ hiện trạng sử dụng đất Hà Nội"})
    with transaction(settings) as conn:
        olga = identity.principal_by_name(conn, "olga")
        covered = purchase.give_opinion(conn, olga, query, today=TODAY)
        # not covered by the archive, and in the past: no station can acquire it now → allowed
        elsewhere = purchase.give_opinion(conn, olga, query.model_copy(update={"bbox": [106.0, 10.0, 106.1, 10.1]}),
                                          today=TODAY)
        # not covered, in the future, near the station: VNREDSat-1 can acquire it in time → refused
        soon = purchase.give_opinion(conn, olga, query.model_copy(update={
            "bbox": [105.5, 20.5, 105.55, 20.55], "start": TODAY, "end": TODAY + timedelta(days=60),
            "needed_by": TODAY + timedelta(days=30)}), today=TODAY)
        with pytest.raises(PermissionDeniedError):  # a requester may not ask
            purchase.give_opinion(conn, identity.principal_by_name(conn, "alice"), query)
    assert covered.verdict == "refused" and covered.coverage["fraction"] >= purchase.COVERED
    assert covered.coverage["items"] == ["VNR1_PRODUCT_A"]
    assert "already covers" in covered.reasons[0]["en"] and "phủ kín" in covered.reasons[0]["vi"]
    assert [b["rule"] for b in covered.basis] == ["purchase.no-duplicate", "purchase.opinion"]
    assert covered.basis[1]["vi"] == "Điều 15.4 Nghị định 03/2019/NĐ-CP"
    assert elsewhere.verdict == "allowed" and elsewhere.coverage["fraction"] == 0
    assert any("past" in r["en"] for r in elsewhere.reasons)
    assert soon.verdict == "refused" and any("vnredsat1" == f["mission"] and f["in_time"]
                                              for f in soon.stations["findings"])
    assert "VNREDSat-1" in soon.reasons[0]["en"] and soon.stations["model"]["en"].startswith("Model:")

    # the opinion is kept: read back through the CLI's check and the database
    with connect(settings.internal_database_dsn) as conn:
        stored = conn.execute("SELECT verdict, reasons->0->>'vi' FROM rsarchive.purchase_opinions WHERE id = %s",
                              (covered.id,)).fetchone()
    assert stored[0] == "refused" and "phủ kín" in stored[1]

    files = [tmp_path / "IMG_PHR_001.JP2", tmp_path / "DIM_PHR_001.XML"]
    files[0].write_bytes(os.urandom(50_000))
    files[1].write_bytes(b"<Dimap_Document>...</Dimap_Document>")
    common = [*map(str, files), "--provider", "airbus", "--received", "2026-11-02"]
    # a state-budget purchase: refused without an opinion, and with the refusing one; nothing stored
    no_funding = run(settings, "register", *common, "--route", "purchase", ok=False)
    assert isinstance(no_funding.exception, UsageError) and "--funding" in str(no_funding.exception)
    no_opinion = run(settings, "register", *common, "--route", "purchase", "--funding", "state_budget", ok=False)
    assert isinstance(no_opinion.exception, UsageError) and "Điều 15.4" in str(no_opinion.exception)
    refused = run(settings, "register", *common, "--route", "purchase", "--funding", "state_budget",
                  "--opinion", str(covered.id), ok=False)
    assert isinstance(refused.exception, ConflictError) and "already covers" in str(refused.exception)
    assert run(settings, "register", *common, "--route", "purchase", "--funding", "state_budget",
               "--opinion", "999999", ok=False).exit_code != 0
    with connect(settings.internal_database_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM rsarchive.originals").fetchone()[0] == 0
    # the allowing opinion lets it in, recorded with the delivery
    done = json.loads(run(settings, "register", *common, "--route", "purchase", "--funding", "state_budget",
                          "--opinion", str(elsewhere.id), "--json").stdout)
    with connect(settings.internal_database_dsn) as conn:
        row = conn.execute("SELECT route, funding, opinion_id, opinion_note FROM rsarchive.originals "
                           "WHERE delivery_id = %s", (done["delivery_id"],)).fetchone()
        assert row == ("purchase", "state_budget", elsewhere.id, f"opinion {elsewhere.id}: allowed")
        # the database holds the rule too
        with pytest.raises(Exception, match="originals_state_budget_opinion"):
            conn.execute("UPDATE rsarchive.originals SET opinion_id = NULL WHERE delivery_id = %s",
                         (done["delivery_id"],))


@pytest.mark.services
def test_register_other_funding_and_route_5_1_d(archive: Archive, tmp_path: Path) -> None:
    settings = archive.settings.derive(archive_root=tmp_path / "archive")
    for name, route, extra in (("a", "purchase", ["--funding", "other"]), ("b", "foreign-station", [])):
        data = tmp_path / f"{name}.bin"
        data.write_bytes(os.urandom(10_000))
        out = run(settings, "register", str(data), "--provider", "jaxa", "--route", route, "--received",
                  "2026-11-02", *extra, "--json")
        assert json.loads(out.stdout)["route"] == route
    with connect(settings.internal_database_dsn) as conn:
        rows = dict(conn.execute("SELECT route, opinion_note FROM rsarchive.originals").fetchall())
    assert "no opinion given: not paid from the state budget" in rows["purchase"] and rows["foreign-station"] is None
    wrong = run(settings, "register", str(tmp_path / "a.bin"), "--provider", "jaxa", "--route", "exchange",
                "--received", "2026-11-02", "--funding", "other", ok=False)
    assert isinstance(wrong.exception, UsageError)


@pytest.mark.services
def test_opinion_through_the_api_and_the_cli(archive: Archive, client: Any) -> None:
    body = {"bbox": [105.0, 21.0, 105.2, 21.1], "start": "2024-02-15", "end": "2024-04-30", "levels": ["product"],
            "needed_by": "2024-06-01", "purpose": "Giám sát đô thị"}
    assert client.post("/api/coverage/opinion", json=body, headers=archive.headers("alice")).status_code == 403
    bad = client.post("/api/coverage/opinion", json={**body, "needed_by": "2024-01-01"}, headers=archive.headers("olga"))
    assert bad.status_code == 422 and "needed_by" in bad.text
    made = client.post("/api/coverage/opinion", json=body, headers=archive.headers("oscar"))
    assert made.status_code == 201, made.text
    opinion = made.json()
    # scenes A and B cover the two squares: the whole area is in the archive
    assert opinion["verdict"] == "refused" and sorted(opinion["coverage"]["items"]) == ["VNR1_PRODUCT_A", "VNR1_PRODUCT_B"]
    again = client.get(f"/api/purchase-opinions/{opinion['id']}", headers=archive.headers("olga")).json()
    assert again == opinion
    assert client.get("/api/purchase-opinions/999999", headers=archive.headers("olga")).status_code == 404
    # the CLI: the same opinion, printed in both languages
    out = run(archive.settings, "coverage", "--bbox", "105.0,21.0,105.2,21.1", "--period", "2024-02-15/2024-04-30",
              "--levels", "product", "--opinion", "--needed-by", "2024-06-01", "--purpose", "Giám sát đô thị",
              "--as", "olga").stdout
    assert "purchase refused" in out and "phủ kín" in out and "already covers" in out
    assert run(archive.settings, "coverage", "--bbox", "105,21,105.2,21.1", "--period", "2024-02-15/2024-04-30",
               "--opinion", ok=False).exit_code != 0
