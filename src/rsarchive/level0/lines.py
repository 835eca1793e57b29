"""Image lines: line packets → per-band blocks of 12-bit DNs, vectorised.

Each image packet (spec §3) carries one line of one band: CUC time, line counter,
band id, compression flag, pixel count N and N 12-bit DNs packed two per three
octets.  :class:`LineAssembler` gathers a band's packets and unpacks a whole block
of lines at once (no per-pixel Python).

Missing lines (gaps in the line counter) are present in the output as **fill value
0** with flag :data:`FLAG_MISSING`; lines whose packet arrived but cannot be read
(compression ≠ 0, wrong length or pixel count) are fill with flag
:data:`FLAG_UNREADABLE`.  DN 0 is also a real value (dead detectors read 0), so the
per-line flag — not the fill value — tells lost lines from dark pixels.

A line counter is trusted only as far as the line's time agrees with it (spec §3:
+1 per line; the CUC time is the start of the line's integration).  A counter
that does not follow the previous line is checked against the time elapsed since
that line, in line periods (the period is measured from the band's own consecutive
lines): a gap the time confirms is lost lines (fill); a counter the time
contradicts (a bit flip, a corrupt jump forward or back) is replaced by the
position the time gives, so the spool grows with the pass, not with the counter,
and the lines after it are kept.  Without times (or before the period is known),
a jump is accepted only when the next line continues from it, and a jump larger
than :data:`MAX_BLIND_GAP` is never filled.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rsarchive.level0.profiles import BandSpec, MissionProfile
from rsarchive.level0.quality import BandQuality
from rsarchive.level0.timecode import LeapSecondTable, cuc_to_utc_array

log = logging.getLogger(__name__)

__all__ = ["FILL_VALUE", "FLAG_MISSING", "FLAG_OK", "FLAG_UNREADABLE", "LineAssembler", "LineBlock",
           "pack12", "unpack12"]

FILL_VALUE = 0
FLAG_OK = 0
FLAG_MISSING = 1
FLAG_UNREADABLE = 2
LINE_HEADER = 8  # counter 4, band 1, compression 1, pixel count 2
MAX_FILL_GAP = 1_000_000
"""A counter jump larger than this is a new acquisition, not lost lines."""
MAX_BLIND_GAP = 4096
"""Without a time to check it against, a counter jump larger than this is not filled."""
_PERIOD_PAIRS = 16
"""Consecutive line pairs whose median time step is taken as the band's line period."""


@dataclass
class LineBlock:
    """Consecutive lines of one band."""

    band: str
    band_id: int
    first_line: int           # line counter of row 0
    dns: np.ndarray           # (lines, detectors) uint16
    times: np.ndarray         # (lines,) datetime64[ns]; NaT for missing lines
    flags: np.ndarray         # (lines,) uint8: 0 ok, 1 missing, 2 unreadable

    @property
    def counters(self) -> np.ndarray:
        return self.first_line + np.arange(len(self.flags), dtype=np.int64)

    def __len__(self) -> int:
        return int(self.flags.shape[0])


def unpack12(packed: np.ndarray, count: int) -> np.ndarray:
    """12-bit DNs of a (lines, 1.5·count) uint8 array → (lines, count) uint16.

    Two pixels in three octets: ``p0[11:4]``, ``p0[3:0]‖p1[11:8]``, ``p1[7:0]``.
    """
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    k = packed.shape[0]
    half = count // 2
    out = np.empty((k, count), dtype=np.uint16)
    if k == 0 or count == 0:
        return out
    if packed.shape[1] != half * 3:
        raise ValueError(f"{packed.shape[1]} octets per line do not hold {count} 12-bit pixels")
    # Big-endian 16-bit words at octets 3j (p0 in the top 12 bits) and 3j+1 (p1 in
    # the low 12 bits): two strided views, two ufuncs, no temporaries.
    row = packed.strides[0]
    first = np.ndarray((k, half), dtype=">u2", buffer=packed, offset=0, strides=(row, 3))
    second = np.ndarray((k, half), dtype=">u2", buffer=packed, offset=1, strides=(row, 3))
    np.right_shift(first, 4, out=out[:, 0::2], casting="unsafe")
    np.bitwise_and(second, 0x0FFF, out=out[:, 1::2], casting="unsafe")
    return out


def pack12(dns: np.ndarray) -> np.ndarray:
    """Inverse of :func:`unpack12`: (lines, N) or (N,) uint16 (N even, values < 4096) → uint8."""
    d = np.asarray(dns, dtype=np.uint16)
    p0 = d[..., 0::2]
    p1 = d[..., 1::2]
    out = np.empty(d.shape[:-1] + (p0.shape[-1], 3), dtype=np.uint8)
    out[..., 0] = p0 >> 4
    out[..., 1] = ((p0 & 0x0F) << 4) | (p1 >> 8)
    out[..., 2] = p1 & 0xFF
    return out.reshape(d.shape[:-1] + (p0.shape[-1] * 3,))


