"""Equalisation on arrays: the inverse model, temperature, dead detectors, QA, Dask, CPF errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rsarchive.cpf import load_cpf, parse_cpf
from rsarchive.errors import CalibrationError
from rsarchive.radiometry import (
    QA_ANCILLARY,
    QA_FILLED,
    QA_LOST,
    QA_NODATA,
    QA_SATURATED,
    BandEqualiser,
    equalise_dask,
    line_temperatures,
)
from rsarchive.simulate.radiometer import forward_model


def _radiance(lines: int, detectors: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(30.0, 400.0, (lines, detectors))


def test_inverse_model_recovers_radiance_with_temperature_drift(cpf) -> None:  # type: ignore[no-untyped-def]
    band = cpf.band("B3")
    truth = _radiance(300, band.detectors)
    temps = np.linspace(15.0, 35.0, 300)  # 20 °C of drift: 9 DN of dark shift
    dns = forward_model(cpf, band, truth, temps)
    eq = BandEqualiser(cpf, band)
    good = ~band.dead_mask
    rel = eq.radiance(dns, temps)[:, good] / truth[:, good] - 1.0
    # only the DN rounding is left: ±0.5 DN / (G r L)
    bound = 0.5 / (band.gain * band.relative_gain[good] * truth[:, good]) + 1e-6
    assert np.all(np.abs(rel) <= bound)
    # and the temperature correction matters: ignoring it is ~10× worse
    rel_no_t = eq.radiance(dns)[:, good] / truth[:, good] - 1.0
    assert np.sqrt(np.mean(rel_no_t**2)) > 5 * np.sqrt(np.mean(rel**2))


def test_temperature_runs_stay_within_tolerance(cpf) -> None:  # type: ignore[no-untyped-def]
    band = cpf.band("B1")
    eq = BandEqualiser(cpf, band, tolerance_dn=0.01)
    temps = np.linspace(20.0, 21.0, 400)
    dns = np.full((400, band.detectors), 1000, dtype=np.uint16)
    got = eq.radiance(dns, temps)
    a = 1.0 / (band.gain * band.relative_gain)
    exact = (1000 - band.dark - band.dark_temp_coeff * (temps[:, None] - cpf.t_ref_c)) * a
    live = ~band.dead_mask
    assert np.max(np.abs(got[:, live] - exact[:, live]) / a[live]) <= 0.01 + 1e-3  # ≤ tolerance in DN
    assert len(eq._runs(temps, 400)) > 1 and len(eq._runs(np.full(400, 20.3), 400)) == 1


def test_dead_detectors_interpolated_and_flagged() -> None:
    data = json.loads(Path(load_cpf("vnredsat1-small").source).read_text())
    band = data["bands"][0]
    band["dead"] = [0, 10, 11, 12, 255]        # an edge, a run of three, the other edge
    cpf = parse_cpf(data)
    cal = cpf.band("B1")
    ramp = np.linspace(50.0, 300.0, cal.detectors)[None, :].repeat(20, axis=0)
    dns = forward_model(cpf, cal, ramp, 20.0)
    eq = BandEqualiser(cpf, cal)
    rad = eq.radiance(dns)
    # linear across detectors → interpolation exact (up to the DN rounding of the neighbours)
    np.testing.assert_allclose(rad[:, 10:13], ramp[:, 10:13], rtol=3e-3)
    np.testing.assert_allclose(rad[:, 0], rad[:, 1])       # edge: copied from the only neighbour
    np.testing.assert_allclose(rad[:, 255], rad[:, 254])
    qa = eq.quality(dns)
    assert np.all(qa[:, [0, 10, 11, 12, 255]] == QA_FILLED)
    assert np.all(np.delete(qa, [0, 10, 11, 12, 255], axis=1) == 0)


def test_quality_bits_saturated_lost_degraded(cpf) -> None:  # type: ignore[no-untyped-def]
    cal = cpf.band("B2")
    eq = BandEqualiser(cpf, cal)
    dns = forward_model(cpf, cal, _radiance(8, cal.detectors), 20.0)
    dns[2, 100] = cal.saturation
    dead = cal.dead[0]
    dns[3, dead + 1] = cal.saturation     # a saturated neighbour taints the filled value
    flags = np.array([0, 0, 0, 0, 1, 2, 0, 0], dtype=np.uint8)
    degraded = np.array([0, 0, 0, 0, 0, 0, 1, 0], dtype=bool)
    qa = eq.quality(dns, flags, degraded)
    rad = eq.radiance(dns, None, flags)
    assert qa[2, 100] == QA_SATURATED
    assert qa[3, dead] == QA_FILLED | QA_SATURATED
    assert np.all(qa[4] == QA_NODATA | QA_LOST) and np.all(qa[5] == QA_NODATA | QA_LOST)
    assert np.all(np.isnan(rad[4:6])) and np.all(np.isfinite(rad[[0, 1, 2, 3, 6, 7]]))
    assert np.all(qa[6] & QA_ANCILLARY) and not np.any(qa[7] & QA_ANCILLARY)
    assert qa.dtype == np.uint16


def test_line_temperatures_interpolate_and_flag_gaps() -> None:
    t0 = np.datetime64("2026-03-15T03:39:00", "ns")
    sec = np.timedelta64(1_000_000_000, "ns")
    hk_t = t0 + np.array([0, 1, 2, 3, 8, 9]) * sec            # samples 4–7 lost
    hk_v = np.array([20.0, 21.0, 22.0, 23.0, 28.0, 29.0])
    lines = t0 + np.array([500_000_000, 2_250_000_000, 5_000_000_000, 12_000_000_000]) * np.timedelta64(1, "ns")
    lines = np.append(lines, np.datetime64("NaT"))
    temps, degraded = line_temperatures(lines, hk_t, hk_v)
    np.testing.assert_allclose(temps[:3], [20.5, 22.25, 25.0])
    assert temps[3] == 29.0 and np.isnan(temps[4])
    assert degraded.tolist() == [False, False, True, True, False]
    none, all_bad = line_temperatures(lines, hk_t[:0], hk_v[:0])
    assert np.isnan(none[:4]).all() and all_bad[:4].all()


def test_dask_is_lazy_and_matches_numpy(cpf) -> None:  # type: ignore[no-untyped-def]
    import dask
    import dask.array as da

    from rsarchive.radiometry import radiance_encoding

    cal = cpf.band("PAN")
    dns = forward_model(cpf, cal, _radiance(1000, cal.detectors, 1), 21.0)
    temps = np.linspace(21.0, 21.5, 1000)
    flags = np.zeros(1000, np.uint8)
    flags[700:710] = 1
    eq = BandEqualiser(cpf, cal)
    calls = []

    def counting(dsk, keys, **kw):  # type: ignore[no-untyped-def]
        calls.append(1)
        return dask.get(dsk, keys, **kw)

    with dask.config.set(scheduler=counting):
        rad, qa = equalise_dask(eq, da.from_array(dns, chunks=(256, 512)), temps, flags)
        enc = radiance_encoding(cpf, cal)
        counts, _ = equalise_dask(eq, da.from_array(dns, chunks=(256, 512)), temps, flags, encoding=enc)
        assert calls == []   # building graphs computes nothing
        r, q, c = dask.compute(rad, qa, counts)
    assert len(calls) == 1
    # block by block (the temperature runs follow the blocks): identical to NumPy on the same blocks
    blocks = [slice(i, min(i + 256, 1000)) for i in range(0, 1000, 256)]
    expected = np.concatenate([eq.radiance(dns[b], temps[b], flags[b]) for b in blocks])
    np.testing.assert_array_equal(r, expected)
    np.testing.assert_array_equal(q, eq.quality(dns, flags))
    np.testing.assert_array_equal(c, enc.encode(expected))
    # and over the whole array to within the temperature tolerance (2 × 0.01 DN)
    whole = eq.radiance(dns, temps, flags)
    ok = np.isfinite(whole)
    assert np.max(np.abs(r[ok] - whole[ok])) <= 0.02 * float(eq.inverse_gain.max()) + 1e-4


def test_detector_count_mismatch_is_a_calibration_error(cpf) -> None:  # type: ignore[no-untyped-def]
    eq = BandEqualiser(cpf, "B1")
    with pytest.raises(CalibrationError, match="256 detectors.*300 pixels"):
        eq.radiance(np.zeros((4, 300), np.uint16))


@pytest.mark.parametrize("field", ["dark", "relative_gain", "gain", "esun"])
def test_non_finite_cpf_values_are_rejected(tmp_path: Path, field: str) -> None:
    data = json.loads(Path(load_cpf("vnredsat1-small").source).read_text())
    if field in ("dark", "relative_gain"):
        data["bands"][2][field][7] = float("nan")
    else:
        data["bands"][2][field] = float("inf")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))  # Python writes NaN/Infinity, as a careless tool would
    with pytest.raises(CalibrationError, match=f"band B3.*{field}.*(finite|non-finite)"):
        load_cpf(path)
