"""Cubes from the served STAC API: dims, CRS, resolution, values equal to reading the COGs with
rasterio, QA masking, the CLI's Zarr/netCDF outputs, S3-backed COGs through /vsis3/."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from rsarchive.cube import DEFAULT_QA_MASK, load
from rsarchive.errors import NotFoundError, UsageError

from .conftest import ServedPass

pytestmark = pytest.mark.services

BBOX = (105.6, 20.8, 106.1, 21.3)  # covers the simulated pass (Hà Nội)


def _items(served: ServedPass) -> list[dict[str, Any]]:
    from rsarchive.cube.loader import search_items

    return search_items(collection="vnredsat1-product", bbox=BBOX, datetime=None, api_url=served.api_url,
                        token=served.token)


def _reference(cube: xr.Dataset, t: int, href: str, band: int = 1, *, read: Any = None) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The COG's pixels (rasterio, band ``band``) and where they sit in the cube (integer offsets:
    the cube grid is the products' grid at native resolution)."""
    import rasterio

    with (read(href) if read else rasterio.open(href)) as src:
        data = src.read(band)
        t0 = src.transform
    c0 = cube.odc.geobox.transform
    assert (t0.a, t0.e) == (c0.a, c0.e)
    col, row = (t0.c - c0.c) / c0.a, (t0.f - c0.f) / c0.e
    assert col == int(col) and row == int(row), "cube and COG grids not aligned"
    return data, (slice(int(row), int(row) + data.shape[0]), slice(int(col), int(col) + data.shape[1]))


def test_cube_dims_crs_resolution_and_values_equal_the_cogs(local_pass: ServedPass) -> None:
    cube = load(bbox=BBOX, bands=("red", "B4", "pan"), resolution=10, crs="EPSG:32648",
                api_url=local_pass.api_url, token=local_pass.token, mask_qa=False, settings=local_pass.settings)
    items = _items(local_pass)
    assert len(items) == 2
    assert set(cube.data_vars) == {"red", "B4", "pan"}
    assert cube.red.dims == ("time", "y", "x") and cube.sizes["time"] == 2
    assert cube.odc.crs.epsg == 32648 and cube.odc.geobox.resolution.xy == (10, -10)
    assert cube.red.dtype == np.float32 and cube.red.chunks is not None  # lazy, dask-backed
    values = cube.compute()
    times = [np.datetime64(i["properties"]["datetime"].rstrip("Z")) for i in items]
    assert list(values.time.values) == sorted(times)
    for t, item in enumerate(sorted(items, key=lambda i: i["properties"]["datetime"])):
        for var, asset in (("red", "B3"), ("B4", "B4")):
            dn, (rows, cols) = _reference(values, t, item["assets"][asset]["href"])
            expected = np.where(dn == 0, np.nan, dn.astype(np.float32) * np.float32(1e-4))
            got = values[var].isel(time=t).values[rows, cols]
            np.testing.assert_array_equal(got, expected)
            outside = np.ones(values[var].shape[1:], bool)
            outside[rows, cols] = False
            assert np.isnan(values[var].isel(time=t).values[outside]).all()
        assert 0 < np.isfinite(values.red.isel(time=t).values).sum() < values.red.isel(time=t).size
        # PAN at 10 m: nearest resampling of the 2.5 m band (every 4th pixel from the 2nd)
        pan, _ = _reference(values, t, item["assets"]["B3"]["href"])
        import rasterio
        from rasterio.enums import Resampling

        with rasterio.open(item["assets"]["PAN"]["href"]) as src:
            coarse = src.read(1, out_shape=pan.shape, resampling=Resampling.nearest)
        got_pan = values.pan.isel(time=t).values[rows, cols]
        same = np.where(coarse == 0, np.nan, coarse.astype(np.float32) * np.float32(1e-4))
        assert np.mean((got_pan == same) | (np.isnan(got_pan) & np.isnan(same))) > 0.99


