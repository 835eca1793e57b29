"""The calibration parameter file: loading the project's CPFs and every validation error."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rsarchive.cpf import load_cpf, parse_cpf
from rsarchive.errors import CalibrationError


@pytest.fixture(scope="module")
def small_data() -> dict[str, Any]:
    return load_cpf("vnredsat1-small").to_dict()


def test_reference_cpf_matches_the_mission_figures() -> None:
    cpf = load_cpf("vnredsat1")
    assert cpf.version == "VNR1-2026.1"
    ms = [cpf.band(n) for n in ("B1", "B2", "B3", "B4")]
    pan = cpf.band("PAN")
    assert [b.detectors for b in ms] == [1750] * 4 and pan.detectors == 7000
    # GSD = H·p/f: 10 m MS and 2.5 m PAN from 680 km, swath 17.5 km
    assert ms[0].pitch_m * 680e3 / cpf.focal_length_m == pytest.approx(10.0, rel=1e-3)
    assert pan.pitch_m * 680e3 / cpf.focal_length_m == pytest.approx(2.5, rel=1e-3)
    assert pan.line_period_s == pytest.approx(ms[0].line_period_s / 4)
    assert len({b.along_track_rad for b in ms}) == 4  # bands look at different times
    for band in cpf.bands:
        assert 80 <= band.dark.min() and band.dark.max() <= 120
        assert band.relative_gain.mean() == pytest.approx(1.0, abs=1e-4)
        assert 0.01 < band.relative_gain.std() < 0.05  # a few percent: striping in level-0
        assert band.dead and band.saturation == 4095
        assert band.dead_mask.sum() == len(band.dead)
    assert [b.common_name for b in cpf.bands] == ["blue", "green", "red", "nir", "pan"]
    assert cpf.band("red") is cpf.band(2) is cpf.band("B3")


def test_small_cpf_has_the_same_optics() -> None:
    big, small = load_cpf("vnredsat1"), load_cpf("vnredsat1-small")
    assert [b.detectors for b in small.bands] == [256, 256, 256, 256, 1024]
    for a, b in zip(big.bands, small.bands):
        assert (a.pitch_m, a.line_period_s, a.along_track_rad, a.esun) == (b.pitch_m, b.line_period_s, b.along_track_rad, b.esun)


def test_committed_cpfs_are_what_the_script_generates() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "scripts" / "make_cpf.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_line_of_sight_and_boresight(small_data: dict[str, Any]) -> None:
    cpf = parse_cpf(small_data)
    los = cpf.line_of_sight("B1")
    band = cpf.band("B1")
    assert los.shape == (256, 3)
    assert np.allclose(np.linalg.norm(los, axis=1), 1.0)
    # direction ratios are (tan α, (i − (N−1)/2)·p/f, 1)
    assert np.allclose(los[:, 0] / los[:, 2], math.tan(band.along_track_rad))
    assert np.allclose(los[:, 1] / los[:, 2], (np.arange(256) - 127.5) * band.pitch_m / cpf.focal_length_m)
    centre = cpf.line_of_sight("PAN", np.array([(1024 - 1) / 2]))
    assert np.allclose(centre, [[0.0, 0.0, 1.0]])
    r = cpf.boresight_matrix()
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    a, b, g = cpf.boresight_rad
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(g), -math.sin(g), 0], [math.sin(g), math.cos(g), 0], [0, 0, 1]])
    assert np.allclose(r, rz @ ry @ rx)


def test_round_trip_through_json(tmp_path: Path, small_data: dict[str, Any]) -> None:
    path = tmp_path / "any-name.json"
    path.write_text(json.dumps(small_data))
    cpf = load_cpf(path)
    assert cpf.version == "VNR1-SMALL-2026.1" and cpf.source == str(path)
    assert np.array_equal(cpf.band("PAN").dark, np.asarray(small_data["bands"][4]["dark"]))
    with pytest.raises(ValueError):
        cpf.band("B1").dark[0] = 0.0  # read-only arrays


def _broken(data: dict[str, Any], edit: Any) -> dict[str, Any]:
    copied = copy.deepcopy(data)
    edit(copied)
    return copied


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.pop("focal_length_m"), "missing key(s) focal_length_m"),
        (lambda d: d["bands"][1].pop("esun"), "band B2: missing key(s) esun"),
        (lambda d: d["bands"][0].__setitem__("dark", d["bands"][0]["dark"][:-1]), "band B1: dark has 255 values, expected 256"),
        (lambda d: d["bands"][4].__setitem__("relative_gain", [1.0] * 1000), "band PAN: relative_gain has 1000 values, expected 1024"),
        (lambda d: d["bands"][2]["dark"].__setitem__(7, float("nan")), "band B3: dark has non-finite values at detector(s) [7]"),
        (lambda d: d["bands"][3].__setitem__("gain", float("inf")), "band B4: gain must be finite"),
        (lambda d: d["bands"][0].__setitem__("dead", [3, 256]), "band B1: dead detector index(es) [256] out of range 0…255"),
        (lambda d: d["bands"][0].__setitem__("dead", [-1]), "out of range"),
        (lambda d: d["bands"][1].__setitem__("gain", 0.0), "band B2: gain must be > 0"),
        (lambda d: d["bands"][1]["relative_gain"].__setitem__(9, -0.5), "band B2: relative_gain must be > 0, detector(s) [9]"),
        (lambda d: d["bands"][1].__setitem__("id", 0), "duplicate band id 0"),
        (lambda d: d["bands"][1].__setitem__("name", "B1"), "duplicate band name 'B1'"),
        (lambda d: d.__setitem__("boresight_rad", [0.0, 0.0]), "boresight_rad must be a list of 3 angles"),
        (lambda d: d["bands"][0].__setitem__("detectors", "256"), "band B1: detectors must be an integer"),
        (lambda d: d["bands"][0].__setitem__("saturation", 5000), "band B1: saturation must be in 1…4095"),
        (lambda d: d.__setitem__("bands", []), "bands must be a non-empty list"),
    ],
)
def test_validation_errors_name_the_problem(small_data: dict[str, Any], edit: Any, expected: str) -> None:
    with pytest.raises(CalibrationError) as info:
        parse_cpf(_broken(small_data, edit), source="test.json")
    assert expected in str(info.value)
    assert "test.json" in str(info.value)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="not found.*available: .*vnredsat1"):
        load_cpf("no-such-cpf")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CalibrationError, match="not valid JSON"):
        load_cpf(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(CalibrationError, match="JSON object"):
        load_cpf(bad)


def test_unknown_band_is_a_calibration_error() -> None:
    with pytest.raises(CalibrationError, match="no band 'B9'"):
        load_cpf("vnredsat1-small").band("B9")
