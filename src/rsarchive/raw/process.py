"""Making the raw level (L1A) from a downlink: decode → split → equalise → write.

:class:`RawProcessor` runs the chain for one downlink::

    proc = RawProcessor("pass.cadu", load_cpf("vnredsat1"), "out/")
    proc.decode()                      # level-0 → spooled datastrip (+ CPF checks)
    for span in proc.scenes():
        result = proc.process_scene(span)   # DIR/<scene-id>/: <band>.tif, QA*.tif, metadata.json
    proc.close()

or simply :func:`process_raw`.  Per scene the whole chain is a lazy Dask graph
over blocks of lines — read DNs from the spool, equalise, QA, encode to uint16,
chunk statistics — stored into tiled GeoTIFFs with **one** ``dask.compute``;
then GDAL turns each file into a COG (:mod:`rsarchive.cog.writer`) and
``metadata.json`` is written (:mod:`rsarchive.raw.metadata`).  A scene is
written into ``DIR/.<scene-id>.partial/`` and renamed when complete, so a scene
directory is never half written.  A scene in which no band has a valid line is
skipped and reported (:attr:`SceneResult.skipped`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import rsarchive
from rsarchive.cog.writer import DEFAULT_COMPRESS, DEFAULT_TILE, create_tiled, finish_cog
from rsarchive.cpf import CPF, BandCalibration, load_cpf
from rsarchive.directories import written_whole
from rsarchive.errors import ConflictError, ProcessingError
from rsarchive.level0 import FLAG_MISSING, FLAG_OK, MissionProfile
from rsarchive.radiometry.encoding import Encoding, radiance_encoding
from rsarchive.radiometry.equalise import BandEqualiser, equalise_dask, line_temperatures
from rsarchive.radiometry.qa import QA_FILLED, QA_NODATA, QA_SATURATED
from rsarchive.raw import metadata as md
from rsarchive.raw.datastrip import BandStrip, Datastrip, read_datastrip
from rsarchive.raw.scenes import SceneSpan, datastrip_id, reference_band, scene_id, split_scenes
from rsarchive.threads import ThreadBudget

log = logging.getLogger(__name__)

__all__ = ["RawProcessor", "RawResult", "SceneResult", "process_raw"]

_NS = np.timedelta64(1, "ns")
GDAL_CACHE_MB = 256
"""GDAL block cache while COGs are written (MB)."""


@dataclass
class SceneResult:
    """What happened to one scene."""

    scene_id: str
    index: int
    path: Path | None = None
    skipped: bool = False
    reason: str = ""
    metadata: md.RawSceneMetadata | None = None


@dataclass
class RawResult:
    """All scenes of one downlink."""

    datastrip_id: str
    scenes: list[SceneResult] = field(default_factory=list)

    @property
    def written(self) -> list[SceneResult]:
        return [s for s in self.scenes if not s.skipped]

    @property
    def skipped(self) -> list[SceneResult]:
        return [s for s in self.scenes if s.skipped]


@dataclass
class _BandPlan:
    cal: BandCalibration
    strip: BandStrip
    first: int
    stop: int
    flags: np.ndarray
    times: np.ndarray
    temperature: np.ndarray
    degraded: np.ndarray
    encoding: Encoding

    @property
    def lines(self) -> int:
        return self.stop - self.first

    @property
    def valid_lines(self) -> int:
        return int(np.count_nonzero(self.flags == FLAG_OK))


class _Rows:
    """Array-like over a band's spooled lines ``[first, stop)`` (fill outside the strip), for ``da.from_array``."""

    def __init__(self, strip: BandStrip, first: int, stop: int) -> None:
        self.strip, self.first = strip, first
        self.shape = (stop - first, strip.detectors)
        self.dtype = np.dtype(np.uint16)
        self.ndim = 2

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        rows, cols = key
        r0, r1, _ = rows.indices(self.shape[0])
        return self.strip.read_rows(self.first + r0, self.first + r1)[:, cols]


