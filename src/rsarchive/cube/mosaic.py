"""Cube bands on the products' own grid, read straight from the COGs (no reprojection).

When a band's cube grid is its products' pixel grid (same CRS and resolution, whole-pixel
offsets: :func:`rsarchive.cube.grid.placement`), every chunk is a set of plain COG windows.
This module builds the Dask array of such a band itself instead of going through odc-stac's
reader (which reads each item into a temporary array, fuses it into a stored-dtype chunk,
and leaves scaling to a second pass): one task per chunk reads each item's window in strips
of whole tile rows into buffers reused strip after strip, masks it with its QA band and writes the
decoded values (float32 reflectance, NaN where nodata or flagged; or the stored values) into
the chunk, items of one time slice fused first-valid-wins in odc-stac's order.  A QA COG
shared by several requested bands (the 4-band, pixel-interleaved multispectral QA) is read
once per item and chunk by a task of its own that the band tasks depend on.

Chunks follow the items' COG tiles (:func:`rsarchive.cube.grid.plan_chunks`) unless the
caller fixes them, so a tile is decompressed by one chunk only.

Computing a whole band (``cube.compute()``) would make Dask copy every chunk into a new array
at the end, on one thread.  A band's Dask array has its own optimisation and finalisation
hooks (:func:`optimize_mosaic`, :func:`assemble`): when it is itself computed in full, its
graph is given a :class:`Canvas` (the whole result, allocated once per process) that the chunk
tasks fill in place, and the chunks are handed back as that array, uncopied.
Anything else built on the band (a slice, arithmetic, writing Zarr) gets ordinary chunks.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rsarchive.cube.grid import TILE, chunk_bounds, uncovered

__all__ = ["NativeBand", "Source", "Piece", "Canvas", "native_array", "read_chunk", "read_qa_window"]

STRIP_TILES = 1
"""Tile rows read per GDAL call inside a window (bounds the per-thread buffers)."""


@dataclass(frozen=True)
class NativeBand:
    """One band of the cube read natively: how to decode it."""

    asset: str
    dtype: str                     # stored dtype (uint16)
    scale: float
    offset: float
    nodata: float | int | None
    to_float: bool                 # float32 reflectance with NaN, else the stored values
    mask: int                      # QA bits that drop a pixel (0: no masking)

    @property
    def out_dtype(self) -> str:
        return "float32" if self.to_float else self.dtype

    @property
    def fill(self) -> float | int:
        if self.to_float:
            return float("nan")
        return self.nodata if self.nodata is not None else 0


Source = tuple[str, int, int, int, int, int, "str | None", int, int]
"""Where one item's COG of a band sits: (href, band, row, col, height, width on the cube grid,
its QA COG href or None, the QA band, the COG's tile height)."""

Piece = tuple[str, int, tuple[int, int, int, int], tuple[int, int], Any, int, int]
"""One item's part of a chunk: (href, band, window ``(row0, row1, col0, col1)`` in the COG,
``(row, col)`` of the window in the chunk, its QA (None, ``(href, band)`` to read here, or the
index of a QA-task result in the task's ``qa`` list), the QA band's position in that result,
the COG's tile height)."""


def _scratch(buffers: dict[str, Any], name: str, size: int, dtype: Any) -> Any:
    """A buffer of ``size`` elements from the task's ``buffers``, reused strip after strip (no
    new pages per strip; freed with the task)."""
    import numpy as np

    buf = buffers.get(name)
    if buf is None or buf.size < size or buf.dtype != np.dtype(dtype):
        buf = buffers[name] = np.empty(max(size, 1), dtype=dtype)
    return buf[:size]


def read_qa_window(href: str, bands: tuple[int, ...], window: tuple[int, int, int, int], env: dict[str, Any]) -> Any:
    """QA bands ``bands`` of ``href`` in ``window`` (one decompression of a pixel-interleaved QA COG)."""
    import rasterio

    from rsarchive.cube.access import gdal_env

    r0, r1, c0, c1 = window
    with gdal_env(env), rasterio.open(href, "r", sharing=False) as ds:
        return ds.read(list(bands), window=((r0, r1), (c0, c1)))


