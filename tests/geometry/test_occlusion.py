"""Terrain occlusion (QA bit 5) on synthetic views of a cliff, checked against geometry worked by hand
and against the RPC itself."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from rsarchive.errors import ProcessingError
from rsarchive.geometry.occlusion import ImageCoordinates, terrain_occlusion
from rsarchive.geometry.ortho import OrthoGrid
from rsarchive.geometry.rpc import RPCModel, fit_rpc_points

GRID = OrthoGrid(32648, 500000.0, 2323000.0, 10.0, 300, 200)
PLATEAU_M = 600.0
EDGE = 150.0  # the plateau ends at this ground coordinate (cells), its cliff falls over two cells


def camera(theta_deg: float = 0.0, roll_deg: float = 0.0, pitch_deg: float = 0.0, spread_deg: float = 0.0) -> RPCModel:
    """An RPC of a view of GRID rotated by ``theta`` on the ground, leaning ``roll`` across track and
    ``pitch`` along it (a point h metres up moves h·tan(angle) on the image, 10 m pixels); ``spread``
    adds a swath seen around nadir (the lean changes sign at the middle column)."""
    th = np.radians(theta_deg)
    r, c = np.meshgrid(np.linspace(-20, GRID.height + 20, 25), np.linspace(-20, GRID.width + 20, 25), indexing="ij")
    x, y = GRID.xy(r, c)
    lon, lat = Transformer.from_crs(GRID.epsg, 4326, always_xy=True).transform(x, y)
    u, v = (x - GRID.left) / 10.0, (GRID.top - y) / 10.0  # cells east and south of the corner
    columns = []
    for h in (0.0, 400.0, 800.0, 1200.0):
        lean = np.tan(np.radians(roll_deg)) + np.tan(np.radians(spread_deg)) * (u - GRID.width / 2) / (GRID.width / 2)
        samp = u * np.cos(th) + v * np.sin(th) + h * lean / 10.0
        line = -u * np.sin(th) + v * np.cos(th) + h * np.tan(np.radians(pitch_deg)) / 10.0
        columns.append((lon.ravel(), lat.ravel(), np.full(lon.size, h), line.ravel(), samp.ravel()))
    fit = fit_rpc_points(*(np.concatenate(k) for k in zip(*columns)))
    assert fit.max_px < 1e-3
    return fit.model


def cliff(w: np.ndarray) -> np.ndarray:
    """A plateau for ground coordinate w < EDGE, falling to 0 m over two cells (a cliff)."""
    return np.clip((EDGE + 1 - w) * PLATEAU_M / 2, 0.0, PLATEAU_M).astype(np.float32)


def ground(theta_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Ground coordinates of the cells across (w) and along (z) the view rotated by ``theta``."""
    th = np.radians(theta_deg)
    rr, cc = np.mgrid[0:GRID.height, 0:GRID.width].astype(float)
    return cc * np.cos(th) + rr * np.sin(th), -cc * np.sin(th) + rr * np.cos(th)


