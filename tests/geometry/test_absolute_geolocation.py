"""Absolute geolocation against a model of the spec written here, sharing nothing with what it checks.

Bright markers are put into a truth scene at known ground points; the pass is simulated, processed to
the raw level and to the product without refinement (exact ancillary, no DEM), and each marker is found
(centroid) in the raw image, in the orthorectified product and — through GDAL's RPC transformer — from
the raw image's RPCs.  Where it *should* be comes from a small sensor model written in this file from
the spec alone (``level0-downlink.md`` §3: the packet time is the start of a line's integration, so the
line sees the ground swept during its period, centred half a period later; §4: line of sight, boresight
``R_z(γ)·R_y(β)·R_x(α)``, quaternion body → ECEF, ray meets the WGS84 ellipsoid).  Nothing of
``rsarchive.geometry`` is imported: the satellite's true position and attitude are the simulator's
(what the satellite did), the CPF is read from its JSON file, the rest is NumPy here.

The markers are Gaussian spots (σ = 8 m: about 2 × 2 multispectral pixels at half maximum) on a
uniform background: a sharp-edged box sampled by point detectors 10 m apart has a centroid that moves
with the sub-pixel phase by up to 0.25 px, a spot this smooth by < 0.005 px, so what is measured is the
geometry and not the sampling.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rsarchive.simulate.scene import SceneSpec
from rsarchive.testing import SMALL_CPF, small_downlink

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
WGS84_B = WGS84_A * (1 - WGS84_F)
WGS84_E2 = WGS84_F * (2 - WGS84_F)

TARGET = (21.03, 105.85)          # the simulator's default target (lat, lon)
MARKER_SIGMA_M = 8.0
MARKER_SPACING_M = 300.0
BACKGROUND = 0.10                 # reflectance, every band
MARKER_PEAK = 0.40                # added at the spot's centre
TRUTH_RES_M = 2.5
HALF_EXTENT_M = 3500.0
TOLERANCE_PX = 0.1
BANDS = ("B1", "B2", "B3", "B4", "PAN")


# -- the spec's sensor model, from the spec alone --------------------------------------------------

def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(b: float) -> np.ndarray:
    c, s = math.cos(b), math.sin(b)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(g: float) -> np.ndarray:
    c, s = math.cos(g), math.sin(g)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of the unit quaternion (q0 scalar, q1, q2, q3): v_ecef = R · v_body."""
    q0, q1, q2, q3 = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (q2 * q2 + q3 * q3), 2 * (q1 * q2 - q0 * q3), 2 * (q1 * q3 + q0 * q2)],
        [2 * (q1 * q2 + q0 * q3), 1 - 2 * (q1 * q1 + q3 * q3), 2 * (q2 * q3 - q0 * q1)],
        [2 * (q1 * q3 - q0 * q2), 2 * (q2 * q3 + q0 * q1), 1 - 2 * (q1 * q1 + q2 * q2)],
    ])


