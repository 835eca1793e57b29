"""``rsarchive cube``: an analysis-ready cube from the STAC API to a Zarr or netCDF file."""

from __future__ import annotations

from pathlib import Path

import click

from rsarchive.cli.options import get_settings, show_progress


@click.command("cube")
@click.option("--collection", default="vnredsat1-product", show_default=True, help="STAC collection id.")
@click.option("--bbox", required=True, help="W,S,E,N in degrees.")
@click.option("--datetime", "when", default=None, help="STAC datetime: A, A/B, A/.. or ../B (ISO 8601).")
@click.option("--bands", default="red,nir", show_default=True,
              help="Comma-separated asset keys (B1…B4, PAN) or common names (blue, green, red, nir, pan).")
@click.option("--resolution", type=float, default=10.0, show_default=True, help="Pixel size in CRS units.")
@click.option("--crs", default=None, help="Output CRS, e.g. EPSG:32648 (default: the items' own).")
@click.option("--groupby", type=click.Choice(["time", "solar_day", "id"]), default="time", show_default=True,
              help="Fuse items with the same timestamp, the same solar day, or never.")
@click.option("--no-scale", is_flag=True, help="Keep the stored uint16 values (no reflectance scaling).")
@click.option("--qa-mask", default="default", show_default=True,
              help="QA bits to drop: 'default', 'none', an integer bitmask or names (cloud,saturated,…).")
@click.option("--api", "api_url", default=None, help="STAC API URL (default: the public API of the settings).")
@click.option("--token", default=None, envvar="RSARCHIVE_TOKEN", help="Bearer token for the internal API.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="cube.zarr or cube.nc")
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="Also write a quick-look PNG.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def command(collection: str, bbox: str, when: str | None, bands: str, resolution: float, crs: str | None,
            groupby: str, no_scale: bool, qa_mask: str, api_url: str | None, token: str | None, out: Path,
            plot: Path | None, overwrite: bool) -> None:
    """Load a cube from the archive's STAC API and write it (Zarr or netCDF)."""
    from rsarchive.cube import load, quicklook, write
    from rsarchive.cube.output import output_format

    output_format(out)  # refuse a wrong suffix before any search
    mask: bool | int | str = {"default": True, "none": False}.get(qa_mask.strip().lower(), qa_mask)
    if isinstance(mask, str) and mask.strip().isdigit():
        mask = int(mask)
    names = [b.strip() for b in bands.split(",") if b.strip()]
    cube = load(bbox=bbox, datetime=when, bands=names, resolution=resolution, crs=crs, collection=collection,
                api_url=api_url, token=token, scale=not no_scale, mask_qa=mask, groupby=groupby,
                settings=get_settings())
    sizes = ", ".join(f"{k} {v}" for k, v in cube.sizes.items())
    click.echo(f"cube: {len(cube.data_vars)} band(s) {', '.join(map(str, cube.data_vars))}; {sizes}", err=True)
    if show_progress():
        from tqdm import tqdm

        with tqdm(desc="cube", unit="task", file=None, leave=False) as bar:
            def report(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            write(cube, out, progress=report, overwrite=overwrite)
    else:
        write(cube, out, overwrite=overwrite)
    click.echo(str(out))
    if plot is not None:
        import xarray as xr

        engine = "zarr" if output_format(out) == "zarr" else "h5netcdf"
        with xr.open_dataset(out, engine=engine) as written:
            quicklook(written, plot)
        click.echo(str(plot))