class LineAssembler:
    """Collects one band's line packets (in order) and yields :class:`LineBlock`s."""

    def __init__(self, profile: MissionProfile, band: BandSpec, quality: BandQuality,
                 block_lines: int = 512, leap: LeapSecondTable | None = None) -> None:
        self.band = band
        self.q = quality
        self.block_lines = block_lines
        self.leap = leap
        self.sec = profile.secondary_header_length
        self.hdr = 6 + self.sec + LINE_HEADER
        self._pending: list[bytes] = []
        self._next: int | None = None     # next line counter to output
        self._last_ns: int | None = None  # time of the last placed line (ns), when it has one
        self._period_ns: float | None = None  # the band's line period, measured
        self.detectors: int | None = None

    def add(self, pkt: bytes) -> Iterator[LineBlock]:
        self._pending.append(pkt)
        if len(self._pending) >= self.block_lines:
            yield from self._emit()

    def flush(self) -> Iterator[LineBlock]:
        if self._pending:
            yield from self._emit()

    # ------------------------------------------------------------------------------
    def _emit(self) -> Iterator[LineBlock]:
        pkts, self._pending = self._pending, []
        hdr = self.hdr
        sizes = np.fromiter((len(p) for p in pkts), dtype=np.int64, count=len(pkts))
        heads = np.frombuffer(b"".join(p[:hdr] if len(p) >= hdr else p[:0] + bytes(hdr) for p in pkts),
                              dtype=np.uint8).reshape(len(pkts), hdr).astype(np.int64)
        short = sizes < hdr
        s = 6 + self.sec
        counters = (heads[:, s] << 24) | (heads[:, s + 1] << 16) | (heads[:, s + 2] << 8) | heads[:, s + 3]
        band_ids = heads[:, s + 4]
        comp = heads[:, s + 5]
        npix = (heads[:, s + 6] << 8) | heads[:, s + 7]
        if self.sec >= 6:
            secs = (heads[:, 6] << 24) | (heads[:, 7] << 16) | (heads[:, 8] << 8) | heads[:, 9]
            frac = (heads[:, 10] << 8) | heads[:, 11]
            times = cuc_to_utc_array(secs, frac, self.leap)
        else:
            times = np.full(len(pkts), np.datetime64("NaT"), dtype="datetime64[ns]")
        if self.detectors is None:
            cand = np.flatnonzero(~short & (comp == 0) & (npix % 2 == 0) & (npix > 0)
                                  & (sizes == hdr + npix * 3 // 2))
            if cand.size:
                self.detectors = int(npix[cand[0]])
                self.q.detectors = self.detectors
        n_det = self.detectors or 0
        readable = (~short & (comp == 0) & (npix == n_det) & (sizes == hdr + n_det * 3 // 2)
                    & (band_ids == self.band.id) & (n_det > 0))
        unreadable_ok = ~short  # a counter we can still trust enough to place the line
        # Place each line: strictly increasing counters, checked against the line's time.
        times_ns = times.astype("datetime64[ns]").view(np.int64)
        timed = self.sec >= 6
        if timed:
            self._measure_period(counters, times_ns, unreadable_ok)
        keep = np.zeros(len(pkts), dtype=bool)
        placed = counters.copy()
        last = self._next - 1 if self._next is not None else None
        last_ns = self._last_ns
        for i, c in enumerate(counters.tolist()):
            if not unreadable_ok[i]:
                self.q.lines_unreadable += 1
                continue
            t = int(times_ns[i]) if timed else None
            if last is not None and c != last + 1:
                position = self._position(i, last, last_ns, counters, times_ns if timed else None,
                                          unreadable_ok)
                if position is None:
                    self.q.lines_out_of_sequence += 1
                    continue
                if position != c:
                    self.q.lines_counter_repaired += 1
                c = position
            keep[i] = True
            placed[i] = c
            last, last_ns = c, t
        self._last_ns = last_ns
        counters = placed
        idx = np.flatnonzero(keep)
        if not idx.size:
            return
        counters, times, readable = counters[idx], times[idx], readable[idx]
        good = idx[readable]
        pixels = np.empty((0, n_det), dtype=np.uint16)
        if good.size:
            body = b"".join(pkts[i][hdr:] for i in good.tolist())
            pixels = unpack12(np.frombuffer(body, dtype=np.uint8).reshape(good.size, -1), n_det)
        # Place rows by counter, splitting at jumps too large to fill.
        q = self.q
        if q.first_line is None:
            q.first_line = int(counters[0])
            q.first_time = _iso(times[0])
        start = self._next if self._next is not None else int(counters[0])
        row_pix = np.full(len(counters), -1, dtype=np.int64)
        row_pix[readable] = np.arange(good.size)
        seg_start = 0
        for j in range(1, len(counters) + 1):
            if j < len(counters) and counters[j] - counters[j - 1] <= MAX_FILL_GAP:
                continue
            # segment [seg_start, j) is contiguous enough to fill
            c0 = start if seg_start == 0 else int(counters[seg_start])
            if seg_start == 0 and counters[0] - start > MAX_FILL_GAP:
                q.counter_jumps += 1
                c0 = int(counters[0])
            yield from self._blocks(c0, counters[seg_start:j], times[seg_start:j], readable[seg_start:j],
                                    row_pix[seg_start:j], pixels, n_det)
            if j < len(counters):
                q.counter_jumps += 1
            seg_start = j
        self._next = int(counters[-1]) + 1
        q.last_line = int(counters[-1])
        q.last_time = _iso(times[-1])

    def _measure_period(self, counters: np.ndarray, times_ns: np.ndarray, ok: np.ndarray) -> None:
        """The line period from the time steps of consecutive lines (once, from the first block that has
        enough of them; steps far from their median — corrupt lines — do not count)."""
        if self._period_ns is not None or len(counters) < 2:
            return
        pairs = ok[1:] & ok[:-1] & (np.diff(counters) == 1)
        steps = np.diff(times_ns)[pairs]
        steps = steps[steps > 0]
        if steps.size >= _PERIOD_PAIRS:
            median = float(np.median(steps))
            # the mean of the steps near the median: CUC ticks (15 µs) quantise each step, the mean does not
            self._period_ns = float(steps[np.abs(steps - median) <= median / 2].mean())

    def _position(self, i: int, last: int, last_ns: int | None, counters: np.ndarray, times_ns: np.ndarray | None,
                  ok: np.ndarray) -> int | None:
        """Where line ``i``, whose counter does not follow ``last``, belongs (None: drop it)."""
        c = int(counters[i])
        later = [j for j in range(i + 1, min(i + 4, len(counters))) if ok[j]][:1]
        if times_ns is not None and last_ns is not None and self._period_ns is not None:
            period = self._period_ns

            def steps(j: int) -> int:
                return round((int(times_ns[j]) - last_ns) / period)

            def agrees(counter: int, n: int) -> bool:
                return n >= 1 and abs(counter - (last + n)) <= n // 100

            n = steps(i)
            if agrees(c, n):
                return c  # lost lines, and the time says so
            # Counter and time disagree.  When the next line's counter agrees with its time, the counters
            # run true and this line's time is the damaged one; otherwise the counter is.
            if later and agrees(int(counters[later[0]]), steps(later[0])) and last < c < int(counters[later[0]]):
                return c
            if 1 <= n <= MAX_BLIND_GAP:
                return last + n  # the time places the line
            return None  # a repeat, or neither counter nor time can be trusted
        if c <= last:
            return None
        if c - last - 1 <= MAX_BLIND_GAP:
            return c
        if later and int(counters[later[0]]) == c + 1:
            return c  # the next line continues from the jump: a real one (filled or split below)
        return None

    def _blocks(self, c0: int, counters: np.ndarray, times: np.ndarray, readable: np.ndarray,
                row_pix: np.ndarray, pixels: np.ndarray, n_det: int) -> Iterator[LineBlock]:
        q = self.q
        c_end = int(counters[-1]) + 1
        q.lines_expected += c_end - c0
        q.lines_decoded += int(readable.sum())
        q.lines_unreadable += int((~readable).sum())
        q.lines_missing += (c_end - c0) - len(counters)
        step = self.block_lines
        if c_end - c0 == len(counters) and readable.all() and c_end - c0 <= step:
            # Fast path: a gap-free, fully readable block — no fill, no copy.
            yield LineBlock(self.band.name, self.band.id, c0, pixels[row_pix], times, np.zeros(len(counters), np.uint8))
            return
        for b0 in range(c0, c_end, step):
            b1 = min(b0 + step, c_end)
            lo, hi = np.searchsorted(counters, [b0, b1])
            rows = counters[lo:hi] - b0
            dns = np.full((b1 - b0, n_det), FILL_VALUE, dtype=np.uint16)
            tt = np.full(b1 - b0, np.datetime64("NaT"), dtype="datetime64[ns]")
            flags = np.full(b1 - b0, FLAG_MISSING, dtype=np.uint8)
            tt[rows] = times[lo:hi]
            flags[rows] = np.where(readable[lo:hi], FLAG_OK, FLAG_UNREADABLE)
            src = row_pix[lo:hi]
            ok = src >= 0
            if ok.any():
                dns[rows[ok]] = pixels[src[ok]]
            yield LineBlock(self.band.name, self.band.id, b0, dns, tt, flags)


def _iso(t: np.datetime64) -> str | None:
    if np.isnat(t):
        return None
    return str(np.datetime_as_string(t, unit="us")) + "Z"
