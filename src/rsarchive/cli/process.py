"""``rsarchive process``: make processing levels from a downlink.

``process raw`` makes the raw level (L1A) of a downlink; ``process product`` the
image product (L2A) of a raw scene.  Each level is one sub-command of this group,
defined by a function below that only parses options and calls the library.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rsarchive.threads import ThreadBudget

command = click.Group("process", help="Make processing levels (raw = L1A, product = L2A) from level-0 downlinks and raw scenes.")


def _config_dir() -> Path | None:
    from rsarchive.cli.options import get_settings

    return get_settings().site_dir


def _budget() -> ThreadBudget:
    from rsarchive.cli.options import get_settings
    from rsarchive.threads import ThreadBudget

    return ThreadBudget.from_settings(get_settings())


def _progress_enabled() -> bool:
    from rsarchive.cli.options import show_progress

    return show_progress()


@command.command("raw")
@click.argument("downlink", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--cpf", "cpf_name", required=True,
              help="Calibration parameter file: a name in cpf/ of the site directory or the package (e.g. vnredsat1) or a path to a CPF JSON.")
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Output directory: one sub-directory per scene (<scene-id>/).")
@click.option("--profile", "profile_name", default="vnredsat1", show_default=True,
              help="Mission profile name (missions/<name>.yaml) or path.")
@click.option("--pass-id", default=None,
              help="Station pass id used in scene ids (default: h + 8 hex digits of the downlink's SHA-256).")
@click.option("--overwrite", is_flag=True, help="Replace scene directories that exist already.")
def raw_cmd(downlink: Path, cpf_name: str, out: Path, profile_name: str, pass_id: str | None,
            overwrite: bool) -> None:
    """Make the raw level (L1A) of DOWNLINK: per scene, a radiance COG per band, QA COG(s), metadata.json."""
    from tqdm import tqdm

    from rsarchive.cpf import load_cpf
    from rsarchive.level0.profiles import load_profile
    from rsarchive.raw.process import RawProcessor

    config_dir = _config_dir()
    cpf = load_cpf(cpf_name, config_dir)
    profile = load_profile(profile_name, config_dir)
    show = _progress_enabled()
    written = skipped = 0
    with RawProcessor(downlink, cpf, out, profile=profile, pass_id=pass_id, config_dir=config_dir,
                      overwrite=overwrite, threads=_budget()) as proc:
        size = downlink.stat().st_size if downlink.is_file() else None
        with tqdm(total=size, unit="B", unit_scale=True, desc="decode", disable=not show, file=sys.stderr) as bar:
            proc.decode(progress=bar.update)
        spans = proc.scenes()
        with tqdm(spans, unit="scene", desc="raw", disable=not show, file=sys.stderr) as bar:
            for span in bar:
                bar.set_postfix_str(proc.scene_id(span.index))
                result = proc.process_scene(span)
                if result.skipped:
                    skipped += 1
                    click.echo(f"rsarchive: warning: scene {result.scene_id} skipped: {result.reason}", err=True)
                else:
                    written += 1
                    click.echo(str(result.path))
    click.echo(f"{written} scene(s) written to {out}, {skipped} skipped (CPF {cpf.version})", err=True)


@command.command("product")
@click.argument("raw_scene", type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Output directory: the product goes to <out>/<scene-id>/.")
@click.option("--dem", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="DEM GeoTIFF (heights above the WGS84 ellipsoid, any CRS); default: the ellipsoid.")
@click.option("--reference", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Reference orthoimage GeoTIFF: GCP refinement and the measured accuracy.")
@click.option("--no-refine", is_flag=True, help="Measure against --reference but do not correct the model.")
@click.option("--affine", is_flag=True, help="Affine image-space correction (default: bias) when GCPs allow.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads (default: the setting `threads`; 0 there = all cores).")
@click.option("--overwrite", is_flag=True, help="Replace the product directory if it exists.")
def product_cmd(raw_scene: Path, out: Path, dem: Path | None, reference: Path | None, no_refine: bool,
                affine: bool, threads: int | None, overwrite: bool) -> None:
    """Make the image product (L2A) of RAW_SCENE: TOA reflectance COGs in UTM, QA, thumbnail, metadata.json."""

    from rsarchive.product.process import ProductOptions, process_product

    options = ProductOptions(refine=not no_refine, affine=affine, threads=threads or _budget().cpu)
    result = process_product(raw_scene, out, dem=dem, reference=reference, options=options,
                             config_dir=_config_dir(), overwrite=overwrite)
    meta = result.metadata
    for text in meta.warnings:
        click.echo(f"rsarchive: warning: {text}", err=True)
    geo = meta.accuracy.geolocation
    accuracy = f"RMSE {geo.rmse_m:.2f} m" if geo is not None and geo.rmse_m is not None else "accuracy not measured"
    click.echo(str(result.path))
    click.echo(f"product {meta.product_id}: {meta.refinement}, {accuracy}, cloud "
               f"{meta.eo_cloud_cover} % (class {meta.cloud.class_}){', DEGRADED' if meta.degraded else ''}",
               err=True)