def by_hand(w: np.ndarray, lean_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(certainly hidden, possibly hidden) behind a cliff at EDGE seen leaning ``lean`` towards growing w:
    the plateau's edge (w = EDGE - 1, PLATEAU_M up) projects PLATEAU_M·tan(lean) further on."""
    reach = EDGE - 1 + PLATEAU_M * np.tan(np.radians(lean_deg)) / 10.0
    return (w > EDGE + 0.5) & (w < reach - 1.0), (w > EDGE - 1.5) & (w < reach + 1.5)


@pytest.mark.parametrize("theta", [0.0, 10.0, -25.0])
def test_the_ground_behind_a_cliff_facing_away_is_hidden(theta: float) -> None:
    w, _ = ground(theta)
    hidden = terrain_occlusion(GRID, camera(theta, roll_deg=30.0), cliff(w))
    surely, maybe = by_hand(w, 30.0)
    # a cell whose line of sight to the cliff leaves the grid is not judged on terrain it does not have
    surely[:20] = surely[-20:] = False
    assert surely.sum() > 4000
    assert hidden[surely].all() and not (hidden & ~maybe).any()


def test_along_track_lean_hides_along_track() -> None:
    _, z = ground(0.0)
    hidden = terrain_occlusion(GRID, camera(pitch_deg=25.0), cliff(z))
    surely, maybe = by_hand(z, 25.0)
    assert surely.sum() > 5000 and hidden[surely].all() and not (hidden & ~maybe).any()


@pytest.mark.parametrize("roll", [-30.0, 0.0])
def test_a_cliff_facing_the_sensor_or_seen_from_above_hides_nothing(roll: float) -> None:
    w, _ = ground(10.0)
    assert not terrain_occlusion(GRID, camera(10.0, roll_deg=roll), cliff(w)).any()


def test_a_swath_around_nadir_hides_outwards_on_both_sides() -> None:
    """A tower in each half of a nadir swath: each hides the ground on its outer side only."""
    w, z = ground(0.0)
    heights = np.zeros(w.shape, np.float32)
    heights[(np.abs(w - 60) < 3) & (np.abs(z - 100) < 20)] = 2000.0  # west half: view leans west
    heights[(np.abs(w - 240) < 3) & (np.abs(z - 100) < 20)] = 2000.0  # east half: view leans east
    hidden = terrain_occlusion(GRID, camera(spread_deg=10.0), heights)
    rows = np.abs(z - 100) < 15
    assert hidden[rows & (w > 45) & (w < 55)].all() and hidden[rows & (w > 245) & (w < 255)].all()
    assert not hidden[(w > 63) & (w < 237)].any()  # between the towers: each faces the sensor


def test_flat_terrain_and_rolling_hills_hide_nothing() -> None:
    rpc = camera(10.0, roll_deg=30.0, pitch_deg=10.0)
    assert not terrain_occlusion(GRID, rpc, np.full((GRID.height, GRID.width), 350.0, np.float32)).any()
    rr, cc = np.mgrid[0:GRID.height, 0:GRID.width]
    hills = (400 * (1 + np.sin(cc / 50.0) * np.cos(rr / 60.0))).astype(np.float32)  # slopes < 40°
    assert not terrain_occlusion(GRID, rpc, hills).any()


def test_interpolated_image_coordinates_match_the_rpc() -> None:
    rpc = camera(10.0, roll_deg=30.0, pitch_deg=10.0)
    coords = ImageCoordinates(GRID, rpc, (0.0, 1200.0))
    rng = np.random.default_rng(3)
    heights = rng.uniform(0, 1200, (GRID.height, GRID.width)).astype(np.float32)
    rows, cols = rng.integers(0, GRID.height, 500), rng.integers(0, GRID.width, 500)
    x, y = GRID.xy(rows, cols)
    lon, lat = Transformer.from_crs(GRID.epsg, 4326, always_xy=True).transform(x, y)
    line, samp = rpc.project(lon, lat, heights[rows, cols].astype(np.float64))
    for axis, exact in (("line", line), ("samp", samp)):
        value, _ = coords.field(axis, heights)
        transposed, _ = coords.field(axis, heights, transposed=True)
        assert np.abs(value[rows, cols] - exact).max() < 0.01
        assert np.allclose(transposed.T, value, rtol=0, atol=1e-3)  # the same, interpolated the other way first


def test_heights_must_match_the_grid() -> None:
    with pytest.raises(ProcessingError, match="do not match the grid"):
        terrain_occlusion(GRID, camera(), np.zeros((10, 10), np.float32))


@pytest.mark.parametrize("slope_deg, hides", [(55.0, False), (65.0, True)])
def test_a_slope_facing_away_hides_itself_only_when_steeper_than_the_view(slope_deg: float, hides: bool) -> None:
    """Seen 30° off nadir, a slope facing away is visible up to 60°, hidden beyond."""
    w, _ = ground(10.0)
    ramp = np.clip((EDGE - w) * 10.0 * np.tan(np.radians(slope_deg)), 0.0, PLATEAU_M).astype(np.float32)
    hidden = terrain_occlusion(GRID, camera(10.0, roll_deg=30.0), ramp)
    face = (ramp > 50.0) & (ramp < PLATEAU_M - 50.0)
    face[:20] = face[-20:] = False
    if hides:
        assert face.sum() > 500 and hidden[face].mean() > 0.9
    else:
        assert not hidden.any()
