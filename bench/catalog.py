"""Catalog: bulk load throughput and search latency, ours vs vanilla stac-fastapi-pgstac.

On a private stack (PostgreSQL + pgSTAC), builds N synthetic product items
(``RSARCHIVE_BENCH_CATALOG_ITEMS``, default 100 000) with the item builder, validates a
sample offline, bulk-loads them (pypgstac Loader) into the public database, then runs
the same bbox + datetime + CQL2-filter searches against

* our public API (``rsarchive.api.create_app``, mounted at /stac), and
* a vanilla stac-fastapi-pgstac app (``stac_fastapi.pgstac.app:create_app``) on the same database,

each served by its own uvicorn process, requests interleaved.  Prints items/s, p50/p95
for both, the overhead ratio (ours / vanilla) and peak RSS.  Targets: ≥ 1 000 items/s,
ratio ≤ 1.1, p95 ≤ 150 ms.  ``RSARCHIVE_BENCH_CATALOG_QUERIES`` sets the number of
searches per API (default 300).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import psutil

from bench._report import emit, measure


def _items(args: tuple[int, int]) -> list[dict[str, Any]]:
    from rsarchive.testing.items import synthetic_item

    start, count = args
    return [synthetic_item(i, cloud_cover=float(i % 100)) for i in range(start, start + count)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(code: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


OURS = """
import sys, uvicorn
from rsarchive.settings import load_settings
from rsarchive.api import create_app
uvicorn.run(create_app(load_settings()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""
VANILLA = """
import sys, uvicorn
from stac_fastapi.pgstac.app import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _queries(n: int, seed: int = 1) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lon, lat = rng.uniform(102.5, 108.0), rng.uniform(9.0, 22.0)
        year = rng.randint(2014, 2022)
        out.append({
            "collections": "vnredsat1-product",
            "bbox": f"{lon:.3f},{lat:.3f},{lon + 1:.3f},{lat + 1:.3f}",
            "datetime": f"{year}-01-01T00:00:00Z/{year + 1}-06-30T23:59:59Z",
            "filter": f"eo:cloud_cover < {rng.randint(10, 60)}",
            "filter-lang": "cql2-text",
            "limit": "10",
        })
    return out


def main() -> None:
    import httpx

    from rsarchive.catalog import bulk_load, init_catalogs, validate_item
    from rsarchive.db import connect
    from rsarchive.testing.stack import service_stack

    n = int(os.environ.get("RSARCHIVE_BENCH_CATALOG_ITEMS", "100000"))
    n_queries = int(os.environ.get("RSARCHIVE_BENCH_CATALOG_QUERIES", "300"))
    with service_stack() as settings:
        init_catalogs(settings)

        with measure() as built:
            step = 5000
            with multiprocessing.get_context("fork").Pool(max(1, os.cpu_count() or 1)) as pool:
                items = [i for chunk in pool.map(_items, [(s, min(step, n - s)) for s in range(0, n, step)]) for i in chunk]
        emit("catalog_build_items", n / built.seconds, "items/s")

        sample = items[: min(2000, n)]
        start = time.perf_counter()
        for item in sample:
            validate_item(item)
        emit("catalog_validate_offline", len(sample) / (time.perf_counter() - start), "items/s")

        with measure() as loaded:
            report = bulk_load(settings.public_database_dsn, items, validate=False)
        emit("catalog_bulk_load", report.items_per_second, "items/s", report.items_per_second / 1000.0, "target 1000 items/s")
        emit("catalog_bulk_load_peak_rss", loaded.peak_rss_mb, "MB")
        del items
        with connect(settings.public_database_dsn, autocommit=True) as conn:
            conn.execute("ANALYZE pgstac.items")

        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(settings.public_database_dsn)
        env_ours = {"RSARCHIVE_INTERNAL_DSN": settings.internal_database_dsn,
                    "RSARCHIVE_PUBLIC_DSN": settings.public_database_dsn,
                    "RSARCHIVE_SECRETS_FILE": str(settings.secrets_path)}  # the API's roles' passwords
        env_vanilla = {"PGUSER": str(params["user"]), "PGPASSWORD": str(params.get("password", "")),
                       "PGHOST": str(params["host"]), "PGPORT": str(params["port"]), "PGDATABASE": str(params["dbname"])}
        ours_port, vanilla_port = _free_port(), _free_port()
        ours = _serve(OURS, ours_port, env_ours)
        vanilla = _serve(VANILLA, vanilla_port, env_vanilla)
        urls = {"ours": f"http://127.0.0.1:{ours_port}/stac/search",
                "vanilla": f"http://127.0.0.1:{vanilla_port}/search"}
        times: dict[str, list[float]] = {"ours": [], "vanilla": []}
        matched: dict[str, list[int]] = {"ours": [], "vanilla": []}
        try:
            with httpx.Client(timeout=30) as client, measure() as searched:
                for q in _queries(20, seed=7):  # warm-up
                    for url in urls.values():
                        client.get(url, params=q).raise_for_status()
                for i, q in enumerate(_queries(n_queries)):
                    order = ("ours", "vanilla") if i % 2 == 0 else ("vanilla", "ours")
                    for name in order:
                        t0 = time.perf_counter()
                        response = client.get(urls[name], params=q)
                        times[name].append(time.perf_counter() - t0)
                        response.raise_for_status()
                        matched[name].append(response.json().get("numberMatched", -1))
            rss = {name: psutil.Process(p.pid).memory_info().rss / 2**20 for name, p in (("ours", ours), ("vanilla", vanilla))}
        finally:
            for proc in (ours, vanilla):
                proc.terminate()
                proc.wait(timeout=10)
        if matched["ours"] != matched["vanilla"]:
            raise RuntimeError("our API and vanilla stac-fastapi-pgstac disagree on numberMatched")

        def pct(values: list[float], p: float) -> float:
            return statistics.quantiles(values, n=100)[int(p) - 1] * 1000

        p50 = {k: statistics.median(v) * 1000 for k, v in times.items()}
        p95 = {k: pct(v, 95) for k, v in times.items()}
        emit("catalog_search_p50_vanilla", p50["vanilla"], "ms")
        emit("catalog_search_p95_vanilla", p95["vanilla"], "ms")
        emit("catalog_search_p50", p50["ours"], "ms", p50["ours"] / p50["vanilla"], "vanilla stac-fastapi-pgstac p50")
        emit("catalog_search_p95", p95["ours"], "ms", p95["ours"] / p95["vanilla"], "vanilla stac-fastapi-pgstac p95")
        emit("catalog_search_mean_matched", statistics.mean(matched["ours"]), "items")
        emit("catalog_server_rss_ours", rss["ours"], "MB")
        emit("catalog_server_rss_vanilla", rss["vanilla"], "MB")
        emit("catalog_search_peak_rss_client", searched.peak_rss_mb, "MB")
