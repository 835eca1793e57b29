"""uint16 encodings, TOA reflectance, scene splitting and scene ids."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rsarchive.cpf import load_cpf, parse_cpf
from rsarchive.errors import UsageError
from rsarchive.radiometry import (
    REFLECTANCE_ENCODING,
    earth_sun_distance,
    encode_reflectance,
    radiance_encoding,
    solar_angles,
    toa_reflectance,
)
from rsarchive.raw.scenes import datastrip_id, lines_per_scene, scene_id, split_scenes
from rsarchive.simulate.radiometer import radiance_from_reflectance


@pytest.mark.parametrize("name", ["vnredsat1", "vnredsat1-small"])
def test_radiance_encoding_covers_every_dn_at_0_01(name: str) -> None:
    cpf = load_cpf(name)
    for band in cpf.bands:
        enc = radiance_encoding(cpf, band)
        assert enc.scale == 0.01 and enc.nodata == 0 and enc.offset == math.floor(enc.offset) < 0
        a = 1.0 / (band.gain * band.relative_gain)
        lo = float(np.min((0 - band.dark - 30 * band.dark_temp_coeff) * a))
        hi = float(np.max((band.saturation - band.dark + 30 * band.dark_temp_coeff) * a))
        assert enc.offset + enc.scale <= lo and hi <= enc.offset + 65535 * enc.scale


def test_radiance_encoding_coarser_for_a_low_gain_cpf() -> None:
    data = json.loads(Path(load_cpf("vnredsat1-small").source).read_text())
    data["bands"][0]["gain"] = 0.9          # the spec's example: radiances up to ~4800
    enc = radiance_encoding(parse_cpf(data), "B1")
    assert enc.scale == 0.1


def test_encode_decode_round_trip_nodata_and_clipping() -> None:
    enc = radiance_encoding(load_cpf("vnredsat1-small"), "B1")
    values = np.array([[-5.0, 0.0, 12.344, 123.456, np.nan, -1e6, 1e6]], dtype=np.float32)
    counts = enc.encode(values)
    assert counts.dtype == np.uint16
    assert counts[0, 4] == 0 and counts[0, 5] == 1 and counts[0, 6] == 65535
    back = enc.decode(counts)
    np.testing.assert_allclose(back[0, :4], values[0, :4], atol=enc.scale / 2 + 1e-5)
    assert np.isnan(back[0, 4])
    inplace = values.copy()
    np.testing.assert_array_equal(enc.encode(inplace, inplace=True), counts)


def test_toa_reflectance_inverts_the_radiance_of_a_reflectance() -> None:
    when = np.datetime64("2026-03-15T03:39:05")
    zen, _ = solar_angles(when, 21.03, 105.85)
    d = float(earth_sun_distance(when))
    rho = np.array([[0.05, 0.2], [0.45, 0.9]])
    radiance = radiance_from_reflectance(rho, 1551.0, np.cos(np.radians(zen)), d)
    got = toa_reflectance(radiance, 1551.0, zen, d)
    np.testing.assert_allclose(got, rho, rtol=1e-6)
    # spec formula by hand for one value
    assert got[0, 1] == pytest.approx(math.pi * radiance[0, 1] * d * d / (1551.0 * math.cos(math.radians(zen))),
                                      rel=1e-6)
    counts = encode_reflectance(got)
    np.testing.assert_array_equal(counts, np.rint(rho * 10_000).astype(np.uint16))
    assert REFLECTANCE_ENCODING.scale == 1e-4 and REFLECTANCE_ENCODING.offset == 0.0
    night = toa_reflectance(np.array([10.0, 10.0]), 1551.0, np.array([45.0, 95.0]))
    assert np.isfinite(night[0]) and np.isnan(night[1]) and encode_reflectance(night)[1] == 0
    with pytest.raises(UsageError):
        toa_reflectance(radiance, 0.0, zen)


def test_scenes_are_square_and_aligned_on_line_counters() -> None:
    cpf = load_cpf("vnredsat1-small")
    assert lines_per_scene(cpf) == {"B1": 256, "B2": 256, "B3": 256, "B4": 256, "PAN": 1024}
    assert lines_per_scene(load_cpf("vnredsat1"))["PAN"] == 7000
    extents = {"B1": (10, 600), "B2": (0, 600), "B3": (0, 600), "B4": (0, 600), "PAN": (0, 2400)}
    scenes = split_scenes(cpf, extents)
    assert [s.index for s in scenes] == [0, 1, 2]
    assert scenes[1].lines["B1"] == (256, 512) and scenes[1].lines["PAN"] == (1024, 2048)
    assert scenes[2].partial and scenes[2].lines["B1"] == (512, 600) and scenes[2].lines["PAN"] == (2048, 2400)
    assert not scenes[0].partial
    # a datastrip starting late (first lines lost) still uses the acquisition's scene grid
    late = split_scenes(cpf, {n: (a + 300 * (4 if n == "PAN" else 1), b + 300 * (4 if n == "PAN" else 1))
                              for n, (a, b) in extents.items()})
    assert late[0].index == 1 and late[0].lines["B1"] == (256, 512)


def test_scene_ids() -> None:
    t = np.datetime64("2026-03-15T03:39:04.493946", "ns")
    assert scene_id("vnredsat1", t, "h1a2b3c4d", 0) == "vnredsat1_20260315T033904_h1a2b3c4d_000"
    assert scene_id("VNREDSat1", t, "HN_2026/03 pass", 12) == "vnredsat1_20260315T033904_HN-2026-03-pass_012"
    assert datastrip_id("vnredsat1", t, "p1") == "vnredsat1_20260315T033904_p1"
    with pytest.raises(UsageError):
        scene_id("vnredsat1", t, "___", 0)