def _hit_ellipsoid(origin: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """First point where the ray origin + t·direction (t > 0) meets the WGS84 ellipsoid (h = 0)."""
    scale = np.array([WGS84_A, WGS84_A, WGS84_B])
    p, v = origin / scale, direction / scale
    a, b, c = v @ v, p @ v, p @ p - 1.0
    t = (-b - math.sqrt(b * b - a * c)) / a
    return origin + t * direction


def _geodetic(xyz: np.ndarray) -> tuple[float, float]:
    """ECEF (m) → (lon, lat) degrees, by fixed-point iteration on the latitude."""
    x, y, z = xyz
    lon = math.atan2(y, x)
    p = math.hypot(x, y)
    lat = math.atan2(z, p * (1 - WGS84_E2))
    for _ in range(8):
        n = WGS84_A / math.sqrt(1 - WGS84_E2 * math.sin(lat) ** 2)
        h = p / math.cos(lat) - n
        lat = math.atan2(z, p * (1 - WGS84_E2 * n / (n + h)))
    return math.degrees(lon), math.degrees(lat)


def _ecef(lon: float, lat: float) -> np.ndarray:
    lo, la = math.radians(lon), math.radians(lat)
    n = WGS84_A / math.sqrt(1 - WGS84_E2 * math.sin(la) ** 2)
    return np.array([n * math.cos(la) * math.cos(lo), n * math.cos(la) * math.sin(lo), n * (1 - WGS84_E2) * math.sin(la)])


class SpecModel:
    """Line (fractional, 0 = first line) and detector (fractional) of a band → ground point, per the spec.

    The CPF comes from its JSON file; the satellite's position and attitude at an instant come from the
    simulator's truth (the orbit and attitude it flew); line ``l`` is stamped ``start + l·period`` and
    seen at mid-integration, ``start + (l + ½)·period``.
    """

    def __init__(self, sim: Any) -> None:
        cpf = json.loads(Path(sim.truth["cpf"]["source"]).read_text())
        self.focal = float(cpf["focal_length_m"])
        alpha, beta, gamma = cpf["boresight_rad"]
        self.boresight = _rz(gamma) @ _ry(beta) @ _rx(alpha)
        self.bands = {b["name"]: b for b in cpf["bands"]}
        self.start = np.datetime64(sim.truth["start_utc"].rstrip("Z"), "ns")
        self.orbit, self.attitude = sim.orbit, sim.attitude

    def instant(self, band: str, line: float) -> np.datetime64:
        period_ns = self.bands[band]["line_period_s"] * 1e9
        return self.start + np.timedelta64(int(round((line + 0.5) * period_ns)), "ns")

    def ground_ecef(self, band: str, line: float, detector: float) -> np.ndarray:
        b = self.bands[band]
        t = np.array([self.instant(band, line)])
        position = self.orbit.state(t)[0][0]
        quaternion = self.attitude.quaternion(t)[0][0]
        los = np.array([math.tan(b["along_track_rad"]), (detector - (b["detectors"] - 1) / 2) * b["pitch_m"] / self.focal,
                        1.0])
        look = _quaternion_matrix(quaternion) @ self.boresight @ (los / np.linalg.norm(los))
        return _hit_ellipsoid(position, look)

    def ground(self, band: str, line: float, detector: float) -> tuple[float, float]:
        return _geodetic(self.ground_ecef(band, line, detector))

    def image(self, band: str, lon: float, lat: float, lines: int) -> tuple[float, float]:
        """(line, detector) that sees the ground point: Gauss–Newton on the forward model."""
        target = _ecef(lon, lat)
        x = np.array([lines / 2.0, (self.bands[band]["detectors"] - 1) / 2.0])
        for _ in range(20):
            here = self.ground_ecef(band, *x)
            jac = np.column_stack([(self.ground_ecef(band, x[0] + 0.5, x[1]) - here) / 0.5,
                                   (self.ground_ecef(band, x[0], x[1] + 0.5) - here) / 0.5])
            step = np.linalg.lstsq(jac, target - here, rcond=None)[0]
            x = x + step
            if np.abs(step).max() < 1e-6:
                break
        return float(x[0]), float(x[1])


# -- the scene, the pass, the products -----------------------------------------------------------

def _utm() -> Any:
    from pyproj import Transformer

    zone = int((TARGET[1] + 180) // 6) + 1
    epsg = (32600 if TARGET[0] >= 0 else 32700) + zone
    return epsg, Transformer.from_crs(4326, epsg, always_xy=True), Transformer.from_crs(epsg, 4326, always_xy=True)


def _marker_scene(path: Path) -> list[tuple[float, float]]:
    """A uniform scene with Gaussian spots on a lattice (sub-pixel phases vary), in UTM; their (x, y)."""
    import rasterio
    from rasterio.transform import from_origin

    epsg, to_utm, _ = _utm()
    cx, cy = to_utm.transform(TARGET[1], TARGET[0])
    cx, cy = round(cx / TRUTH_RES_M) * TRUTH_RES_M, round(cy / TRUTH_RES_M) * TRUTH_RES_M
    left, top = cx - HALF_EXTENT_M, cy + HALF_EXTENT_M
    size = int(2 * HALF_EXTENT_M / TRUTH_RES_M)
    markers = []
    for i in range(-4, 5):
        for j in range(-4, 5):
            # phases spread over the pixel: 0.37 and 0.61 px of truth per step
            markers.append((cx + i * MARKER_SPACING_M + (0.37 * (i + 4) % 1) * 10.0,
                            cy + j * MARKER_SPACING_M + (0.61 * (j + 4) % 1) * 10.0))
    field = np.full((size, size), BACKGROUND, dtype=np.float64)
    reach = int(math.ceil(6 * MARKER_SIGMA_M / TRUTH_RES_M))
    for mx, my in markers:
        c0, r0 = int((mx - left) / TRUTH_RES_M), int((top - my) / TRUTH_RES_M)
        rows, cols = np.mgrid[r0 - reach:r0 + reach + 1, c0 - reach:c0 + reach + 1]
        x = left + (cols + 0.5) * TRUTH_RES_M
        y = top - (rows + 0.5) * TRUTH_RES_M
        field[rows, cols] += MARKER_PEAK * np.exp(-0.5 * ((x - mx) ** 2 + (y - my) ** 2) / MARKER_SIGMA_M**2)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=len(BANDS), dtype="float32",
                       crs=f"EPSG:{epsg}", transform=from_origin(left, top, TRUTH_RES_M, TRUTH_RES_M),
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate") as dst:
        for k in range(len(BANDS)):
            dst.write(field.astype(np.float32), k + 1)
    return markers


@pytest.fixture(scope="module")
def markers_pass(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from rsarchive.product import ProductOptions, process_product
    from rsarchive.raw import process_raw

    tmp = tmp_path_factory.mktemp("markers")
    markers = _marker_scene(tmp / "markers.tif")
    scene = SceneSpec(kind="geotiff", path=str(tmp / "markers.tif"), resolution_m=TRUTH_RES_M)
    sim = small_downlink(tmp, scene=scene, write_truth_dn=False, write_truth_radiance=False)
    (raw,) = process_raw(sim.downlink, SMALL_CPF, tmp / "raw").written
    product = process_product(raw.path, tmp / "product", options=replace(ProductOptions(), refine=False))
    return {"sim": sim, "raw": Path(raw.path), "product": product, "markers": markers}


# -- measuring ------------------------------------------------------------------------------------

def centroid(image: np.ndarray, row: float, col: float, half: int) -> tuple[float, float] | None:
    """Background-subtracted centroid (row, col; integer = pixel centre) in a window around (row, col)."""
    r0, c0 = int(round(row)), int(round(col))
    if r0 - half < 0 or c0 - half < 0 or r0 + half >= image.shape[0] or c0 + half >= image.shape[1]:
        return None
    win = image[r0 - half:r0 + half + 1, c0 - half:c0 + half + 1].astype(np.float64)
    if not np.all(np.isfinite(win)):
        return None
    border = np.concatenate([win[0], win[-1], win[1:-1, 0], win[1:-1, -1]])
    w = win - np.median(border)
    rr, cc = np.mgrid[r0 - half:r0 + half + 1, c0 - half:c0 + half + 1]
    total = w.sum()
    return float((rr * w).sum() / total), float((cc * w).sum() / total)


def _raw_band(raw_dir: Path, band: str) -> tuple[np.ndarray, dict[str, Any], Path]:
    import rasterio

    meta = json.loads((raw_dir / "metadata.json").read_text())
    entry = next(b for b in meta["bands"] if b["name"] == band)
    with rasterio.open(raw_dir / entry["file"]) as ds:
        image = ds.read(1).astype(np.float64)
    return image, entry, raw_dir / entry["file"]


def _product_band(product: Any, band: str) -> tuple[np.ndarray, Any]:
    import rasterio

    entry = next(b for b in product.metadata.to_dict()["bands"] if b["name"] == band)
    with rasterio.open(product.path / entry["file"]) as ds:
        counts = ds.read(1)
        transform = ds.transform
    out = counts * entry["scale"] + entry["offset"]
    out[counts == entry["nodata"]] = np.nan
    return out, transform


def measure(sim: Any, raw_dir: Path, product: Any, markers: list[tuple[float, float]]) -> dict[str, Any]:
    """Per band and marker: offsets (px) of the raw centroid from the spec model, of the product's
    centroid from the true place, and of GDAL's RPC localisation from the spec model and the true place."""
    import rasterio
    from pyproj import Geod
    from rasterio.transform import RPCTransformer

    model = SpecModel(sim)
    _, _, to_lonlat = _utm()
    geod = Geod(ellps="WGS84")
    result: dict[str, Any] = {}
    for band in BANDS:
        cal = model.bands[band]
        gsd = 2.5 if band == "PAN" else 10.0
        half = int(math.ceil(5 * MARKER_SIGMA_M / gsd))
        raw, entry, raw_path = _raw_band(raw_dir, band)
        ortho, transform = _product_band(product, band)
        inverse = ~transform
        dead = np.asarray(cal["dead"], dtype=float)
        with rasterio.open(raw_path) as ds:
            rpcs = ds.rpcs
        rows = []
        for mx, my in markers:
            lon, lat = to_lonlat.transform(mx, my)
            line, det = model.image(band, lon, lat, raw.shape[0])
            if dead.size and np.abs(dead - det).min() <= half + 2:
                continue  # a filled (interpolated) detector under the spot would bend its profile
            got_raw = centroid(raw, line, det, half)
            col_x, row_y = inverse @ (mx, my)
            got_ortho = centroid(ortho, row_y - 0.5, col_x - 0.5, half)
            if got_raw is None or got_ortho is None:
                continue
            with RPCTransformer(rpcs) as tr:
                # rasterio's "center" offset: array index i is GDAL's continuous coordinate i + 0.5
                rpc_lon, rpc_lat = tr.xy([got_raw[0], line], [got_raw[1], det], zs=[0.0, 0.0], offset="center")
            spec_lon, spec_lat = model.ground(band, *got_raw)
            _, _, rpc_vs_spec = geod.inv(rpc_lon[0], rpc_lat[0], spec_lon, spec_lat)
            _, _, rpc_vs_true = geod.inv(rpc_lon[1], rpc_lat[1], lon, lat)
            rows.append({
                "raw_vs_spec": (got_raw[0] - line, got_raw[1] - det),           # (along, across), raw px
                "ortho_vs_true": (got_ortho[0] - (row_y - 0.5), got_ortho[1] - (col_x - 0.5)),  # (row, col) px
                "rpc_vs_spec_px": rpc_vs_spec / gsd,      # measured raw position through GDAL's RPC vs spec
                "rpc_vs_true_px": rpc_vs_true / gsd,      # spec's raw position of the true point through GDAL's RPC
            })
        result[band] = rows
    return result


def _worst(rows: list[dict[str, Any]], key: str) -> float:
    return max(float(np.hypot(*r[key])) if isinstance(r[key], tuple) else float(r[key]) for r in rows)


def summary(result: dict[str, Any]) -> str:
    lines = []
    for band, rows in result.items():
        mean_o = np.mean([r["ortho_vs_true"] for r in rows], axis=0)
        mean_r = np.mean([r["raw_vs_spec"] for r in rows], axis=0)
        lines.append(f"{band}: {len(rows)} markers; ortho − true mean (row, col) = ({mean_o[0]:+.3f}, {mean_o[1]:+.3f}) px, "
                     f"worst {_worst(rows, 'ortho_vs_true'):.3f} px; raw − spec mean (line, det) = "
                     f"({mean_r[0]:+.3f}, {mean_r[1]:+.3f}), worst {_worst(rows, 'raw_vs_spec'):.3f} px; "
                     f"RPC worst {_worst(rows, 'rpc_vs_spec_px'):.3f} / {_worst(rows, 'rpc_vs_true_px'):.3f} px")
    return "\n".join(lines)


# -- the checks -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def measured(markers_pass: dict[str, Any]) -> dict[str, Any]:
    result = measure(markers_pass["sim"], markers_pass["raw"], markers_pass["product"], markers_pass["markers"])
    print("\n" + summary(result))
    return result


def test_the_spec_model_here_is_self_consistent(markers_pass: dict[str, Any]) -> None:
    """The inverse of the model in this file inverts its forward direction, and it sees the scene."""
    sim = markers_pass["sim"]
    model = SpecModel(sim)
    lon, lat = model.ground("B3", 100.25, 77.5)
    line, det = model.image("B3", lon, lat, 256)
    assert abs(line - 100.25) < 1e-4 and abs(det - 77.5) < 1e-4
    # consecutive lines are one GSD apart (10 m), and the centre of the scene is near the target
    a, b = _ecef(*model.ground("B3", 128.0, 127.5)), _ecef(*model.ground("B3", 129.0, 127.5))
    assert np.linalg.norm(a - b) == pytest.approx(10.0, rel=0.02)
    centre = model.ground("PAN", 511.5, 511.5)
    assert abs(centre[0] - TARGET[1]) < 0.01 and abs(centre[1] - TARGET[0]) < 0.01


def test_the_simulator_renders_what_the_spec_says_the_sensor_sees(measured: dict[str, Any]) -> None:
    """Each marker is in the raw image where the spec's model (mid-integration) puts it."""
    for band, rows in measured.items():
        assert len(rows) >= 6, (band, len(rows))
        assert _worst(rows, "raw_vs_spec") <= TOLERANCE_PX, summary(measured)


def test_markers_in_the_orthorectified_product_are_at_their_true_place(measured: dict[str, Any]) -> None:
    """PAN and every multispectral band, no refinement, exact ancillary: within 0.1 px of the truth."""
    for band, rows in measured.items():
        assert len(rows) >= 6, (band, len(rows))
        assert _worst(rows, "ortho_vs_true") <= TOLERANCE_PX, summary(measured)


def test_markers_through_gdal_rpc_transformer_are_at_their_true_place(measured: dict[str, Any]) -> None:
    """The raw image's RPCs, evaluated by GDAL: the measured raw position lands on the spec model's
    ground point, and the spec model's image position of the true point lands on the true point."""
    for band, rows in measured.items():
        assert _worst(rows, "rpc_vs_spec_px") <= TOLERANCE_PX, summary(measured)
        assert _worst(rows, "rpc_vs_true_px") <= TOLERANCE_PX, summary(measured)
