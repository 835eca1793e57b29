"""Chunk planning on the products' own grid (pure): where items sit on the cube grid, chunk
boundaries on the items' COG tile boundaries, and the parts of a chunk no item covers."""

from __future__ import annotations

import itertools

import numpy as np

from rsarchive.cube.grid import chunk_bounds, placement, plan_axis, plan_chunks, uncovered

CUBE = (10.0, 0.0, 575790.0, 0.0, -10.0, 2345500.0)


def _asset(c: float, f: float, res: float = 10.0, shape: tuple[int, int] = (2212, 2110)) -> dict[str, object]:
    return {"proj:transform": [res, 0.0, c, 0.0, -res, f], "proj:shape": list(shape)}


def _splits(bounds: list[tuple[int, int]], spans: list[tuple[int, int]], tile: int) -> int:
    """Tiles decompressed twice: chunk boundaries inside an item and off its tile grid."""
    return sum(1 for (_, b) in bounds[:-1] for s, e in spans if s < b < e and (b - s) % tile)


def test_placement_is_the_whole_pixel_offset_on_the_same_grid_only() -> None:
    assert placement(_asset(579620.0, 2345410.0), CUBE, "EPSG:32648", "epsg:32648") == (9, 383, 2212, 2110)
    assert placement(_asset(579625.0, 2345410.0), CUBE, "EPSG:32648", "EPSG:32648") is None  # half a pixel off
    assert placement(_asset(579620.0, 2345410.0, res=2.5), CUBE, "EPSG:32648", "EPSG:32648") is None  # other resolution
    assert placement(_asset(579620.0, 2345410.0), CUBE, "EPSG:32648", "EPSG:32647") is None  # other CRS
    assert placement({"proj:shape": [10, 10]}, CUBE, "EPSG:32648", "EPSG:32648") is None  # grid unknown


def test_two_offset_scenes_are_chunked_without_splitting_a_tile() -> None:
    # the reference pass's PAN bands on their cube: two scenes overlapping by 1940 rows, their tile
    # grids 252 rows and 440 columns apart
    rows, cols = [(35, 8883), (6943, 15791)], [(1530, 9970), (66, 8510)]
    ys, xs = plan_chunks((15822, 10057), rows, cols, tile=512, target=4096)
    assert sum(ys) == 15822 and sum(xs) == 10057
    assert _splits(chunk_bounds(ys), rows, 512) == 0 and _splits(chunk_bounds(xs), cols, 512) == 0
    assert all(n * w <= 3 * 4096 * 4096 for n, w in itertools.product(ys, xs))  # chunks stay bounded
    assert len(ys) * len(xs) >= 4  # and there are enough of them to share between threads
    # regular 4096-px chunks split both scenes' tiles along every boundary inside them
    regular = [4096] * 3 + [15822 - 3 * 4096]
    assert _splits(chunk_bounds(regular), rows, 512) == 4


def test_boundaries_cut_the_fewest_items_when_none_is_clean() -> None:
    spans = [(0, 40000), (100, 40100), (300, 40300)]  # three overlapping scenes, all tile grids apart
    sizes = plan_axis(40300, spans, 512, 4096)
    assert sum(sizes) == 40300 and all(2048 <= n <= 8192 for n in sizes)
    # a boundary can be on one scene's tile grid only: it splits the other two, not all three
    assert _splits(chunk_bounds(sizes), spans, 512) == 2 * (len(sizes) - 1)


def test_small_cube_is_one_chunk() -> None:
    assert plan_chunks((3956, 2515), [(9, 2221), (1736, 3948)], [(383, 2493), (17, 2128)]) == ((3956,), (2515,))


def test_uncovered_is_the_complement_of_the_rectangles() -> None:
    rects = [(0, 5, 2, 7), (6, 9, 0, 3), (6, 10, 8, 10)]
    plane = np.zeros((10, 10), int)
    for y0, y1, x0, x1 in rects:
        plane[y0:y1, x0:x1] += 1
    for y0, y1, x0, x1 in uncovered(10, 10, rects):
        plane[y0:y1, x0:x1] += 10
    assert (plane == 1).sum() == sum((r[1] - r[0]) * (r[3] - r[2]) for r in rects)
    assert set(np.unique(plane)) == {1, 10}  # every pixel exactly once
    assert uncovered(4, 4, []) == [(0, 4, 0, 4)] and uncovered(4, 4, [(0, 4, 0, 4)]) == []