def test_qa_masking_drops_flagged_pixels(local_pass: ServedPass) -> None:
    kwargs = dict(bbox=BBOX, bands=["nir"], api_url=local_pass.api_url, token=local_pass.token, settings=local_pass.settings)
    plain = load(mask_qa=False, **kwargs).compute()
    masked = load(**kwargs).compute()
    cloud_only = load(mask_qa="cloud", **kwargs).compute()
    assert masked.nir.attrs["rsarchive:qa_mask"] == DEFAULT_QA_MASK
    items = sorted(_items(local_pass), key=lambda i: i["properties"]["datetime"])
    flagged_total = 0
    for t, item in enumerate(items):
        qa, (rows, cols) = _reference(plain, t, item["assets"]["qa"]["href"], band=4)  # QA of B4 (nir)
        p = plain.nir.isel(time=t).values[rows, cols]
        m = masked.nir.isel(time=t).values[rows, cols]
        c = cloud_only.nir.isel(time=t).values[rows, cols]
        bad = (qa & DEFAULT_QA_MASK) != 0
        np.testing.assert_array_equal(np.isnan(m), np.isnan(p) | bad)
        np.testing.assert_array_equal(m[~bad], p[~bad])
        assert np.isnan(c[(qa & 64) != 0]).all() and np.array_equal(np.isnan(c), np.isnan(p) | ((qa & 64) != 0))
        flagged_total += int((bad & np.isfinite(p)).sum())
    assert flagged_total > 100, "the cloudy scene should have valid pixels flagged as cloud"


def test_bands_sharing_a_qa_cog_are_masked_as_when_loaded_alone(local_pass: ServedPass) -> None:
    # red, green and nir share the 4-band QA COG: its windows are read once for all three
    kwargs = dict(bbox=BBOX, groupby="solar_day", api_url=local_pass.api_url, token=local_pass.token, settings=local_pass.settings)
    together = load(bands=["red", "green", "nir"], **kwargs).compute()
    for name in ("red", "green", "nir"):
        alone = load(bands=[name], **kwargs).compute()
        np.testing.assert_array_equal(together[name].values, alone[name].values)
    assert np.isnan(together.nir.values).sum() > np.isnan(load(bands=["nir"], mask_qa=False, **kwargs).compute().nir.values).sum()


def test_groupby_solar_day_fuses_the_pass_into_one_slice(local_pass: ServedPass) -> None:
    per_item = load(bbox=BBOX, bands=["red"], api_url=local_pass.api_url, token=local_pass.token, settings=local_pass.settings).compute()
    fused = load(bbox=BBOX, bands=["red"], groupby="solar_day", api_url=local_pass.api_url, token=local_pass.token,
                 settings=local_pass.settings).compute()
    assert fused.sizes["time"] == 1 and fused.time.values[0] == per_item.time.values[0]
    a, b = per_item.red.values
    expected = np.where(np.isfinite(a), a, b)
    np.testing.assert_array_equal(fused.red.values[0], expected)


