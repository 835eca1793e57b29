"""COG writing: the in-memory path against GDAL's COG driver building everything from a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

from rsarchive.cog.writer import create_tiled, finish_cog, overview_factors
from rsarchive.errors import ProcessingError
from rsarchive.testing.gdal_reference import validate_cog

SPEC = [{"description": "B1 radiance", "scale": 0.01, "offset": -1.0, "units": "W m-2 sr-1 um-1",
         "tags": {"BAND": "B1"}},
        {"description": "B2 radiance", "scale": 0.02, "offset": 0.5, "units": "W m-2 sr-1 um-1",
         "tags": {"BAND": "B2"}}]


def _bands(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    rows, cols = np.mgrid[0:height, 0:width]
    smooth = 2000 + 800 * np.sin(rows / 37.0) * np.cos(cols / 53.0)
    data = np.stack([smooth + rng.normal(0, 40, smooth.shape), smooth * 1.3]).astype(np.uint16)
    data[:, : height // 5, : width // 7] = 0      # a nodata corner
    return data


@pytest.mark.parametrize("width,height", [(512, 512), (513, 512), (1025, 10), (1026, 10), (2049, 300),
                                          (4097, 3), (8440, 8844)])
def test_overview_levels_are_those_gdal_s_cog_driver_chooses(tmp_path: Path, width: int, height: int) -> None:
    src, dst = tmp_path / "src.tif", tmp_path / "cog.tif"
    with rasterio.open(src, "w", driver="GTiff", width=width, height=height, count=1, dtype="uint8",
                       crs="EPSG:32648", transform=from_origin(500000, 2300000, 10, 10)):
        pass
    rasterio.shutil.copy(src, dst, driver="COG", BLOCKSIZE="512")
    with rasterio.open(dst) as ds:
        assert overview_factors(width, height, 512) == ds.overviews(1)


def _write(tmp_path: Path, name: str, data: np.ndarray, in_memory: bool, resampling: str,
           nodata: float | None) -> Path:
    transform = from_origin(500000, 2300000, 10, 10)
    tmp = None if in_memory else tmp_path / f"{name}.tmp.tif"
    ds, targets = create_tiled(tmp, data.shape[2], data.shape[1], "uint16", SPEC, nodata=nodata,
                               tags={"SCENE_ID": "s1"}, crs="EPSG:32648", transform=transform)
    for target, band in zip(targets, data, strict=True):
        target[0:data.shape[1], 0:data.shape[2]] = band
    out = tmp_path / f"{name}.tif"
    if in_memory:
        with ds:
            finish_cog(ds, out, resampling=resampling)
    else:
        ds.close()
        finish_cog(tmp, out, resampling=resampling)
        assert tmp is not None and not tmp.exists()        # the temporary file is removed
    return out


@pytest.mark.parametrize("resampling,nodata", [("average", 0), ("mode", None)])
def test_in_memory_cog_has_the_file_path_s_pixels_metadata_and_levels(tmp_path: Path, resampling: str,
                                                                      nodata: float | None) -> None:
    data = _bands(2000, 1500)
    mem = _write(tmp_path, "mem", data, True, resampling, nodata)
    ref = _write(tmp_path, "ref", data, False, resampling, nodata)
    assert validate_cog(mem, strict=True)[0]
    with rasterio.open(mem) as a, rasterio.open(ref) as b:
        assert (a.read() == data).all() and (b.read() == data).all()
        assert a.profile == b.profile
        assert a.overviews(1) == b.overviews(1) == [2, 4]
        assert a.tags() == b.tags() and a.tags()["SCENE_ID"] == "s1"
        assert [a.tags(k) for k in (1, 2)] == [b.tags(k) for k in (1, 2)]
        assert a.descriptions == b.descriptions == ("B1 radiance", "B2 radiance")
        assert a.scales == b.scales == (0.01, 0.02) and a.offsets == b.offsets == (-1.0, 0.5)
        assert a.units == b.units
    # the first overview (2 × 2 blocks: the same for both paths) is equal; the coarser ones are computed
    # from the full image in memory and from the previous level by the COG driver: close, not equal
    with rasterio.open(mem, overview_level=0) as a, rasterio.open(ref, overview_level=0) as b:
        assert (a.read() == b.read()).all()
    with rasterio.open(mem, overview_level=1) as a, rasterio.open(ref, overview_level=1) as b:
        x, y = a.read().astype(float), b.read().astype(float)
        assert x.shape == y.shape
        if resampling == "average":
            both = (x > 0) & (y > 0)
            assert both.mean() > 0.75 and np.abs(x - y)[both].max() <= 1.0
        else:
            assert set(np.unique(x)) <= set(np.unique(data))   # mode never invents a value


def test_unknown_resampling_is_refused(tmp_path: Path) -> None:
    ds, _ = create_tiled(None, 600, 600, "uint16", [{}])
    with ds, pytest.raises(ProcessingError, match="resampling 'bogus'"):
        finish_cog(ds, tmp_path / "x.tif", resampling="bogus")


@pytest.mark.parametrize("resampling,nodata", [("average", 0), ("mode", None)])
@pytest.mark.parametrize("height,width", [(1300, 1100), (1301, 1107), (3, 3000)])
def test_in_memory_cog_is_the_file_rasterio_s_in_memory_dataset_gave(tmp_path: Path, resampling: str,
                                                                     nodata: float | None, height: int,
                                                                     width: int) -> None:
    """The arrays written through GDAL's C API, with overviews computed by ``rsarchive.cog.overviews``,
    give byte for byte the COG that rasterio's in-memory dataset with its overviews built in place by
    GDAL gave (the route before: it held the GIL).  1301 × 1107 has cells with fractional windows: GDAL
    is asked to read the band in one chunk, whose cuts would otherwise change cells (test_overviews).
    3 × 3000 has overviews one pixel high: GDAL's own (it leaves such levels of ours unfilled)."""
    import warnings

    from rasterio.enums import Resampling
    from rasterio.rpc import RPC

    data = _bands(height, width)
    rpc = RPC(height_off=10.0, height_scale=500.0, lat_off=21.0, lat_scale=0.1, line_den_coeff=[1.0] + [0.0] * 19,
              line_num_coeff=[0.0, 1.0] + [0.0] * 18, line_off=650.0, line_scale=650.0, long_off=105.0,
              long_scale=0.1, samp_den_coeff=[1.0] + [0.0] * 19, samp_num_coeff=[0.0, 0.0, 1.0] + [0.0] * 17,
              samp_off=550.0, samp_scale=550.0)
    mem = _write(tmp_path, "mem", data, True, resampling, nodata)
    arrays, targets = create_tiled(None, width, height, "uint16", SPEC, nodata=nodata, tags={"SCENE_ID": "s1"})
    arrays.rpcs = rpc  # sensor geometry: the raw level's case
    for target, band in zip(targets, data, strict=True):
        target[0:height, 0:width] = band
    with arrays:
        finish_cog(arrays, tmp_path / "rpc.tif", resampling=resampling)
    opts = dict(driver="COG", COMPRESS="ZSTD", LEVEL="1", PREDICTOR="YES", BLOCKSIZE="512", BIGTIFF="IF_SAFER",
                OVERVIEW_RESAMPLING=resampling.upper(), OVERVIEWS="FORCE_USE_EXISTING", NUM_THREADS="ALL_CPUS")
    for name, georef, rpcs in (("mem", {"crs": "EPSG:32648", "transform": from_origin(500000, 2300000, 10, 10)}, None),
                               ("rpc", {}, rpc)):
        with warnings.catch_warnings(), rasterio.Env(GDAL_PAM_ENABLED="NO", GDAL_OVR_CHUNKYSIZE=str(height)):
            warnings.simplefilter("ignore")
            with rasterio.open("", "w", driver="MEM", width=width, height=height, count=2, dtype="uint16",
                               nodata=nodata, **georef) as ds:
                ds.update_tags(SCENE_ID="s1")
                for k, spec in enumerate(SPEC, start=1):
                    ds.set_band_description(k, spec["description"])
                    ds.update_tags(k, **spec["tags"])
                ds.scales, ds.offsets = (0.01, 0.02), (-1.0, 0.5)
                ds.units = tuple(s["units"] for s in SPEC)
                if rpcs is not None:
                    ds.rpcs = rpcs
                ds.write(data)
                ds.build_overviews(overview_factors(width, height), Resampling[resampling])
                rasterio.shutil.copy(ds, tmp_path / f"{name}.rasterio.tif", **opts)
        ours = (mem if name == "mem" else tmp_path / "rpc.tif").read_bytes()
        assert ours == (tmp_path / f"{name}.rasterio.tif").read_bytes(), name
    with rasterio.open(tmp_path / "rpc.tif") as ds:
        assert ds.rpcs is not None and ds.rpcs.line_off == 650.0 and ds.crs is None


