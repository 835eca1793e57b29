"""The raw level end to end, against the simulator's truth: radiance, striping, dead detectors,
COGs and their scale/offset, metadata, one compute per scene, bad input, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rsarchive.errors import CalibrationError
from rsarchive.radiometry import QA_FILLED, QA_LOST, QA_NODATA
from rsarchive.testing.gdal_reference import validate_cog
from tests.radiometry.conftest import raw_of, read_band

BANDS = ("B1", "B2", "B3", "B4", "PAN")


def _radiance(scene_dir: Path, band: str) -> tuple[np.ndarray, dict]:
    meta = json.loads((scene_dir / "metadata.json").read_text())
    entry = next(b for b in meta["bands"] if b["name"] == band)
    counts, info = read_band(scene_dir / entry["file"])
    radiance = counts * entry["scale"] + entry["offset"]
    radiance[counts == entry["nodata"]] = np.nan
    return radiance, entry


def test_radiance_within_half_a_percent_rms_of_truth(clean_sim, clean_raw) -> None:  # type: ignore[no-untyped-def]
    assert len(clean_raw.written) == 2 and not clean_raw.skipped
    for band in BANDS:
        truth = clean_sim.truth_array("radiance", band)
        got = np.concatenate([_radiance(s.path, band)[0] for s in clean_raw.written])
        dead = list(clean_sim.cpf.band(band).dead)
        measured = np.delete(got, dead, axis=1)          # filled detectors are estimates: next test
        rel = measured / np.delete(truth, dead, axis=1) - 1.0
        rms = float(np.sqrt(np.mean(rel**2)))
        assert rms <= 0.005, f"{band}: {rms:.4%} RMS"
        assert rms > 0                                    # DN rounding is really there


def test_no_residual_striping_on_a_uniform_scene(uniform_sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (scene,) = raw_of(uniform_sim, tmp_path).written
    for band in BANDS:
        cal = uniform_sim.cpf.band(band)
        live = ~cal.dead_mask
        dn_cols = uniform_sim.truth_array("dn", band).astype(np.float64).mean(axis=0)[live]
        dn_signal = dn_cols - cal.dark[live]
        level0_striping = dn_signal.std() / dn_signal.mean()
        radiance, _ = _radiance(scene.path, band)
        cols = radiance.mean(axis=0)                     # filled detectors included
        striping = cols.std() / cols.mean()
        assert level0_striping > 0.01, f"{band}: level-0 striping only {level0_striping:.3%}"
        assert striping <= 0.001, f"{band}: {striping:.4%} residual striping"


def test_dead_detectors_filled_within_2_percent_and_flagged(smooth_sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (scene,) = raw_of(smooth_sim, tmp_path).written
    meta = json.loads((scene.path / "metadata.json").read_text())
    for band in BANDS:
        cal = smooth_sim.cpf.band(band)
        dead = list(cal.dead)
        truth = smooth_sim.truth_array("radiance", band)
        radiance, entry = _radiance(scene.path, band)
        err = np.abs(radiance[:, dead] / truth[:, dead] - 1.0)
        assert err.max() <= 0.02, f"{band}: filled error up to {err.max():.2%}"
        qa, _ = read_band(scene.path / entry["qa"]["file"], entry["qa"]["band"])
        assert np.all(qa[:, dead] & QA_FILLED)
        assert not np.any(np.delete(qa, dead, axis=1) & QA_FILLED)
        assert entry["dead_detectors"] == dead
        assert entry["statistics"]["filled_percent"] == pytest.approx(100 * len(dead) / cal.detectors)
    assert meta["notes"] == []


def test_cogs_scale_offset_match_metadata_and_validate(clean_sim, clean_raw) -> None:  # type: ignore[no-untyped-def]
    scene = clean_raw.written[0]
    meta = json.loads((scene.path / "metadata.json").read_text())
    assert meta == json.loads(json.dumps(scene.metadata.to_dict()))
    assert meta["cpf"]["version"] == clean_sim.cpf.version
    files = sorted(p.name for p in scene.path.iterdir())
    assert files == sorted([f"{b}.tif" for b in BANDS] + ["QA.tif", "QA_PAN.tif", "metadata.json"])
    for path in scene.path.glob("*.tif"):
        valid, errors, warnings = validate_cog(path)
        assert valid and not errors, (path.name, errors, warnings)
        _, info = read_band(path)
        assert info["tags"]["CPF_VERSION"] == clean_sim.cpf.version and info["tags"]["SCENE_ID"] == scene.scene_id
    truth = clean_sim.truth_array("radiance", "B4")[:256]
    for entry in meta["bands"]:
        counts, info = read_band(scene.path / entry["file"])
        assert (info["scale"], info["offset"], info["nodata"]) == (entry["scale"], entry["offset"], entry["nodata"])
        assert info["units"] == entry["units"] == "W m-2 sr-1 um-1"
        assert counts.dtype == np.uint16 and entry["data_type"] == "uint16"
        assert info["band_tags"]["CENTER_WAVELENGTH_UM"] == str(entry["center_wavelength_um"])
        radiance = counts * info["scale"] + info["offset"]
        stats = entry["statistics"]
        assert stats["minimum"] == pytest.approx(radiance.min()) and stats["maximum"] == pytest.approx(radiance.max())
        assert stats["mean"] == pytest.approx(radiance.mean(), rel=1e-9)
        assert stats["stddev"] == pytest.approx(radiance.std(), rel=1e-6)
        if entry["name"] == "B4":   # reading back pixels and applying scale/offset gives the radiance
            live = np.delete(np.arange(256), entry["dead_detectors"])
            np.testing.assert_allclose(radiance[:, live], truth[:, live], rtol=0.01, atol=0.02)
    assert [q["bands"] for q in meta["qa"]["files"]] == [["B1", "B2", "B3", "B4"], ["PAN"]]


def test_qa_overviews_never_average(clean_raw, clean_sim) -> None:  # type: ignore[no-untyped-def]
    import warnings

    import rasterio

    scene = clean_raw.written[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sensor geometry: no georeference
        with rasterio.open(scene.path / "QA_PAN.tif") as ds:
            assert ds.overviews(1) == [2]
            full = ds.read(1)
            overview = ds.read(1, out_shape=(ds.height // 2, ds.width // 2))
    # PAN dead detector 293 is odd: a 2 × 2 average of 0 and 4 would give 2 ("lost"), mode keeps 0 or 4
    assert 293 in clean_sim.cpf.band("PAN").dead
    assert set(np.unique(overview)) <= set(np.unique(full)) == {0, QA_FILLED}


def test_one_compute_per_scene(clean_raw) -> None:  # type: ignore[no-untyped-def]
    assert clean_raw.computes == len(clean_raw.written) == 2


def test_metadata_for_the_catalog_and_geometry(clean_sim, clean_raw) -> None:  # type: ignore[no-untyped-def]
    from rsarchive.radiometry import solar_angles

    for k, scene in enumerate(clean_raw.written):
        meta = scene.metadata.to_dict()
        truth = clean_sim.truth["scenes"][k]
        assert meta["scene_index"] == k and scene.scene_id.endswith(f"_{k:03d}")
        assert meta["downlink"]["sha256"][:8] == meta["pass_id"][1:]
        for entry in meta["bands"]:
            tb = truth["bands"][entry["name"]]
            assert (entry["lines"]["first"], entry["lines"]["last"]) == (tb["first_line"], tb["last_line"])
            assert entry["level0"] == {"lines": tb["lines"], "lines_valid": tb["lines"], "lines_missing": 0,
                                       "lines_unreadable": 0}
            # CUC time codes have a 1/65536 s resolution
            assert abs(np.datetime64(entry["start_utc"][:-1]) - np.datetime64(tb["start_utc"][:-1])) \
                < np.timedelta64(16, "us")
        eph = meta["ancillary"]["ephemeris"]
        assert eph["time"][0] < meta["start_utc"] and eph["time"][-1] > meta["end_utc"] and len(eph["time"]) >= 4
        assert len(meta["ancillary"]["attitude"]["quaternion"]) >= 40
        # centre and sun: the true location of the same pixel, and its sun angles
        geo, sun = meta["geometry"], meta["sun"]
        ref = meta["reference_band"]
        cal = clean_sim.cpf.band(ref)
        t = np.datetime64(meta["centre_utc"][:-1], "ns")
        true = clean_sim.sensor_model.locate(ref, np.array([t]), np.array([(cal.detectors - 1) / 2]))
        assert geo["centre_lat"] == pytest.approx(float(true.lat[0, 0]), abs=1e-4)
        assert geo["centre_lon"] == pytest.approx(float(true.lon[0, 0]), abs=1e-4)
        zen, azi = solar_angles(t, true.lat[0, 0], true.lon[0, 0])
        assert sun["zenith_deg"] == pytest.approx(float(zen), abs=1e-3)
        assert sun["azimuth_deg"] == pytest.approx(float(azi), abs=1e-3)
        assert abs(sun["zenith_deg"] - truth["sun_zenith_deg"]) < 0.05
        ring = geo["footprint"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) == 11
        assert meta["level0_quality"]["bands"]["B1"]["lines_decoded"] == 512


def test_lost_lines_nodata_and_scene_without_lines_skipped(gappy_downlink, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from rsarchive.raw import process_raw

    path, lost = gappy_downlink
    result = process_raw(path, "vnredsat1-small", tmp_path, pass_id="test")
    assert [s.index for s in result.scenes] == [0, 1, 2]
    assert [s.skipped for s in result.scenes] == [False, True, False]
    assert "no valid lines" in result.scenes[1].reason
    assert not (tmp_path / result.scenes[1].scene_id).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [result.scenes[0].scene_id, result.scenes[2].scene_id]
    scene = result.scenes[0].path
    for band, rows in lost.items():
        radiance, entry = _radiance(scene, band)
        qa, _ = read_band(scene / entry["qa"]["file"], entry["qa"]["band"])
        rows = list(rows)
        assert np.all(np.isnan(radiance[rows])) and np.all(qa[rows] == QA_NODATA | QA_LOST)
        others = np.delete(np.arange(radiance.shape[0]), rows)
        assert np.all(np.isfinite(radiance[others])) and not np.any(qa[others] & QA_NODATA)
        assert entry["level0"]["lines_missing"] == len(rows)
        assert entry["statistics"]["nodata_percent"] == pytest.approx(100 * len(rows) / radiance.shape[0])
    assert result.scenes[2].metadata.to_dict()["bands"][0]["lines"]["first"] == 512


def _edited_cpf(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    from rsarchive.cpf import load_cpf

    data = json.loads(Path(load_cpf("vnredsat1-small").source).read_text())
    edit(data)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    return path


def test_cpf_downlink_mismatches_are_clear_errors(clean_sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from rsarchive.raw import process_raw

    def more_detectors(d):  # type: ignore[no-untyped-def]
        b = d["bands"][1]
        b["detectors"] = 300
        b["dark"] += b["dark"][:44]
        b["relative_gain"] += b["relative_gain"][:44]

    def extra_band(d):  # type: ignore[no-untyped-def]
        d["bands"].append({**d["bands"][3], "id": 7, "name": "SWIR", "common_name": "swir16", "center_um": 1.6})

    def no_pan(d):  # type: ignore[no-untyped-def]
        d["bands"] = d["bands"][:4]

    cases = [(more_detectors, r"band B2 has 300 detectors but the downlink .* has 256 pixels"),
             (extra_band, r"SWIR \(id 7\) of CPF .* missing from the downlink"),
             (no_pan, r"has no band id 4 \(PAN\)")]
    for k, (edit, message) in enumerate(cases):
        with pytest.raises(CalibrationError, match=message):
            process_raw(clean_sim.downlink, _edited_cpf(tmp_path / str(k), edit), tmp_path / f"out{k}")
        assert not any(p.name.startswith(".spool") for p in (tmp_path / f"out{k}").iterdir())


def test_cli_process_raw(clean_sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from rsarchive.cli.main import cli

    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(cli, ["process", "raw", str(clean_sim.downlink), "--cpf", "vnredsat1-small",
                              "--out", str(out), "--pass-id", "HN42"])
    assert res.exit_code == 0, res.output
    dirs = sorted(p.name for p in out.iterdir())
    assert len(dirs) == 2 and all("_HN42_" in d for d in dirs)
    assert [line for line in res.stdout.splitlines() if line] == [str(out / d) for d in dirs]
    for d in dirs:
        assert (out / d / "metadata.json").is_file() and (out / d / "QA.tif").is_file()
    bad = _edited_cpf(tmp_path, lambda d: d["bands"].pop())
    res = runner.invoke(cli, ["process", "raw", str(clean_sim.downlink), "--cpf", str(bad), "--out",
                              str(tmp_path / "bad")])
    assert isinstance(res.exception, CalibrationError)


def test_raw_metadata_model_reads_back_and_product_stage_checks_format(clean_raw, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``metadata.json`` of a raw scene is the stage's typed model, read back equal; a directory
    whose metadata is of another format or does not fit the model is refused by name."""
    from rsarchive.errors import UsageError
    from rsarchive.raw.metadata import RawSceneMetadata, read_raw_metadata

    scene = clean_raw.written[0]
    assert read_raw_metadata(scene.path) == scene.metadata
    assert isinstance(scene.metadata, RawSceneMetadata) and scene.metadata.bands[0].rpc is not None
    data = json.loads((scene.path / "metadata.json").read_text())
    (tmp_path / "metadata.json").write_text(json.dumps({**data, "format": "rsarchive-raw/0"}))
    with pytest.raises(UsageError, match="expected rsarchive-raw/1"):
        read_raw_metadata(tmp_path)
    (tmp_path / "metadata.json").write_text(json.dumps({**data, "temperature": {"t_ref_c": "warm"}}))
    with pytest.raises(UsageError, match=r"temperature\.t_ref_c"):
        read_raw_metadata(tmp_path)