def _decode_into(dst: Any, dn: Any, qa: Any, spec: NativeBand, direct: bool, buffers: dict[str, Any]) -> None:
    """Decode the stored values ``dn`` (QA ``qa`` or None) into ``dst``: every pixel when
    ``direct`` (nothing of an earlier item there), else only where ``dst`` has no value yet."""
    import numpy as np

    shape = dn.shape
    n = dn.size
    invalid = _scratch(buffers, "invalid", n, bool).reshape(shape)
    if spec.nodata is not None:
        np.equal(dn, spec.nodata, out=invalid)
    else:
        invalid.fill(False)
    if qa is not None and spec.mask:
        bits = _scratch(buffers, "bits", n, np.uint16).reshape(shape)
        flagged = _scratch(buffers, "flagged", n, bool).reshape(shape)
        np.bitwise_and(qa, np.uint16(spec.mask), out=bits)
        np.not_equal(bits, 0, out=flagged)
        np.logical_or(invalid, flagged, out=invalid)
    if direct:
        if spec.to_float:
            np.multiply(dn, np.float32(spec.scale), out=dst)
            if spec.offset:
                dst += np.float32(spec.offset)
        else:
            np.copyto(dst, dn)
        np.copyto(dst, dst.dtype.type(spec.fill), where=invalid)
        return
    take = _scratch(buffers, "take", n, bool).reshape(shape)
    if spec.to_float:
        np.isnan(dst, out=take)
    else:
        np.equal(dst, spec.fill, out=take)
    np.greater(take, invalid, out=take)  # missing here and valid there
    if spec.to_float:
        np.multiply(dn, np.float32(spec.scale), out=dst, where=take)
        if spec.offset:
            np.add(dst, np.float32(spec.offset), out=dst, where=take)
    else:
        np.copyto(dst, dn, where=take)


