"""Where the products sit on a cube's grid, and cube chunks cut along their COG tiles (pure:
numbers in, numbers out).

At the products' native resolution and CRS the cube grid is the products' own pixel grid
shifted by whole pixels: each item's band is a rectangle of the cube (:func:`placement`) and a
chunk reads a plain window of its COG.  A COG is stored in tiles (512 × 512 in the archive);
a chunk boundary that falls inside a tile makes both neighbouring chunks decompress that tile.
:func:`plan_axis` places the chunk boundaries of one axis on tile boundaries of every item they
cross where it can (items of different scenes are rarely aligned with each other, so a boundary
is put before, after or on the tile grid of each), else where it cuts the fewest items;
:func:`plan_chunks` does both axes, making chunks of about ``target × target`` pixels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Span", "placement", "plan_axis", "plan_chunks", "chunk_bounds", "uncovered", "TILE"]

TILE = 512
"""The archive's COG tile size (``rsarchive.cog.writer.DEFAULT_TILE``), used when a COG cannot be asked."""

Span = tuple[int, int]
"""A half-open pixel interval ``(start, end)`` on one axis of the cube."""

_TOL = 1e-6


def placement(asset: Mapping[str, Any], transform: Sequence[float], crs_code: str | None,
              item_crs: str | None) -> tuple[int, int, int, int] | None:
    """``(row, col, height, width)`` of an asset's raster on the cube grid ``transform``
    (affine ``a, b, c, d, e, f``), or None unless the asset's grid (``proj:transform``,
    ``proj:shape``) is the cube's grid shifted by whole pixels in the same CRS."""
    own = asset.get("proj:transform")
    shape = asset.get("proj:shape")
    if not own or not shape or len(own) < 6 or len(shape) != 2 or crs_code is None or item_crs is None:
        return None
    if str(crs_code).upper() != str(item_crs).upper():
        return None
    a, b, c, d, e, f = (float(v) for v in own[:6])
    ca, cb, cc, cd, ce, cf = (float(v) for v in transform[:6])
    if b or d or cb or cd or not math.isclose(a, ca, rel_tol=_TOL) or not math.isclose(e, ce, rel_tol=_TOL):
        return None
    col, row = (c - cc) / ca, (f - cf) / ce
    if abs(col - round(col)) > 1e-3 or abs(row - round(row)) > 1e-3:
        return None
    height, width = int(shape[0]), int(shape[1])
    if height <= 0 or width <= 0:
        return None
    return int(round(row)), int(round(col)), height, width


def _cuts(boundary: int, spans: Sequence[Span], tile: int) -> int:
    """Items whose tiles a chunk boundary at ``boundary`` splits (both sides decompress them)."""
    return sum(1 for s, e in spans if s < boundary < e and (boundary - s) % tile)


def plan_axis(length: int, spans: Sequence[Span], tile: int, target: int, *, low: int | None = None,
              high: int | None = None) -> tuple[int, ...]:
    """Chunk sizes along an axis of ``length`` pixels crossed by the items' ``spans``.

    Chunks are ``low`` … ``high`` pixels (default ``target / 2`` … ``2 × target``; the last may
    be shorter); each boundary is the candidate that splits the fewest items' tiles, then the
    one nearest ``target`` pixels after the previous boundary."""
    if length <= 0:
        return ()
    target = max(1, int(target))
    low = max(1, int(low if low is not None else target // 2))
    high = max(low, int(high if high is not None else 2 * target))
    sizes: list[int] = []
    pos = 0
    while length - pos > high:
        lo, hi = pos + low, pos + high
        candidates = {pos + target}
        for s, e in spans:
            candidates.update(v for v in (s, e) if lo <= v <= hi)
            first = s + max(0, -(-(lo - s) // tile)) * tile
            candidates.update(range(first, hi + 1, tile))
        goal = pos + target
        best = min((b for b in candidates if lo <= b <= hi and b < length),
                   key=lambda b: (_cuts(b, spans, tile), abs(b - goal), b))
        sizes.append(best - pos)
        pos = best
    sizes.append(length - pos)
    return tuple(sizes)


def plan_chunks(shape: tuple[int, int], rows: Sequence[Span], cols: Sequence[Span], tile: int = TILE,
                target: int = 4096) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(y chunks, x chunks)`` for a cube of ``shape`` (height, width) whose items cover the
    row ``rows`` and column ``cols`` spans: about ``target²`` pixels a chunk, boundaries on the
    items' tile boundaries where possible.  Chunks may be up to ``3 × target`` wide (a whole
    scene's width, usually: then no column boundary splits a tile) and as tall as keeps them
    near ``target²`` pixels."""
    height, width = shape
    xs = plan_axis(width, cols, tile, target, low=max(1, target // 2), high=3 * target)
    widest = max(xs) if xs else 1
    rows_target = max(tile, min(target, -(-(target * target // max(1, widest)) // tile) * tile))
    ys = plan_axis(height, rows, tile, rows_target, low=max(1, rows_target // 2), high=2 * rows_target)
    return ys, xs


def chunk_bounds(sizes: Sequence[int]) -> list[Span]:
    """The ``(start, end)`` of each chunk from its sizes."""
    out: list[Span] = []
    pos = 0
    for n in sizes:
        out.append((pos, pos + n))
        pos += n
    return out


def uncovered(height: int, width: int, rects: Sequence[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The parts of a ``height × width`` array outside the (disjoint) ``rects``
    ``(row0, row1, col0, col1)``, as rectangles."""
    if not rects:
        return [(0, height, 0, width)] if height and width else []
    ys = sorted({0, height, *(r[0] for r in rects), *(r[1] for r in rects)})
    xs = sorted({0, width, *(r[2] for r in rects), *(r[3] for r in rects)})
    out: list[tuple[int, int, int, int]] = []
    for y0, y1 in zip(ys, ys[1:]):
        if y0 >= y1:
            continue
        run: int | None = None
        for x0, x1 in zip(xs, xs[1:]):
            covered = any(r[0] <= y0 and y1 <= r[1] and r[2] <= x0 and x1 <= r[3] for r in rects)
            if not covered and run is None:
                run = x0
            elif covered and run is not None:
                out.append((y0, y1, run, x0))
                run = None
        if run is not None:
            out.append((y0, y1, run, width))
    return out
