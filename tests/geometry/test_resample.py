"""The resampling kernels: against an independent NumPy oracle on exact (affine) coordinates, against
the RPC itself, and against GDAL's warper on a simulated raw scene."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from rsarchive.errors import ProcessingError
from rsarchive.geometry.image_coordinates import NODE_STEP, ImageCoordinates, node_step
from rsarchive.geometry.ortho import OrthoGrid, grid_nodes, scene_grid
from rsarchive.geometry.resample import resample
from rsarchive.geometry.rpc import RPCModel
from rsarchive.testing.gdal_reference import warp_band

GRID = OrthoGrid(32648, 500000.0, 2323000.0, 10.0, 83, 71)  # odd sizes: the last node interval is short


def affine(grid: OrthoGrid, line: tuple[float, float, float], samp: tuple[float, float, float],
           parallax: tuple[float, float] = (0.0, 0.0), step: int = 16) -> SimpleNamespace:
    """Coordinates laid out as ImageCoordinates' (nodes every ``step`` cells and the last) for the exact
    affine map ``line = l0 + l1·row + l2·col`` (likewise ``samp``), plus height × ``parallax`` (px/m)."""
    rows = np.unique(np.r_[np.arange(0, grid.height, step), grid.height - 1]).astype(float)
    cols = np.unique(np.r_[np.arange(0, grid.width, step), grid.width - 1]).astype(float)
    r, c = np.meshgrid(rows, cols, indexing="ij")
    return SimpleNamespace(grid=grid, rows=rows, cols=cols, nodes={
        "line": (line[0] + line[1] * r + line[2] * c, np.full(r.shape, parallax[0])),
        "samp": (samp[0] + samp[1] * r + samp[2] * c, np.full(r.shape, parallax[1]))})


def exact(coords: SimpleNamespace, line: tuple[float, float, float], samp: tuple[float, float, float],
          heights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r, c = np.mgrid[0:coords.grid.height, 0:coords.grid.width].astype(float)
    li, sa = line[0] + line[1] * r + line[2] * c, samp[0] + samp[1] * r + samp[2] * c
    if heights is not None:
        li = li + heights * coords.nodes["line"][1][0, 0]
        sa = sa + heights * coords.nodes["samp"][1][0, 0]
    return li, sa


def oracle(image: np.ndarray, li: np.ndarray, sa: np.ndarray, kind: str, nodata: float) -> np.ndarray:
    """The kernels' definition (module docstring), written with whole-array NumPy."""
    h, w = image.shape
    inside = (li >= -0.5) & (li < h - 0.5) & (sa >= -0.5) & (sa < w - 0.5)
    ci = np.clip(np.floor(li + 0.5).astype(int), 0, h - 1)
    cj = np.clip(np.floor(sa + 0.5).astype(int), 0, w - 1)
    centre = image[ci, cj].astype(float)
    ok = inside & (centre != nodata)
    if kind == "nearest":
        return np.where(ok, centre, np.nan)

    def keys(t: np.ndarray) -> np.ndarray:
        t = np.abs(t)
        return np.where(t < 1, 1.5 * t**3 - 2.5 * t**2 + 1, np.where(t < 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, 0.0))

    def tent(t: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, 1 - np.abs(t))

    kernel, taps = (keys, range(-1, 3)) if kind == "cubic" else (tent, range(0, 2))
    i0, j0 = np.floor(li), np.floor(sa)
    acc = np.zeros(li.shape)
    weight = np.zeros(li.shape)
    for a in taps:
        for b in taps:
            ii, jj = i0 + a, j0 + b
            there = (ii >= 0) & (ii < h) & (jj >= 0) & (jj < w)
            v = image[np.clip(ii, 0, h - 1).astype(int), np.clip(jj, 0, w - 1).astype(int)].astype(float)
            use = there & (v != nodata)
            k = kernel(li - ii) * kernel(sa - jj) * use
            acc += k * v
            weight += k
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(np.abs(weight - 1) > 1e-5, acc / weight, acc)  # GDAL's: within 1e-5 of 1 is 1
        return np.where(ok & (np.abs(weight) >= 1e-6), value, np.nan)


