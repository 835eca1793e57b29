"""The image product (L2A) of one raw scene: TOA reflectance orthorectified to UTM.

:func:`process_product` reads a raw scene directory (``rsarchive-raw/1``) and
writes ``DIR/<scene-id>/``::

    <band>.tif      TOA reflectance × 10 000 (uint16 COG, scale 1e-4 in the file), UTM,
                    10 m multispectral / 2.5 m panchromatic, cubic resampling
    QA.tif          quality bitfield of the multispectral bands (one band each, 10 m)
    QA_<pan>.tif    quality bitfield of the panchromatic band (2.5 m); nearest resampling
    thumbnail.png   true colour (red, green, blue), ≤ 512 px, 2–98 % stretch, alpha = no data
    quicklook.webp  the same browse image at ≤ 1 024 px (lossy WebP with alpha)
    metadata.json   schema ``rsarchive-product/1`` (:mod:`rsarchive.product.metadata`)

Chain: sensor model from the scene's ancillary (Hermite/SLERP; lines in a
gap flagged QA bit 4 and the product marked degraded) → RPC per band fitted
over the height range (of the DEM when given) → optional GCP refinement against
a reference orthoimage (bias or affine in image space) → resampling of the
radiance counts (cubic, float32) and of the QA (nearest) in one pass
(:mod:`rsarchive.geometry.resample`) → TOA reflectance on
the output grid (:mod:`rsarchive.geometry.ortho` explains why after warping)
→ with a DEM, terrain occlusion (QA bit 5, :mod:`rsarchive.geometry.occlusion`)
→ cloud mask (QA bit 6) → COGs, thumbnail and quicklook, footprint of valid data, accuracy
record.  The directory is written as ``.<id>.partial`` and renamed when complete.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import rsarchive
from rsarchive.cog.writer import DEFAULT_COMPRESS, write_cog
from rsarchive.cpf import CPF, BandCalibration, load_cpf
from rsarchive.directories import written_whole
from rsarchive.errors import CalibrationError, ConflictError, ProcessingError, UsageError
from rsarchive.geometry import accuracy as acc
from rsarchive.geometry.cloud import CloudThresholds, cloud_class, cloud_cover, cloud_mask
from rsarchive.geometry.image_coordinates import ImageCoordinates, node_step
from rsarchive.geometry.occlusion import dem_on_grid, terrain_occlusion
from rsarchive.geometry.ortho import SUN_GRID_STEP, OrthoGrid, SunGrid, scene_grid, sun_zenith_nodes
from rsarchive.geometry.refine import (
    NOT_REFINED,
    REFINED,
    Refinement,
    estimate_correction,
    match_chips,
    prepare_reference,
    robust_inliers,
)
from rsarchive.geometry.resample import resample
from rsarchive.geometry.rpc import DEFAULT_HEIGHT_RANGE, RPCFit, fit_rpc
from rsarchive.geometry.sensor import SensorModel, mid_integration
from rsarchive.product import metadata as pm
from rsarchive.radiometry.encoding import REFLECTANCE_ENCODING
from rsarchive.radiometry.qa import QA_ANCILLARY, QA_CLOUD, QA_NODATA, QA_TERRAIN
from rsarchive.radiometry.toa import toa_encode_rows
from rsarchive.raw.metadata import QaFile, QaRef, RawBand, RawSceneMetadata, now_utc, qa_section, read_raw_metadata
from rsarchive.resources import listing, searched
from rsarchive.threads import ThreadBudget

__all__ = ["ProductOptions", "ProductResult", "process_product"]

log = logging.getLogger(__name__)
_NS = np.timedelta64(1, "ns")
_STRIP_ROWS = 512
"""Rows of the output grid processed at once (TOA, masks, encoding): bounds the float temporaries."""
GDAL_CACHE_MB = 256
"""GDAL block cache while a product is made (MB)."""


@dataclass(frozen=True)
class ProductOptions:
    """How to make the product (defaults: the archive's L2A)."""

    ms_resolution_m: float = 10.0
    pan_resolution_m: float = 2.5
    resampling: str = "cubic"
    threads: int = field(default_factory=lambda: ThreadBudget.of_machine().cpu)
    """The CPU threads of the caller's :class:`~rsarchive.threads.ThreadBudget` (default: every core)."""
    refine: bool = True
    affine: bool = False
    match_band: str = "red"
    chip_px: int = 64
    thumbnail_px: int = 512
    quicklook_px: int = 1024
    quicklook_quality: int = 85
    """WebP quality of the quicklook (0-100)."""
    tile: int = 512
    compress: str = DEFAULT_COMPRESS
    cloud: CloudThresholds = field(default_factory=CloudThresholds)


@dataclass
class ProductResult:
    """Where the product went and its metadata."""

    path: Path
    metadata: pm.ProductMetadata

    @property
    def refined(self) -> bool:
        return self.metadata.geometry.refinement.status == REFINED


@dataclass
class _Band:
    cal: BandCalibration
    entry: RawBand
    lines: int
    t0: np.datetime64
    degraded: np.ndarray
    fit: RPCFit
    rpc: Any
    is_pan: bool

    def line_times(self, lines: np.ndarray) -> np.ndarray:
        return self.t0 + np.rint(np.asarray(lines, np.float64) * self.cal.line_period_s * 1e9).astype(np.int64) * _NS


def _t64(text: str) -> np.datetime64:
    return np.datetime64(text.rstrip("Z"), "ns")


def _load_cpf(meta: RawSceneMetadata, cpf: CPF | str | Path | None, config_dir: Path | None) -> CPF:
    if isinstance(cpf, CPF):
        return cpf
    if cpf is not None:
        return load_cpf(cpf, config_dir)
    version = meta.cpf.version
    source = Path(meta.cpf.source)
    candidates = [source] if source.suffix == ".json" and source.is_file() else []
    candidates += listing("cpf", "*.json", config_dir).values()
    for path in candidates:
        try:
            found = load_cpf(path)
        except CalibrationError:
            continue
        if found.version == version:
            return found
    raise CalibrationError(f"CPF version {version} of the raw scene not found "
                           f"({source} or {searched('cpf', config_dir)})")


def _sensor_model(meta: RawSceneMetadata, cpf: CPF) -> SensorModel:
    eph, att = meta.ancillary.ephemeris, meta.ancillary.attitude
    if None in eph.time or None in att.time:
        raise ProcessingError(f"raw scene {meta.scene_id}: ancillary section incomplete (a sample without a time)")
    return SensorModel.from_samples(cpf, [_t64(t) for t in eph.time], eph.position_m, eph.velocity_m_s,  # type: ignore[arg-type]
                                    [_t64(t) for t in att.time], att.quaternion)  # type: ignore[arg-type]


def _dem_heights(dem: Any, model: SensorModel, cal: BandCalibration, times: np.ndarray, detectors: int
                 ) -> tuple[np.ndarray, float]:
    """DEM heights on a 41 × 41 grid over the band (NaN where not covered) and the covered fraction."""
    rows = np.linspace(0, len(times) - 1, 41).round().astype(int)
    g = model.locate(cal, times[rows], np.linspace(0, detectors - 1, 41), height=0.0)
    h = np.asarray(dem(g.lat, g.lon), dtype=np.float64)
    return h, float(np.isfinite(h).mean())


def process_product(
    raw_scene: str | Path,
    out_dir: str | Path,
    *,
    dem: str | Path | None = None,
    reference: str | Path | None = None,
    options: ProductOptions | None = None,
    cpf: CPF | str | Path | None = None,
    config_dir: Path | None = None,
    overwrite: bool = False,
    raw_metadata: RawSceneMetadata | None = None,
) -> ProductResult:
    """Make the L2A product of the raw scene directory ``raw_scene`` in ``out_dir/<scene-id>/``.

    ``raw_metadata``: the scene's metadata as the raw stage returned it (else read from its
    ``metadata.json``)."""
    raw_dir = Path(raw_scene)
    meta = raw_metadata if raw_metadata is not None else read_raw_metadata(raw_dir)
    for path, what in ((dem, "DEM"), (reference, "reference orthoimage")):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{what} {path} does not exist")
    opts = options or ProductOptions()
    sid = meta.scene_id
    out = Path(out_dir)
    final = out / sid
    if final.exists() and not overwrite:
        raise ConflictError(f"product directory {final} exists already (overwrite=True / --overwrite replaces it)")
    with written_whole(final) as work:
        import rasterio

        # GDAL's block cache bounded (its default is 5 % of RAM; why: docs/DECISIONS.md, Memory over a
        # long ingest pass)
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            metadata = _Product(raw_dir, meta, work, _load_cpf(meta, cpf, config_dir), opts,
                                Path(dem) if dem else None, Path(reference) if reference else None).run()
        metadata.write(work / "metadata.json")
    log.info("product %s written to %s", sid, final)
    return ProductResult(final, metadata)


class _Product:
    """One product being made (state shared by the steps of :func:`process_product`)."""

    def __init__(self, raw_dir: Path, meta: RawSceneMetadata, work: Path, cpf: CPF, opts: ProductOptions,
                 dem: Path | None, reference: Path | None) -> None:
        self.raw_dir, self.meta, self.work, self.cpf, self.opts = raw_dir, meta, work, cpf, opts
        self.dem_path, self.reference = dem, reference
        self.warnings: list[str] = []
        self.model = _sensor_model(meta, cpf)
        self._heights: dict[OrthoGrid, np.ndarray] = {}  # DEM heights on the multispectral grid
        self.occluded: dict[str, float] = {}  # band → % of its valid cells hidden by terrain (QA bit 5)
        self.dem: Any = None
        if dem is not None:
            from rsarchive.geometry.dem import RasterSampler

            self.dem = RasterSampler(dem)

    # -- set-up -------------------------------------------------------------------------
    def _bands(self) -> dict[str, _Band]:
        bands: dict[str, _Band] = {}
        height_range = DEFAULT_HEIGHT_RANGE
        self.dem_record: dict[str, Any] = {"used": False}
        if self.dem is not None:
            e0 = self.meta.bands[0]
            cal0 = self.cpf.band(e0.name)
            times = _t64(e0.start_utc) + np.rint(np.arange(e0.lines.count) * cal0.line_period_s * 1e9  # type: ignore[arg-type]
                                                 ).astype(np.int64) * _NS
            heights, covered = _dem_heights(self.dem, self.model, cal0, times, cal0.detectors)
            finite = heights[np.isfinite(heights)]
            lo = min(float(finite.min()) if finite.size else 0.0, 0.0) - 50.0
            hi = max(float(finite.max()) if finite.size else 0.0, 0.0) + 50.0
            height_range = (lo, hi)
            self.dem_record = {"used": True, "file": str(self.dem_path), "coverage_percent": round(100 * covered, 3),
                               "height_range_m": [lo, hi], "missing_value_m": 0.0}
            if covered < 0.999:
                text = (f"DEM {self.dem_path.name} covers {100 * covered:.1f} % of the scene: the WGS84 ellipsoid "
                        "(h = 0 m) is used for the rest")
                log.warning(text)
                self.warnings.append(text)
                self.dem_record["warning"] = text
        for entry in self.meta.bands:
            cal = self.cpf.band(entry.name)
            n = entry.lines.count
            t0 = _t64(entry.start_utc)  # type: ignore[arg-type]
            band = _Band(cal, entry, n, t0, np.zeros(n, bool), None, None,  # type: ignore[arg-type]
                         cal.common_name == "pan" or cal.fwhm_um >= 0.2)
            band.degraded = self.model.degraded(cal, band.line_times(np.arange(n)))
            band.fit = fit_rpc(self.model, cal, band.line_times, n, cal.detectors, height_range)
            band.rpc = band.fit.model
            bands[cal.name] = band
        return bands

    def _grids(self, bands: dict[str, _Band]) -> tuple[OrthoGrid, OrthoGrid | None]:
        h = 0.0
        if self.dem_record.get("used"):
            lo, hi = self.dem_record["height_range_m"]
            h = 0.5 * (lo + hi)
        ms = scene_grid([(b.rpc, b.lines, b.cal.detectors) for b in bands.values()], self.opts.ms_resolution_m, h)
        pan = ms.with_resolution(self.opts.pan_resolution_m) if any(b.is_pan for b in bands.values()) else None
        return ms, pan

    def _band_by_common(self, bands: dict[str, _Band], common: str) -> _Band | None:
        return next((b for b in bands.values() if b.cal.common_name == common and not b.is_pan), None)

    # -- warping ------------------------------------------------------------------------
    def _coordinates(self, grid: OrthoGrid, rpc: Any, keep: bool) -> tuple[ImageCoordinates, np.ndarray | None]:
        """The image coordinates of ``grid`` under ``rpc`` and, with a DEM, the heights they are taken at
        (the DEM on the grid; the multispectral bands share theirs, a PAN grid's are made for its band)."""
        step = node_step(grid.resolution_m)
        if self.dem_path is None:
            return ImageCoordinates(grid, rpc, step=step), None
        heights = self._heights.get(grid)
        if heights is None:
            heights = dem_on_grid(self.dem_path, grid, missing_m=0.0)
            if keep:
                self._heights[grid] = heights
        return ImageCoordinates(grid, rpc, tuple(self.dem_record["height_range_m"]), step=step), heights

    def _radiance(self, band: _Band, grid: OrthoGrid, rpc: Any = None, with_qa: bool = False
                  ) -> tuple[np.ndarray, np.ndarray | None]:
        """The band's radiance on ``grid`` (float32, NaN without data) and, ``with_qa``, its QA bitfield
        (nearest neighbour from the same image coordinates; ancillary gaps flagged, terrain occlusion
        with a DEM)."""
        import rasterio

        rpc = rpc or band.rpc
        decoders = str(max(1, self.opts.threads))  # GDAL decodes the tiles on that many threads
        with rasterio.open(self.raw_dir / band.entry.file, NUM_THREADS=decoders) as ds:
            image = ds.read(1)
        qa = None
        if with_qa:
            qa_ref = band.entry.qa
            with rasterio.open(self.raw_dir / qa_ref.file, NUM_THREADS=decoders) as ds:
                qa = ds.read(qa_ref.band)
            if band.degraded.any():
                qa[band.degraded] |= np.uint16(QA_ANCILLARY)
        coords, heights = self._coordinates(grid, rpc, keep=not band.is_pan)
        radiance, out_qa = resample(image, coords, kind=self.opts.resampling, nodata=band.entry.nodata,
                                    heights=heights, qa=qa, qa_fill=QA_NODATA, threads=self.opts.threads,
                                    scale=band.entry.scale, offset=band.entry.offset)
        del image, qa
        if out_qa is not None and heights is not None:
            valid = (out_qa & np.uint16(QA_NODATA)) == 0
            hidden = terrain_occlusion(grid, rpc, heights)
            hidden &= valid
            out_qa[hidden] |= np.uint16(QA_TERRAIN)
            self.occluded[band.cal.name] = round(100.0 * float(hidden.sum()) / max(1, int(valid.sum())), 4)
        return radiance, out_qa

    def _reference_on(self, grid: OrthoGrid, band_index: int) -> np.ndarray:
        import rasterio
        from rasterio.enums import Resampling
        from rasterio.warp import reproject

        out = np.full((grid.height, grid.width), np.nan, dtype=np.float32)
        with rasterio.open(self.reference) as ds:
            index = band_index if ds.count >= len(self.cpf.bands) else 1
            reproject(rasterio.band(ds, index), out, dst_transform=grid.transform, dst_crs=grid.crs,
                      dst_nodata=np.nan, resampling=Resampling.bilinear, num_threads=self.opts.threads)
        return out

    def _absolute(self, name: str, image: np.ndarray, grid: OrthoGrid) -> dict[str, Any]:
        """A band's displacement from the reference orthoimage (its own band in the reference when it has
        one per CPF band; else gradient matching against its first band).  ``image`` is on ``grid`` (a
        PAN band: its block mean on the multispectral grid)."""
        import rasterio

        cal = self.cpf.band(name)
        with rasterio.open(self.reference) as ds:
            same_band = ds.count >= len(self.cpf.bands)
        reference = self._reference_on(grid, cal.id + 1)
        stats = acc.absolute_accuracy(image, reference, grid.resolution_m, chip=self.opts.chip_px,
                                      gradient=not same_band)
        stats["method"] = (f"chips of {self.opts.chip_px} px matched against "
                           + (f"band {cal.id + 1}" if same_band else "band 1 (gradient magnitudes)")
                           + " of the reference orthoimage, outliers rejected")
        return stats

    # -- refinement ---------------------------------------------------------------------
    def _refine(self, bands: dict[str, _Band], grid: OrthoGrid) -> tuple[Refinement, dict[str, Any] | None]:
        match = self._band_by_common(bands, self.opts.match_band) or next(iter(bands.values()))
        if self.reference is None:
            return Refinement(NOT_REFINED, match.rpc, reason="no reference orthoimage"), None
        ref = prepare_reference(self._reference_on(grid, match.cal.id + 1))  # matched again after refinement
        image, _ = self._radiance(match, grid)
        matches = match_chips(image, ref, chip=self.opts.chip_px)
        inl = robust_inliers(matches)
        east, north = acc.matches_to_displacements([m for m, k in zip(matches, inl) if k], grid.resolution_m)
        before = {**acc.displacement_stats(east, north, grid.resolution_m), "rejected": int((~inl).sum())}
        self._reference_image = ref
        if not self.opts.refine:
            return Refinement(NOT_REFINED, match.rpc, gcps=int(inl.sum()), rejected=int((~inl).sum()),
                              reason="refinement not requested"), before
        height = self.dem if self.dem is not None else 0.0
        result = estimate_correction(match.rpc, matches, grid, match.lines, match.cal.detectors, height,
                                     affine=self.opts.affine)
        if result.status != REFINED:
            self.warnings.append(f"not refined: {result.reason}")
            return result, before
        for band in bands.values():
            if band is match:
                band.rpc = result.model
            else:
                band.rpc = estimate_correction(band.rpc, matches, grid, band.lines, band.cal.detectors, height,
                                               affine=self.opts.affine).model
        return result, before

    # -- the run ------------------------------------------------------------------------
    def run(self) -> pm.ProductMetadata:
        # band registration (NumPy/SciPy, one core) runs beside the rest: each band is measured as soon
        # as it and the reference band are made, the last while the COGs are written (GDAL releases
        # the GIL); the measurements are independent, so the result is the same as in sequence
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="band-registration")
        try:
            return self._run(pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, registration_pool: ThreadPoolExecutor) -> pm.ProductMetadata:
        from rsarchive.radiometry.solar import earth_sun_distance

        bands = self._bands()
        ms_grid, pan_grid = self._grids(bands)
        refinement, before = self._refine(bands, ms_grid)
        centre_t = _t64(self.meta.centre_utc)  # type: ignore[arg-type]
        distance = float(earth_sun_distance(centre_t))
        ms_names = [n for n, b in bands.items() if not b.is_pan]
        pan_names = [n for n, b in bands.items() if b.is_pan]
        first = bands[ms_names[0]] if ms_names else next(iter(bands.values()))
        # the PAN grid has the multispectral grid's extent, `pan_factor` times finer, and shares its solar nodes
        pan_factor = int(round(ms_grid.resolution_m / pan_grid.resolution_m)) if pan_grid is not None else 1
        ms_sun = sun_zenith_nodes(ms_grid, first.rpc, first.t0, first.cal.line_period_s)
        pan_sun = ms_sun.finer(pan_factor, pan_grid.width) if pan_grid is not None else None
        reflectance: dict[str, np.ndarray] = {}
        qa: dict[str, np.ndarray] = {}
        counts: dict[str, np.ndarray] = {}
        ref_name = (self._band_by_common(bands, self.opts.match_band) or first).cal.name
        registration = acc.BandRegistration(ref_name, ms_grid.resolution_m)
        measuring: list[Future[None]] = []
        waiting: list[tuple[str, np.ndarray]] = []  # bands made before the reference
        absolute: dict[str, Future[dict[str, Any]]] = {}  # band → its displacement from the reference orthoimage

        def register(name: str, image: np.ndarray) -> None:
            if self.reference is not None:
                absolute[name] = registration_pool.submit(self._absolute, name, image, ms_grid)
            if name == ref_name:
                measuring.append(registration_pool.submit(registration.set_reference, image))
                measuring.extend(registration_pool.submit(registration.add, *w) for w in waiting)
                waiting.clear()
            elif measuring:
                measuring.append(registration_pool.submit(registration.add, name, image))
            else:
                waiting.append((name, image))

        # each band is resampled with its QA in one pass on all cores (resample); the TOA strips of a
        # band are shared out to the cores too (the compiled pass releases the GIL): each strip is
        # computed alone, so the result is the same for any number of threads
        toa_pool = ThreadPoolExecutor(max_workers=max(1, self.opts.threads), thread_name_prefix="toa")
        try:
            for name, band in bands.items():
                grid, sun, fine = (pan_grid, pan_sun, pan_factor) if band.is_pan else (ms_grid, ms_sun, 1)
                assert grid is not None and sun is not None
                radiance, q = self._radiance(band, grid, with_qa=True)
                assert q is not None
                out = np.empty(radiance.shape, dtype=np.uint16)
                factor = np.float32(np.pi * distance**2 / band.cal.esun)
                # a PAN band is also averaged onto the multispectral grid (band-to-band registration)
                block_mean = np.empty((ms_grid.height, ms_grid.width)) if band.is_pan else None
                rows = max(fine, _STRIP_ROWS - _STRIP_ROWS % fine)
                strip = partial(_toa_strip, radiance, q, out, factor, sun, rows, block_mean, fine)
                for _ in toa_pool.map(strip, range(0, grid.height, rows)):
                    pass
                qa[name] = q
                counts[name] = out
                if not band.is_pan:
                    reflectance[name] = radiance
                register(name, block_mean if block_mean is not None else radiance)
                # the dicts hold what is kept (_write frees each array after its COG): a PAN band's float
                # radiance is freed here
                del radiance, q, out, strip, block_mean
        finally:
            self._heights.clear()
            toa_pool.shutdown(wait=True, cancel_futures=True)
        # cloud mask on the multispectral grid
        by_common = {bands[n].cal.common_name: reflectance[n] for n in ms_names}
        cloud_record: dict[str, Any]
        valid = np.zeros((ms_grid.height, ms_grid.width), bool)
        for n in ms_names:
            valid |= np.isfinite(reflectance[n])
        if all(k in by_common for k in ("blue", "green", "red", "nir")):
            cloud = cloud_mask(by_common["blue"], by_common["green"], by_common["red"], by_common["nir"],
                               self.opts.cloud)
            for n in ms_names:
                qa[n][cloud] |= np.uint16(QA_CLOUD)
            if pan_grid is not None:
                # each cloudy multispectral cell flags its pan_factor² PAN cells that have data: the
                # cloudy blocks alone are touched, the mask is not repeated up to the PAN grid
                rows, cols = np.nonzero(cloud)
                for n in pan_names:
                    blocks = qa[n].reshape(ms_grid.height, pan_factor, ms_grid.width, pan_factor)
                    picked = blocks[rows, :, cols, :]
                    picked |= np.where((picked & QA_NODATA) == 0, np.uint16(QA_CLOUD), np.uint16(0))
                    blocks[rows, :, cols, :] = picked
            # the bands look at the ground through a staggered focal plane (along-track angles): the
            # cover is counted where all four bands have data, i.e. where the tests could be made
            measured = np.all([np.isfinite(by_common[k]) for k in ("blue", "green", "red", "nir")], axis=0)
            cover = cloud_cover(cloud, measured)
            cloud_record = {"eo:cloud_cover": round(cover, 3), "class": cloud_class(cover),
                            "class_scheme": "Circular 10/2015/TT-BTNMT: A < 10 %, B 10-25 %, C >= 25 %",
                            "method": "ACCA/Fmask-style spectral tests on TOA reflectance (QA bit 6); percentage of the pixels "
                                      "where all four multispectral bands have data",
                            "thresholds": self.opts.cloud.to_dict()}
        else:
            cover = 0.0
            cloud_record = {"eo:cloud_cover": None, "class": None,
                            "method": "not computed: blue, green, red and NIR bands are needed"}
            self.warnings.append("cloud mask not computed (bands missing)")
        # accuracy
        geolocation = None
        if before is not None:
            match = self._band_by_common(bands, self.opts.match_band) or first
            if refinement.status == REFINED:
                image = reflectance[match.cal.name]
                matches = match_chips(image, self._reference_image, chip=self.opts.chip_px)
                inl = robust_inliers(matches)
                east, north = acc.matches_to_displacements([m for m, k in zip(matches, inl) if k],
                                                           ms_grid.resolution_m)
                geolocation = {**acc.displacement_stats(east, north, ms_grid.resolution_m),
                               "rejected": int((~inl).sum())}
            else:
                geolocation = before
            geolocation["method"] = (f"chips of {self.opts.chip_px} px of band {match.cal.name} matched against the "
                                     "reference orthoimage (phase correlation + Lucas–Kanade), outliers rejected")
        degraded_lines = {n: int(b.degraded.sum()) for n, b in bands.items()}
        degraded = any(degraded_lines.values())
        if degraded:
            self.warnings.append("ancillary degraded (ephemeris/attitude gap): affected lines have QA bit 4; "
                                 f"lines per band {degraded_lines}")
        accuracy = {
            "reference": ({"kind": "orthoimage", "file": str(self.reference),
                           "note": "absolute accuracy (geolocation, bands[].absolute) is measured against this "
                                   "orthoimage" + ("; it also served for the refinement, so after refinement it "
                                                   "is the fit's residual, not an independent check"
                                                   if self.opts.refine else "")}
                          if self.reference else
                          {"kind": "none", "note": "no reference: absolute accuracy not measured (bands[].absolute "
                                                   "is null); the relative accuracy (band-to-band) and the RPC fit "
                                                   "to the rigorous model are"}),
            "geolocation": geolocation,
            "before_refinement": before if refinement.status == REFINED else None,
            "band_to_band": None,
            "rpc_fit": {n: b.fit.to_dict() for n, b in bands.items()},
            "dem": self.dem_record,
            "degraded": degraded,
            "warnings": list(self.warnings),
        }
        # files
        files = self._write(bands, ms_grid, pan_grid, counts, qa, by_common, valid)
        for job in measuring:
            job.result()
        measured = len(measuring) > 1  # the reference and at least one band
        accuracy["band_to_band"] = registration.result() if measured else None
        accuracy["bands"] = _per_band(list(bands), ref_name, accuracy["band_to_band"],
                                      {n: job.result() for n, job in absolute.items()})
        return self._metadata(bands, ms_grid, pan_grid, files, cloud_record, accuracy, refinement, degraded,
                              degraded_lines, valid, distance)

    def _write(self, bands: dict[str, _Band], ms_grid: OrthoGrid, pan_grid: OrthoGrid | None,
               counts: dict[str, np.ndarray], qa: dict[str, np.ndarray], by_common: dict[str, np.ndarray],
               valid: np.ndarray) -> dict[str, Any]:
        """The COGs and the thumbnail; ``counts`` and ``qa`` are consumed (emptied) on the way."""
        enc = REFLECTANCE_ENCODING
        common = {"SCENE_ID": self.meta.scene_id, "LEVEL": "product (L2A)", "CPF_VERSION": self.cpf.version,
                  "SOFTWARE": f"rsarchive {rsarchive.__version__}"}
        # each array is handed over (popped, not copied) and freed once its COG is written
        opts = dict(tile=self.opts.tile, compress=self.opts.compress, release=True, threads=self.opts.threads)
        writes: list[tuple[int, Any]] = []  # (pixels, write)
        for name, band in bands.items():
            grid = pan_grid if band.is_pan else ms_grid
            assert grid is not None
            writes.append((grid.width * grid.height, partial(
                write_cog, self.work / f"{name}.tif", [counts.pop(name)], crs=grid.crs, transform=grid.transform,
                nodata=enc.nodata,
                overview_resampling="average", descriptions=[f"{name} TOA reflectance ({band.cal.common_name})"],
                scale=enc.scale, offset=enc.offset, tags={**common, "BAND": name},
                band_tags=[{"BAND": name, "COMMON_NAME": band.cal.common_name,
                            "CENTER_WAVELENGTH_UM": band.cal.center_um}], **opts)))
        qa_files: list[QaFile] = []
        groups = [("QA", [n for n, b in bands.items() if not b.is_pan], ms_grid)]
        groups += [(f"QA_{n}", [n], pan_grid) for n, b in bands.items() if b.is_pan]
        for file_key, members, grid in groups:
            if not members or grid is None:
                continue
            writes.append((grid.width * grid.height * len(members), partial(
                write_cog, self.work / f"{file_key}.tif", [qa.pop(m) for m in members], crs=grid.crs,
                transform=grid.transform, nodata=None,
                overview_resampling="mode", descriptions=[f"{m} quality bitfield" for m in members],
                tags={**common, "QA_BANDS": ",".join(members)}, **opts)))
            qa_files.append(QaFile(file=f"{file_key}.tif", bands=members, resolution_m=grid.resolution_m))
        # two COGs at a time, the largest first: GDAL builds a COG's overviews on one core (MEM driver),
        # so the PAN band's are built while its QA's are instead of one after the other
        writes.sort(key=lambda w: -w[0])
        with ThreadPoolExecutor(max_workers=ThreadBudget(self.opts.threads).share(2), thread_name_prefix="cog") as pool:
            futures = [pool.submit(write) for _, write in writes]
            thumb = self._thumbnail(by_common, valid)  # meanwhile (GDAL writes without the GIL)
            quicklook = self._quicklook(by_common, valid)
            for future in futures:
                future.result()
        return {"qa": qa_files, "thumbnail": thumb, "quicklook": quicklook}

    def _thumbnail(self, by_common: dict[str, np.ndarray], valid: np.ndarray) -> pm.Thumbnail | None:
        import rasterio

        browse = _browse_image(by_common, valid, self.opts.thumbnail_px)
        if browse is None:
            return None
        hh, ww = browse.shape[1:]
        with rasterio.open(self.work / "thumbnail.png", "w", driver="PNG", width=ww, height=hh, count=4,
                           dtype="uint8") as ds:
            ds.write(browse)
        aux = self.work / "thumbnail.png.aux.xml"
        if aux.exists():
            aux.unlink()
        return pm.Thumbnail(file="thumbnail.png", media_type="image/png", shape=[hh, ww],
                            bands=["red", "green", "blue", "alpha"], stretch=BROWSE_STRETCH)

    def _quicklook(self, by_common: dict[str, np.ndarray], valid: np.ndarray) -> pm.Thumbnail | None:
        """The browse image at about 1 000 px (``quicklook.webp``): the thumbnail's stretch, lossy WebP
        with an alpha band (GDAL's WEBP driver writes by copy, from an in-memory dataset)."""
        import rasterio
        from rasterio.shutil import copy as gdal_copy

        browse = _browse_image(by_common, valid, self.opts.quicklook_px)
        if browse is None:
            return None
        hh, ww = browse.shape[1:]
        target = self.work / "quicklook.webp"
        with rasterio.MemoryFile() as memory:
            with memory.open(driver="GTiff", width=ww, height=hh, count=4, dtype="uint8") as ds:
                ds.write(browse)
            with memory.open() as ds:
                gdal_copy(ds, str(target), driver="WEBP", QUALITY=str(self.opts.quicklook_quality))
        aux = self.work / "quicklook.webp.aux.xml"
        if aux.exists():
            aux.unlink()
        return pm.Thumbnail(file="quicklook.webp", media_type="image/webp", shape=[hh, ww],
                            bands=["red", "green", "blue", "alpha"], stretch=BROWSE_STRETCH)

    def _footprint(self, valid: np.ndarray, grid: OrthoGrid) -> Any:
        import shapely
        from pyproj import Transformer
        from rasterio.features import shapes

        polys = [shapely.geometry.shape(geom) for geom, value in
                 shapes(valid.astype(np.uint8), mask=valid, transform=grid.transform) if value == 1]
        if not polys:
            return None
        area = shapely.union_all(polys).simplify(2 * grid.resolution_m, preserve_topology=True)
        to_ll = Transformer.from_crs(grid.epsg, 4326, always_xy=True)
        return shapely.transform(area, lambda xy: np.column_stack(to_ll.transform(xy[:, 0], xy[:, 1])))

    def _view(self, band: _Band) -> pm.ViewRecord:
        from rsarchive.geometry.ellipsoid import geodetic_to_ecef, up_vector
        from rsarchive.radiometry.solar import solar_angles

        stamp = band.line_times(np.array([(band.lines - 1) / 2.0]))
        g = self.model.locate(band.cal, stamp, np.array([(band.cal.detectors - 1) / 2.0]))
        t = mid_integration(band.cal, stamp)  # the instant the centre is seen
        sat, _, _ = self.model.ephemeris.state(t)
        ground = geodetic_to_ecef(g.lat[0, 0], g.lon[0, 0], g.h[0, 0])
        look = ground - sat[0]
        look /= np.linalg.norm(look)
        up_g = up_vector(g.lat[0, 0], g.lon[0, 0])
        from rsarchive.geometry.ellipsoid import ecef_to_geodetic

        slat, slon, _ = ecef_to_geodetic(sat[0])
        nadir = -up_vector(slat, slon)
        off_nadir = float(np.degrees(np.arccos(np.clip(look @ nadir, -1, 1))))
        incidence = float(np.degrees(np.arccos(np.clip(-look @ up_g, -1, 1))))
        lat, lon = np.radians(g.lat[0, 0]), np.radians(g.lon[0, 0])
        east = np.array([-np.sin(lon), np.cos(lon), 0.0])
        north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
        to_sat = -look
        azimuth = float(np.degrees(np.arctan2(to_sat @ east, to_sat @ north)) % 360.0)
        zen, azi = solar_angles(t[0], g.lat[0, 0], g.lon[0, 0])
        return pm.ViewRecord(sun_azimuth=float(azi), sun_elevation=90.0 - float(zen), off_nadir=off_nadir,
                             incidence_angle=incidence, azimuth=azimuth if off_nadir > 1e-3 else None,
                             centre_lat=float(g.lat[0, 0]), centre_lon=float(g.lon[0, 0]), at_utc=_iso(t[0]))

    def _metadata(self, bands: dict[str, _Band], ms_grid: OrthoGrid, pan_grid: OrthoGrid | None,
                  files: dict[str, Any], cloud_record: dict[str, Any], accuracy: dict[str, Any],
                  refinement: Refinement, degraded: bool, degraded_lines: dict[str, int], valid: np.ndarray,
                  distance: float) -> pm.ProductMetadata:
        import shapely

        enc = REFLECTANCE_ENCODING
        footprint = self._footprint(valid, ms_grid)
        band_list = []
        qa_of = {m: (f.file, k + 1) for f in files["qa"] for k, m in enumerate(f.bands)}
        for name, band in bands.items():
            grid = pan_grid if band.is_pan else ms_grid
            assert grid is not None
            band_list.append(pm.ProductBand(
                name=name, common_name=band.cal.common_name, center_wavelength_um=band.cal.center_um,
                full_width_half_max_um=band.cal.fwhm_um, esun_w_m2_um=band.cal.esun, file=f"{name}.tif",
                **{**enc.to_dict(), "units": "1"}, quantity="TOA reflectance = count * scale + offset",
                resolution_m=grid.resolution_m, grid="pan" if band.is_pan else "ms",
                qa=QaRef(file=qa_of[name][0], band=qa_of[name][1]), rpc=band.rpc.to_dict()))
        grids = {"ms": pm.GridRecord.model_validate(ms_grid.to_dict())}
        if pan_grid is not None:
            grids["pan"] = pm.GridRecord.model_validate(pan_grid.to_dict())
        view_band = self._band_by_common(bands, self.opts.match_band) or next(iter(bands.values()))
        qa = qa_section(files["qa"], terrain_occlusion=(
            {"computed": True, "percent_of_valid": dict(self.occluded),
             "method": "cells whose image coordinate (with the DEM height) falls behind terrain already passed "
                       "on the same image line or column, walking away from the sensor (rsarchive.geometry.occlusion)"}
            if self.dem_path is not None else
            {"computed": False, "reason": "no DEM: orthorectified on the ellipsoid, where nothing hides anything"}))
        cloud = pm.CloudRecord.model_validate(cloud_record)
        return pm.ProductMetadata(
            product_id=f"{self.meta.scene_id}_L2A", scene_id=self.meta.scene_id,
            datastrip_id=self.meta.datastrip_id, mission=self.meta.mission, datetime=self.meta.centre_utc,
            start_utc=self.meta.start_utc, end_utc=self.meta.end_utc, proj_code=ms_grid.crs, grids=grids,
            footprint=shapely.geometry.mapping(footprint) if footprint is not None else None,
            bbox=list(footprint.bounds) if footprint is not None else None,
            bands=band_list, qa=qa, thumbnail=files["thumbnail"], quicklook=files["quicklook"], view=self._view(view_band),
            sun=pm.SunRecord(
                earth_sun_distance_au=distance,
                zenith=f"per pixel: NREL SPA on nodes every {SUN_GRID_STEP * ms_grid.resolution_m:g} m "
                       f"({SUN_GRID_STEP} px of the multispectral grid) at each node's acquisition time, "
                       "bilinear between them"),
            cloud=cloud, eo_cloud_cover=cloud.eo_cloud_cover,
            geometry=pm.GeometryRecord(
                method="RPC fitted to the rigorous sensor model (rsarchive.geometry.rpc), resampled by "
                       "rsarchive.geometry.resample",
                resampling={"bands": self.opts.resampling, "qa": "nearest"},
                refinement=pm.RefinementRecord.model_validate(refinement.to_dict()),
                dem=pm.DemRecord.model_validate(accuracy["dem"])),
            refinement=refinement.status, accuracy=pm.Accuracy.model_validate(accuracy), degraded=degraded,
            degraded_lines=degraded_lines, warnings=list(self.warnings),
            lineage=pm.Lineage(
                raw_scene_id=self.meta.scene_id, raw_dir=str(self.raw_dir.resolve()), cpf_version=self.cpf.version,
                downlink_sha256=self.meta.downlink.sha256, dem=str(self.dem_path) if self.dem_path else None,
                reference=str(self.reference) if self.reference else None,
                software={"rsarchive": rsarchive.__version__, "gdal": _gdal_version()}),
            created_utc=now_utc(),
        )


