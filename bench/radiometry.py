"""Equalisation throughput (issue 4): DNs → radiance with the reference CPF.

In one run, over the same (lines × 1750) uint16 DN array of band B1 of the
reference CPF (``vnredsat1``), single-threaded NumPy:

- reference: plain NumPy ``a*b+c`` (``dns * inverse_gain + offset``, per-detector
  float32 vectors, result allocated);
- ``equalise``: :meth:`BandEqualiser.radiance` (temperature per line, dead
  detectors filled, lost lines → NaN), result allocated per call as in the
  Dask chain; ratio = its time / the reference's time (target ≤ 2);
- ``equalise_qa``: radiance + QA bitfield; ``equalise_chain``: radiance + QA +
  uint16 encoding + chunk statistics (everything the raw writer computes
  per block, without I/O);
- ``equalise_dask``: the whole lazy chain of one reference PAN scene
  (7000 × 7000: radiance counts, QA, chunk statistics, stored into NumPy
  arrays, no file I/O) computed by the Dask threaded scheduler on all cores
  (Mpx/s and Mpx/s per core).  The machine's load average is printed too:
  on a shared machine read the ratios, not the absolute rates.

Mpx/s = millions of pixels per second.  ``RSARCHIVE_BENCH_RADIOMETRY_LINES``
sets the lines of the NumPy array (default 4096, 7.2 Mpx).
"""

from __future__ import annotations

import os

import numpy as np

from bench._report import best_of, emit, measure


def _dns(cpf, band: str, lines: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from rsarchive.simulate.radiometer import forward_model

    rng = np.random.default_rng(seed)
    det = cpf.band(band).detectors
    radiance = rng.uniform(10.0, 300.0, (lines, det))
    temps = 21.5 + 0.004 * np.arange(lines) * cpf.band(band).line_period_s
    return forward_model(cpf, band, radiance, temps, rng.normal(0.0, 1.0, radiance.shape)), temps


def main() -> None:
    import dask
    import dask.array as da

    from rsarchive.cpf import load_cpf
    from rsarchive.radiometry import BandEqualiser, equalise_dask, radiance_encoding
    from rsarchive.raw.process import _chunk_stats

    cpf = load_cpf("vnredsat1")
    lines = int(os.environ.get("RSARCHIVE_BENCH_RADIOMETRY_LINES", "4096"))
    dns, temps = _dns(cpf, "B1", lines)
    flags = np.zeros(lines, dtype=np.uint8)
    flags[lines // 3] = 1
    eq = BandEqualiser(cpf, "B1")
    enc = radiance_encoding(cpf, "B1")
    a = eq.inverse_gain
    c = eq.offset(float(np.mean(temps)))
    mpx = dns.size / 1e6
    repeats = 7

    with measure() as m_ref:
        t_ref, _ = best_of(repeats, lambda: dns * a + c)
    with measure() as m_eq:
        t_eq, rad = best_of(repeats, lambda: eq.radiance(dns, temps, flags))
    t_qa, _ = best_of(repeats, lambda: (eq.radiance(dns, temps, flags), eq.quality(dns, flags)))

    def chain() -> np.ndarray:
        r = eq.radiance(dns, temps, flags)
        q = eq.quality(dns, flags)
        counts = enc.encode(r, inplace=True)
        return _chunk_stats(counts, q, enc.nodata)

    t_chain, _ = best_of(3, chain)
    emit("reference_a*b+c", mpx / t_ref, "Mpx/s")
    emit("equalise", mpx / t_eq, "Mpx/s", ratio=t_eq / t_ref, reference="a*b+c time")
    emit("equalise_qa", mpx / t_qa, "Mpx/s", ratio=t_qa / t_ref, reference="a*b+c time")
    emit("equalise_chain", mpx / t_chain, "Mpx/s", ratio=t_chain / t_ref, reference="a*b+c time")
    emit("equalise_peak_rss", max(m_eq.peak_rss_mb, m_ref.peak_rss_mb), "MB")
    assert np.isnan(rad[lines // 3]).all() and np.isfinite(rad[0]).all()

    # the lazy chain of one reference PAN scene, all cores: what the raw writer computes, stored in memory
    n = cpf.band("PAN").detectors
    pan_dns, pan_temps = _dns(cpf, "PAN", 512, seed=1)
    reps = n // 512 + 1
    big = np.concatenate([pan_dns] * reps)[:n]
    peq = BandEqualiser(cpf, "PAN")
    penc = radiance_encoding(cpf, "PAN")
    source = da.from_array(big, chunks=(512, n))
    counts, qa = equalise_dask(peq, source, np.tile(pan_temps, reps)[:n], np.zeros(n, np.uint8), encoding=penc)
    stats = da.map_blocks(_chunk_stats, counts, qa, nodata=0, dtype=np.float64,
                          chunks=((1,) * counts.numblocks[0], (9,)))
    sink_counts = np.empty(counts.shape, np.uint16)
    sink_qa = np.empty(qa.shape, np.uint16)
    store = da.store([counts, qa], [sink_counts, sink_qa], lock=False, compute=False)
    cores = os.cpu_count() or 1
    with measure() as m_dask:
        seconds, _ = best_of(3, lambda: dask.compute(store, stats, scheduler="threads"))
    rate = n * n / 1e6 / seconds
    emit("equalise_dask_pan_scene", rate, "Mpx/s", reference="")
    emit("equalise_dask_per_core", rate / cores, "Mpx/s/core", reference="")
    emit("equalise_dask_peak_rss", m_dask.peak_rss_mb, "MB")
    emit("load_average_1min", os.getloadavg()[0], "", reference="")