LINE = (-6.3137, 0.82913, 0.31071)  # rotated by ≈ 20°, pixels ≈ 1.1 × smaller than the cells, partly off the image
SAMP = (9.7219, -0.29117, 0.86023)  # (no cell centre falls on a pixel edge: a tie is decided by rounding)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(7)
    img = rng.integers(1, 4000, size=(64, 75)).astype(np.uint16)
    img[rng.random(img.shape) < 0.03] = 0  # scattered no-data pixels
    img[20:24, 30:40] = 0  # and a block
    return img


@pytest.mark.parametrize("kind", ["nearest", "bilinear", "cubic"])
def test_the_kernels_equal_their_definition(image: np.ndarray, kind: str) -> None:
    coords = affine(GRID, LINE, SAMP)
    out, qa = resample(image, coords, kind=kind, nodata=0)
    assert qa is None and out.dtype == np.float32 and out.shape == (GRID.height, GRID.width)
    want = oracle(image, *exact(coords, LINE, SAMP), kind, 0)
    assert np.array_equal(np.isnan(out), np.isnan(want))
    assert 0.05 < np.isnan(out).mean() < 0.6  # the map runs off the image and over no-data
    np.testing.assert_allclose(out[~np.isnan(out)], want[~np.isnan(want)], rtol=2e-7, atol=1e-3)


def test_qa_is_the_containing_pixel_and_fill_outside(image: np.ndarray) -> None:
    qa = (np.arange(image.size) % 97).astype(np.uint16).reshape(image.shape)
    coords = affine(GRID, LINE, SAMP)
    _, out_qa = resample(image, coords, qa=qa, qa_fill=1)
    li, sa = exact(coords, LINE, SAMP)
    h, w = image.shape
    inside = (li >= -0.5) & (li < h - 0.5) & (sa >= -0.5) & (sa < w - 0.5)
    want = np.where(inside, qa[np.clip(np.floor(li + 0.5).astype(int), 0, h - 1),
                               np.clip(np.floor(sa + 0.5).astype(int), 0, w - 1)], 1)
    assert out_qa is not None and out_qa.dtype == np.uint16
    assert np.array_equal(out_qa, want) and (~inside).any()


def test_heights_move_the_image_coordinate_by_their_parallax(image: np.ndarray) -> None:
    coords = affine(GRID, LINE, SAMP, parallax=(0.004, -0.011))
    heights = np.random.default_rng(3).uniform(-50, 900, (GRID.height, GRID.width)).astype(np.float32)
    out, _ = resample(image, coords, kind="cubic", heights=heights)
    want = oracle(image, *exact(coords, LINE, SAMP, heights), "cubic", 0)
    assert np.array_equal(np.isnan(out), np.isnan(want))
    np.testing.assert_allclose(out[~np.isnan(out)], want[~np.isnan(want)], rtol=2e-7, atol=1e-3)
    flat, _ = resample(image, affine(GRID, LINE, SAMP), kind="cubic")
    assert not np.allclose(np.nan_to_num(out), np.nan_to_num(flat))  # the heights did something


def test_the_result_does_not_depend_on_the_number_of_threads(image: np.ndarray) -> None:
    grid = OrthoGrid(32648, 500000.0, 2323000.0, 10.0, 90, 300)  # rows for several tasks
    coords = affine(grid, (-3.0, 0.2, 0.05), (2.0, -0.04, 0.25))
    qa = np.arange(image.size, dtype=np.uint16).reshape(image.shape)
    one = resample(image, coords, qa=qa, threads=1)
    three = resample(image, coords, qa=qa, threads=3)
    assert np.array_equal(one[0], three[0], equal_nan=True) and np.array_equal(one[1], three[1])


