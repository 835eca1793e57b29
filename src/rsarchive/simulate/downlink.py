"""Simulate a level-0 downlink from a ground-truth scene, and record the truth.

:func:`simulate_downlink` flies the CPF's instrument over the truth scene:

1. **Geometry.** A sun-synchronous orbit (:mod:`.orbit`) placed so the pass is
   centred on the target point (default Hanoi / Red River delta), nadir
   attitude with bias and jitter (:mod:`.attitude`).  Line ``l`` of band ``b``
   is stamped ``start + l × line_period_b`` (the start of its integration,
   spec §3) and integrates the ground swept during its period: the scene is
   sampled at ``integration_samples`` instants spread evenly over
   ``[stamp, stamp + period)`` and averaged.  Each instant's ground points come
   from the direct location model at that instant
   (:meth:`rsarchive.geometry.sensor.SensorModel.locate_at`) fed with the
   *exact* orbit and attitude (not interpolated), intersected with the truth
   DEM when there is one (every pixel), or with the ellipsoid (exact every 16
   detectors, linear in between: < 1 mm).
2. **Radiometry.** Truth reflectance sampled bilinearly at the ground points (mean over the instants),
   solar zenith (NREL SPA on a 32-pixel grid, bilinear), Earth–Sun distance,
   ``L = ρ·ESUN·cos θs/(π d²)``, focal-plane temperature, the forward model
   (:mod:`.radiometer`), optional Gaussian noise (seeded).
3. **Writing.** Image lines of all bands and ancillary packets (ephemeris 1 Hz,
   attitude 10 Hz, housekeeping 1 Hz, covering the pass with a margin) go in
   time order through :class:`rsarchive.level0.writer.DownlinkWriter` with the
   requested impairments.

Work is done in blocks of lines, so memory is bounded whatever the number of
scenes.  The truth (``truth.tif`` & co., ``truth.json``) goes to ``truth_dir``;
:class:`SimulationResult` gives it back to tests, with the exact location model.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rsarchive.cpf import CPF, BandCalibration, load_cpf
from rsarchive.errors import ProcessingError, UsageError
from rsarchive.geometry.ellipsoid import ecef_to_geodetic
from rsarchive.geometry.interpolation import seconds_since
from rsarchive.geometry.rotation import matrix_to_quaternion, quaternion_multiply, small_angle_matrix
from rsarchive.geometry.sensor import SensorModel, mid_integration
from rsarchive.simulate.attitude import Jitter, NadirAttitude
from rsarchive.simulate.orbit import CircularOrbit
from rsarchive.simulate.radiometer import TemperatureProfile, forward_model, radiance_from_reflectance
from rsarchive.simulate.result import TRUTH_FORMAT, SimulationResult
from rsarchive.simulate.scene import REFLECTANCE_SCALE, SceneSpec, TruthScene, build_truth, utm_epsg

__all__ = ["SimulationConfig", "SimulationResult", "simulate_downlink", "IMPAIRMENT_NAMES"]

log = logging.getLogger(__name__)

IMPAIRMENT_NAMES = ("bit_errors", "dropped_frames", "slips", "duplicated_packets", "leading_garbage",
                    "truncate_bytes", "idle_frames")
SOLAR_GRID_STEP = 32
GEOMETRY_STEP = 16
"""Without a DEM, exact ground points every 16 detectors, linear in between: the ground
position is smooth across the detector line (second derivative ≈ 4e-6 m per detector² at
the swath edge), so the interpolation error is below 1 mm (tested).  With a DEM every
pixel is located exactly (terrain makes the mapping non-smooth)."""
GDAL_CACHE_MB = 64
_NS = np.timedelta64(1, "ns")


@dataclass(frozen=True)
class SimulationConfig:
    """Everything a simulated pass depends on (all defaults give a clean 1-scene reference pass)."""

    scenes: int = 1
    cpf: str | Path | CPF = "vnredsat1"
    profile: str = "vnredsat1"
    start: _dt.datetime | None = None
    """Time of the first image line (UTC).  None: from ``date`` so the descending node is at ``ltdn_hours``."""
    date: _dt.date = _dt.date(2026, 3, 15)
    target_lat: float = 21.03
    target_lon: float = 105.85
    altitude_m: float = 680_000.0
    ltdn_hours: float = 10.5
    scene: SceneSpec = field(default_factory=SceneSpec)
    attitude_bias_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    attitude_error_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Error of the *reported* attitude (roll, pitch, yaw): the attitude packets carry R·R_err while the
    images are taken with R — a geolocation error for later stages to find (7.4e-5 rad of roll ≈ 50 m)."""
    jitter: tuple[Jitter, ...] = ()
    temperature: TemperatureProfile = field(default_factory=TemperatureProfile)
    noise_dn: float = 0.0
    """Standard deviation of Gaussian noise added before rounding (DN); 0 = no noise."""
    seed: int = 0
    impairments: dict[str, int] = field(default_factory=dict)
    spacecraft_id: int | None = None
    ancillary_margin_s: float = 3.0
    block_pixels: int = 500_000
    """Pixels of the widest band computed at once (bounds memory: ≈ 200 bytes per pixel at peak)."""
    integration_samples: int = 3
    """Instants a line integrates the scene over, spread evenly across its line period (1: the ground
    at mid-integration only).  Each costs one more geometry and truth sampling of the line."""
    write_truth_radiance: bool = False
    write_truth_dn: bool = False
    config_dir: Path | None = None

    def validate(self) -> None:
        if not isinstance(self.scenes, int) or self.scenes < 1:
            raise UsageError(f"number of scenes must be ≥ 1, got {self.scenes}")
        if self.noise_dn < 0 or not math.isfinite(self.noise_dn):
            raise UsageError(f"noise must be ≥ 0 DN, got {self.noise_dn}")
        if len(self.attitude_error_rad) != 3 or not all(abs(v) < 0.01 for v in self.attitude_error_rad):
            raise UsageError(f"attitude error must be three small angles (< 0.01 rad), got {self.attitude_error_rad}")
        if self.ancillary_margin_s < 2.0:
            raise UsageError(f"ancillary margin must be ≥ 2 s, got {self.ancillary_margin_s}")
        if not isinstance(self.integration_samples, int) or not 1 <= self.integration_samples <= 16:
            raise UsageError(f"integration samples per line must be 1 … 16, got {self.integration_samples}")
        if self.block_pixels < 1000:
            raise UsageError(f"block_pixels must be ≥ 1000, got {self.block_pixels}")
        for name, value in self.impairments.items():
            if not isinstance(value, int) or value < 0:
                raise UsageError(f"impairment {name} must be a non-negative integer, got {value!r}")
        if not (-90 <= self.target_lat <= 90 and -180 <= self.target_lon <= 360):
            raise UsageError(f"target ({self.target_lat}, {self.target_lon}) is not a latitude/longitude")

    def load_cpf(self) -> CPF:
        return self.cpf if isinstance(self.cpf, CPF) else load_cpf(self.cpf, self.config_dir)


