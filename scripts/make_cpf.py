#!/usr/bin/env python3
"""Generate the archive's reference CPFs deterministically (seeded).

    .venv/bin/python scripts/make_cpf.py            # writes src/rsarchive/data/cpf/vnredsat1.json and -small.json
    .venv/bin/python scripts/make_cpf.py --check    # fails if the committed files differ

Optics: f = 1.3 m, multispectral pitch chosen for a 10 m GSD from 680 km
(p = 10 · f / 680 km), panchromatic pitch a quarter; line periods so that
pixels are square at the ≈ 6.8 km/s ground-track speed of a 680 km orbit.
Each band looks slightly fore or aft (along-track angle), so bands see the
same ground at slightly different times.  Per-detector dark (≈ 80–120 DN) and
relative gain (a few percent, with smooth and random parts, so level-0 shows
striping), a few dead detectors, saturation 4095.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ALTITUDE_M = 680_000.0
FOCAL_M = 1.3
MS_GSD_M = 10.0
MS_PITCH_M = MS_GSD_M * FOCAL_M / ALTITUDE_M
MS_LINE_PERIOD_S = 0.00147
# name, common name, centre µm, FWHM µm, ESUN W m-2 µm-1, along-track angle rad, gain DN/(W m-2 sr-1 µm-1), k DN/°C
BANDS = [
    ("B1", "blue", 0.485, 0.07, 1958.0, +0.00090, 7.0, 0.40),
    ("B2", "green", 0.560, 0.08, 1823.0, +0.00030, 7.5, 0.35),
    ("B3", "red", 0.660, 0.06, 1551.0, -0.00030, 8.8, 0.45),
    ("B4", "nir", 0.830, 0.12, 1044.0, -0.00090, 12.5, 0.50),
    ("PAN", "pan", 0.600, 0.30, 1623.0, 0.0, 8.4, 0.30),
]


def make(ms_detectors: int, version: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    bands = []
    for band_id, (name, common, centre, fwhm, esun, along, gain, k) in enumerate(BANDS):
        pan = name == "PAN"
        n = ms_detectors * 4 if pan else ms_detectors
        x = np.linspace(-1.0, 1.0, n)
        dark = 100.0 + 6.0 * np.sin(3.0 * x + band_id) + rng.normal(0.0, 5.0, n)
        dark = np.clip(dark, 80.0, 120.0)
        # relative gain: a smooth vignetting-like trend + per-detector scatter (few %), mean 1
        rel = 1.0 - 0.015 * x**2 + rng.normal(0.0, 0.02, n)
        rel /= rel.mean()
        dead = sorted(int(v) for v in rng.choice(np.arange(2, n - 2), size=3 if not pan else 5, replace=False))
        bands.append({
            "id": band_id, "name": name, "common_name": common, "center_um": centre, "fwhm_um": fwhm,
            "detectors": n, "pitch_m": MS_PITCH_M / 4 if pan else MS_PITCH_M, "along_track_rad": along,
            "line_period_s": MS_LINE_PERIOD_S / 4 if pan else MS_LINE_PERIOD_S, "esun": esun, "gain": gain,
            "dark_temp_coeff": k, "saturation": 4095,
            "dark": [round(float(v), 3) for v in dark],
            "relative_gain": [round(float(v), 6) for v in rel],
            "dead": dead,
        })
    return {
        "cpf_version": version, "mission": "vnredsat1", "focal_length_m": FOCAL_M, "t_ref_c": 20.0,
        "boresight_rad": [2.0e-5, -1.5e-5, 3.0e-5],
        "bands": bands,
    }


def render(data: dict) -> str:
    return json.dumps(data, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "src" / "rsarchive" / "data" / "cpf")
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing")
    args = parser.parse_args(argv)
    outputs = {
        "vnredsat1.json": make(1750, "VNR1-2026.1", seed=20260101),
        "vnredsat1-small.json": make(256, "VNR1-SMALL-2026.1", seed=20260102),
    }
    status = 0
    for name, data in outputs.items():
        path = args.out_dir / name
        text = render(data)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                sys.stderr.write(f"{path} differs from what scripts/make_cpf.py generates\n")
                status = 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