class RawProcessor:
    """The raw-level chain for one downlink (see the module docstring)."""

    def __init__(
        self,
        downlink: str | Path,
        cpf: CPF | str | Path,
        out_dir: str | Path,
        *,
        profile: MissionProfile | str = "vnredsat1",
        pass_id: str | None = None,
        config_dir: Path | None = None,
        tile: int = DEFAULT_TILE,
        compress: str = DEFAULT_COMPRESS,
        overwrite: bool = False,
        ancillary_margin_s: float = 5.0,
        scheduler: Any = None,
        threads: ThreadBudget | None = None,
    ) -> None:
        self.downlink = Path(downlink)
        self.cpf = cpf if isinstance(cpf, CPF) else load_cpf(cpf, config_dir)
        self.out_dir = Path(out_dir)
        self.profile = profile
        self.pass_id = pass_id
        self.config_dir = config_dir
        self.tile = tile
        self.compress = compress
        self.overwrite = overwrite
        self.ancillary_margin_s = ancillary_margin_s
        self.scheduler = scheduler
        self.threads = threads or ThreadBudget.of_machine()
        # Dask's local scheduler (or the one set in dask.config) gets the budget's threads; a distributed
        # cluster sizes its own workers
        self._compute: dict[str, Any] = ({"scheduler": scheduler} if scheduler is not None else
                                         {"num_workers": self.threads.cpu})
        self.strip: Datastrip | None = None
        self._spool: tempfile.TemporaryDirectory[str] | None = None
        self._model: Any = None
        self.equalisers = {b.name: BandEqualiser(self.cpf, b) for b in self.cpf.bands}
        self.encodings = {b.name: radiance_encoding(self.cpf, b) for b in self.cpf.bands}

    # -- pass 1: decode ------------------------------------------------------------------
    def decode(self, progress: Callable[[int], None] | None = None) -> Datastrip:
        """Decode the downlink into a spooled datastrip (``progress`` gets bytes read)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._spool = tempfile.TemporaryDirectory(prefix=".spool-", dir=self.out_dir)
        self.strip = read_datastrip(self.downlink, self.profile, self.cpf, self._spool.name,
                                    config_dir=self.config_dir, progress=progress)
        return self.strip

    def close(self) -> None:
        """Remove the spool."""
        self.strip = None
        if self._spool is not None:
            self._spool.cleanup()
            self._spool = None

    def __enter__(self) -> RawProcessor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _need_strip(self) -> Datastrip:
        if self.strip is None:
            raise ProcessingError("RawProcessor: call decode() before processing scenes")
        return self.strip

    # -- identity ----------------------------------------------------------------------
    @property
    def pass_token(self) -> str:
        strip = self._need_strip()
        return self.pass_id or f"h{strip.sha256[:8]}"

    @property
    def datastrip_start(self) -> np.datetime64:
        """UTC of line 0 of the reference band (nominal)."""
        strip = self._need_strip()
        ref = reference_band(self.cpf)
        start = strip.bands[ref.name].nominal_times(0, 1)[0]
        if np.isnat(start):  # the reference band has no time at all: any band with one
            for band in strip.bands.values():
                start = band.nominal_times(0, 1)[0]
                if not np.isnat(start):
                    break
        return start

    @property
    def datastrip_id(self) -> str:
        return datastrip_id(self.cpf.mission, self.datastrip_start, self.pass_token)

    def scene_id(self, index: int) -> str:
        return scene_id(self.cpf.mission, self.datastrip_start, self.pass_token, index)

    def scenes(self) -> list[SceneSpan]:
        """The scenes of the decoded datastrip."""
        return split_scenes(self.cpf, self._need_strip().extents())

    # -- pass 2: one scene -------------------------------------------------------------
    def process_scene(self, span: SceneSpan) -> SceneResult:
        """Write one scene (or skip it when no band has a valid line)."""
        strip = self._need_strip()
        sid = self.scene_id(span.index)
        plans = self._plan(span)
        if not any(p.valid_lines for p in plans.values()):
            reason = "no valid lines in any band (all lost or unreadable)"
            log.warning("scene %s skipped: %s", sid, reason)
            return SceneResult(sid, span.index, skipped=True, reason=reason)
        final = self.out_dir / sid
        if final.exists():
            if not self.overwrite:
                raise ConflictError(f"scene directory {final} exists already (pass overwrite=True, --overwrite on the command line, to replace it)")
        with written_whole(final) as work:
            meta = self._write_scene(span, sid, plans, work, strip)
        log.info("scene %s written to %s", sid, final)
        return SceneResult(sid, span.index, path=final, metadata=meta)

    def _plan(self, span: SceneSpan) -> dict[str, _BandPlan]:
        strip = self._need_strip()
        anc = strip.ancillary
        plans = {}
        geo_degraded = self._geometry_degraded
        for cal in self.cpf.bands:
            first, stop = span.lines[cal.name]
            band = strip.bands[cal.name]
            flags = band.line_flags(first, stop)
            times = band.nominal_times(first, stop)
            temps, degraded = line_temperatures(times, anc.housekeeping_times, anc.focal_plane_temp_c)
            degraded |= geo_degraded(cal, times)
            plans[cal.name] = _BandPlan(cal, band, first, stop, flags, times, temps, degraded,
                                        self.encodings[cal.name])
        return plans

    def _sensor_model(self) -> Any:
        """The sensor model from the decoded ancillary (None when it cannot be built)."""
        if self._model is None:
            from rsarchive.geometry.sensor import SensorModel

            anc = self._need_strip().ancillary
            try:
                self._model = SensorModel.from_samples(self.cpf, anc.ephemeris_times, anc.positions_m,
                                                       anc.velocities_m_s, anc.attitude_times, anc.quaternions)
            except ProcessingError as exc:
                log.warning("no usable ephemeris/attitude in %s: %s", self.downlink.name, exc)
                self._model = False
        return self._model or None

    def _rpc(self, p: _BandPlan) -> Any:
        """The RPC fit of a band of a scene (None when the ancillary cannot locate it)."""
        model = self._sensor_model()
        known = np.flatnonzero(~np.isnat(p.times))
        if model is None or known.size == 0 or p.lines < 2:
            return None
        from rsarchive.geometry.rpc import fit_rpc

        period_ns = p.cal.line_period_s * 1e9
        t0 = p.times[known[0]] - np.int64(round(known[0] * period_ns)) * _NS  # the nominal time line

        def line_times(lines: np.ndarray) -> np.ndarray:
            return t0 + np.rint(np.asarray(lines, dtype=np.float64) * period_ns).astype(np.int64) * _NS

        try:
            return fit_rpc(model, p.cal, line_times, p.lines, p.cal.detectors)
        except ProcessingError as exc:
            log.warning("band %s: no RPC (%s)", p.cal.name, exc)
            return None

    def _geometry_degraded(self, cal: BandCalibration, times: np.ndarray) -> np.ndarray:
        """Lines whose ephemeris or attitude is interpolated across a gap (QA bit 4), at mid-integration."""
        out = np.zeros(times.shape, dtype=bool)
        valid = ~np.isnat(times)
        model = self._sensor_model()
        if model is None:
            out[valid] = True
            return out
        if valid.any():
            out[valid] = model.degraded(cal, times[valid])
        return out

    def build(self, plans: dict[str, _BandPlan], sid: str, materialise: bool = False) -> dict[str, Any]:
        """The lazy graph of a scene: per band counts, QA and chunk statistics (Dask arrays).

        ``materialise`` reads the scene's DNs into memory first, so the graph holds plain
        arrays a distributed cluster can receive (the spool is local to this process)."""
        import dask.array as da

        graph: dict[str, Any] = {}
        for name, p in plans.items():
            chunks = (self.tile, p.cal.detectors)
            rows = _Rows(p.strip, p.first, p.stop)
            source: Any = rows[0:rows.shape[0], 0:rows.shape[1]] if materialise else rows
            dns = da.from_array(source, chunks=chunks, lock=False, asarray=True,
                                meta=np.empty((0, 0), np.uint16),
                                name=f"level0-{sid}-{name}")
            counts, qa = equalise_dask(self.equalisers[name], dns, p.temperature, p.flags, p.degraded,
                                       encoding=p.encoding)
            stats = da.map_blocks(_chunk_stats, counts, qa, nodata=p.encoding.nodata, dtype=np.float64,
                                  chunks=((1,) * counts.numblocks[0], (len(md.CHUNK_STATS_FIELDS),)),
                                  token=f"stats-{name}")
            graph[name] = {"counts": counts, "qa": qa, "stats": stats}
        return graph

    def _write_scene(self, span: SceneSpan, sid: str, plans: dict[str, _BandPlan], work: Path,
                     strip: Datastrip) -> md.RawSceneMetadata:
        import dask
        import dask.array as da

        distributed = _is_distributed(self.scheduler)
        graph = self.build(plans, sid, materialise=distributed)
        ref = reference_band(self.cpf)
        groups = _qa_groups(self.cpf, plans, ref.name)
        common_tags = {"SCENE_ID": sid, "LEVEL": "raw (L1A)", "CPF_VERSION": self.cpf.version,
                       "MISSION": self.cpf.mission, "SOFTWARE": f"rsarchive {rsarchive.__version__}"}
        datasets, sources, targets, files = [], [], [], []
        rpc_fits: dict[str, Any] = {}
        try:
            for name, p in plans.items():
                cal = p.cal
                ds, (target,) = create_tiled(
                    None, cal.detectors, p.lines, "uint16",
                    [{"description": f"{name} radiance ({cal.common_name})", "scale": p.encoding.scale,
                      "offset": p.encoding.offset, "units": p.encoding.units,
                      "tags": _band_tags(cal)}],
                    nodata=p.encoding.nodata, tile=self.tile, tags={**common_tags, "BAND": name})
                datasets.append(ds)
                rpc_fits[name] = self._rpc(p)
                if rpc_fits[name] is not None:
                    ds.rpcs = rpc_fits[name].model.to_rasterio()  # GDAL RPC metadata, kept by the COG copy
                sources.append(graph[name]["counts"])
                targets.append(target)
                files.append((ds, work / f"{name}.tif", "average"))
            for qa_name, members in groups.items():
                p0 = plans[members[0]]
                ds, qa_targets = create_tiled(
                    None, p0.cal.detectors, p0.lines, "uint16",
                    [{"description": f"{m} quality bitfield", "tags": {"BAND": m}} for m in members],
                    nodata=None, tile=self.tile, tags={**common_tags, "QA_BANDS": ",".join(members)})
                datasets.append(ds)
                if rpc_fits.get(members[0]) is not None:  # one RPC per file: that of its first band
                    ds.rpcs = rpc_fits[members[0]].model.to_rasterio()
                sources.extend(graph[m]["qa"] for m in members)
                targets.extend(qa_targets)
                files.append((ds, work / f"{qa_name}.tif", "mode"))
            names = list(plans)
            started = time.perf_counter()
            if distributed:
                # Workers compute; this process (which holds the files) writes what comes back.
                computed_arrays = dask.compute(*sources, *(graph[n]["stats"] for n in names), **self._compute)
                for target, array in zip(targets, computed_arrays[:len(sources)], strict=True):
                    target[(slice(0, array.shape[0]), slice(0, array.shape[1]))] = array
                stats = list(computed_arrays[len(sources):])
            else:
                store = da.store(sources, targets, lock=False, compute=False)
                _, *stats = dask.compute(store, *(graph[n]["stats"] for n in names), **self._compute)
            computed = time.perf_counter()
            import rasterio

            # a bounded GDAL block cache (why: docs/DECISIONS.md, Memory over a long ingest pass); each
            # in-memory band set is freed once written
            def write(file: tuple[Any, Path, str]) -> None:
                ds, dst, resampling = file
                finish_cog(ds, dst, resampling=resampling, tile=self.tile, compress=self.compress,
                           threads=self.threads.cpu)
                ds.close()

            # two files at a time: GDAL's overviews are single-threaded and run without the GIL
            with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), \
                    ThreadPoolExecutor(max_workers=self.threads.share(2), thread_name_prefix="raw-cog") as pool:
                for _ in pool.map(write, files):
                    pass
        finally:
            for ds in datasets:
                ds.close()
        log.debug("scene %s: compute + store %.2f s, COGs %.2f s", sid, computed - started,
                  time.perf_counter() - computed)
        band_stats = {n: md.statistics_from_chunks(s, plans[n].encoding.scale, plans[n].encoding.offset)
                      for n, s in zip(names, stats)}
        meta = self._metadata(span, sid, plans, groups, band_stats, rpc_fits, strip)
        meta.write(work / "metadata.json")
        return meta

    # -- metadata ----------------------------------------------------------------------
    def _metadata(self, span: SceneSpan, sid: str, plans: dict[str, _BandPlan], groups: dict[str, list[str]],
                  band_stats: dict[str, md.BandStatistics], rpc_fits: dict[str, Any],
                  strip: Datastrip) -> md.RawSceneMetadata:
        ref = reference_band(self.cpf)
        rp = plans[ref.name]
        start, end = rp.times[0], rp.times[-1]
        centre = rp.times[rp.lines // 2]
        qa_of = {m: (f"{g}.tif", k + 1) for g, members in groups.items() for k, m in enumerate(members)}
        notes = []
        bands = []
        for name, p in plans.items():
            cal = p.cal
            if not p.valid_lines:
                notes.append(f"band {name} has no valid line in this scene (all nodata)")
            fit = rpc_fits.get(name)
            bands.append(md.RawBand(
                name=name, id=cal.id, common_name=cal.common_name, center_wavelength_um=cal.center_um,
                full_width_half_max_um=cal.fwhm_um, esun_w_m2_um=cal.esun, file=f"{name}.tif",
                **p.encoding.to_dict(), lines=md.LineRange(first=p.first, last=p.stop - 1, count=p.lines),
                detectors=cal.detectors, line_period_s=cal.line_period_s, start_utc=md.iso(p.times[0]),
                end_utc=md.iso(p.times[-1]), dead_detectors=list(cal.dead),
                level0=md.Level0Lines(
                    lines=p.lines, lines_valid=p.valid_lines,
                    lines_missing=int(np.count_nonzero(p.flags == FLAG_MISSING)),
                    lines_unreadable=int(np.count_nonzero((p.flags != FLAG_OK) & (p.flags != FLAG_MISSING)))),
                statistics=band_stats[name], qa=md.QaRef(file=qa_of[name][0], band=qa_of[name][1]),
                rpc=None if fit is None else md.RpcFitRecord(in_file=True, **fit.to_dict())))
        anc = strip.ancillary
        if anc.housekeeping_times.size == 0:
            notes.append("no housekeeping: dark not temperature-corrected (T_ref used), QA bit 4 set")
        temps = np.concatenate([p.temperature for p in plans.values()])
        finite = temps[np.isfinite(temps)]
        window = md.ancillary_window(anc, start, end, self.ancillary_margin_s,
                                     {n: int(np.count_nonzero(p.degraded)) for n, p in plans.items()})
        geometry, sun = self._geometry(rp, centre)
        if geometry is None:
            notes.append("ephemeris/attitude insufficient to locate the scene: no geometry or sun angles")
        return md.RawSceneMetadata(
            scene_id=sid, datastrip_id=self.datastrip_id, scene_index=span.index, mission=self.cpf.mission,
            pass_id=self.pass_token, partial=span.partial, start_utc=md.iso(start), end_utc=md.iso(end),
            centre_utc=md.iso(centre), reference_band=ref.name,
            downlink=md.DownlinkRef(path=strip.source, sha256=strip.sha256, bytes=strip.size, profile=strip.profile),
            cpf=md.CpfRef(version=self.cpf.version, mission=self.cpf.mission, source=self.cpf.source),
            software=md.Software(name="rsarchive", version=rsarchive.__version__),
            created_utc=md.now_utc(), bands=bands,
            qa=md.qa_section([md.QaFile(file=f"{g}.tif", bands=members) for g, members in groups.items()]),
            level0_quality=strip.quality,
            temperature=md.Temperature(t_ref_c=self.cpf.t_ref_c,
                                       min_c=float(finite.min()) if finite.size else None,
                                       max_c=float(finite.max()) if finite.size else None),
            ancillary=window, geometry=geometry, sun=sun, notes=notes)

    def _geometry(self, rp: _BandPlan, centre: np.datetime64) -> tuple[md.SceneGeometry | None,
                                                                       md.SunAtCentre | None]:
        """Scene centre, footprint and sun angles from the decoded ancillary (ellipsoid, h = 0)."""
        model = self._sensor_model()
        if model is None or np.isnat(centre):
            return None, None
        from rsarchive.geometry.sensor import mid_integration
        from rsarchive.radiometry.solar import earth_sun_distance, solar_angles

        cal = rp.cal
        try:
            mid = model.locate(cal, np.array([centre]), np.array([(cal.detectors - 1) / 2.0]))
            rows = np.unique(np.linspace(0, rp.lines - 1, 5).round().astype(int))
            edge = model.locate(cal, rp.times[rows], np.array([-0.5, cal.detectors - 0.5]))
        except ProcessingError as exc:
            log.warning("cannot locate scene: %s", exc)
            return None, None
        lat, lon = float(mid.lat[0, 0]), float(mid.lon[0, 0])
        ring = [[float(edge.lon[i, 0]), float(edge.lat[i, 0])] for i in range(len(rows))]
        ring += [[float(edge.lon[i, 1]), float(edge.lat[i, 1])] for i in reversed(range(len(rows)))]
        ring = _counter_clockwise(ring)
        ring.append(ring[0])
        seen = mid_integration(cal, np.array([centre]))[0]  # the centre line is seen half a period after its stamp
        zen, azi = solar_angles(seen, lat, lon)
        geometry = md.SceneGeometry(
            centre_lat=lat, centre_lon=lon, height_m=0.0, footprint={"type": "Polygon", "coordinates": [ring]},
            note="from the decoded ephemeris/attitude on the WGS84 ellipsoid; approximate until the geometry stage")
        sun = md.SunAtCentre(zenith_deg=float(zen), azimuth_deg=float(azi),
                             earth_sun_distance_au=float(earth_sun_distance(seen)), at_utc=md.iso(seen),
                             note="geometric (no refraction), at the scene centre and centre time")
        return geometry, sun


def _is_distributed(scheduler: Any) -> bool:
    """True for a ``distributed.Client`` (graphs are pickled and run elsewhere)."""
    return type(scheduler).__module__.startswith("distributed")


def _counter_clockwise(ring: list[list[float]]) -> list[list[float]]:
    x = np.array([p[0] for p in ring])
    y = np.array([p[1] for p in ring])
    area2 = float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    return ring if area2 > 0 else ring[::-1]


def _band_tags(cal: BandCalibration) -> dict[str, Any]:
    return {"BAND": cal.name, "COMMON_NAME": cal.common_name, "CENTER_WAVELENGTH_UM": cal.center_um,
            "FWHM_UM": cal.fwhm_um, "ESUN_W_M2_UM": cal.esun}


def _qa_groups(cpf: CPF, plans: dict[str, _BandPlan], ref_name: str) -> dict[str, list[str]]:
    """QA files: one per sensor grid (lines × detectors); the reference band's grid is ``QA``."""
    grids: dict[tuple[int, int], list[str]] = {}
    for name, p in plans.items():
        grids.setdefault((p.lines, p.cal.detectors), []).append(name)
    groups = {}
    for members in grids.values():
        key = "QA" if ref_name in members else f"QA_{members[0]}"
        groups[key] = members
    return groups


