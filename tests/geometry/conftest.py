"""Simulated passes with truth, their raw level and products, built once for the geometry tests.

Small CPF (256 MS / 1024 PAN detectors, one 2.5 km scene).  Each fixture is a
(simulation, raw scene directory) pair; products are made by the tests or by
the product fixtures below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rsarchive.testing import SMALL_CPF, small_downlink

ROLL_50M = 7.4e-5
"""Roll angle that moves the ground point ≈ 50 m across track from 680 km."""


def _raw(sim: Any, out: Path) -> Path:
    from rsarchive.raw import process_raw

    (scene,) = process_raw(sim.downlink, SMALL_CPF, out).written
    return Path(scene.path)


def _sim_and_raw(factory: pytest.TempPathFactory, name: str, scene: Any = None, **config: Any) -> tuple[Any, Path]:
    tmp = factory.mktemp(name)
    sim = small_downlink(tmp, scene=scene, write_truth_dn=False, write_truth_radiance=False, config=config or None)
    return sim, _raw(sim, tmp / "raw")


@pytest.fixture(scope="package")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """Procedural scene, exact ancillary, no DEM."""
    return _sim_and_raw(tmp_path_factory, "clean")


@pytest.fixture(scope="package")
def clean_product(clean: tuple[Any, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Product of ``clean`` refined against the truth reference."""
    from rsarchive.product import process_product

    sim, raw = clean
    return process_product(raw, tmp_path_factory.mktemp("clean-product"), reference=sim.path("reflectance"))


@pytest.fixture(scope="package")
def biased(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """Reported attitude off by ≈ 50 m of roll on the ground (and a little pitch)."""
    return _sim_and_raw(tmp_path_factory, "biased", attitude_error_rad=(ROLL_50M, 2e-5, 0.0))


@pytest.fixture(scope="package")
def hilly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """Hilly terrain (0–2000 m) seen 0.5° off nadir (known roll), so relief displacement is large."""
    from rsarchive.simulate.scene import SceneSpec

    return _sim_and_raw(tmp_path_factory, "hilly", SceneSpec(dem=True, dem_max_height_m=2000.0),
                        attitude_bias_rad=(0.008, 0.0, 0.0))


@pytest.fixture(scope="package")
def smooth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    from rsarchive.simulate.scene import SceneSpec

    return _sim_and_raw(tmp_path_factory, "smooth", SceneSpec(kind="smooth"))


def truth_on_grid(sim: Any, meta: dict[str, Any], band: str, grid: str = "ms") -> np.ndarray:
    """The truth reflectance of ``band`` sampled (bilinear) at the product grid's pixel centres."""
    from rsarchive.geometry.dem import RasterSampler

    g = meta["grids"][grid]
    a, _, c, _, e, f = g["transform"]
    rows, cols = g["shape"]
    x = c + (np.arange(cols) + 0.5) * a
    y = f + (np.arange(rows) + 0.5) * e
    xx, yy = np.meshgrid(x, y)
    index = sim.cpf.band(band).id + 1
    with RasterSampler(sim.path("reflectance"), bands=[index]) as sampler:
        return sampler.sample_xy(xx, yy)[0] * sim.truth["reflectance_scale"]


def truth_cloud_mask(sim: Any, meta: dict[str, Any]) -> np.ndarray:
    """The truth cloud mask (0/1, bilinear → fraction) at the ms grid's pixel centres."""
    from rsarchive.geometry.dem import RasterSampler

    g = meta["grids"]["ms"]
    a, _, c, _, e, f = g["transform"]
    rows, cols = g["shape"]
    xx, yy = np.meshgrid(c + (np.arange(cols) + 0.5) * a, f + (np.arange(rows) + 0.5) * e)
    with RasterSampler(sim.path("clouds")) as sampler:
        return np.nan_to_num(sampler.sample_xy(xx, yy)[0])


def read_reflectance(product_dir: Path, meta: dict[str, Any], band: str) -> np.ndarray:
    import rasterio

    entry = next(b for b in meta["bands"] if b["name"] == band)
    with rasterio.open(product_dir / entry["file"]) as ds:
        counts = ds.read(1)
        assert ds.scales[0] == entry["scale"] and ds.offsets[0] == entry["offset"]
    out = counts * entry["scale"] + entry["offset"]
    out[counts == entry["nodata"]] = np.nan
    return out


def geolocation_px(product_dir: Path, meta: dict[str, Any], sim: Any, band: str = "B3") -> tuple[float, int]:
    """RMS displacement (pixels) of the product band from the truth, by chip matching, and the chip count."""
    from rsarchive.geometry.refine import match_chips

    image = read_reflectance(product_dir, meta, band)
    matches = match_chips(image, truth_on_grid(sim, meta, band))
    d = np.array([[m.dy, m.dx] for m in matches])
    return float(np.sqrt(np.mean(np.sum(d**2, axis=1)))), len(matches)
