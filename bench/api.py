"""Public STAC API under load: ours (``rsarchive serve``) vs vanilla stac-fastapi-pgstac.

On a private stack, N synthetic products (``--items``, default 10 000) are loaded into the
internal catalog and published.  Then two real servers run side by side on 127.0.0.1,
each with the same number of uvicorn workers (``--workers``, default 2) on the same public
database:

* ours: ``rsarchive serve --workers 2`` (public API at ``/stac/``);
* vanilla: ``uvicorn stac_fastapi.pgstac.app:create_app --factory --workers 2`` with
  stac-fastapi-pgstac's default settings.

A fixed mix of typical public requests — landing page, collections, search by bbox +
datetime (GET and POST), an item by id, a collection's items (limit 10) and a cql2-text
filter on ``eo:cloud_cover`` — is sent by 1, 16 and 64 concurrent keep-alive clients
(``--clients``), each level for ``--seconds`` per server, in the order ours, vanilla,
vanilla, ours (half the time each turn, so a drift of the shared machine's load falls on
both alike).  Printed per level and server: requests/s, p50, p99, errors (any answer
but 200, or no answer) and the CPU time the server's processes used per request (the
database's not included) — the measure least moved by other work on a shared machine;
the ratios ours/vanilla of throughput and CPU per request; and PostgreSQL's CPU time
per request meanwhile (the turns do not overlap, so it is the database work of that server).  Before the load, both
servers must give the same feature ids for a sample of the mix.

Then a soak of ours at 16 clients (``--soak-seconds``, default 300) samples the RSS of its
processes (uvicorn master + workers) every ``--sample-seconds``: first, last, max and the
growth last/first.  Targets: ≥ 1.0× vanilla throughput at 16 and 64 clients, p99 ≤ 500 ms
at 16 clients, 0 errors, RSS growth within 10 %.

``python -m bench api`` runs the defaults (``RSARCHIVE_BENCH_API_ITEMS``,
``RSARCHIVE_BENCH_API_SOAK_SECONDS``, ``RSARCHIVE_BENCH_API_SECONDS`` override them);
``python -m bench.api --items 2000 --soak-seconds 30 --seconds 6`` is a short run.  Every
request goes to 127.0.0.1 and each load is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench._report import emit, measure

Request = tuple[str, str, dict[str, str] | None, dict[str, Any] | None]  # method, path, query, JSON body
PRODUCTS = "vnredsat1-product"


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=int(env("RSARCHIVE_BENCH_API_ITEMS", "10000")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", default="1,16,64", help="concurrency levels, comma-separated")
    parser.add_argument("--seconds", type=float, default=float(env("RSARCHIVE_BENCH_API_SECONDS", "20")),
                        help="load per level and server")
    parser.add_argument("--max-requests", type=int, default=20_000, help="cap per level and server")
    parser.add_argument("--soak-seconds", type=float, default=float(env("RSARCHIVE_BENCH_API_SOAK_SECONDS", "300")))
    parser.add_argument("--soak-clients", type=int, default=16)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    return parser.parse_args(list(argv))


# -- the catalog and the servers -------------------------------------------------------------


def _load(settings: Any, n: int) -> list[str]:
    """N synthetic products in the internal catalog, published; their ids."""
    from rsarchive.catalog import bulk_load, init_catalogs, publish
    from rsarchive.db import connect
    from rsarchive.testing.items import synthetic_items

    init_catalogs(settings)
    items = list(synthetic_items(n))
    ids = [i["id"] for i in items]
    with measure() as loaded:
        bulk_load(settings.internal_database_dsn, items, validate=False)
        report = publish(settings.internal_database_dsn, settings.public_database_dsn, ids)
    emit("api_catalog_load_and_publish", n / loaded.seconds, "items/s")
    if report.withheld:
        raise RuntimeError(f"{len(report.withheld)} synthetic products were withheld from publication")
    for dsn in (settings.internal_database_dsn, settings.public_database_dsn):
        with connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE pgstac.items")
    return ids


def _tree_cpu(pid: int) -> float:
    """CPU time (user + system) used so far by a process, its live descendants and the
    children it has reaped."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        times = root.cpu_times()
    except psutil.Error:
        return 0.0
    total = times.children_user + times.children_system
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _postmaster(settings: Any) -> int:
    """The pid of the stack's PostgreSQL postmaster (its backends serve both APIs in turn)."""
    from rsarchive.services.postgres import PostgresLayout

    return int((PostgresLayout.of(settings).data_dir / "postmaster.pid").read_text().split()[0])