# -- the pass plan -------------------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    cpf: CPF
    orbit: CircularOrbit
    attitude: NadirAttitude
    start: np.datetime64
    scene_duration_s: float
    lines_per_scene: dict[str, int]
    n_scenes: int

    def lines(self, band: BandCalibration) -> int:
        return self.lines_per_scene[band.name] * self.n_scenes

    def line_times(self, band: BandCalibration, lines: np.ndarray) -> np.ndarray:
        offsets = np.rint(np.asarray(lines, dtype=np.float64) * band.line_period_s * 1e9).astype(np.int64)
        return self.start + offsets * _NS


def _make_plan(config: SimulationConfig, cpf: CPF) -> _Plan:
    ref = cpf.bands[0]
    duration = ref.detectors * ref.line_period_s
    lines_per_scene = {b.name: int(round(duration / b.line_period_s)) for b in cpf.bands}
    total_s = duration * config.scenes
    if config.start is None:
        orbit = CircularOrbit.over_point(config.target_lat, config.target_lon, date=config.date,
                                         altitude_m=config.altitude_m, ltdn_hours=config.ltdn_hours)
        start = orbit.epoch64 - np.int64(round(total_s / 2 * 1e9)) * _NS
    else:
        start = np.datetime64(_naive_utc(config.start), "ns")
        centre = start + np.int64(round(total_s / 2 * 1e9)) * _NS
        orbit = CircularOrbit.over_point(config.target_lat, config.target_lon, at=centre,
                                         altitude_m=config.altitude_m, ltdn_hours=config.ltdn_hours)
    attitude = NadirAttitude(orbit, tuple(config.attitude_bias_rad), tuple(config.jitter))  # type: ignore[arg-type]
    return _Plan(cpf, orbit, attitude, start, duration, lines_per_scene, config.scenes)