BROWSE_STRETCH = "2-98 % per band, gamma 1/1.5"
"""How the browse images (thumbnail, quicklook) map reflectance to 8 bits."""


def _browse_image(by_common: dict[str, np.ndarray], valid: np.ndarray, max_px: int) -> np.ndarray | None:
    """A true-colour browse image (uint8 red, green, blue, alpha; alpha 0 where there is no data) of at
    most ``max_px`` pixels a side: block means of the reflectance, each band stretched from its 2nd to its
    98th percentile with gamma 1/1.5.  None without red, green and blue."""
    rgb = [by_common.get(k) for k in ("red", "green", "blue")]
    if any(v is None for v in rgb):
        return None
    h, w = valid.shape
    step = max(1, int(np.ceil(max(h, w) / max_px)))
    hh, ww = h // step, w // step
    layers = []
    for band in rgb:
        assert band is not None
        blocks = band[:hh * step, :ww * step].reshape(hh, step, ww, step)
        layers.append(_nanmean_blocks(blocks))
    stack = np.stack(layers)
    ok = np.all(np.isfinite(stack), axis=0)
    out = np.zeros((4, hh, ww), dtype=np.uint8)
    for k in range(3):
        values = stack[k][ok]
        lo, hi = (np.percentile(values, [2, 98]) if values.size else (0.0, 1.0))
        scaled = np.clip((stack[k] - lo) / max(hi - lo, 1e-6), 0, 1) ** (1 / 1.5)  # mild gamma
        out[k] = np.where(ok, np.rint(scaled * 255), 0).astype(np.uint8)
    out[3] = np.where(ok, 255, 0)
    return out