@dataclass
class Server:
    name: str
    base: str                 # the STAC API's root, without the trailing slash
    proc: subprocess.Popen[bytes]

    def rss_mb(self) -> float:
        """RSS of the server's processes (the master and its uvicorn workers)."""
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes."""
        return _tree_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _start(name: str, command: list[str], env: dict[str, str], base: str, probe: str) -> Server:
    import httpx

    log = tempfile.TemporaryFile()  # uvicorn's own log (a pipe nobody reads could block the server)
    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=log)
    server = Server(name, base, proc)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{name} server exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            if httpx.get(base + probe, timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"{name} server did not start")


def _servers(settings: Any, workers: int) -> tuple[Server, Server]:
    from psycopg.conninfo import conninfo_to_dict

    from rsarchive.testing.server import free_port

    ours_port, vanilla_port = free_port(), free_port()
    ours = _start("ours", [sys.executable, "-m", "rsarchive.cli.main", "serve", "--host", "127.0.0.1",
                           "--port", str(ours_port), "--workers", str(workers)],
                  {"RSARCHIVE_INTERNAL_DSN": settings.internal_database_dsn,
                   "RSARCHIVE_PUBLIC_DSN": settings.public_database_dsn,
                   "RSARCHIVE_SECRETS_FILE": str(settings.secrets_path)},  # the API roles' passwords
                  f"http://127.0.0.1:{ours_port}/stac", "/")
    params = conninfo_to_dict(settings.public_database_dsn)
    try:
        vanilla = _start("vanilla", [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
                                     "--host", "127.0.0.1", "--port", str(vanilla_port), "--workers", str(workers)],
                         {"PGUSER": str(params["user"]), "PGPASSWORD": str(params.get("password") or ""),
                          "PGHOST": str(params["host"]), "PGPORT": str(params["port"]),
                          "PGDATABASE": str(params["dbname"])},
                         f"http://127.0.0.1:{vanilla_port}", "/")
    except BaseException:
        ours.stop()
        raise
    return ours, vanilla


# -- the load ------------------------------------------------------------------------------


def _mix(ids: list[str], count: int = 700, seed: int = 1) -> list[Request]:
    """The fixed request mix, cycled by the clients: seven kinds in turn, random parameters."""
    rng = random.Random(seed)
    out: list[Request] = []
    for k in range(count):
        lon, lat = rng.uniform(102.5, 107.0), rng.uniform(8.8, 21.0)
        bbox = [round(lon, 3), round(lat, 3), round(lon + 2, 3), round(lat + 2, 3)]
        year = rng.randint(2014, 2022)
        period = f"{year}-01-01T00:00:00Z/{year + 1}-12-31T23:59:59Z"
        kind = k % 7
        if kind == 0:
            out.append(("GET", "/", None, None))
        elif kind == 1:
            out.append(("GET", "/collections", None, None))
        elif kind == 2:
            out.append(("GET", "/search", {"collections": PRODUCTS, "bbox": ",".join(map(str, bbox)),
                                           "datetime": period, "limit": "10"}, None))
        elif kind == 3:
            out.append(("POST", "/search", None, {"collections": [PRODUCTS], "bbox": bbox, "datetime": period,
                                                  "limit": 10}))
        elif kind == 4:
            out.append(("GET", f"/collections/{PRODUCTS}/items/{rng.choice(ids)}", None, None))
        elif kind == 5:
            out.append(("GET", f"/collections/{PRODUCTS}/items", {"limit": "10"}, None))
        else:
            out.append(("GET", "/search", {"collections": PRODUCTS, "filter-lang": "cql2-text", "limit": "10",
                                           "filter": f"eo:cloud_cover < {rng.randint(5, 60)}"}, None))
    return out


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    statuses: dict[int | str, int] = field(default_factory=dict)
    cpu: float = 0.0          # CPU seconds the server used meanwhile
    db_cpu: float = 0.0       # CPU seconds PostgreSQL used meanwhile

    def add(self, other: Run) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.seconds += other.seconds
        self.cpu += other.cpu
        self.db_cpu += other.db_cpu
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        if len(self.latencies) < 2:
            return (self.latencies or [0.0])[0] * 1000
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1] * 1000


async def _drive(base: str, mix: list[Request], clients: int, seconds: float, max_requests: int,
                 start_at: int = 0) -> Run:
    """``clients`` keep-alive clients sending the mix until ``seconds`` or ``max_requests``."""
    import httpx

    run = Run()
    counter = itertools.count(start_at)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        deadline = time.perf_counter() + seconds
        sent = 0

        async def one_client() -> None:
            nonlocal sent
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                method, path, params, body = mix[next(counter) % len(mix)]
                t0 = time.perf_counter()
                status: int | str
                try:
                    response = await client.request(method, path, params=params, json=body)
                    status = response.status_code
                except httpx.HTTPError as exc:  # no answer: counted by the kind of failure
                    status = type(exc).__name__
                run.latencies.append(time.perf_counter() - t0)
                run.statuses[status] = run.statuses.get(status, 0) + 1
                if status != 200:
                    run.errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        run.seconds = time.perf_counter() - start
    return run


def _same_answers(ours: Server, vanilla: Server, mix: list[Request]) -> None:
    """Both servers give the same features for a sample of the mix's item reads."""
    import httpx

    def ids(base: str, request: Request) -> list[str]:
        method, path, params, body = request
        response = httpx.request(method, base + path, params=params, json=body, timeout=30)
        response.raise_for_status()
        data = response.json()
        return [f["id"] for f in data.get("features", [data])]

    sample = [r for r in mix if r[1] != "/" and r[1] != "/collections"][:30]
    for request in sample:
        got, expected = ids(ours.base, request), ids(vanilla.base, request)
        if got != expected:
            raise RuntimeError(f"ours and vanilla differ on {request}: {got[:3]} vs {expected[:3]}")


