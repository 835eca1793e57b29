"""The ground truth: a georeferenced reflectance scene (and optional clouds and DEM).

The truth is a GeoTIFF in the UTM zone of the pass (``truth.tif``: one band
per CPF band, TOA reflectance × 10 000 as uint16, scale 1e-4 written in the
file, nodata 65535), 5 m pixels by default (the PAN GSD is 2.5 m; 5 m keeps a
reference scene ≈ 165 MB and PAN then sees a bilinear interpolation of the
truth — choose ``resolution_m=2.5`` for full PAN detail).  Only the tiles that
the swath footprint (plus a margin) touches are written (sparse GeoTIFF), so a
long pass on a slanted ground track does not fill its bounding box.  The
simulator samples this file bilinearly at the ground points, so the file *is*
the truth.

Sources, all deterministic from a seed:

* ``procedural`` (default): rice paddies and other parcels (vegetation with
  high NIR, bare soil, flooded fields, orchards), urban blocks and streets, a
  meandering river and canals, with a smooth large-scale modulation;
* ``smooth``: vegetation/soil mixture varying smoothly (no edges) — for tests
  of interpolation and dead-detector filling;
* ``uniform``: constant reflectance per band — for striping tests;
* ``geotiff``: any georeferenced GeoTIFF (any CRS) with one band per CPF band,
  or one per narrow band when the CPF also has a panchromatic band (derived by
  spectral averaging); integer bands are reflectance × 10 000, float bands are
  reflectance.

Spectra: every source produces 4-point spectra at the blue/green/red/NIR
centres; each CPF band takes the linear interpolation at its centre, or the
mean over its bandpass when the band is wide (FWHM ≥ 0.2 µm, e.g. PAN).

Clouds (optional): a smooth random field thresholded so that the requested
fraction of the footprint is cloudy; cloud reflectance ≈ 0.72–0.75 in every
band (bright, white, NIR/red ≈ 1).  The mask is written as
``truth_clouds.tif`` (uint8 0/1).  DEM (optional): hilly terrain 0 … max
height (m) as ``truth_dem.tif`` (float32, 4× the truth pixel size).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.cpf import CPF
from rsarchive.errors import UsageError
from rsarchive.geometry.ortho import OrthoGrid, utm_epsg

__all__ = ["SceneSpec", "TruthGrid", "TruthScene", "build_truth", "utm_epsg", "REFLECTANCE_SCALE"]

log = logging.getLogger(__name__)

REFLECTANCE_SCALE = 1e-4
REFLECTANCE_NODATA = 65535
DEM_NODATA = -9999.0
TILE = 256
CHUNK_COLUMNS = 4 * TILE
_WL = np.array([0.485, 0.56, 0.66, 0.83])  # µm, the centres of the 4-point spectra
_VEG = np.array([0.035, 0.075, 0.045, 0.38])
_SOIL = np.array([0.09, 0.12, 0.15, 0.22])
_WATER = np.array([0.065, 0.055, 0.035, 0.015])
_TURBID = np.array([0.075, 0.085, 0.075, 0.035])
_ROOF = np.array([0.12, 0.125, 0.13, 0.16])
_ROAD = np.array([0.085, 0.09, 0.095, 0.11])
_CLOUD = np.array([0.72, 0.73, 0.74, 0.75])
SCENE_KINDS = ("procedural", "smooth", "uniform", "geotiff")


@dataclass(frozen=True)
class SceneSpec:
    """What the truth scene is made of."""

    kind: str = "procedural"
    path: str | None = None
    uniform_reflectance: tuple[float, float, float, float] = (0.10, 0.11, 0.12, 0.30)
    cloud_fraction: float = 0.0
    dem: bool = False
    dem_max_height_m: float = 1200.0
    resolution_m: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SCENE_KINDS:
            raise UsageError(f"scene kind must be one of {', '.join(SCENE_KINDS)}, got {self.kind!r}")
        if self.kind == "geotiff" and not self.path:
            raise UsageError("a geotiff scene needs a path")
        if not 0.0 <= self.cloud_fraction < 1.0:
            raise UsageError(f"cloud fraction must be in [0, 1), got {self.cloud_fraction}")
        if not 0.5 <= self.resolution_m <= 30.0:
            raise UsageError(f"truth resolution must be 0.5 … 30 m, got {self.resolution_m}")
        if not 0.0 <= self.dem_max_height_m <= 8000.0:
            raise UsageError(f"DEM maximum height must be 0 … 8000 m, got {self.dem_max_height_m}")
        if len(self.uniform_reflectance) != 4 or not all(0.0 <= v <= 1.5 for v in self.uniform_reflectance):
            raise UsageError("uniform reflectance needs 4 values (blue, green, red, NIR) in 0 … 1.5")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TruthGrid(OrthoGrid):
    """The truth scene's north-up UTM grid (the product's :class:`OrthoGrid`, written to truth.json with
    its CRS)."""

    def coarsened(self, factor: int) -> TruthGrid:
        return TruthGrid(self.epsg, self.left, self.top, self.resolution_m * factor,
                         math.ceil(self.width / factor), math.ceil(self.height / factor))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "crs": self.crs}


@dataclass(frozen=True)
class TruthScene:
    """Files of the truth scene."""

    reflectance: Path
    grid: TruthGrid
    clouds: Path | None = None
    dem: Path | None = None
    cloud_threshold: float | None = None
    origin_xy: tuple[float, float] = (0.0, 0.0)
    band_names: tuple[str, ...] = field(default_factory=tuple)


# -- procedural fields ---------------------------------------------------------------

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0xFF51AFD7ED558CCD)
_M4 = np.uint64(0xC4CEB9FE1A85EC53)


def _hash01(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic uniform [0, 1) per integer lattice point (splitmix-style)."""
    with np.errstate(over="ignore"):
        h = ix.astype(np.int64).view(np.uint64) * _M1
        h ^= iy.astype(np.int64).view(np.uint64) * _M2
        h ^= np.uint64((salt * 0x165667B19E3779F9) & 0xFFFFFFFFFFFFFFFF)
        h ^= h >> np.uint64(33)
        h *= _M3
        h ^= h >> np.uint64(33)
        h *= _M4
        h ^= h >> np.uint64(33)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _value_noise(x: np.ndarray, y: np.ndarray, scale: float, salt: int) -> np.ndarray:
    gx = x / scale
    gy = y / scale
    ix = np.floor(gx)
    iy = np.floor(gy)
    fx = gx - ix
    fy = gy - iy
    sx = fx * fx * (3.0 - 2.0 * fx)
    sy = fy * fy * (3.0 - 2.0 * fy)
    ix = ix.astype(np.int64)
    iy = iy.astype(np.int64)
    v00 = _hash01(ix, iy, salt)
    v10 = _hash01(ix + 1, iy, salt)
    v01 = _hash01(ix, iy + 1, salt)
    v11 = _hash01(ix + 1, iy + 1, salt)
    return (v00 + (v10 - v00) * sx) * (1.0 - sy) + (v01 + (v11 - v01) * sx) * sy


