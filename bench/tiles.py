"""Map tiles: our tile endpoint (``/tiles/{collection}/{item}/{z}/{x}/{y}.png``) against rio-tiler
reading the same COGs directly in the same process.

On a private stack, one small simulated downlink is ingested for real (the shipped
``ingest-level0-small`` pipeline, unclassified, so its product is published) into S3 stores
on SeaweedFS.  The app runs under uvicorn in this process.  The tiles are every tile of
the product at zooms 11-12 (anonymous, the public preview) and 13-14 (an officer's token).

* ours: HTTP GET of each tile on a keep-alive connection (token lookup, item lookup in both
  catalogs, the reads, PNG rendering);
* reference: rio-tiler ``Reader(path).tile`` of the red, green and blue COGs through
  ``/vsis3/`` with the same GDAL options, stacked, rescaled and rendered to PNG the same way.

Each is run by 1 and by 4 concurrent clients (threads), ``--requests`` tiles per turn, in
the order ours, reference, reference, ours (the best turn of each kept: the machine is
shared).  Printed: tiles per second and p95 latency of each, the ratio ours / reference
(target ≥ 0.8×), and the peak RSS of this process (server and reference alike).

``python -m bench tiles`` runs the defaults; ``RSARCHIVE_BENCH_TILES_REQUESTS`` overrides
the number of requests per turn.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench._report import emit, measure, process_peak_rss_mb


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _run(fetch: Callable[[Any], None], tiles: list[Any], requests: int, clients: int) -> tuple[float, float]:
    """(tiles per second, p95 latency in seconds) of ``requests`` fetches by ``clients`` threads."""
    work = [tiles[i % len(tiles)] for i in range(requests)]
    latencies: list[float] = []

    def one(tile: Any) -> None:
        start = time.perf_counter()
        fetch(tile)
        latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    if clients == 1:
        for tile in work:
            one(tile)
    else:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(one, work))
    elapsed = time.perf_counter() - start
    return requests / elapsed, _percentile(latencies, 0.95)


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="bench.tiles", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=int(os.environ.get("RSARCHIVE_BENCH_TILES_REQUESTS", "300")))
    args = parser.parse_args(list(argv))

    import threading

    import httpx
    import morecantile
    import rasterio
    from rasterio.session import AWSSession
    from rio_tiler.io import Reader
    from rio_tiler.models import ImageData

    from rsarchive.api import create_app
    from rsarchive.catalog.publication import fetch_items
    from rsarchive.catalog.webmap import TRUE_COLOUR, true_colour_assets
    from rsarchive.cube.access import gdal_options
    from rsarchive.db import connect, transaction
    from rsarchive.testing.ingested import ingest_small_pass, s3_stores
    from rsarchive.testing.server import free_port, serve
    from rsarchive.testing.stack import service_stack
    from rsarchive.tiles import TRUE_COLOUR_RANGE
    from rsarchive.users import identity

    with service_stack() as base_settings, tempfile.TemporaryDirectory(prefix="rsarchive-bench-tiles-") as tmp:
        port = free_port()
        settings = s3_stores(base_settings, public_base_url=f"http://127.0.0.1:{port}", api_port=port)
        (item_id,) = ingest_small_pass(settings, Path(tmp) / "downlink", scenes=1, pass_id="bench")
        with connect(settings.internal_database_dsn) as conn:
            (item,) = fetch_items(conn, [item_id], "vnredsat1-product")
        with transaction(settings) as conn:
            token = identity.add_user(conn, "bench-officer", "officer", "Trung tâm Viễn thám Quốc gia", "unclassified")

        wmq = morecantile.tms.get("WebMercatorQuad")
        tiles = [t for z in (11, 12, 13, 14) for t in wmq.tiles(*item["bbox"], [z])]
        keys = true_colour_assets(item)
        paths = [item["assets"][keys[c]]["href"].replace("s3://", "/vsis3/", 1) for c in TRUE_COLOUR]
        env = dict(gdal_options(settings))
        session = AWSSession(aws_access_key_id=settings.s3_access_key, aws_secret_access_key=settings.s3_secret_key,
                             region_name=settings.s3_region)
        local = threading.local()

        def reference(tile: Any) -> None:
            with rasterio.Env(session=session, **env):
                bands = []
                for path in paths:
                    with Reader(path) as src:
                        bands.append(src.tile(tile.x, tile.y, tile.z))
            image = ImageData.create_from_list(bands)
            image.rescale(in_range=(TRUE_COLOUR_RANGE,) * 3).render(img_format="PNG")

        def ours(tile: Any) -> None:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(timeout=30)
            headers = {"Authorization": f"Bearer {token}"} if tile.z > settings.tiles_public_max_zoom else {}
            got = client.get(f"{url}/tiles/vnredsat1-product/{item_id}/{tile.z}/{tile.x}/{tile.y}.png",
                             headers=headers)
            if got.status_code != 200:
                raise RuntimeError(f"tile {tile}: {got.status_code} {got.text[:200]}")

        with serve(create_app(settings), port=port) as url:
            for tile in tiles:  # warm both (GDAL's caches, the connection pools) and check they agree
                ours(tile)
                reference(tile)
            emit("tiles_distinct", len(tiles), "tiles (zooms 11-14 of one product)")
            for clients in (1, 4):
                results: dict[str, list[tuple[float, float]]] = {"ours": [], "reference": []}
                rss: dict[str, float] = {}
                for name in ("ours", "reference", "reference", "ours"):
                    fetch = ours if name == "ours" else reference
                    with measure(children=False) as m:
                        results[name].append(_run(fetch, tiles, args.requests, clients))
                    rss[name] = max(rss.get(name, 0.0), m.peak_rss_mb)
                best = {n: max(r[0] for r in v) for n, v in results.items()}
                p95 = {n: min(r[1] for r in v) for n, v in results.items()}
                emit(f"tiles_reference_c{clients}", best["reference"], "tiles/s")
                emit(f"tiles_ours_c{clients}", best["ours"], "tiles/s", ratio=best["ours"] / best["reference"],
                     reference="rio-tiler direct")
                emit(f"tiles_reference_c{clients}_p95", p95["reference"] * 1000, "ms")
                emit(f"tiles_ours_c{clients}_p95", p95["ours"] * 1000, "ms",
                     ratio=p95["reference"] / p95["ours"], reference="rio-tiler direct (latency ratio ref/ours)")
                emit(f"tiles_reference_c{clients}_peak_rss", rss["reference"], "MB")
                emit(f"tiles_ours_c{clients}_peak_rss", rss["ours"], "MB")
        emit("tiles_process_peak_rss", process_peak_rss_mb(), "MB")


if __name__ == "__main__":
    from rsarchive.runtime import configure_process

    configure_process()
    main(sys.argv[1:])