def _levels(ours: Server, vanilla: Server, postmaster: int, mix: list[Request], levels: list[int],
            seconds: float, max_requests: int) -> None:
    for clients in levels:
        runs = {"ours": Run(), "vanilla": Run()}
        for turn, server in enumerate((ours, vanilla, vanilla, ours)):  # ABBA against drift
            asyncio.run(_drive(server.base, mix, clients, 2.0, 10**9, start_at=turn * 97))  # warm-up, not counted
            cpu, db_cpu = server.cpu_seconds(), _tree_cpu(postmaster)
            run = asyncio.run(_drive(server.base, mix, clients, seconds / 2, max_requests // 2, start_at=turn * 131))
            run.cpu, run.db_cpu = server.cpu_seconds() - cpu, _tree_cpu(postmaster) - db_cpu
            runs[server.name].add(run)
        for name in ("vanilla", "ours"):
            run = runs[name]
            emit(f"api_c{clients}_{name}_throughput", run.rate, "req/s",
                 run.rate / runs["vanilla"].rate if name == "ours" else None, "vanilla stac-fastapi-pgstac")
            cpu_ms = run.cpu / max(1, len(run.latencies)) * 1000
            vanilla_cpu_ms = runs["vanilla"].cpu / max(1, len(runs["vanilla"].latencies)) * 1000
            emit(f"api_c{clients}_{name}_server_cpu", cpu_ms, "ms per request",
                 cpu_ms / vanilla_cpu_ms if name == "ours" and vanilla_cpu_ms else None, "vanilla stac-fastapi-pgstac")
            emit(f"api_c{clients}_{name}_server_cores", run.cpu / run.seconds if run.seconds else 0.0, "CPUs busy")
            emit(f"api_c{clients}_{name}_database_cpu", run.db_cpu / max(1, len(run.latencies)) * 1000,
                 "ms per request")
            emit(f"api_c{clients}_{name}_p50", run.percentile_ms(50), "ms")
            emit(f"api_c{clients}_{name}_p99", run.percentile_ms(99), "ms",
                 run.percentile_ms(99) / 500.0 if name == "ours" and clients == 16 else None,
                 "target 500 ms" if name == "ours" and clients == 16 else "")
            emit(f"api_c{clients}_{name}_errors", run.errors, f"of {len(run.latencies)} requests"
                 + (f" (answers {dict(sorted(run.statuses.items(), key=str))})" if run.errors else ""))
    emit("api_server_rss_ours", ours.rss_mb(), "MB")
    emit("api_server_rss_vanilla", vanilla.rss_mb(), "MB")


def _soak(ours: Server, mix: list[Request], clients: int, seconds: float, every: float) -> None:
    samples: list[tuple[float, float]] = []

    async def soak() -> Run:
        start = time.perf_counter()
        cpu = ours.cpu_seconds()
        load = asyncio.ensure_future(_drive(ours.base, mix, clients, seconds, 10**9, start_at=53))
        while not load.done():
            samples.append((time.perf_counter() - start, ours.rss_mb()))
            await asyncio.wait([load], timeout=every)
        samples.append((time.perf_counter() - start, ours.rss_mb()))
        run: Run = load.result()
        run.cpu = ours.cpu_seconds() - cpu
        return run

    totals = asyncio.run(soak())
    rss = [mb for _, mb in samples]
    first, last, peak = rss[0], rss[-1], max(rss)
    emit("api_soak_requests", len(totals.latencies), f"in {totals.seconds:.0f} s at {clients} clients")
    emit("api_soak_throughput", totals.rate, "req/s")
    emit("api_soak_p99", totals.percentile_ms(99), "ms")
    emit("api_soak_errors", totals.errors, f"of {len(totals.latencies)} requests"
         + (f" (answers {dict(sorted(totals.statuses.items(), key=str))})" if totals.errors else ""))
    emit("api_soak_server_cpu", totals.cpu / max(1, len(totals.latencies)) * 1000, "ms per request")
    emit("api_soak_rss_first", first, "MB")
    emit("api_soak_rss_last", last, "MB")
    emit("api_soak_rss_max", peak, "MB")
    emit("api_soak_rss_growth", (last / first - 1) * 100, "%", last / first, "first sample")
    emit("api_soak_rss_max_growth", (peak / first - 1) * 100, "%", peak / first, "first sample")
    trace = ", ".join(f"{t:.0f}s {mb:.0f}" for t, mb in samples[:: max(1, len(samples) // 12)])
    print(f"api_soak_rss_samples (MB): {trace}", flush=True)


def main(argv: Sequence[str] = ()) -> None:
    from rsarchive.testing.stack import service_stack

    args = _arguments(argv)
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    print(f"api: {args.items} items, {args.workers} workers per server, clients {levels}, {args.seconds:g} s per "
          f"level and server, soak {args.soak_seconds:g} s; {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with service_stack() as settings:
        ids = _load(settings, args.items)
        mix = _mix(ids)
        ours, vanilla = _servers(settings, args.workers)
        try:
            _same_answers(ours, vanilla, mix)
            _levels(ours, vanilla, _postmaster(settings), mix, levels, args.seconds, args.max_requests)
            vanilla.stop()  # the soak is ours alone
            if args.soak_seconds > 0:
                _soak(ours, mix, args.soak_clients, args.soak_seconds, args.sample_seconds)
        finally:
            ours.stop()
            vanilla.stop()
    print(f"api: load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