def _fbm(x: np.ndarray, y: np.ndarray, scale: float, octaves: int, salt: int) -> np.ndarray:
    total = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y)))
    norm = 0.0
    for k in range(octaves):
        w = 0.5**k
        total += w * _value_noise(x, y, scale / 2**k, salt * 101 + k)
        norm += w
    return total / norm


def _smooth(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray,
            factor: int = 5) -> np.ndarray:
    """Evaluate a smooth field (features ≥ 150 m) every ``factor`` pixels of a 2-D grid, bilinear in between.

    The fields are C¹ value noise; over 5 pixels (25 m at 5 m) the bilinear
    error is < 0.2 % of the field's amplitude.  1-D or small inputs are evaluated directly.
    """
    if x.ndim != 2 or min(x.shape) <= 2 * factor:
        return fn(x, y)
    rows = np.unique(np.concatenate([np.arange(0, x.shape[0], factor), [x.shape[0] - 1]]))
    cols = np.unique(np.concatenate([np.arange(0, x.shape[1], factor), [x.shape[1] - 1]]))
    coarse = fn(x[np.ix_(rows, cols)], y[np.ix_(rows, cols)])
    return _upsample(coarse, rows, cols, x.shape)


def _upsample(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    r = np.arange(shape[0])
    ri = np.clip(np.searchsorted(rows, r, side="right") - 1, 0, rows.size - 2)
    wr = ((r - rows[ri]) / (rows[ri + 1] - rows[ri]))[:, None]
    along = values[ri] * (1.0 - wr) + values[ri + 1] * wr
    c = np.arange(shape[1])
    ci = np.clip(np.searchsorted(cols, c, side="right") - 1, 0, cols.size - 2)
    wc = (c - cols[ci]) / (cols[ci + 1] - cols[ci])
    return along[:, ci] * (1.0 - wc) + along[:, ci + 1] * wc


def _rotate(x: np.ndarray, y: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return c * x + s * y, -s * x + c * y


def _col(spectrum: np.ndarray, ndim: int) -> np.ndarray:
    """A (4,) spectrum shaped (4, 1, …) to broadcast against ``ndim``-dimensional fields."""
    return spectrum.reshape((4,) + (1,) * ndim)


def _mix(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-pixel blend of spectra a, b (4,) or (4, …) with weight w (…): a + (b − a)·w."""
    a4 = _col(a, w.ndim) if a.ndim == 1 else a
    b4 = _col(b, w.ndim) if b.ndim == 1 else b
    return a4 + (b4 - a4) * w


def procedural_spectra(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """4-point spectra (4, …) of the procedural landscape at map coordinates (m from the origin)."""
    s = seed * 7919
    # agricultural parcels on a slightly warped, rotated lattice
    xw = x + 50.0 * (_smooth(lambda a, b: _value_noise(a, b, 600.0, s + 1), x, y) - 0.5)
    yw = y + 50.0 * (_smooth(lambda a, b: _value_noise(a, b, 600.0, s + 2), x, y) - 0.5)
    u, v = _rotate(xw, yw, 25.0)
    iv = np.floor(v / 70.0).astype(np.int64)
    shift = _hash01(iv, np.zeros_like(iv), s + 3) * 150.0
    iu = np.floor((u + shift) / 150.0).astype(np.int64)
    h1 = _hash01(iu, iv, s + 4)
    h2 = _hash01(iu, iv, s + 5)
    cover = 0.45 + 0.55 * h2
    spec = _mix(_SOIL, _VEG, cover)                                   # vegetated paddies (55 %)
    spec = np.where(((h1 >= 0.55) & (h1 < 0.72))[None], _col(_SOIL, x.ndim) * (0.8 + 0.4 * h2), spec)  # bare soil
    spec = np.where(((h1 >= 0.72) & (h1 < 0.82))[None], _col(_WATER + 0.3 * (_VEG - _WATER), x.ndim), spec)  # flooded
    spec = np.where((h1 >= 0.82)[None], _col(_VEG + 0.25 * (_SOIL - _VEG), x.ndim), spec)  # orchards
    # urban areas: blocks and streets
    urban = _smooth(lambda a, b: _fbm(a, b, 3000.0, 3, s + 6), x, y) > 0.66
    if urban.any():
        bu, bv = _rotate(x, y, 10.0)
        street = (np.mod(bu, 50.0) < 8.0) | (np.mod(bv, 50.0) < 8.0)
        roof = 0.7 + 0.6 * _hash01(np.floor(bu / 50.0).astype(np.int64), np.floor(bv / 50.0).astype(np.int64), s + 7)
        town = np.where(street[None], _col(_ROAD, x.ndim), _col(_ROOF, x.ndim) * roof)
        spec = np.where(urban[None], town, spec)
    # a meandering river and a canal network
    rs, rn = _rotate(x, y, 70.0)
    centre = 700.0 * np.sin(2 * math.pi * rs / 7000.0) + 250.0 * np.sin(2 * math.pi * rs / 1900.0 + 1.3)
    river = np.abs(rn - centre) < 70.0
    canal = np.abs(np.mod(v + 500.0, 2000.0) - 1000.0) < 8.0
    spec = np.where((river | canal)[None], _col(_TURBID, x.ndim), spec)
    # smooth large-scale modulation (±8 %)
    return spec * (0.92 + 0.16 * _smooth(lambda a, b: _fbm(a, b, 1500.0, 3, s + 8), x, y))[None]


def smooth_spectra(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Vegetation/soil mixture varying smoothly (C¹, no edges)."""
    s = seed * 7919
    w = _smooth(lambda a, b: _fbm(a, b, 2000.0, 3, s + 11), x, y)
    return _mix(_SOIL, _VEG, w) * (0.92 + 0.16 * _smooth(lambda a, b: _fbm(a, b, 2500.0, 2, s + 12), x, y))[None]


def cloud_field(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    return _fbm(x, y, 2500.0, 4, seed * 7919 + 21)


def dem_field(x: np.ndarray, y: np.ndarray, seed: int, max_height_m: float) -> np.ndarray:
    f = _fbm(x, y, 5000.0, 4, seed * 7919 + 31)
    t = np.clip((f - 0.25) / 0.5, 0.0, 1.0)
    return max_height_m * t * t * (3.0 - 2.0 * t)


def spectral_matrix(cpf: CPF, wavelengths: np.ndarray = _WL) -> np.ndarray:
    """(bands, 4) weights turning 4-point spectra at ``wavelengths`` into CPF band reflectances."""
    rows = []
    eye = np.eye(len(wavelengths))
    for band in cpf.bands:
        if band.fwhm_um >= 0.2:
            lams = np.linspace(band.center_um - band.fwhm_um / 2, band.center_um + band.fwhm_um / 2, 31)
        else:
            lams = np.array([band.center_um])
        w = np.array([[np.interp(lam, wavelengths, eye[k]) for k in range(len(wavelengths))] for lam in lams])
        rows.append(w.mean(axis=0))
    return np.array(rows)


# -- building the files ------------------------------------------------------------------

def _geotiff_source(spec: SceneSpec, cpf: CPF, epsg: int, area: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function (x, y in the truth UTM) → CPF band reflectances (bands, …) from a user GeoTIFF."""
    import rasterio
    from pyproj import Transformer

    from rsarchive.geometry.dem import RasterSampler

    path = Path(spec.path or "")
    if not path.is_file():
        raise UsageError(f"scene GeoTIFF {path} does not exist")
    with rasterio.open(path) as ds:
        count, dtype = ds.count, ds.dtypes[0]
    narrow = [k for k, b in enumerate(cpf.bands) if b.fwhm_um < 0.2]
    if count == len(cpf.bands):
        matrix = np.eye(count)
    elif count == len(narrow) and count >= 2:
        centres = np.array([cpf.bands[k].center_um for k in narrow])
        order = np.argsort(centres)
        matrix = spectral_matrix(cpf, centres[order])[:, np.argsort(order)]
    else:
        raise UsageError(f"scene GeoTIFF {path} has {count} bands; the CPF needs {len(cpf.bands)} "
                         f"(or {len(narrow)} without the panchromatic band)")
    scale = 1.0 if np.dtype(dtype).kind == "f" else REFLECTANCE_SCALE
    sampler = RasterSampler(path, bands=list(range(1, count + 1)))
    to_lonlat = Transformer.from_crs(epsg, 4326, always_xy=True)
    # the swath footprint must lie inside the GeoTIFF
    ring = np.asarray(area.exterior.coords) if hasattr(area, "exterior") else np.asarray(area.envelope.exterior.coords)
    lon, lat = to_lonlat.transform(ring[:, 0], ring[:, 1])
    row, col = sampler.pixel_coords(np.asarray(lat), np.asarray(lon))
    height, width = sampler.dataset.height, sampler.dataset.width
    if np.any((row < -0.5) | (row > height - 0.5) | (col < -0.5) | (col > width - 0.5)):
        b = sampler.dataset.bounds
        raise UsageError(f"scene GeoTIFF {path} (bounds {b.left:.4f}, {b.bottom:.4f}, {b.right:.4f}, {b.top:.4f} in "
                         f"{sampler.crs}) does not cover the swath footprint (lon {min(lon):.4f}…{max(lon):.4f}, "
                         f"lat {min(lat):.4f}…{max(lat):.4f})")

    def source(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        lon, lat = to_lonlat.transform(x, y)
        values = sampler.sample(np.asarray(lat), np.asarray(lon)) * scale
        return np.einsum("bk,k...->b...", matrix, values)

    return source


def build_truth(cpf: CPF, spec: SceneSpec, footprint_utm: Any, epsg: int, origin_xy: tuple[float, float],
                truth_dir: Path, margin_m: float = 300.0) -> TruthScene:
    """Write ``truth.tif`` (+ clouds, DEM) covering ``footprint_utm`` (a shapely polygon) + margin."""
    import rasterio
    import shapely

    area = footprint_utm.buffer(margin_m)
    left, bottom, right, top = area.bounds
    res = spec.resolution_m
    left = math.floor(left / res) * res
    top = math.ceil(top / res) * res
    grid = TruthGrid(epsg, left, top, res, math.ceil((right - left) / res), math.ceil((top - bottom) / res))
    ox, oy = origin_xy
    matrix = spectral_matrix(cpf)
    user_source = _geotiff_source(spec, cpf, epsg, footprint_utm) if spec.kind == "geotiff" else None

    threshold = None
    if spec.cloud_fraction > 0.0:
        # threshold = the (1 − f) quantile of the cloud field over the footprint, on a 50 m sample
        xs = np.arange(left, left + grid.width * res, 50.0)
        ys = np.arange(top, top - grid.height * res, -50.0)
        gx, gy = np.meshgrid(xs, ys)
        inside = shapely.contains_xy(footprint_utm, gx, gy)
        values = cloud_field(gx[inside] - ox, gy[inside] - oy, spec.seed)
        threshold = float(np.quantile(values, 1.0 - spec.cloud_fraction))

    def reflectance(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if user_source is not None:
            bands = user_source(x, y)
        else:
            if spec.kind == "procedural":
                spectra = procedural_spectra(x - ox, y - oy, spec.seed)
            elif spec.kind == "smooth":
                spectra = smooth_spectra(x - ox, y - oy, spec.seed)
            else:
                spectra = np.broadcast_to(np.asarray(spec.uniform_reflectance).reshape((4,) + (1,) * x.ndim),
                                          (4,) + x.shape)
            bands = np.einsum("bk,k...->b...", matrix, spectra)
        clouds = None
        if threshold is not None:
            clouds = _smooth(lambda a, b: cloud_field(a, b, spec.seed), x - ox, y - oy) > threshold
            texture = 0.94 + 0.12 * _smooth(lambda a, b: _value_noise(a, b, 150.0, spec.seed * 7919 + 22), x - ox, y - oy)
            cloud_bands = np.einsum("bk,k->b", matrix, _CLOUD)[:, None, None] * texture[None]
            bands = np.where(clouds[None], cloud_bands, bands)
        return bands, clouds

    truth_dir.mkdir(parents=True, exist_ok=True)
    profile = dict(driver="GTiff", width=grid.width, height=grid.height, crs=f"EPSG:{epsg}",
                   transform=grid.transform, tiled=True, blockxsize=TILE, blockysize=TILE,
                   compress="deflate", zlevel=1, sparse_ok=True, interleave="band", BIGTIFF="IF_SAFER")
    refl_path = truth_dir / "truth.tif"
    cloud_path = truth_dir / "truth_clouds.tif" if threshold is not None else None
    dem_path = truth_dir / "truth_dem.tif" if spec.dem else None
    with rasterio.Env(GDAL_CACHEMAX=64):
        with rasterio.open(refl_path, "w", count=len(cpf.bands), dtype="uint16", nodata=REFLECTANCE_NODATA,
                           predictor=2, **profile) as dst:
            dst.descriptions = tuple(b.name for b in cpf.bands)
            dst.scales = tuple([REFLECTANCE_SCALE] * len(cpf.bands))
            dst.update_tags(content="TOA reflectance ×10000 (truth of the simulated downlink)",
                            bands=",".join(b.name for b in cpf.bands))
            cloud_dst = None
            if cloud_path is not None:
                cloud_dst = rasterio.open(cloud_path, "w", count=1, dtype="uint8", nodata=255, predictor=1, **profile)
            try:
                for window, x, y in _windows(grid, area):
                    bands, clouds = reflectance(x, y)
                    bad = ~np.isfinite(bands)
                    stored = np.clip(np.rint(np.nan_to_num(bands) / REFLECTANCE_SCALE), 0, REFLECTANCE_NODATA - 1)
                    stored[bad] = REFLECTANCE_NODATA
                    dst.write(stored.astype(np.uint16), window=window)
                    if cloud_dst is not None and clouds is not None:
                        cloud_dst.write(clouds.astype(np.uint8)[None], window=window)
            finally:
                if cloud_dst is not None:
                    cloud_dst.close()
        if dem_path is not None:
            dem_grid = grid.coarsened(4)
            dem_profile = {**profile, "width": dem_grid.width, "height": dem_grid.height,
                           "transform": dem_grid.transform}
            with rasterio.open(dem_path, "w", count=1, dtype="float32", nodata=DEM_NODATA, predictor=3,
                               **dem_profile) as dst:
                dst.update_tags(content="terrain height above the WGS84 ellipsoid, m (truth)")
                for window, x, y in _windows(dem_grid, area.buffer(4 * res)):
                    dst.write(dem_field(x - ox, y - oy, spec.seed, spec.dem_max_height_m)
                              .astype(np.float32)[None], window=window)
    log.info("truth scene %s: %d × %d px at %.1f m (EPSG:%d)", refl_path, grid.width, grid.height, res, epsg)
    return TruthScene(refl_path, grid, cloud_path, dem_path, threshold, origin_xy, tuple(b.name for b in cpf.bands))


def _windows(grid: TruthGrid, area: Any) -> Any:
    """Tile-aligned windows (rows of tiles, clipped to ``area``) with their pixel-centre coordinates."""
    import shapely
    from rasterio.windows import Window

    res = grid.resolution_m
    for r0 in range(0, grid.height, TILE):
        r1 = min(r0 + TILE, grid.height)
        strip = shapely.box(grid.left, grid.top - r1 * res, grid.left + grid.width * res, grid.top - r0 * res)
        part = area.intersection(strip)
        if part.is_empty:
            continue
        x_min, _, x_max, _ = part.bounds
        c0 = max(int((x_min - grid.left) / res) // TILE * TILE, 0)
        c1 = min(math.ceil(math.ceil((x_max - grid.left) / res) / TILE) * TILE, grid.width)
        rows = grid.top - (np.arange(r0, r1) + 0.5) * res
        for cc0 in range(c0, c1, CHUNK_COLUMNS):  # bounded memory: ≤ 256 × 1024 pixels at a time
            cc1 = min(cc0 + CHUNK_COLUMNS, c1)
            cols = grid.left + (np.arange(cc0, cc1) + 0.5) * res
            x, y = np.meshgrid(cols, rows)
            yield Window(cc0, r0, cc1 - cc0, r1 - r0), x, y
