"""Bands on the products' own grid read by rsarchive.cube.mosaic: the same cube as odc-stac's
reader gives, chunks on the COG tiles, and a whole-band compute filled in place."""

from __future__ import annotations

from typing import Any

import dask
import numpy as np
import pytest
from dask.callbacks import Callback

import rsarchive.cube.loader as loader
from rsarchive.cube import load

from .conftest import ServedPass

pytestmark = pytest.mark.services

BBOX = (105.6, 20.8, 106.1, 21.3)


def _native_tasks(cube: Any) -> set[str]:
    """Names of the mosaic reader's task layers in the cube's graphs."""
    return {str(k[0]) for v in cube.data_vars.values() for k in dict(v.data.__dask_graph__())
            if isinstance(k, tuple) and str(k[0]).startswith("cube-") and not str(k[0]).startswith("cube-canvas")}


@pytest.mark.parametrize("kwargs", [
    dict(bands=["red", "green", "nir"], groupby="solar_day"),               # QA COG shared by 3 bands, mosaic
    dict(bands=["nir"], groupby="time", mask_qa="cloud"),                   # one band, per scene
    dict(bands=["B1", "B4"], groupby="solar_day", scale=False),             # stored values, nodata where flagged
    dict(bands=["red", "blue"], groupby="solar_day", chunks={"x": 160, "y": 96}),  # chunks the caller chose
], ids=["mosaic", "per-scene", "stored", "chunks"])
def test_native_reads_equal_odc_stac_reads(local_pass: ServedPass, monkeypatch: pytest.MonkeyPatch,
                                           kwargs: dict[str, Any]) -> None:
    common = dict(bbox=BBOX, resolution=10, api_url=local_pass.api_url, token=local_pass.token, settings=local_pass.settings, **kwargs)
    native = load(**common)
    assert _native_tasks(native), "the bands at native resolution should be read by the mosaic reader"
    with monkeypatch.context() as m:
        m.setattr(loader, "_native", lambda *a, **k: {})  # every band through odc-stac's reader instead
        through_odc = load(**common)
    assert not _native_tasks(through_odc)
    a, b = native.compute(), through_odc.compute()
    assert list(a.data_vars) == list(b.data_vars) and a.sizes == b.sizes
    for name in a.data_vars:
        assert a[name].dtype == b[name].dtype and a[name].attrs == b[name].attrs
        np.testing.assert_array_equal(a[name].values, b[name].values)
    first = next(iter(a.data_vars))
    if "chunks" in kwargs:  # the caller's chunks are kept
        assert native[first].data.chunks[1:] == through_odc[first].data.chunks[1:]
        assert native[first].data.chunks[1][0] == 96
    values = a[first].values
    assert 0 < (np.isnan(values) if values.dtype.kind == "f" else values == 0).mean() < 1


class _Chunks(Callback):
    """Results of the mosaic reader's chunk tasks, by key."""

    def __init__(self) -> None:
        super().__init__()
        self.results: dict[Any, Any] = {}

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if isinstance(result, np.ndarray) and result.ndim == 3 and "cube-" in str(key):
            self.results[key] = result


def test_whole_band_compute_is_filled_in_place_and_derived_ones_are_not(local_pass: ServedPass) -> None:
    cube = load(bbox=BBOX, bands=["red"], groupby="time", chunks={"x": 200, "y": 128}, api_url=local_pass.api_url, token=local_pass.token,
                settings=local_pass.settings)
    band = cube.red.data
    assert band.npartitions > 4
    with _Chunks() as seen:
        (whole,) = dask.compute(band)
    assert len(seen.results) == band.npartitions
    assert all(np.shares_memory(chunk, whole) for chunk in seen.results.values())  # no final copy
    with _Chunks() as seen:
        part = (band[:, 100:300] * 1).compute()  # a derived array: ordinary chunks
    assert seen.results and not any(np.shares_memory(chunk, part) for chunk in seen.results.values())
    np.testing.assert_array_equal(part, whole[:, 100:300])
    assert float(cube.red.mean()) == pytest.approx(float(np.nanmean(whole)), rel=1e-6)
    again = cube.compute()  # a second compute gets a new array
    np.testing.assert_array_equal(again.red.values, whole)
    assert not np.shares_memory(again.red.values, whole)
