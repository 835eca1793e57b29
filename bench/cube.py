"""Cube-load throughput (issue 8): ``rsarchive.cube.load(...).compute()`` vs reading the same
windows with rasterio directly.

Builds its own stack (``rsarchive.testing.stack.service_stack()``), ingests a small pass
(``RSARCHIVE_BENCH_CUBE_SCENES`` scenes, default 12, small CPF) into local stores, serves the
public STAC API with uvicorn, then, over the pass's bounding box at native resolution:

- ``cube_ms``: B1–B4 at 10 m, scaled to reflectance, QA-masked (the QA band of each band),
  the pass mosaicked (``groupby="solar_day"``: one time slice, what an analyst loads for a pass);
- ``cube_pan``: PAN at 2.5 m, scaled, QA-masked (``qa_pan``), mosaicked;
- ``cube_ms_per_item``: as ``cube_ms`` but one time slice per scene (``groupby="time"``): each
  slice spans the whole pass, so the output (and its cost) grows with scenes²;
- reference: for every item, rasterio reads each band's COG and its QA band in full (the
  same windows the cube covers), applies the same scale and mask with numpy, one item
  after another.

Throughput = source pixels read (data + QA) ÷ wall time, best of ``RSARCHIVE_BENCH_REPEATS``
(default 3), cube and reference alternating; ratio = cube ÷ reference (target ≥ 0.8).
Peak RSS of the cube computes.  The API search is included in the cube's time (it is part
of a load); the reference gets the hrefs for free.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._report import emit, measure

QA_DEFAULT = 107


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ingest(settings: Any, scenes: int) -> None:
    from rsarchive.jobs import JobQueue, Worker
    from rsarchive.jobs.ingest import IngestRunner, submit
    from rsarchive.testing import small_downlink

    work = settings.archive_root / "bench-downlink"
    work.mkdir(parents=True, exist_ok=True)
    sim = small_downlink(work, scenes=scenes, write_truth_dn=False, write_truth_radiance=False)
    submit(settings, Path(sim.downlink), None, "ingest-level0-small")
    final = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings)).run_once()
    if final is None or final.state != "succeeded":
        raise RuntimeError(f"ingest failed: {final and final.error}")


def _reference(items: list[dict[str, Any]], bands: list[tuple[str, str, int]]) -> int:
    """Read every (asset, qa asset, qa band) of every item with rasterio; scale and mask. Pixels read."""
    import rasterio

    pixels = 0
    for item in items:
        for asset, qa_asset, qa_band in bands:
            with rasterio.open(item["assets"][asset]["href"]) as src:
                dn = src.read(1)
            with rasterio.open(item["assets"][qa_asset]["href"]) as src:
                qa = src.read(qa_band)
            value = dn.astype(np.float32) * np.float32(1e-4)
            value[(dn == 0) | ((qa & QA_DEFAULT) != 0)] = np.nan
            pixels += dn.size + qa.size
    return pixels


def main() -> None:
    import uvicorn

    from rsarchive.api import create_app
    from rsarchive.cube import load
    from rsarchive.cube.loader import search_items
    from rsarchive.testing.stack import service_stack

    scenes = int(os.environ.get("RSARCHIVE_BENCH_CUBE_SCENES", "12"))
    repeats = int(os.environ.get("RSARCHIVE_BENCH_REPEATS", "3"))
    with service_stack() as settings:
        start = time.perf_counter()
        _ingest(settings, scenes)
        print(f"ingested {scenes} scenes in {time.perf_counter() - start:.1f} s", flush=True)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            url = f"http://127.0.0.1:{port}/stac"
            items = search_items(collection="vnredsat1-product", bbox=(100.0, 8.0, 110.0, 24.0), datetime=None,
                                 api_url=url)
            boxes = np.array([i["bbox"] for i in items])
            bbox = (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max()))
            ms = ["B1", "B2", "B3", "B4"]
            ms_ref = [(b, "qa", i + 1) for i, b in enumerate(ms)]
            cases = {  # name: bands, resolution, groupby, what the reference reads
                "cube_ms": (ms, 10.0, "solar_day", ms_ref),
                "cube_pan": (["PAN"], 2.5, "solar_day", [("PAN", "qa_pan", 1)]),
                "cube_ms_per_item": (ms, 10.0, "time", ms_ref),
            }
            for name, (bands, resolution, groupby, ref_bands) in cases.items():
                best_cube, best_ref, best_lazy, peak = float("inf"), float("inf"), float("inf"), 0.0
                pixels = 0
                for _ in range(repeats):
                    with measure() as m:
                        t0 = time.perf_counter()
                        cube = load(bbox=bbox, bands=bands, resolution=resolution, groupby=groupby, api_url=url,
                                    settings=settings)
                        best_lazy = min(best_lazy, time.perf_counter() - t0)
                        cube.compute()
                    best_cube, peak = min(best_cube, m.seconds), max(peak, m.peak_rss_mb)
                    t0 = time.perf_counter()
                    pixels = _reference(items, ref_bands)
                    best_ref = min(best_ref, time.perf_counter() - t0)
                mpx = pixels / 1e6
                emit(f"{name}_reference_rasterio", mpx / best_ref, "Mpx/s")
                emit(f"{name}_throughput", mpx / best_cube, "Mpx/s", best_ref / best_cube, "rasterio direct")
                emit(f"{name}_search_and_graph", best_lazy, "s")
                emit(f"{name}_source_MB", pixels * 2 / 1e6, "MB")
                emit(f"{name}_cube_shape", float(np.prod(list(cube.sizes.values()))) / 1e6, "Mpx (t*y*x per band)")
                emit(f"{name}_peak_rss", peak, "MB")
        finally:
            server.should_exit = True
            thread.join(timeout=10)