def test_writing_a_cog_lets_python_threads_run(tmp_path: Path) -> None:
    """Overviews and compression run with the GIL released: a Python thread keeps going meanwhile
    (rasterio's build_overviews held it: the thread ran at about 1 % of its speed)."""
    import threading
    import time

    def spin(seconds: float | None, stop: threading.Event, out: list[int]) -> None:
        n, end = 0, time.perf_counter() + (seconds or 1e9)
        while not stop.is_set() and time.perf_counter() < end:
            n += 1
        out.append(n)

    alone: list[int] = []
    spin(0.3, threading.Event(), alone)
    rate_alone = alone[0] / 0.3
    data = np.random.default_rng(1).integers(1, 4000, (1, 6000, 6000)).astype(np.uint16)
    arrays, (target,) = create_tiled(None, 6000, 6000, "uint16", [{}], nodata=0)
    target[0:6000, 0:6000] = data[0]
    stop, counted = threading.Event(), []
    thread = threading.Thread(target=spin, args=(None, stop, counted))
    start = time.perf_counter()
    thread.start()
    with arrays:  # uncompressed: the overviews are most of the work
        finish_cog(arrays, tmp_path / "big.tif", resampling="average", compress="NONE")
    elapsed = time.perf_counter() - start
    stop.set()
    thread.join()
    assert counted[0] / elapsed > 0.5 * rate_alone, (counted[0] / elapsed, rate_alone)


def test_a_handed_over_band_is_used_as_is_and_must_fit() -> None:
    arrays, _ = create_tiled(None, 40, 30, "uint16", [{}, {}])
    band = np.arange(1200, dtype=np.uint16).reshape(30, 40)
    arrays.adopt(band, 1)
    assert arrays.arrays[0] is band and not arrays.arrays[1].any()  # the other band: zeros
    with pytest.raises(ProcessingError, match="band 2: uint16 \\(40, 30\\)"):
        arrays.adopt(band.T.copy(), 2)
    with pytest.raises(ProcessingError, match="band 2: float32"):
        arrays.adopt(band.astype(np.float32), 2)
    arrays.close()
    with pytest.raises(ProcessingError, match="closed"):
        arrays.write(band, 1)