def _naive_utc(value: _dt.datetime) -> _dt.datetime:
    if value.tzinfo is not None:
        return value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return value


def _iso(t64: np.datetime64) -> str:
    rounded = (np.datetime64(t64, "ns") + np.timedelta64(500, "ns")).astype("datetime64[us]")
    return str(np.datetime_as_string(rounded, unit="us")) + "Z"


def _to_datetime(t64: np.datetime64) -> _dt.datetime:
    """datetime64 → timezone-aware UTC datetime (rounded to the microsecond)."""
    value = (np.datetime64(t64, "ns") + np.timedelta64(500, "ns")).astype("datetime64[us]").item()
    return value.replace(tzinfo=_dt.timezone.utc)


def _footprint(plan: _Plan, config: SimulationConfig, epsg: int) -> Any:
    """Union of the band footprints on the ellipsoid, as a shapely polygon in UTM."""
    import shapely
    from pyproj import Transformer

    model = SensorModel(plan.cpf, plan.orbit, plan.attitude)
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    polygons = []
    for band in plan.cpf.bands:
        n = plan.lines(band)
        lines = np.unique(np.concatenate([np.linspace(0, n - 1, min(n, 200)).round(), [0, n - 1]]))
        g = model.locate(band, plan.line_times(band, lines), np.array([-0.5, band.detectors - 0.5]))
        x, y = to_utm.transform(g.lon, g.lat)
        ring = np.concatenate([np.stack([x[:, 0], y[:, 0]], -1), np.stack([x[::-1, 1], y[::-1, 1]], -1)])
        polygons.append(shapely.Polygon(ring))
    footprint = shapely.union_all(polygons)
    jitter_m = sum(abs(j.amplitude_rad) for j in config.jitter) * config.altitude_m
    return footprint.buffer(jitter_m) if jitter_m > 0 else footprint


# -- the simulation ------------------------------------------------------------------

