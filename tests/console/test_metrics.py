"""Metrics (#23): the API's /metrics after a real ingest shows the job and its stage times,
the worker's own /metrics its stage histogram and real-time factor; a crafted URL adds no
label value; only local scrapers or operators may read it; the database figures are cached
and bounded by a statement timeout (a scrape is not a way to load the database).  Real
PostgreSQL, uvicorn servers and a real worker; parsed with prometheus_client.parser."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rsarchive.api import create_app
from rsarchive.db import connect
from rsarchive.jobs import JobQueue
from rsarchive.jobs.ingest import ReceptionRecord, submit
from rsarchive.jobs.metrics import WorkerMetrics
from rsarchive.metrics import ArchiveCollector
from rsarchive.settings import Settings
from rsarchive.storage import Archive, audit
from rsarchive.testing.processes import settings_env
from rsarchive.testing.server import free_port, serve
from rsarchive.testing.waiting import wait_for
from rsarchive.users import identity

pytestmark = pytest.mark.services
PIPELINE = "ingest-level0-small"


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def _value(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    found = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def _routes(samples: list[tuple[str, dict[str, str], float]]) -> set[str]:
    return {l["route"] for n, l, _ in samples if n == "rsarchive_http_request_duration_seconds_count"}


@pytest.fixture
def settings(fresh_settings: Settings, tmp_path: Path) -> Settings:
    root = tmp_path / "archive"
    root.mkdir()
    return fresh_settings.derive(archive_root=root, metrics_cache_seconds=0.0)


def test_metrics_after_a_real_ingest_show_the_job_and_its_stage_times(settings: Settings, tmp_path: Path) -> None:
    from rsarchive.testing import small_downlink

    downlink = Path(small_downlink(tmp_path / "dl", scenes=1, write_truth_dn=False,
                                   write_truth_radiance=False).downlink)
    aos = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.timezone.utc)
    job, _ = submit(settings, downlink, ReceptionRecord(station="VNSC-HN", pass_id="p1", aos=aos,
                                                        los=aos + dt.timedelta(seconds=400)), PIPELINE)
    # a real worker process, serving its own metrics
    port = free_port()
    worker = subprocess.Popen([sys.executable, "-m", "rsarchive", "worker"],
                              env=settings_env(settings, worker_metrics_port=port), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        def scraped() -> str | None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.TransportError:
                return None
            return text if 'rsarchive_worker_job_runs_total{outcome=' in text else None  # the run ended

        worker_text = wait_for(scraped, 300, "the worker's metrics after the job")
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=60)
    final = JobQueue(settings.internal_database_dsn).get(job.id)
    assert final.state == "succeeded", (final.error, errors[-2000:])
    stage_seconds = final.result["stage_seconds"]
    w = _samples(worker_text)
    assert _value(w, "rsarchive_worker_job_runs_total", outcome="completed") == 1
    for stage in ("store_level0", "decode", "product", "store", "catalog", "publish"):
        assert _value(w, "rsarchive_job_stage_seconds_count", stage=stage) == 1
        assert _value(w, "rsarchive_job_stage_seconds_sum", stage=stage) == pytest.approx(stage_seconds[stage])
    # the run's seconds over the 400 s pass (the worker's clock includes the job's bookkeeping)
    assert _value(w, "rsarchive_job_last_realtime_factor") == pytest.approx(final.result["run_seconds"] / 400,
                                                                            rel=0.1, abs=0.002)
    assert _value(w, "rsarchive_job_realtime_factor_count") == 1
    assert any(n == "process_resident_memory_bytes" for n, _, _ in w)

    with serve(create_app(settings)) as base:
        text = httpx.get(f"{base}/metrics", timeout=30).text
        s = _samples(text)
        assert _value(s, "rsarchive_metrics_database_up") == 1
        assert _value(s, "rsarchive_jobs", state="succeeded") == 1
        assert _value(s, "rsarchive_jobs", state="queued") == 0 and _value(s, "rsarchive_queue_depth") == 0
        for stage in ("decode", "product", "publish"):
            assert _value(s, "rsarchive_last_job_stage_seconds", stage=stage) == pytest.approx(stage_seconds[stage])
        assert _value(s, "rsarchive_last_job_realtime_factor") == pytest.approx(final.result["run_seconds"] / 400)
        with connect(settings.internal_database_dsn) as conn:
            stored = dict(conn.execute("SELECT form, sum(size) FROM rsarchive.objects GROUP BY form").fetchall())
        assert _value(s, "rsarchive_stored_bytes", form="level0") == downlink.stat().st_size == stored["level0"]
        assert _value(s, "rsarchive_stored_bytes", form="product") == stored["product"] > 0
        assert _value(s, "rsarchive_stored_bytes", form="copy") >= downlink.stat().st_size  # level-0's copy
        assert _value(s, "rsarchive_stored_bytes", form="original") == 0
        assert {l["clock"] for n, l, _ in s if n == "rsarchive_requests"} == {"open", "due_soon", "overdue"}
        # an audit: its results appear
        report = audit(Archive.from_settings(settings))
        assert report.clean
        s = _samples(httpx.get(f"{base}/metrics", timeout=30).text)
        assert _value(s, "rsarchive_audit_last_objects", result="checked") == len(_keys(settings))
        assert _value(s, "rsarchive_audit_last_objects", result="damaged") == 0
        # the request clock by route template: the first scrape is in the second one
        assert _value(s, "rsarchive_http_request_duration_seconds_count", method="GET", route="/metrics",
                      status="200") >= 1


def _keys(settings: Settings) -> list[str]:
    with connect(settings.internal_database_dsn) as conn:
        return [r[0] for r in conn.execute("SELECT key FROM rsarchive.objects")]


def test_crafted_paths_add_no_label_values_and_only_operators_or_local_scrapers_read_metrics(
        settings: Settings) -> None:
    with connect(settings.internal_database_dsn) as conn:
        operator = identity.add_user(conn, "op-metrics", "operator")
        requester = identity.add_user(conn, "req-metrics", "requester", organisation="Sở TN&MT Huế")
        conn.commit()
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/stac/collections/vnredsat1-product").status_code in (200, 404)
        assert client.get(f"/stac/collections/{secrets.token_hex(8)}/items/{secrets.token_hex(8)}").status_code == 404
        assert client.get(f"/no/such/{secrets.token_hex(8)}").status_code == 404
        client.get("/browser/index.html")
        client.get("/metrics")
        before = _samples(client.get("/metrics").text)
        routes = _routes(before)
        assert {"/stac/collections/{collection_id}", "/stac/collections/{collection_id}/items/{item_id}",
                "unmatched"} <= routes
        crafted = [f"/no/such/{secrets.token_hex(8)}", f"/stac/collections/{secrets.token_hex(8)}/items/x%00y",
                   f"/stac/collections/c/items/{'%2e' * 30}", f"/{secrets.token_hex(40)}?q={secrets.token_hex(8)}",
                   "/stac/../../etc/passwd", f"/browser/{secrets.token_hex(8)}.js"]
        for path in crafted * 3:
            client.get(path)
            client.request("BREW", path)
        client.get("/metrics")
        after = _samples(client.get("/metrics").text)
        # no new label value from crafted paths or methods
        assert _routes(after) == routes
        assert {l["method"] for n, l, _ in after if n == "rsarchive_http_request_duration_seconds_count"} <= {
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}
        assert not any(secrets_in(l) for _, l, _ in after)
        unmatched = _value(after, "rsarchive_http_request_duration_seconds_count", method="GET", route="unmatched",
                           status="404")
        assert unmatched >= 2 * 3  # the crafted GETs were counted, under one label value

        # through a proxy (X-Forwarded-For): not local, a token is needed
        proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 401 and "Bearer" in proxied.text
        refused = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9",
                                                   "Authorization": f"Bearer {requester}"})
        assert refused.status_code == 403
        allowed = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9",
                                                   "Authorization": f"Bearer {operator}"})
        assert allowed.status_code == 200 and "rsarchive_jobs" in allowed.text
        assert allowed.headers["content-type"].startswith("text/plain")
        assert "/metrics" not in client.get("/api").json()["paths"]
    # nobody is local when metrics_allow is empty
    with serve(create_app(settings.derive(metrics_allow=""))) as base:
        assert httpx.get(f"{base}/metrics", timeout=30).status_code == 401


def secrets_in(labels: dict[str, str]) -> bool:
    """A label value that holds a crafted path's random part (hex runs of 16+ characters)."""
    import re

    return any(re.search(r"[0-9a-f]{16,}", v) for v in labels.values())


