"""Cube-load throughput (issue 8): ``rsarchive.cube.load(...).compute()`` vs reading the same
windows with rasterio directly, on real-size products.

Simulates a pass with the reference CPF (``RSARCHIVE_BENCH_CUBE_SCENES`` scenes, default 2;
cached in ``RSARCHIVE_BENCH_CUBE_DIR``, default ``/tmp/rsarchive-bench-cube``), ingests it into
a private stack (≈ 1 min per scene: each product is ≈ 2200 × 2100 px of B1–B4 at 10 m and
≈ 8800 × 8400 px of PAN at 2.5 m, 512-px compressed tiles, 4-band pixel-interleaved QA), serves
the public STAC API (``rsarchive.testing.server.serve``), then, over the pass's bounding box
at native resolution:

- ``cube_ms``: B1–B4 at 10 m, scaled to reflectance, QA-masked (each band by its QA band),
  the pass mosaicked (``groupby="solar_day"``: one time slice, what an analyst loads for a pass);
- ``cube_pan``: PAN at 2.5 m, scaled, QA-masked (``qa_pan``), mosaicked;
- ``cube_ms_per_item``: as ``cube_ms`` but one time slice per scene (``groupby="time"``).

Reference (``*_reference_rasterio``): for every item, rasterio reads each band's COG and the
QA COG over the same pixels in tile-aligned strips of 2048 rows (the QA bands the item needs
read once per strip), scales and masks them with numpy into one float32 array per item and
band (kept, like the cube's result), on as many threads as the cube's Dask scheduler
(``dask.system.CPU_COUNT``), under the same GDAL options.  The reference gets the hrefs for
free; the cube's time includes the STAC search and building the graph (part of a load).

Throughput = source pixels read (data + the QA band of each data band) ÷ wall time, best of
``RSARCHIVE_BENCH_REPEATS`` (default 5: the machine is shared), cube and reference
alternating; ratio = cube ÷ reference (target ≥ 0.8).  Peak RSS of this process (not the stack's services) while each ran.
``RSARCHIVE_BENCH_CUBE_CPF=vnredsat1-small`` (and e.g. 12 scenes) gives a quick run on small,
fixed-cost-dominated products.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench._report import emit, measure

CACHE = Path(os.environ.get("RSARCHIVE_BENCH_CUBE_DIR", "/tmp/rsarchive-bench-cube"))
STRIP_ROWS = 2048
MS = ["B1", "B2", "B3", "B4"]


def _downlink(cpf: str, scenes: int) -> Path:
    """The simulated pass (cached: simulating the reference CPF takes minutes)."""
    from rsarchive.simulate.downlink import SimulationConfig, simulate_downlink

    downlink = CACHE / f"{cpf}-{scenes}.cadu"
    truth = CACHE / f"{cpf}-{scenes}.truth"
    if not (truth / "truth.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        simulate_downlink(SimulationConfig(scenes=scenes, cpf=cpf, write_truth_dn=False, write_truth_radiance=False),
                          downlink, truth)
        (truth / "truth.json").touch()
        print(f"(simulated {scenes} scene(s) with {cpf} in {time.perf_counter() - start:.0f} s)", flush=True)
    return downlink


def _ingest(settings: Any, downlink: Path, pipeline: str) -> None:
    from rsarchive.jobs import JobQueue, Worker
    from rsarchive.jobs.ingest import IngestRunner, submit

    submit(settings, downlink, None, pipeline)
    final = Worker(JobQueue(settings.internal_database_dsn), IngestRunner(settings), lease_seconds=600).run_once()
    if final is None or final.state != "succeeded":
        raise RuntimeError(f"ingest failed: {final and final.error}")


def _reference_jobs(items: list[dict[str, Any]], bands: list[str], qa_asset: str, mask: int,
                    ) -> tuple[list[tuple[Any, ...]], list[np.ndarray], int]:
    """One job per (item, strip of rows); the output arrays (one per item and band); pixels read."""
    import rasterio

    jobs: list[tuple[Any, ...]] = []
    outputs: list[np.ndarray] = []
    pixels = 0
    for item in items:
        assets = item["assets"]
        hrefs = [assets[b]["href"] for b in bands]
        qa_bands = [1] if qa_asset == "qa_pan" else [MS.index(b) + 1 for b in bands]
        raster = [(assets[b].get("raster:bands") or [{}])[0] for b in bands]
        with rasterio.open(hrefs[0]) as src:
            height, width = src.shape
        out = np.empty((len(bands), height, width), np.float32)
        outputs.append(out)
        pixels += 2 * out.size
        for row in range(0, height, STRIP_ROWS):
            rows = (row, min(height, row + STRIP_ROWS))
            jobs.append((hrefs, assets[qa_asset]["href"], qa_bands, raster, mask, ((rows), (0, width)), out))
    return jobs, outputs, pixels


def _reference_strip(job: tuple[Any, ...]) -> None:
    import rasterio

    hrefs, qa_href, qa_bands, raster, mask, window, out = job
    with rasterio.open(qa_href) as src:
        qa = src.read(qa_bands, window=window)
    r0, r1 = window[0]
    for k, href in enumerate(hrefs):
        with rasterio.open(href) as src:
            dn = src.read(1, window=window)
        scale, offset, nodata = (float(raster[k].get("scale", 1.0)), float(raster[k].get("offset", 0.0)),
                                 raster[k].get("nodata", 0))
        value = out[k, r0:r1]
        np.multiply(dn, np.float32(scale), out=value, dtype=np.float32)
        if offset:
            value += np.float32(offset)
        np.copyto(value, np.float32(np.nan), where=(dn == nodata) | ((qa[k] & np.uint16(mask)) != 0))


def _reference(jobs: list[tuple[Any, ...]], threads: int, options: dict[str, Any]) -> None:
    import rasterio

    def run(job: tuple[Any, ...]) -> None:
        with rasterio.Env(**options):
            _reference_strip(job)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, jobs))


def main() -> None:
    import dask.system

    from rsarchive.api import create_app
    from rsarchive.cube import DEFAULT_QA_MASK, load
    from rsarchive.cube.access import gdal_options
    from rsarchive.cube.loader import search_items
    from rsarchive.runtime import configure_process
    from rsarchive.testing.server import serve
    from rsarchive.testing.stack import service_stack

    configure_process(worker=True)  # this process works ingest jobs, as a worker does

    cpf = os.environ.get("RSARCHIVE_BENCH_CUBE_CPF", "vnredsat1")
    scenes = int(os.environ.get("RSARCHIVE_BENCH_CUBE_SCENES", "2"))
    repeats = int(os.environ.get("RSARCHIVE_BENCH_REPEATS", "5"))
    threads = int(dask.system.CPU_COUNT)
    pipeline = "ingest-level0-small" if cpf.endswith("-small") else "ingest-level0"
    downlink = _downlink(cpf, scenes)
    with service_stack() as settings:
        start = time.perf_counter()
        _ingest(settings, downlink, pipeline)
        print(f"ingested {scenes} {cpf} scene(s) in {time.perf_counter() - start:.1f} s; "
              f"cube on Dask's threaded scheduler, reference on {threads} threads", flush=True)
        with serve(create_app(settings)) as base:
            url = f"{base}/stac"
            items = search_items(collection="vnredsat1-product", bbox=(100.0, 8.0, 110.0, 24.0), datetime=None,
                                 api_url=url)
            boxes = np.array([i["bbox"] for i in items])
            bbox = (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()),
                    float(boxes[:, 3].max()))
            options = gdal_options(settings)
            cases = {  # name: bands, resolution, groupby, the reference's QA asset
                "cube_ms": (MS, 10.0, "solar_day", "qa"),
                "cube_pan": (["PAN"], 2.5, "solar_day", "qa_pan"),
                "cube_ms_per_item": (MS, 10.0, "time", "qa"),
            }
            for name, (bands, resolution, groupby, qa_asset) in cases.items():
                best_cube = best_ref = best_lazy = float("inf")
                peak_cube = peak_ref = 0.0
                shape = 0.0
                pixels = 0
                for _ in range(repeats):
                    with measure(children=False) as m:
                        jobs, outputs, pixels = _reference_jobs(items, bands, qa_asset, DEFAULT_QA_MASK)
                        _reference(jobs, threads, options)
                    best_ref, peak_ref = min(best_ref, m.seconds), max(peak_ref, m.peak_rss_mb)
                    del jobs, outputs
                    with measure(children=False) as m:
                        t0 = time.perf_counter()
                        cube = load(bbox=bbox, bands=bands, resolution=resolution, groupby=groupby, api_url=url,
                                    settings=settings)
                        best_lazy = min(best_lazy, time.perf_counter() - t0)
                        values = cube.compute()
                    best_cube, peak_cube = min(best_cube, m.seconds), max(peak_cube, m.peak_rss_mb)
                    shape = float(np.prod(list(values.sizes.values()))) / 1e6
                    del cube, values
                mpx = pixels / 1e6
                emit(f"{name}_reference_rasterio", mpx / best_ref, "Mpx/s")
                emit(f"{name}_throughput", mpx / best_cube, "Mpx/s", best_ref / best_cube, "rasterio direct")
                emit(f"{name}_search_and_graph", best_lazy, "s")
                emit(f"{name}_source_MB", pixels * 2 / 1e6, "MB")
                emit(f"{name}_cube_shape", shape, "Mpx (t*y*x per band)")
                emit(f"{name}_peak_rss", peak_cube, "MB")
                emit(f"{name}_reference_peak_rss", peak_ref, "MB")
