"""Writing cubes whose chunks follow the COG tiles (uneven) to Zarr, which wants even chunks."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from rsarchive.cube import write


def test_unevenly_chunked_cube_writes_to_zarr_and_reads_back_equal(tmp_path: Path) -> None:
    values = np.random.default_rng(1).random((2, 300, 70), dtype=np.float32)
    values[0, :5] = np.nan
    data = da.from_array(values, chunks=((1, 1), (83, 64, 112, 41), (70,)))  # like plan_chunks' rows
    cube = xr.Dataset({"red": (("time", "y", "x"), data, {"units": "1"})},
                      coords={"y": np.arange(300.0), "x": np.arange(70.0), "time": [0, 1]})
    out = write(cube, tmp_path / "cube.zarr")
    with xr.open_dataset(out, engine="zarr", chunks={}) as back:
        np.testing.assert_array_equal(back.red.values, values)
        ys = back.red.chunks[1]
        assert len(set(ys[:-1])) == 1 and ys[-1] <= ys[0]  # even chunks on disk
        assert back.red.attrs["units"] == "1"
    assert cube.red.data.chunks[1] == (83, 64, 112, 41)  # the caller's cube is left as it was