def test_bad_arguments_are_named(image: np.ndarray) -> None:
    coords = affine(GRID, LINE, SAMP)
    with pytest.raises(ProcessingError, match="unknown resampling 'lanczos'"):
        resample(image, coords, kind="lanczos")
    with pytest.raises(ProcessingError, match="QA .* does not match the image"):
        resample(image, coords, qa=np.zeros((3, 3), np.uint16))
    with pytest.raises(ProcessingError, match="heights .* do not match the grid"):
        resample(image, coords, heights=np.zeros((3, 3), np.float32))
    with pytest.raises(ProcessingError, match="without a height range"):
        resample(image, coords, heights=np.zeros((GRID.height, GRID.width), np.float32))
    with pytest.raises(ProcessingError, match="non-empty 2-D"):
        resample(np.zeros((0, 4), np.uint16), coords)


# -- on a simulated raw scene --------------------------------------------------------------------

def _band(raw: Path, name: str) -> tuple[np.ndarray, RPCModel, OrthoGrid]:
    import rasterio

    with rasterio.open(raw / f"{name}.tif") as ds:
        rpc = RPCModel.from_rasterio(ds.rpcs)
        return ds.read(1), rpc, scene_grid([(rpc, ds.height, ds.width)], 10.0 if name != "PAN" else 2.5)


@pytest.mark.parametrize("name", ["B3", "PAN"])
@pytest.mark.parametrize("product_step", [False, True])
def test_coordinates_are_the_rpcs(clean: tuple[Any, Path], name: str, product_step: bool) -> None:
    """Node interpolation against the RPC evaluated at every cell of a sample of rows and columns, with the
    default node step and with the product's (nodes 160 m apart: 64 cells of a PAN grid)."""
    _, rpc, grid = _band(clean[1], name)
    coords = ImageCoordinates(grid, rpc, step=node_step(grid.resolution_m) if product_step else NODE_STEP)
    zero = np.zeros((grid.height, grid.width), np.float32)
    line, _ = coords.field("line", zero)
    samp, _ = coords.field("samp", zero)
    sample = grid.with_resolution(grid.resolution_m)  # the same grid: its nodes every 7 cells
    rows, cols, lon, lat = grid_nodes(sample, 7)
    want_line, want_samp = rpc.project(lon, lat, 0.0)
    r, c = rows.astype(int), cols.astype(int)
    assert np.abs(line[np.ix_(r, c)] - want_line).max() < 0.01
    assert np.abs(samp[np.ix_(r, c)] - want_samp).max() < 0.01


@pytest.mark.parametrize("name", ["B3", "PAN"])
def test_bands_agree_with_gdals_warper(clean: tuple[Any, Path], name: str) -> None:
    """The same cells have data; nearest picks the same pixel but where GDAL's coordinates and ours
    (within 0.02 px of each other) fall on either side of a pixel edge; cubic differs by a fraction
    of a count on average."""
    _, raw = clean
    image, rpc, grid = _band(raw, name)
    coords = ImageCoordinates(grid, rpc)
    for kind, most in (("nearest", 0.97), ("cubic", None)):
        ours, _ = resample(image, coords, kind=kind, nodata=0, threads=2)
        gdal = warp_band(raw / f"{name}.tif", rpc, grid, resampling=kind, src_nodata=0, threads=2)
        a, b = np.isfinite(ours), np.isfinite(gdal)
        assert a.mean() > 0.5 and (a ^ b).sum() <= 1e-4 * a.size, (kind, int((a ^ b).sum()))
        both = a & b
        d = np.abs(ours[both] - gdal[both])
        if most is not None:
            assert (d == 0).mean() >= most, (kind, (d == 0).mean())
        else:
            signal = float(np.mean(gdal[both]))
            assert d.mean() < 0.002 * signal and np.sqrt(np.mean(d**2)) < 0.01 * signal, (d.mean(), signal)


def test_scale_and_offset_are_numpys_float32_steps(image: np.ndarray) -> None:
    coords = affine(GRID, LINE, SAMP)
    plain, _ = resample(image, coords)
    scaled, _ = resample(image, coords, scale=0.0173, offset=-1.25)
    want = plain.copy()
    want *= np.float32(0.0173)
    want += np.float32(-1.25)
    assert np.array_equal(scaled, want, equal_nan=True) and not np.array_equal(scaled, plain, equal_nan=True)