def test_load_refuses_bad_input_with_one_clear_error(local_pass: ServedPass) -> None:
    kw: dict[str, Any] = dict(api_url=local_pass.api_url, token=local_pass.token, settings=local_pass.settings)
    with pytest.raises(UsageError, match="four numbers"):
        load(bbox=(1, 2, 3), **kw)
    with pytest.raises(UsageError, match="W < E"):
        load(bbox=(106, 21, 105, 22), **kw)
    with pytest.raises(UsageError, match="ISO 8601"):
        load(bbox=BBOX, datetime="2026-02-30", **kw)
    with pytest.raises(UsageError, match=r"unknown band 'swir'.*B1.*red"):
        load(bbox=BBOX, bands=["swir"], **kw)
    with pytest.raises(UsageError, match="unknown collection 'nope'.*vnredsat1-product"):
        load(bbox=BBOX, collection="nope", **kw)
    with pytest.raises(NotFoundError, match="no vnredsat1-product items"):
        load(bbox=BBOX, datetime="2001-01-01/2001-12-31", **kw)


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_cli_writes_a_cube_that_reads_back_equal(local_pass: ServedPass, tmp_path: Path, suffix: str) -> None:
    from click.testing import CliRunner

    from rsarchive.cli.main import cli

    out, png = tmp_path / f"cube{suffix}", tmp_path / "quicklook.png"
    args = ["cube", "--collection", "vnredsat1-product", "--bbox", ",".join(map(str, BBOX)), "--bands",
            "red,green,blue", "--resolution", "10", "--crs", "EPSG:32648", "--api", local_pass.api_url, "--token", local_pass.token,
            "--out", str(out)] + (["--plot", str(png)] if suffix == ".zarr" else [])
    result = CliRunner().invoke(cli, args, obj={"settings": local_pass.settings}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    expected = load(bbox=BBOX, bands=("red", "green", "blue"), crs="EPSG:32648", api_url=local_pass.api_url, token=local_pass.token,
                    settings=local_pass.settings).compute()
    engine = "zarr" if suffix == ".zarr" else "h5netcdf"
    with xr.open_dataset(out, engine=engine) as back:
        for name in ("red", "green", "blue"):
            np.testing.assert_array_equal(back[name].values, expected[name].values)
        np.testing.assert_array_equal(back.x.values, expected.x.values)
        assert back.odc.crs.epsg == 32648 and list(back.time.values) == list(expected.time.values)
    if suffix == ".zarr":
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_errors_are_one_line_and_non_zero(local_pass: ServedPass, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from rsarchive.cli.main import main

    base = ["cube", "--api", local_pass.api_url, "--token", local_pass.token, "--out", str(tmp_path / "c.zarr")]
    cases = [(["--bbox", "105,21"], 2, "bbox"), (["--bbox", "105,21,106,22", "--bands", "foo"], 2, "unknown band"),
             (["--bbox", "105,21,106,22", "--collection", "nope"], 2, "unknown collection"),
             (["--bbox", "105,21,106,22", "--datetime", "yesterday"], 2, "datetime"),
             (["--bbox", "10,10,11,11"], 3, "no vnredsat1-product items")]
    for extra, code, text in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(base + extra)
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == code and err.startswith("rsarchive: error: ") and text in err
        assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "c.zarr").exists()


def test_s3_backed_cube_reads_vsis3_without_secrets_in_the_graph(s3_pass: ServedPass) -> None:
    import rasterio

    settings = s3_pass.settings
    cube = load(bbox=BBOX, bands=("red",), mask_qa=False, api_url=s3_pass.api_url, token=s3_pass.token, settings=settings)
    items = sorted(_items(s3_pass), key=lambda i: i["properties"]["datetime"])
    assert all(i["assets"]["B3"]["href"].startswith(f"s3://{settings.primary_bucket}/") for i in items)
    graph = pickle.dumps(dict(cube.__dask_graph__()))
    assert settings.s3_secret_key and settings.s3_secret_key.encode() not in graph
    assert f"aws_access_key_id={settings.s3_access_key}".encode() not in graph
    values = cube.compute()

    from rsarchive.services import seaweed

    client = seaweed.s3_client(settings)

    @contextmanager
    def from_s3(href: str) -> Iterator[Any]:  # the object's bytes fetched with boto3, not through GDAL
        bucket, key = href.removeprefix("s3://").split("/", 1)
        with rasterio.MemoryFile(client.get_object(Bucket=bucket, Key=key)["Body"].read()) as mem, mem.open() as src:
            yield src

    for t, item in enumerate(items):
        dn, (rows, cols) = _reference(values, t, item["assets"]["B3"]["href"], read=from_s3)
        expected = np.where(dn == 0, np.nan, dn.astype(np.float32) * np.float32(1e-4))
        np.testing.assert_array_equal(values.red.isel(time=t).values[rows, cols], expected)
