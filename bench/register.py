"""Registering foreign products (issue #20): the real Landsat 8 C2 L2 product directory
(``../shared/testdata/real/foreign``, 26 files, ≈ 10 MB) and a DIMAP V2 product built by
``rsarchive.testing.dimap`` (``RSARCHIVE_BENCH_REGISTER_DIMAP_PX`` pixels a side, default 2048),
through :func:`rsarchive.originals.register` (metadata read, originals + verified copies, COGs
of the bands, item validated and catalogued) on a stack this benchmark starts, against a plain
copy of the same files (``shutil.copytree``) in the same run.  Each is run
``RSARCHIVE_BENCH_REGISTER_REPEATS`` times (default 3), alternating, best kept.  Prints files
and MB per second, the ratio against the plain copy, and peak RSS.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

from bench._report import emit, measure
from bench.storage import _OwnRss

LC08 = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "real" / "foreign" / "landsat" / \
    "LC08_L2SP_005009_20150710_20200908_02_T2"


def main() -> None:
    from rsarchive import originals
    from rsarchive.testing import stack
    from rsarchive.testing.dimap import DimapSpec, write_dimap_product

    repeats = int(os.environ.get("RSARCHIVE_BENCH_REGISTER_REPEATS", "3"))
    pixels = int(os.environ.get("RSARCHIVE_BENCH_REGISTER_DIMAP_PX", "2048"))
    source = LC08 if LC08.is_dir() else Path("/work/shared/testdata/real/foreign/landsat") / LC08.name
    with stack.service_stack() as service, tempfile.TemporaryDirectory(prefix="rsarchive-bench-register-") as tmp:
        dimap = write_dimap_product(Path(tmp) / "SPOT7_ORTHO_BENCH", DimapSpec(size=pixels))
        for name, product in (("landsat_c2_l2", source), ("dimap_v2", dimap)):
            files = [p for p in product.rglob("*") if p.is_file()]
            size_mb = sum(p.stat().st_size for p in files) / 1e6
            best: dict[str, tuple[float, float]] = {}
            for attempt in range(repeats):
                root = Path(tmp) / f"archive-{name}-{attempt}"
                root.mkdir()
                settings = stack.fresh_buckets(stack.clone_databases(service)).derive(archive_root=root)
                with measure() as copy_run:
                    shutil.copytree(product, Path(tmp) / f"copy-{name}-{attempt}")
                own = _OwnRss()
                own.start()
                with measure() as ours:
                    originals.register(settings, [product], provider="bench", route="purchase",
                                       received=dt.date(2026, 6, 1),
                                       metadata=originals.MetadataOverrides(classification="unclassified"))
                own_peak = own.stop()
                best["own"] = (0.0, max(best.get("own", (0.0, 0.0))[1], own_peak))
                for label, run in (("copy", copy_run), ("register", ours)):
                    seconds, rss = best.get(label, (float("inf"), 0.0))
                    best[label] = (min(seconds, run.seconds), max(rss, run.peak_rss_mb))
            copy_s, ours_s = best["copy"][0], best["register"][0]
            emit(f"register_{name}_files", len(files), "files")
            emit(f"register_{name}_size", size_mb, "MB")
            emit(f"register_{name}_copy", size_mb / copy_s, "MB/s")
            emit(f"register_{name}_files_per_s", len(files) / ours_s, "files/s")
            emit(f"register_{name}", size_mb / ours_s, "MB/s", ratio=copy_s / ours_s, reference="plain copy")
            # peak RSS of this process alone while registering, then of the process tree (with the
            # stack's PostgreSQL and SeaweedFS) while registering and while copying
            emit(f"register_{name}_peak_rss_own", best["own"][1], "MB")
            emit(f"register_{name}_peak_rss_tree", best["register"][1], "MB")
            emit(f"register_{name}_copy_peak_rss_tree", best["copy"][1], "MB")


if __name__ == "__main__":
    main()