def simulate_downlink(
    config: SimulationConfig,
    out_path: str | Path,
    truth_dir: str | Path,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Write the downlink ``out_path`` and the truth into ``truth_dir``.

    ``progress`` (optional) is called with the number of image lines (all
    bands) written since the last call.
    """

    # the optional truth radiance/DN images are in sensor geometry: no georeference, on purpose
    return _simulate(config, Path(out_path), Path(truth_dir), progress)


def _simulate(config: SimulationConfig, out_path: Path, truth_dir: Path,
              progress: Callable[[int], None] | None) -> SimulationResult:
    import rasterio

    from rsarchive.geometry.dem import RasterSampler
    from rsarchive.level0.profiles import load_profile
    from rsarchive.level0.writer import DownlinkWriter, Impairments
    from rsarchive.radiometry.solar import default_delta_t, earth_sun_distance, solar_angle_grid

    config.validate()
    cpf = config.load_cpf()
    odd = [b.name for b in cpf.bands if b.detectors % 2]
    if odd:
        raise UsageError(f"CPF {cpf.version}: band(s) {', '.join(odd)} have an odd detector count; "
                         "image packets carry an even number of pixels")
    profile = load_profile(config.profile)
    known = {f.name for f in dataclasses.fields(Impairments)}
    unknown = sorted(set(config.impairments) - known)
    if unknown:
        raise UsageError(f"unknown impairment(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    impairments = Impairments(**{**config.impairments, "seed": config.impairments.get("seed", config.seed)})
    profile_bands = {getattr(b, "id", None) for b in getattr(profile, "bands", ())}
    missing = [b.name for b in cpf.bands if profile_bands and b.id not in profile_bands]
    if missing:
        raise UsageError(f"profile {config.profile!r} has no APID for CPF band(s) {', '.join(missing)}")
    ancillary = getattr(profile, "ancillary_apids", None)
    if isinstance(ancillary, dict):
        lacking = [k for k in ("ephemeris", "attitude", "housekeeping") if k not in ancillary]
        if lacking:
            raise UsageError(f"profile {config.profile!r} has no APID for {', '.join(lacking)}: "
                             "the simulator writes all three ancillary streams")
    truth_dir.mkdir(parents=True, exist_ok=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    plan = _make_plan(config, cpf)
    epsg = utm_epsg(config.target_lat, config.target_lon)
    from pyproj import Transformer

    origin = Transformer.from_crs(4326, epsg, always_xy=True).transform(config.target_lon, config.target_lat)
    footprint = _footprint(plan, config, epsg)
    # the scene's own seed wins; 0 (default) means "use the simulation seed"
    scene_spec = replace(config.scene, seed=config.seed) if config.scene.seed == 0 else config.scene
    truth = build_truth(cpf, scene_spec, footprint, epsg, (round(origin[0]), round(origin[1])), truth_dir)

    model = SensorModel(cpf, plan.orbit, plan.attitude)
    samplers = {b.name: RasterSampler(truth.reflectance, bands=[k + 1]) for k, b in enumerate(cpf.bands)}
    dem = RasterSampler(truth.dem) if truth.dem else None
    clouds = {b.name: RasterSampler(truth.clouds) for b in cpf.bands} if truth.clouds else None
    n_scenes = config.scenes
    cloud_sums = {b.name: np.zeros(n_scenes) for b in cpf.bands}

    # ancillary sample times on whole-second / 0.1 s UTC ticks, as exact ns offsets from the first line
    end_s = plan.scene_duration_s * n_scenes
    start_ns = int(plan.start.astype("datetime64[ns]").astype(np.int64))
    first_tick = (start_ns - int(config.ancillary_margin_s * 1e9)) // 10**9  # whole seconds (unix)
    last_tick = -((-(start_ns + int((end_s + config.ancillary_margin_s) * 1e9))) // 10**9)
    eph_ns = np.arange(first_tick, last_tick + 1, dtype=np.int64) * 10**9 - start_ns
    att_ns = np.arange(first_tick * 10, last_tick * 10 + 1, dtype=np.int64) * 10**8 - start_ns
    anc_events = sorted([(int(t), 0, "ephemeris") for t in eph_ns] + [(int(t), 1, "attitude") for t in att_ns]
                        + [(int(t), 2, "housekeeping") for t in eph_ns])
    anc_pos = 0

    extra_files: dict[str, dict[str, Any]] = {"radiance": {}, "dn": {}}
    extra_ds: dict[tuple[str, str], Any] = {}
    if config.write_truth_radiance or config.write_truth_dn:
        for band in cpf.bands:
            for kind, enabled, dtype in (("radiance", config.write_truth_radiance, "float32"),
                                         ("dn", config.write_truth_dn, "uint16")):
                if not enabled:
                    continue
                path = truth_dir / f"truth_{kind}_{band.name}.tif"
                extra_ds[(kind, band.name)] = rasterio.open(
                    path, "w", driver="GTiff", width=band.detectors, height=plan.lines(band), count=1,
                    dtype=dtype, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
                extra_files[kind][band.name] = path.name

    ref = cpf.bands[0]
    widest = max(b.detectors * ref.line_period_s / b.line_period_s for b in cpf.bands)
    block_lines = max(1, min(int(config.block_pixels // widest), plan.lines(ref)))
    n_blocks = math.ceil(plan.lines(ref) / block_lines)
    block_s = block_lines * ref.line_period_s

    to_truth = Transformer.from_crs(4326, epsg, always_xy=True)
    q_error = None
    if any(config.attitude_error_rad):
        q_error = matrix_to_quaternion(small_angle_matrix(*config.attitude_error_rad))
    delta_t = default_delta_t(plan.start)  # ΔT (TT − UT1) of the date, once
    d_start, d_end = earth_sun_distance(np.array([plan.start, plan.start + np.int64(round(end_s * 1e9)) * _NS]))

    n_sub = config.integration_samples

    def ground_xy(band: BandCalibration, instants: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any, Any]:
        """Truth-grid x, y (lines × detectors) of the ground seen at ``instants``, and the ground points
        (at the nodes without a DEM) with their detector indexes (None: every detector)."""
        n_det = band.detectors
        if dem is None and n_det > 2 * GEOMETRY_STEP:
            # exact ground points every GEOMETRY_STEP detectors, linear in between (error < 1 mm, see module doc)
            nodes = np.unique(np.concatenate([np.arange(0, n_det, GEOMETRY_STEP), [n_det - 1]]))
            g = model.locate_at(band, instants, nodes, height=0.0)
            xn, yn = to_truth.transform(g.lon, g.lat)
            x, y = (_interp_detectors(np.asarray(v), nodes, n_det) for v in (xn, yn))
            return x, y, g, nodes
        g = model.locate_at(band, instants, height=dem if dem is not None else 0.0)
        x, y = (np.asarray(v) for v in to_truth.transform(g.lon, g.lat))
        return x, y, g, None

    def render(band: BandCalibration, lines: np.ndarray) -> np.ndarray:
        stamps = plan.line_times(band, lines)  # start of integration (spec §3)
        n_det = band.detectors
        # the line integrates the ground swept during its period: the mean of n_sub instants spread evenly
        # over [stamp, stamp + period) (centred on mid-integration)
        refl = np.zeros((len(lines), n_det))
        cloud_frac = np.zeros((len(lines), n_det)) if clouds is not None else None
        for k in range(n_sub):
            offset = np.timedelta64(int(round((k + 0.5) / n_sub * band.line_period_s * 1e9)), "ns")
            x, y, g, nodes = ground_xy(band, stamps + offset)
            sample = samplers[band.name].sample_xy(x, y)[0]
            if not np.all(np.isfinite(sample)):
                raise ProcessingError(f"band {band.name} lines {lines[0]}–{lines[-1]}: ground points outside the "
                                      f"truth scene {truth.reflectance}")
            refl += sample
            if cloud_frac is not None:
                cloud_frac += np.nan_to_num(clouds[band.name].sample_xy(x, y)[0])
            if k == n_sub // 2:
                # the sun (constant over a line period to 1e-5°) at the instant nearest mid-integration
                # (mid-integration itself for an odd count)
                zen_times = stamps + offset
                if nodes is not None:
                    # sun zenith on the nodes (every 32 lines, every other node), then linear across detectors
                    zen_nodes, _ = solar_angle_grid(zen_times, g.lat, g.lon, 0.0,
                                                    step=(SOLAR_GRID_STEP, SOLAR_GRID_STEP // GEOMETRY_STEP),
                                                    delta_t=delta_t, azimuth=False)
                    zenith = _interp_detectors(zen_nodes, nodes, n_det)
                else:
                    zenith, _ = solar_angle_grid(zen_times, g.lat, g.lon, g.h, step=SOLAR_GRID_STEP,
                                                 delta_t=delta_t, azimuth=False)
            del x, y, g, sample
        refl *= REFLECTANCE_SCALE / n_sub
        # d changes by < 1e-9 AU/s: linear over the pass is exact to ≈ 1e-13 AU
        t_rel = np.asarray(lines, dtype=np.float64) * band.line_period_s
        distance = (d_start + (d_end - d_start) * t_rel / max(end_s, 1e-9))[:, None]
        radiance = radiance_from_reflectance(refl, band.esun, np.cos(np.radians(zenith)), distance)
        noise = None
        if config.noise_dn > 0:
            rng = np.random.default_rng([config.seed, band.id, int(lines[0]), 0x5EED])  # deterministic per block
            noise = rng.normal(0.0, config.noise_dn, radiance.shape)
        dn = forward_model(cpf, band, radiance, config.temperature.at(t_rel), noise)
        if cloud_frac is not None:
            frac = cloud_frac.mean(axis=1) / n_sub
            scene_idx = lines // plan.lines_per_scene[band.name]
            cloud_sums[band.name] += np.bincount(scene_idx, weights=frac, minlength=n_scenes)[:n_scenes]
        row0 = int(lines[0])
        if ("radiance", band.name) in extra_ds:
            extra_ds[("radiance", band.name)].write(radiance.astype(np.float32)[None],
                                                    window=((row0, row0 + len(lines)), (0, band.detectors)))
        if ("dn", band.name) in extra_ds:
            extra_ds[("dn", band.name)].write(dn[None], window=((row0, row0 + len(lines)), (0, band.detectors)))
        return dn

    log.info("simulating %d scene(s), %s, start %s → %s", n_scenes, cpf.version, _iso(plan.start), out_path)
    try:
        # GDAL's block cache keeps the decoded truth tiles that successive blocks share
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), open(out_path, "wb") as stream:
            extra: dict[str, Any] = {}
            if "expected_cadus" in inspect.signature(DownlinkWriter).parameters:
                extra["expected_cadus"] = _expected_cadus(plan, profile)  # spreads impairments over the pass
            writer = DownlinkWriter(stream, profile, impairments, spacecraft_id=config.spacecraft_id, **extra)

            def write_ancillary(kind: str, t_ns: int) -> None:
                t64 = plan.start + np.int64(t_ns) * _NS
                t_rel = t_ns * 1e-9
                utc = _to_datetime(t64)
                t_orbit = np.array([float(seconds_since(t64, plan.orbit.epoch64))])
                if kind == "ephemeris":
                    pos, vel = plan.orbit.state_at(t_orbit)
                    writer.ephemeris(utc, pos[0], vel[0])
                elif kind == "attitude":
                    q = plan.attitude.quaternion_at(t_orbit)[0]
                    if q_error is not None:
                        q = quaternion_multiply(q, q_error)
                    writer.attitude(utc, q)
                else:
                    writer.housekeeping(utc, float(config.temperature.at(t_rel)))

            for block in range(n_blocks):
                t_lo, t_hi = block * block_s, (block + 1) * block_s
                events: list[tuple[int, int, int, int, np.ndarray | None]] = []  # (ns from start, kind, band, line, DNs)
                for band in cpf.bands:
                    n = plan.lines(band)
                    lo = min(math.ceil(t_lo / band.line_period_s - 1e-6), n)
                    hi = n if block == n_blocks - 1 else min(math.ceil(t_hi / band.line_period_s - 1e-6), n)
                    if hi <= lo:
                        continue
                    lines = np.arange(lo, hi)
                    dn = render(band, lines)
                    offsets = np.rint(lines * band.line_period_s * 1e9).astype(np.int64)  # as plan.line_times
                    events.extend((int(offsets[k]), 3, band.id, int(l), dn[k]) for k, l in enumerate(lines))
                limit = t_hi * 1e9 if block < n_blocks - 1 else max(t_hi, end_s) * 1e9
                while anc_pos < len(anc_events) and anc_events[anc_pos][0] < limit:
                    t, order, kind = anc_events[anc_pos]
                    events.append((t, order, -1, 0, None))
                    anc_pos += 1
                events.sort(key=lambda e: (e[0], e[1], e[2]))
                image_lines = 0
                for t, order, band_id, line, row in events:
                    if row is None:
                        write_ancillary(("ephemeris", "attitude", "housekeeping")[order], t)
                    else:
                        writer.image_line(band_id, line, _to_datetime(plan.start + np.int64(t) * _NS), row)
                        image_lines += 1
                if progress is not None:
                    progress(image_lines)
            for t, order, kind in anc_events[anc_pos:]:
                write_ancillary(kind, t)
            report = writer.close()
    finally:
        for ds in extra_ds.values():
            ds.close()
        for sampler in samplers.values():
            sampler.close()
        if dem is not None:
            dem.close()
        if clouds is not None:
            for sampler in clouds.values():
                sampler.close()

    truth_dict = _truth_dict(config, plan, truth, out_path, report, cloud_sums, extra_files, eph_ns, att_ns,
                             scene_spec)
    import shapely

    to_lonlat = Transformer.from_crs(epsg, 4326, always_xy=True)
    lonlat = shapely.transform(footprint, lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))
    truth_dict["footprint"] = shapely.geometry.mapping(lonlat)
    truth_dict["footprint_note"] = "union of all bands' swaths on the ellipsoid (h = 0), lon/lat WGS84"
    (truth_dir / "truth.json").write_text(json.dumps(truth_dict, indent=1, default=_json_default) + "\n")
    return SimulationResult(out_path, truth_dir, truth_dict)


def _interp_detectors(values: np.ndarray, nodes: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation along axis 1 from ``nodes`` (sorted detector indexes) to 0 … n−1."""
    i = np.arange(n)
    k = np.clip(np.searchsorted(nodes, i, side="right") - 1, 0, len(nodes) - 2)
    w = (i - nodes[k]) / (nodes[k + 1] - nodes[k])
    return values[:, k] * (1.0 - w) + values[:, k + 1] * w


def _expected_cadus(plan: _Plan, profile: Any) -> int:
    """Approximate number of CADUs the pass will fill (image packets dominate)."""
    zone = int(getattr(profile, "packet_zone_length", 1010))
    octets = sum(plan.lines(b) * (6 + 6 + 8 + b.detectors * 3 // 2) for b in plan.cpf.bands)
    return max(1, octets // zone)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path,)):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _report_dict(report: Any) -> dict[str, Any]:
    to_dict = getattr(report, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    return {"repr": repr(report)}


def _truth_dict(config: SimulationConfig, plan: _Plan, truth: TruthScene, out_path: Path, report: Any,
                cloud_sums: dict[str, np.ndarray], extra_files: dict[str, dict[str, Any]], eph_rel: np.ndarray,
                att_rel: np.ndarray, scene_spec: SceneSpec) -> dict[str, Any]:
    """The truth record (``eph_rel``/``att_rel``: ancillary times as ns from the first line)."""
    from rsarchive.radiometry.solar import solar_angles

    cpf = plan.cpf
    model = SensorModel(cpf, plan.orbit, plan.attitude)
    bands: dict[str, Any] = {}
    for band in cpf.bands:
        n = plan.lines(band)
        bands[band.name] = {"id": band.id, "lines": n, "detectors": band.detectors,
                            "line_period_s": band.line_period_s,
                            "first_line_utc": _iso(plan.line_times(band, np.array([0]))[0]),
                            "last_line_utc": _iso(plan.line_times(band, np.array([n - 1]))[0])}
    scenes = []
    ms_names = [b.name for b in cpf.bands if b.fwhm_um < 0.2] or [cpf.bands[0].name]
    for k in range(config.scenes):
        entry: dict[str, Any] = {"index": k, "bands": {}}
        for band in cpf.bands:
            per = plan.lines_per_scene[band.name]
            first, last = k * per, (k + 1) * per - 1
            times = plan.line_times(band, np.array([first, last]))
            entry["bands"][band.name] = {
                "first_line": first, "last_line": last, "lines": per,
                "start_utc": _iso(times[0]), "end_utc": _iso(times[1]),
                "cloud_fraction": float(cloud_sums[band.name][k] / per) if truth.clouds else 0.0,
            }
        mid_band = cpf.bands[-1]
        per = plan.lines_per_scene[mid_band.name]
        stamp_mid = plan.line_times(mid_band, np.array([k * per + per // 2]))
        centre = model.locate(mid_band, stamp_mid, np.array([(mid_band.detectors - 1) / 2]))
        t_mid = mid_integration(mid_band, stamp_mid)
        zen, azi = solar_angles(t_mid[0], centre.lat[0, 0], centre.lon[0, 0])
        entry["centre_lat"] = float(centre.lat[0, 0])
        entry["centre_lon"] = float(centre.lon[0, 0])
        entry["sun_zenith_deg"] = float(zen)
        entry["sun_azimuth_deg"] = float(azi)
        entry["cloud_fraction"] = float(np.mean([entry["bands"][n]["cloud_fraction"] for n in ms_names]))
        scenes.append(entry)
    orbit = plan.orbit.to_dict()
    orbit.update(target_lat=config.target_lat, target_lon=config.target_lon, ltdn_hours_requested=config.ltdn_hours,
                 ltdn_hours=_ltdn(plan.orbit))
    to_iso = lambda ns: _iso(plan.start + np.int64(ns) * _NS)  # noqa: E731
    return {
        "format": TRUTH_FORMAT,
        "downlink": {"path": str(out_path.resolve()), "bytes": out_path.stat().st_size},
        "seed": config.seed,
        "cpf": {"version": cpf.version, "mission": cpf.mission,
                "source": str(Path(cpf.source).resolve()) if cpf.source.endswith(".json") else cpf.source,
                "name": Path(cpf.source).stem if cpf.source.endswith(".json") else cpf.source},
        "profile": config.profile,
        "spacecraft_id": config.spacecraft_id,
        "start_utc": _iso(plan.start),
        "end_utc": _iso(plan.start + np.int64(round(plan.scene_duration_s * config.scenes * 1e9)) * _NS),
        "line_time_convention": "line l of band b is stamped start_utc + l × line_period_s (rounded to ns), the "
                                "start of its integration; the line integrates the ground swept over its period "
                                f"({config.integration_samples} instants spread evenly), centred on mid-integration "
                                "(stamp + line_period_s/2)",
        "integration_samples": config.integration_samples,
        "orbit": orbit,
        "attitude": {**plan.attitude.to_dict(), "reported_error_rad": dict(zip(("roll", "pitch", "yaw"),
                                                                              config.attitude_error_rad))},
        "temperature": config.temperature.to_dict(),
        "noise": {"enabled": config.noise_dn > 0, "kind": "gaussian", "sigma_dn": config.noise_dn},
        "radiometry": {"radiance": "L = rho·ESUN·cos(sun zenith)/(pi·d²)",
                       "dn": "clip(rint(G·r_i·L + D_i + k·(T − T_ref) + noise), 0, saturation); dead → 0",
                       "solar": f"NREL SPA (pvlib), geometric zenith, ΔT pvlib estimate, {SOLAR_GRID_STEP}-px grid"},
        "scene": {**scene_spec.to_dict(), "origin_utm": list(truth.origin_xy), "cloud_threshold": truth.cloud_threshold},
        "truth_grid": truth.grid.to_dict(),
        "reflectance_scale": REFLECTANCE_SCALE,
        "files": {"reflectance": truth.reflectance.name, "dem": truth.dem.name if truth.dem else None,
                  "clouds": truth.clouds.name if truth.clouds else None, **extra_files},
        "bands": bands,
        "scenes": scenes,
        "ancillary": {
            "ephemeris": {"count": len(eph_rel), "rate_hz": 1, "first_utc": to_iso(eph_rel[0]), "last_utc": to_iso(eph_rel[-1])},
            "attitude": {"count": len(att_rel), "rate_hz": 10, "first_utc": to_iso(att_rel[0]), "last_utc": to_iso(att_rel[-1])},
            "housekeeping": {"count": len(eph_rel), "rate_hz": 1, "first_utc": to_iso(eph_rel[0]),
                             "last_utc": to_iso(eph_rel[-1])},
        },
        "impairments_requested": dict(config.impairments),
        "writer_report": _report_dict(report),
    }


def _ltdn(orbit: CircularOrbit) -> float:
    """Mean local solar time (h) of the descending node nearest after the epoch."""
    t = np.arange(0.0, orbit.period_s, 1.0)
    pos, _ = orbit.state_at(t)
    z = pos[:, 2]
    idx = np.flatnonzero((z[:-1] > 0) & (z[1:] <= 0))
    if idx.size == 0:
        return float("nan")
    i = idx[0]
    tn = t[i] + z[i] / (z[i] - z[i + 1])
    pn, _ = orbit.state_at(np.array([tn]))
    _, lon, _ = ecef_to_geodetic(pn)
    when = orbit.epoch64 + np.int64(round(tn * 1e9)) * _NS
    hours = (when - when.astype("datetime64[D]")) / np.timedelta64(1, "h")
    return float((hours + lon[0] / 15.0) % 24.0)