def _read_piece(ds: Any, qds: Any, dst: Any, piece: Piece, qa_stack: Any, spec: NativeBand, direct: bool,
                buffers: dict[str, Any]) -> None:
    """One item's window into ``dst`` (the chunk's part it covers), a tile row of strips at a time."""
    import numpy as np

    _, band, (r0, r1, c0, c1), _, qa_ref, qa_pos, tile = piece
    tile = max(1, int(tile or TILE)) * STRIP_TILES
    width = c1 - c0
    row = r0
    while row < r1:
        end = min(r1, (row // tile + 1) * tile)  # strips end on the COG's tile rows
        h = end - row
        dn = _scratch(buffers, "dn", h * width, np.dtype(spec.dtype)).reshape(h, width)
        ds.read(band, window=((row, end), (c0, c1)), out=dn)
        qa = None
        if isinstance(qa_ref, tuple):
            qa = _scratch(buffers, "qa", h * width, np.uint16).reshape(h, width)
            qds.read(qa_ref[1], window=((row, end), (c0, c1)), out=qa)
        elif qa_ref is not None:
            qa = qa_stack[qa_pos, row - r0:end - r0]
        _decode_into(dst[row - r0:end - r0], dn, qa, spec, direct, buffers)
        row = end


def read_chunk(spec: NativeBand, shape: tuple[int, int, int], layers: Sequence[Sequence[Piece]],
               env: dict[str, Any], qa: Sequence[Any] = (), canvas: Canvas | None = None,
               origin: tuple[int, int, int] = (0, 0, 0)) -> Any:
    """One chunk (time, y, x) of ``spec``: each time slice's pieces decoded into it, fused
    first valid value wins in the pieces' order; pixels no piece covers get the fill value.
    With a ``canvas``, the chunk is its part at ``origin`` (a view), else a new array."""
    import numpy as np
    import rasterio

    from rsarchive.cube.access import gdal_env

    if canvas is None:
        out = np.empty(shape, dtype=spec.out_dtype)
    else:
        (t0, y0, x0), (nt, ny, nx) = origin, shape
        out = canvas.array()[t0:t0 + nt, y0:y0 + ny, x0:x0 + nx]
    buffers: dict[str, Any] = {}
    with gdal_env(env):
        for t, pieces in enumerate(layers):
            plane = out[t]
            rects = [(p[3][0], p[3][0] + p[2][1] - p[2][0], p[3][1], p[3][1] + p[2][3] - p[2][2]) for p in pieces]
            direct = [not any(_overlap(rects[i], rects[j]) for j in range(i)) for i in range(len(pieces))]
            order = [i for i in range(len(pieces)) if direct[i]] + [i for i in range(len(pieces)) if not direct[i]]
            filled = False
            for i in order:
                if not direct[i] and not filled:
                    _fill_outside(plane, [rects[j] for j in range(len(pieces)) if direct[j]], spec.fill)
                    filled = True
                href, _, _, _, qa_ref, _, _ = pieces[i]
                y0, y1, x0, x1 = rects[i]
                with rasterio.open(href, "r", sharing=False) as ds:
                    if isinstance(qa_ref, tuple):
                        with rasterio.open(qa_ref[0], "r", sharing=False) as qds:
                            _read_piece(ds, qds, plane[y0:y1, x0:x1], pieces[i], None, spec, direct[i], buffers)
                    else:
                        stack = qa[qa_ref] if qa_ref is not None else None
                        _read_piece(ds, None, plane[y0:y1, x0:x1], pieces[i], stack, spec, direct[i], buffers)
            if not filled:
                _fill_outside(plane, [r for r, d in zip(rects, direct) if d], spec.fill)
    return out


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _fill_outside(plane: Any, rects: Sequence[tuple[int, int, int, int]], fill: float | int) -> None:
    for y0, y1, x0, x1 in uncovered(plane.shape[0], plane.shape[1], rects):
        plane[y0:y1, x0:x1] = fill


class Canvas:
    """A band's whole result, allocated (not touched) on first use in each process that fills it.

    Small when pickled (a ``distributed`` worker makes its own, and its chunks travel as
    ordinary arrays); within a process, every copy of one canvas shares one array."""

    _arrays: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
    _lock = threading.Lock()

    def __init__(self, shape: tuple[int, ...], dtype: str, key: str | None = None) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.dtype = str(dtype)
        self.key = key or uuid.uuid4().hex
        self._array: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        return Canvas, (self.shape, self.dtype, self.key)

    def array(self) -> Any:
        import numpy as np

        if self._array is None:
            with Canvas._lock:
                found = Canvas._arrays.get(self.key)
                if found is None:
                    found = np.empty(self.shape, dtype=self.dtype)
                    Canvas._arrays[self.key] = found
                self._array = found
        return self._array


def new_canvas(shape: tuple[int, ...], dtype: str) -> Canvas:
    """The task that gives a whole-band compute its canvas (a new one each run)."""
    return Canvas(shape, dtype)


_CANVAS = "cube-canvas-"


def _flat(keys: Any) -> Any:
    if isinstance(keys, list):
        for k in keys:
            yield from _flat(k)
    else:
        yield keys


def optimize_mosaic(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    """A canvas for every band (:func:`native_array`) whose chunks are all wanted (the band itself
    computed or persisted in full), then Dask's array optimisation."""
    import itertools

    from dask.array.optimization import optimize

    graph = dict(dsk)
    wanted = set(_flat(keys))
    for key in list(wanted):  # a compute asks for its finalising task, which takes every chunk
        task = graph.get(key)
        if getattr(task, "func", None) is assemble:
            wanted.update(getattr(task, "dependencies", ()))
    for key in [k for k in graph if isinstance(k, tuple) and str(k[0]).startswith(_CANVAS)]:
        _, nt, ny, nx, dtype, ct, cy, cx = key
        name = str(key[0])[len(_CANVAS):]
        if all((name, *idx) in wanted for idx in itertools.product(range(ct), range(cy), range(cx))):
            graph[key] = (new_canvas, (nt, ny, nx), dtype)
    return optimize(graph, keys, **kwargs)


def assemble(results: Any) -> Any:
    """A computed band from its chunks: the canvas they were filled into when they tile it,
    else Dask's concatenation."""
    import numpy as np
    from dask.array.core import finalize

    blocks = list(_flat(results))
    base = getattr(blocks[0], "base", None) if blocks else None
    if (isinstance(base, np.ndarray) and base.ndim == 3 and base.flags.c_contiguous
            and all(isinstance(b, np.ndarray) and b.base is base for b in blocks)
            and sum(b.size for b in blocks) == base.size and _in_place(results, base)):
        return base
    return finalize(results)


def _in_place(results: Any, base: Any) -> bool:
    """Whether the nested (time, y, x) lists of chunk views sit in ``base`` where their indices say."""
    start = base.__array_interface__["data"][0]
    strides = base.strides
    t0 = 0
    for plane in results:
        y0 = 0
        for row in plane:
            x0 = 0
            for block in row:
                offset = block.__array_interface__["data"][0] - start
                if offset != t0 * strides[0] + y0 * strides[1] + x0 * strides[2]:
                    return False
                x0 += block.shape[2]
            y0 += row[0].shape[1]
        t0 += plane[0][0].shape[0]
    return True


def _in_full(array: Any) -> Any:
    """``array`` (a band's Dask array) filled in place when it is itself computed in full.

    The hooks are set on the instance, not by subclassing: xarray refuses to mix chunked array
    types, and arrays derived from this one are ordinary Dask arrays."""
    array.__dask_optimize__ = optimize_mosaic
    array.__dask_postcompute__ = _postcompute
    return array


def _postcompute() -> tuple[Any, tuple[()]]:
    return assemble, ()


def native_array(spec: NativeBand, sources: Mapping[int, Source], groups: Sequence[Sequence[int]],
                 chunks: tuple[tuple[int, ...], ...], env: dict[str, Any], token: str,
                 shared_qa: Mapping[str, tuple[str, tuple[int, ...]]]) -> Any:
    """The Dask array (time, y, x) of ``spec`` from the items' COGs ``sources`` (item index →
    where it sits) for the item ``groups`` (item indices, one list per time slice, in fusing
    order) with ``chunks``.  Windows of a QA COG in ``shared_qa`` (href → (task name, the QA
    bands the cube needs)) are read by tasks of that name, the same for every band using that
    QA COG (Dask computes them once)."""
    import dask.array as da
    import numpy as np

    tchunks, ychunks, xchunks = chunks
    name = f"cube-{spec.asset}-{token}"
    canvas = (f"{_CANVAS}{name}", sum(tchunks), sum(ychunks), sum(xchunks), spec.out_dtype, len(tchunks),
              len(ychunks), len(xchunks))
    dsk: dict[Any, Any] = {canvas: None}  # no canvas unless the band is computed in full
    tb, yb, xb = chunk_bounds(tchunks), chunk_bounds(ychunks), chunk_bounds(xchunks)
    for it, (t0, t1) in enumerate(tb):
        for iy, (y0, y1) in enumerate(yb):
            for ix, (x0, x1) in enumerate(xb):
                layers: list[list[Piece]] = []
                deps: list[Any] = []
                for t in range(t0, t1):
                    pieces: list[Piece] = []
                    for item in groups[t]:
                        src = sources.get(item)
                        if src is None:
                            continue
                        href, band, row, col, height, width, qa_href, qa_band, tile = src
                        ry0, ry1 = max(y0, row), min(y1, row + height)
                        rx0, rx1 = max(x0, col), min(x1, col + width)
                        if ry0 >= ry1 or rx0 >= rx1:
                            continue
                        window = (ry0 - row, ry1 - row, rx0 - col, rx1 - col)
                        qa_ref: Any = None
                        qa_pos = 0
                        if qa_href is not None and spec.mask:
                            shared = shared_qa.get(qa_href)
                            if shared is None:
                                qa_ref = (qa_href, qa_band)
                            else:
                                key = (shared[0], t, iy, ix)
                                dsk[key] = (read_qa_window, qa_href, shared[1], window, env)
                                if key not in deps:
                                    deps.append(key)
                                qa_ref, qa_pos = deps.index(key), shared[1].index(qa_band)
                        pieces.append((href, band, window, (ry0 - y0, rx0 - x0), qa_ref, qa_pos, tile))
                    layers.append(pieces)
                dsk[(name, it, iy, ix)] = (read_chunk, spec, (t1 - t0, y1 - y0, x1 - x0), layers, env, deps,
                                           canvas, (t0, y0, x0))
    return _in_full(da.Array(dsk, name, chunks, dtype=np.dtype(spec.out_dtype)))