def test_database_figures_are_cached_and_bounded_by_the_statement_timeout(settings: Settings) -> None:
    cached = ArchiveCollector(settings.internal_database_dsn, timeout_ms=2000, cache_seconds=60)
    for _ in range(20):
        list(cached.collect())
    assert cached.reads == 1
    # a table locked by another transaction: the scrape gives up within the budget and says so
    slow = ArchiveCollector(settings.internal_database_dsn, timeout_ms=300, cache_seconds=0)
    locked = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with connect(settings.internal_database_dsn) as conn:
            conn.execute("LOCK TABLE rsarchive.jobs IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(10)
    try:
        started = time.monotonic()
        families = {f.name: f for f in slow.collect()}
        took = time.monotonic() - started
    finally:
        release.set()
        holder.join(10)
    assert took < 3, took
    assert families["rsarchive_metrics_database_up"].samples[0].value == 0
    assert "rsarchive_jobs" not in families
    # and a database that is not there at all
    dead = ArchiveCollector(f"postgresql://nobody@127.0.0.1:{free_port()}/none", timeout_ms=500, cache_seconds=0)
    started = time.monotonic()
    families = {f.name: f for f in dead.collect()}
    assert time.monotonic() - started < 5
    assert families["rsarchive_metrics_database_up"].samples[0].value == 0


def test_worker_metrics_port_from_settings_and_a_failing_run(settings: Settings) -> None:
    assert WorkerMetrics.from_settings(settings) is None  # 0 = off
    metrics = WorkerMetrics()

    def broken(context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    run = metrics.instrument(broken)
    with pytest.raises(RuntimeError):
        run(type("Ctx", (), {"job": None})())
    metrics.observe({"reception": {}}, {"stage_seconds": {"decode": 2.0, "../../x": 1.0}}, 4.0)
    from prometheus_client import generate_latest

    s = _samples(generate_latest(metrics.registry).decode())
    assert _value(s, "rsarchive_worker_job_runs_total", outcome="error") == 1
    assert _value(s, "rsarchive_worker_job_runs_total", outcome="completed") == 1
    assert {l.get("stage") for n, l, _ in s if n == "rsarchive_job_stage_seconds_count"} == {"decode"}
    assert _value(s, "rsarchive_worker_jobs_running") == 0
    assert json.dumps(s)  # plain values