def _chunk_stats(counts: np.ndarray, qa: np.ndarray, nodata: int) -> np.ndarray:
    """One row of :data:`rsarchive.raw.metadata.CHUNK_STATS_FIELDS` for a block (exact integer sums)."""
    c = np.ascontiguousarray(counts).reshape(-1)
    q = np.ascontiguousarray(qa).reshape(-1)
    if nodata == 0:
        # nodata counts are 0: they add nothing to the sums, only min needs a mask
        n_valid = int(np.count_nonzero(c))
        values = c
        mask = None if n_valid == c.size else c != 0
    else:
        keep = c != nodata
        n_valid = int(np.count_nonzero(keep))
        values, mask = (c, None) if n_valid == c.size else (c[keep], None)
    # uint64 sums are exact: 65535² × 2²² pixels < 2⁶⁴
    total = int(np.add.reduce(values, dtype=np.uint64)) if n_valid else 0
    total_sq = int(np.einsum("i,i->", values, values, dtype=np.uint64)) if n_valid else 0
    lo = float(values.min(where=mask, initial=65535) if mask is not None else values.min()) if n_valid else np.inf
    hi = float(values.max()) if n_valid else -np.inf
    present = int(np.bitwise_or.reduce(q)) if q.size else 0
    saturated = int(np.count_nonzero(q & QA_SATURATED)) if present & QA_SATURATED else 0
    filled = int(np.count_nonzero(q & QA_FILLED)) if present & QA_FILLED else 0
    missing = int(np.count_nonzero(q & QA_NODATA)) if present & QA_NODATA else 0
    return np.array([[n_valid, total, total_sq, lo, hi, saturated, filled, missing, c.size]], dtype=np.float64)


def process_raw(
    downlink: str | Path,
    cpf: CPF | str | Path,
    out_dir: str | Path,
    *,
    profile: MissionProfile | str = "vnredsat1",
    pass_id: str | None = None,
    config_dir: Path | None = None,
    overwrite: bool = False,
    on_scene: Callable[[SceneResult], None] | None = None,
    **options: Any,
) -> RawResult:
    """Make the raw level of ``downlink`` in ``out_dir`` (one directory per scene)."""
    with RawProcessor(downlink, cpf, out_dir, profile=profile, pass_id=pass_id, config_dir=config_dir,
                      overwrite=overwrite, **options) as proc:
        proc.decode()
        result = RawResult(proc.datastrip_id)
        for span in proc.scenes():
            scene = proc.process_scene(span)
            result.scenes.append(scene)
            if on_scene is not None:
                on_scene(scene)
        return result

