"""Writing a cube (Zarr or netCDF, one compute pass) and its quick-look PNG."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsarchive.errors import StorageError, UsageError

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger(__name__)

__all__ = ["write", "quicklook", "output_format"]

FORMATS = {".zarr": "zarr", ".nc": "netcdf", ".nc4": "netcdf", ".netcdf": "netcdf"}


def output_format(path: str | Path) -> str:
    """``zarr`` or ``netcdf`` from the path's suffix; anything else → UsageError."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"output {str(path)!r} must end in .zarr or .nc")
    return fmt


def _for_file(ds: xr.Dataset) -> xr.Dataset:
    """Attributes every writer accepts (no None, no nested values); chunk encodings dropped."""
    out = ds.copy()
    for var in list(out.variables.values()):
        var.attrs = {k: v for k, v in var.attrs.items() if v is not None and isinstance(v, (str, int, float))}
        var.encoding = {}
    out.attrs = {k: v for k, v in out.attrs.items() if v is not None and isinstance(v, (str, int, float))}
    return out


def _uniform_chunks(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with every dimension chunked evenly (but for its last chunk), as Zarr needs: cubes
    on the products' grid are chunked along the COG tiles, unevenly (:mod:`rsarchive.cube.grid`)."""
    sizes: dict[str, int] = {}
    for var in ds.data_vars.values():
        if var.chunks is None:
            continue
        for dim, chunks in zip(var.dims, var.chunks):
            if len(chunks) > 1 and (len(set(chunks[:-1])) > 1 or chunks[-1] > chunks[0]):
                sizes[str(dim)] = max(sizes.get(str(dim), 0), max(chunks[:-1]))
    return ds.chunk(sizes) if sizes else ds


def write(ds: xr.Dataset, path: str | Path, *, progress: Callable[[int, int], None] | None = None,
          overwrite: bool = False) -> Path:
    """Compute ``ds`` once and write it to ``path`` (``.zarr`` directory or ``.nc`` file).

    ``progress(done, total)`` is called as Dask tasks finish.  An existing output is refused
    unless ``overwrite``."""
    import dask

    target = Path(path)
    fmt = output_format(target)
    if target.exists() and not overwrite:
        raise UsageError(f"{target} exists; remove it or pass overwrite")
    data = _for_file(ds)
    try:
        if fmt == "zarr":
            data = _uniform_chunks(data)
            delayed = data.to_zarr(target, mode="w", compute=False, consolidated=True)
        else:
            encoding = {name: {"zlib": True, "complevel": 4} for name in data.data_vars}
            delayed = data.to_netcdf(target, engine="h5netcdf", encoding=encoding, compute=False)
        with _Progress(progress):
            dask.compute(delayed)
    except OSError as exc:
        raise StorageError(f"cannot write the cube to {target}: {exc}") from exc
    log.info("cube written to %s (%s)", target, fmt)
    return target


class _Progress:
    """A Dask local-scheduler callback reporting finished tasks to ``report(done, total)``."""

    def __init__(self, report: Callable[[int, int], None] | None) -> None:
        self.report = report
        self.callback: Any = None

    def __enter__(self) -> _Progress:
        if self.report is None:
            return self
        from dask.callbacks import Callback

        report = self.report
        state = {"done": 0, "total": 0}

        def start_state(dsk: Any, st: dict[str, Any]) -> None:
            state["total"] = sum(len(st[k]) for k in ("ready", "waiting", "running", "finished")) or len(dsk)
            report(0, state["total"])

        def posttask(key: Any, result: Any, dsk: Any, st: dict[str, Any], worker_id: Any) -> None:
            state["done"] += 1
            report(state["done"], state["total"])

        self.callback = Callback(start_state=start_state, posttask=posttask)
        self.callback.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.callback is not None:
            self.callback.__exit__(*exc)


def quicklook(ds: xr.Dataset, path: str | Path, *, max_pixels: int = 1_000_000) -> Path:
    """A PNG of the cube: true colour if it has red, green and blue (else its first band in
    grey), the time slices composited (first valid value), stretched 2–98 %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = {str(n).lower(): str(n) for n in ds.data_vars}
    rgb = [names.get(c) for c in ("red", "green", "blue")]
    if not all(rgb):
        rgb = [names.get(c) for c in ("b3", "b2", "b1")]
    chosen = [n for n in rgb if n] if all(rgb) else [str(next(iter(ds.data_vars)))]
    step = max(1, int(np.ceil(np.sqrt(ds.sizes["y"] * ds.sizes["x"] / max_pixels))))
    small = ds[chosen].isel(y=slice(None, None, step), x=slice(None, None, step)).astype("float32")
    layers = []
    for n in chosen:
        arr = np.asarray(small[n].transpose(..., "y", "x").values, dtype="float32").reshape(-1, *small[n].shape[-2:])
        first = np.argmax(np.isfinite(arr), axis=0)  # first time slice with a value
        layers.append(np.take_along_axis(arr, first[None], axis=0)[0])
    image = np.stack(layers, axis=-1)
    finite = image[np.isfinite(image)]
    lo, hi = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
    image = np.clip((image - lo) / max(hi - lo, 1e-9), 0, 1)
    alpha = np.all(np.isfinite(image), axis=-1).astype("float32")
    image = np.nan_to_num(image)
    if len(chosen) == 1:
        image = np.repeat(image, 3, axis=-1)
    target = Path(path)
    fig = plt.figure(figsize=(image.shape[1] / 100, image.shape[0] / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(np.dstack([image, alpha]), interpolation="nearest")
    ax.set_axis_off()
    fig.savefig(target, dpi=100, transparent=True)
    plt.close(fig)
    return target
