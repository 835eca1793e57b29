"""``rsarchive simulate``: write simulated downlinks (and their truth) for tests, benchmarks and demos."""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path

import click

from rsarchive.cli.options import get_settings, show_progress
from rsarchive.errors import UsageError

command = click.Group("simulate", help="Simulate level-0 downlinks from a ground-truth scene.")

_NOMINAL_ALTITUDE_M = 680_000.0


def _parse_start(text: str | None) -> tuple[dt.datetime | None, dt.date | None]:
    """ISO 8601 date (pass time from the 10:30 descending node) or date-time (first line time, UTC)."""
    if text is None:
        return None, None
    value = text.strip()
    try:
        if "T" not in value and " " not in value:
            return None, dt.date.fromisoformat(value)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--start {text!r} is not an ISO 8601 date or date-time (e.g. 2026-03-15 or "
                         "2026-03-15T03:39:00Z)") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed, None


@command.command("downlink")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Downlink file to write (.cadu).")
@click.option("--scenes", default=1, show_default=True, type=int, help="Number of square scenes in the pass.")
@click.option("--cpf", "cpf", default="vnredsat1", show_default=True, help="CPF name (cpf/<name>.json of the site directory or the package) or a path.")
@click.option("--profile", default="vnredsat1", show_default=True, help="Mission profile name (missions/<name>.yaml) or path.")
@click.option("--truth-dir", type=click.Path(file_okay=False, path_type=Path), help="Where the truth goes [default: <out>.truth/].")
@click.option("--scene", "scene_path", type=click.Path(dir_okay=False, path_type=Path), help="Truth reflectance GeoTIFF instead of the procedural scene.")
@click.option("--uniform", is_flag=True, help="Uniform reflectance scene (striping tests).")
@click.option("--smooth", is_flag=True, help="Smoothly varying scene without edges.")
@click.option("--cloud-fraction", default=0.0, show_default=True, type=float, help="Fraction of the footprint under cloud (0 … <1).")
@click.option("--dem/--no-dem", default=False, show_default=True, help="Hilly terrain (truth DEM) under the scene.")
@click.option("--dem-max-height", default=1200.0, show_default=True, type=float, help="Highest terrain of the synthetic DEM (m).")
@click.option("--attitude-bias-m", default=0.0, show_default=True, type=float, help="Roll bias shifting the ground ≈ M metres across track.")
@click.option("--jitter-rad", default=0.0, show_default=True, type=float, help="Jitter amplitude (rad) on roll and pitch.")
@click.option("--jitter-hz", default=0.0, show_default=True, type=float, help="Jitter frequency (Hz).")
@click.option("--noise/--no-noise", default=False, show_default=True, help="Add Gaussian detector noise.")
@click.option("--noise-dn", default=1.5, show_default=True, type=float, help="Noise standard deviation (DN) with --noise.")
@click.option("--start", "start", help="ISO 8601: a date (pass at the 10:30 node) or the UTC time of the first line.")
@click.option("--lat", "lat", default=21.03, show_default=True, type=float, help="Latitude the pass is centred on.")
@click.option("--lon", "lon", default=105.85, show_default=True, type=float, help="Longitude the pass is centred on.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the scene, noise and impairments.")
@click.option("--truth-radiance", is_flag=True, help="Also write the truth radiance per band (lines × detectors).")
@click.option("--truth-dn", is_flag=True, help="Also write the DNs per band (lines × detectors).")
@click.option("--bit-errors", default=0, type=int, help="Frames with flipped bits (bad FECF).")
@click.option("--dropped-frames", default=0, type=int, help="Frames left out.")
@click.option("--slips", default=0, type=int, help="Bytes inserted or deleted between/inside CADUs.")
@click.option("--duplicated-packets", default=0, type=int, help="Packets written twice.")
@click.option("--leading-garbage", default=0, type=int, help="Random bytes before the first CADU.")
@click.option("--truncate", "truncate_bytes", default=0, type=int, help="Bytes cut from the end.")
@click.option("--idle-frames", default=0, type=int, help="Idle frames (VC 63) interleaved.")
@click.pass_context
def downlink(ctx: click.Context, out: Path, scenes: int, cpf: str, profile: str, truth_dir: Path | None,
             scene_path: Path | None, uniform: bool, smooth: bool, cloud_fraction: float, dem: bool,
             dem_max_height: float, attitude_bias_m: float, jitter_rad: float, jitter_hz: float, noise: bool,
             noise_dn: float, start: str | None, lat: float, lon: float, seed: int, truth_radiance: bool,
             truth_dn: bool, bit_errors: int, dropped_frames: int, slips: int, duplicated_packets: int,
             leading_garbage: int, truncate_bytes: int, idle_frames: int) -> None:
    """Write a simulated downlink OUT and its truth (truth.tif, truth.json …)."""
    from tqdm import tqdm

    from rsarchive.simulate.attitude import Jitter
    from rsarchive.simulate.downlink import SimulationConfig, simulate_downlink
    from rsarchive.simulate.scene import SceneSpec

    if sum([uniform, smooth, scene_path is not None]) > 1:
        raise UsageError("choose at most one of --scene, --uniform and --smooth")
    if scenes < 1:
        raise UsageError(f"--scenes must be ≥ 1, got {scenes}")
    if not math.isfinite(attitude_bias_m) or abs(attitude_bias_m) > 5000:
        raise UsageError(f"--attitude-bias-m must be within ±5000 m, got {attitude_bias_m}")
    if (jitter_rad == 0) != (jitter_hz == 0):
        raise UsageError("--jitter-rad and --jitter-hz go together (both non-zero)")
    impairments = {"bit_errors": bit_errors, "dropped_frames": dropped_frames, "slips": slips,
                   "duplicated_packets": duplicated_packets, "leading_garbage": leading_garbage,
                   "truncate_bytes": truncate_bytes, "idle_frames": idle_frames}
    negative = [k for k, v in impairments.items() if v < 0]
    if negative:
        raise UsageError(f"impairment counts must be ≥ 0: {', '.join(negative)}")
    start_time, start_date = _parse_start(start)
    kind = "geotiff" if scene_path else "uniform" if uniform else "smooth" if smooth else "procedural"
    scene = SceneSpec(kind=kind, path=str(scene_path) if scene_path else None, cloud_fraction=cloud_fraction,
                      dem=dem, dem_max_height_m=dem_max_height)
    jitter = ()
    if jitter_rad:
        jitter = (Jitter("roll", jitter_rad, jitter_hz), Jitter("pitch", jitter_rad, jitter_hz, math.pi / 2))
    config = SimulationConfig(
        scenes=scenes, cpf=cpf, profile=profile, start=start_time,
        **({"date": start_date} if start_date else {}),
        target_lat=lat, target_lon=lon, scene=scene,
        attitude_bias_rad=(attitude_bias_m / _NOMINAL_ALTITUDE_M, 0.0, 0.0), jitter=jitter,
        noise_dn=noise_dn if noise else 0.0, seed=seed, impairments={k: v for k, v in impairments.items() if v},
        write_truth_radiance=truth_radiance, write_truth_dn=truth_dn, config_dir=get_settings(ctx).site_dir,
    )
    truth_dir = truth_dir or out.with_name(out.name + ".truth")
    from rsarchive.cpf import load_cpf

    cal = load_cpf(cpf, config.config_dir)
    ref = cal.bands[0]
    per_scene = sum(round(ref.detectors * ref.line_period_s / b.line_period_s) for b in cal.bands)
    with tqdm(total=per_scene * scenes, unit="line", desc="simulate", disable=not show_progress(ctx),
              file=sys.stderr) as bar:
        result = simulate_downlink(config, out, truth_dir, progress=bar.update)
    size = result.truth["downlink"]["bytes"]
    click.echo(f"wrote {out} ({size / 1e6:.1f} MB, {scenes} scene(s)); truth in {truth_dir}")
