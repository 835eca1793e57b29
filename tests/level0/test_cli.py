"""The ``rsarchive level0`` commands, including bad inputs (one line, non-zero exit)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from .conftest import make_scene, write_downlink

REPO = Path(__file__).resolve().parents[2]
EXE = REPO / ".venv" / "bin" / "rsarchive"


def run(*args: str) -> subprocess.CompletedProcess:
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "rsarchive"]
    return subprocess.run([*cmd, "level0", *args], capture_output=True, text=True, timeout=120)


def assert_one_line_error(res: subprocess.CompletedProcess, *words: str) -> None:
    assert res.returncode != 0
    err = res.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err


@pytest.fixture(scope="module")
def downlink(tmp_path_factory, profile):
    scene = make_scene(lines=40, ms_detectors=16)
    raw, report = write_downlink(profile, scene)
    path = tmp_path_factory.mktemp("cli") / "pass.cadu"
    path.write_bytes(raw)
    return path, scene, report


def test_inspect_json_and_text(downlink):
    path, _, report = downlink
    res = run("inspect", str(path), "--json")
    assert res.returncode == 0, res.stderr
    q = json.loads(res.stdout)
    assert q["cadus_found"] == report.cadus_written and q["bands"]["B1"]["lines_decoded"] == 40
    text = run("inspect", str(path))
    assert text.returncode == 0 and "CADUs found:" in text.stdout


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_decode_writes_tifs_and_side_files(downlink, tmp_path):
    path, scene, _ = downlink
    out = tmp_path / "out"
    res = run("decode", str(path), "--profile", "vnredsat1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    with rasterio.open(out / "PAN.tif") as ds:
        assert ds.dtypes[0] == "uint16" and ds.tags()["FILL_VALUE"] == "0"
        np.testing.assert_array_equal(ds.read(1), scene.dns[4])
    lines = json.loads((out / "lines.json").read_text())
    assert len(lines["bands"]["B3"]["lines"]) == 40 and lines["bands"]["B3"]["lines"][5][2] == 0
    assert json.loads((out / "quality.json").read_text())["bands"]["B4"]["lines_expected"] == 40
    anc = json.loads((out / "ancillary.json").read_text())
    assert len(anc["attitude"]["quaternion"]) == 4
    assert not list(out.glob(".*.raw"))


def test_packets_command_on_snpp(snpp_dir, tmp_path):
    out = tmp_path / "packets.bin"
    res = run("packets", str(snpp_dir / "snpp_synchronized_cadus.dat"), "--profile", "snpp", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert hashlib.md5(out.read_bytes()).hexdigest() == "5e11051d86c46ddc3500904c99bbe978"


def test_bad_inputs(tmp_path, snpp_dir, downlink):
    empty = tmp_path / "empty.cadu"
    empty.write_bytes(b"")
    assert_one_line_error(run("inspect", str(empty)), "empty")
    noasm = tmp_path / "noise.bin"
    noasm.write_bytes(bytes(range(256)) * 40)
    assert_one_line_error(run("inspect", str(noasm)), "sync marker")
    assert_one_line_error(run("inspect", str(tmp_path / "missing.cadu")), "does not exist")
    assert_one_line_error(run("inspect", str(downlink[0]), "--profile", "nosuchsat"), "nosuchsat", "vnredsat1")
    cadu = str(snpp_dir / "snpp_synchronized_cadus.dat")
    assert_one_line_error(run("inspect", cadu, "--profile", "snpp", "--input", "packets"), "CADU stream", "--input cadu")
    pk = tmp_path / "p.bin"
    assert run("packets", cadu, "--profile", "snpp", "--out", str(pk)).returncode == 0
    assert_one_line_error(run("inspect", str(pk), "--profile", "snpp"), "--input packets")
    assert_one_line_error(run("packets", cadu, "--out", str(pk)), "profile")  # --profile is required