def _nanmean_blocks(blocks: np.ndarray) -> np.ndarray:
    """``np.nanmean(blocks, axis=(1, 3))`` (the same arithmetic, so the same values) without its warning for
    blocks with no data: NaN there.  ``np.errstate`` is per thread; warning filters are per process."""
    missing = np.isnan(blocks)
    total = np.sum(np.where(missing, 0, blocks), axis=(1, 3))
    count = np.sum(~missing, axis=(1, 3), dtype=np.intp)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.true_divide(total, count, out=total, casting="unsafe")


def _per_band(names: list[str], reference_band: str, band_to_band: dict[str, Any] | None,
              absolute: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per band: absolute accuracy (against the reference orthoimage, None without one) and relative
    accuracy (band-to-band against the reference band), RMSE and CE90 in metres."""
    registered = (band_to_band or {}).get("bands") or {}
    out: dict[str, Any] = {}
    for name in names:
        abs_stats = absolute.get(name)
        absolute_rec = None if abs_stats is None else {
            k: abs_stats.get(k) for k in ("rmse_m", "ce90_m", "rmse_px", "ce90_px", "count", "rejected", "pixel_m",
                                          "mean_east_m", "mean_north_m", "method")}
        if name == reference_band:
            relative: dict[str, Any] | None = {"rmse_m": 0.0, "ce90_m": 0.0, "count": 0,
                                               "note": "the reference band of the band-to-band registration"}
        elif name in registered:
            r = registered[name]
            relative = {"rmse_m": r.get("rms_m"), "ce90_m": r.get("ce90_m"), "count": r.get("count"),
                        "against": reference_band}
        else:
            relative = None
        out[name] = {"absolute": absolute_rec, "relative": relative}
    return out


def _toa_strip(radiance: np.ndarray, qa: np.ndarray, out: np.ndarray, factor: np.float32, sun: SunGrid,
               rows: int, block_mean: np.ndarray | None, fine: int, r0: int) -> None:
    """TOA reflectance, masks and encoding of rows ``r0 … r0 + rows`` (in place in ``radiance``, ``qa`` and
    ``out``): strips bound the cos θs temporaries (no full-band field is made).  ``block_mean``: also
    the mean reflectance of each ``fine × fine`` block (NaN where a pixel has no data), rows
    ``r0 / fine …`` of it (``rows`` and the height are multiples of ``fine``).  Strips are disjoint, so
    several may run at once on threads."""
    r1 = min(r0 + rows, radiance.shape[0])
    means = block_mean[r0 // fine:r1 // fine] if block_mean is not None else None
    toa_encode_rows(radiance[r0:r1], qa[r0:r1], sun.cos_parts(r0, r1), float(factor), out[r0:r1],
                    REFLECTANCE_ENCODING, QA_NODATA, means, fine)


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(np.datetime64(t, "us"), unit="us")) + "Z"


def _gdal_version() -> str:
    import rasterio

    return str(rasterio.__gdal_version__)


