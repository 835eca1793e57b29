"""Simulated downlinks (with truth) and their raw level, built once for the radiometry tests."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rsarchive.testing import SMALL_CPF, small_downlink


def read_band(path: Path, index: int = 1) -> tuple[np.ndarray, Any]:
    """(pixels, dataset profile incl. scales/offsets) of a sensor-geometry GeoTIFF."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            info = {"scale": ds.scales[index - 1], "offset": ds.offsets[index - 1], "nodata": ds.nodata,
                    "units": ds.units[index - 1], "overviews": ds.overviews(index), "tags": ds.tags(),
                    "band_tags": ds.tags(index), "count": ds.count, "block_shapes": ds.block_shapes}
            return ds.read(index), info


@pytest.fixture(scope="package")
def cpf():  # type: ignore[no-untyped-def]
    from rsarchive.cpf import load_cpf

    return load_cpf(SMALL_CPF)


@pytest.fixture(scope="package")
def clean_sim(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Procedural scene, 2 scenes, no noise, no impairment."""
    return small_downlink(tmp_path_factory.mktemp("clean"), scenes=2)


@pytest.fixture(scope="package")
def clean_raw(clean_sim, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The raw level of ``clean_sim``, counting Dask computes."""
    import dask

    from rsarchive.raw import process_raw

    counter = ComputeCounter()
    with dask.config.set(scheduler=counter):
        result = process_raw(clean_sim.downlink, SMALL_CPF, tmp_path_factory.mktemp("clean-raw"))
    result.computes = counter.calls  # type: ignore[attr-defined]
    return result


@pytest.fixture(scope="package")
def uniform_sim(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Uniform bright scene with 0.5 DN of noise (dithers the DN rounding), 1 scene."""
    from rsarchive.simulate.scene import SceneSpec

    return small_downlink(tmp_path_factory.mktemp("uniform"), scene=SceneSpec(
        kind="uniform", uniform_reflectance=(0.25, 0.25, 0.25, 0.35)), config={"noise_dn": 0.5, "seed": 3})


@pytest.fixture(scope="package")
def smooth_sim(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Smooth (edge-free) scene, no noise, 1 scene."""
    from rsarchive.simulate.scene import SceneSpec

    return small_downlink(tmp_path_factory.mktemp("smooth"), scene=SceneSpec(kind="smooth"))


def raw_of(sim: Any, out: Path, **options: Any) -> Any:
    from rsarchive.raw import process_raw

    return process_raw(sim.downlink, SMALL_CPF, out, **options)


class ComputeCounter:
    """A Dask scheduler (``get`` function) that counts how often a graph is computed."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        import dask.threaded

        self.calls += 1
        return dask.threaded.get(dsk, keys, **kwargs)


@pytest.fixture(scope="package")
def gappy_downlink(clean_sim, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A 3-scene downlink rewritten (spec writer) from ``clean_sim``: scene 0 as simulated but a few
    lost lines, scene 1 entirely lost, scene 2 = the simulated scene 1.  Returns (path, lost lines)."""
    from rsarchive.cpf import load_cpf
    from rsarchive.level0 import DownlinkWriter, decode, load_profile

    cpf = load_cpf(SMALL_CPF)
    data = decode(clean_sim.downlink, "vnredsat1")
    per = {b.name: (256 if b.name != "PAN" else 1024) for b in cpf.bands}
    lost = {"B2": range(100, 105), "PAN": range(400, 420)}
    events = []
    for band in cpf.bands:
        lines = data.bands[band.name]
        n = per[band.name]
        shift = np.int64(round(n * band.line_period_s * 1e9))
        for row in range(len(lines.flags)):
            counter = lines.first_line + row
            if counter in lost.get(band.name, ()):
                continue
            t = lines.times[row]
            if counter >= n:  # simulated scene 1 → scene 2: the lines of scene 1 never arrive
                counter += n
                t = t + shift * np.timedelta64(1, "ns")
            events.append((t, 1, band.id, counter, lines.dns[row]))
    anc = data.ancillary
    for t, p, v in zip(anc.ephemeris_times, anc.positions_m, anc.velocities_m_s):
        events.append((t, 0, -1, 0, ("ephemeris", p, v)))
    for t, q in zip(anc.attitude_times, anc.quaternions):
        events.append((t, 0, -2, 0, ("attitude", q)))
    for t, temp in zip(anc.housekeeping_times, anc.focal_plane_temp_c):
        events.append((t, 0, -3, 0, ("housekeeping", temp)))
    events.sort(key=lambda e: (e[0], e[1], e[2], e[3]))
    path = tmp_path_factory.mktemp("gappy") / "gappy.cadu"

    def utc(t: np.datetime64) -> dt.datetime:
        return np.datetime64(t, "us").item().replace(tzinfo=dt.timezone.utc)

    with open(path, "wb") as fh:
        writer = DownlinkWriter(fh, load_profile("vnredsat1"))
        for t, kind, band_id, counter, payload in events:
            if kind == 1:
                writer.image_line(band_id, counter, utc(t), payload)
            elif payload[0] == "ephemeris":
                writer.ephemeris(utc(t), payload[1], payload[2])
            elif payload[0] == "attitude":
                writer.attitude(utc(t), payload[1])
            else:
                writer.housekeeping(utc(t), float(payload[1]))
        writer.close()
    return path, lost
