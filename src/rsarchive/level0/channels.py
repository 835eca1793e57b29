"""Virtual channels: frame-count bookkeeping and M_PDU packet reassembly.

Each virtual channel's packet zones form one continuous byte stream.  For every
channel :class:`ChannelDemux` tracks the 24-bit frame count (gaps are lost frames,
wrapping at 2²⁴), joins the packet zones of consecutive frames, and cuts space
packets out of the joined stream.  After a lost or damaged frame the packet in
progress is dropped and the stream resynchronises on the next first header pointer
of that channel.  Every first header pointer is also checked against where the
packet walk expects a header: a mismatch (a corrupted length) resynchronises too.

A *damaged* frame (bad FECF or cut by a slip) whose header is intact and carries
exactly the next expected count of its channel is counted as damaged, not lost.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import numpy as np

from rsarchive.level0.ccsds import FHP_IDLE, FHP_NO_HEADER
from rsarchive.level0.frames import FrameBatch
from rsarchive.level0.profiles import MissionProfile
from rsarchive.level0.quality import QualityRecord

log = logging.getLogger(__name__)

__all__ = ["ChannelDemux", "walk_packets"]

_COUNT_MOD = 1 << 24
_HALF = 1 << 23


@dataclass
class _VcState:
    expected: int | None = None   # next frame count
    carry: bytes = b""            # bytes of a packet in progress (starts at its header)
    synced: bool = False          # the carry / stream position is a known packet boundary


def walk_packets(buf: bytes, start: int, anchors: list[int], idle_apid: int,
                 out: list[tuple[int, int]], stats: list[int]) -> tuple[int, bool]:
    """Cut packets out of ``buf`` from ``start``; append (start, end) of each to ``out``.

    ``anchors`` are sorted positions where a first header pointer says a header
    begins.  Returns (position of the first unfinished packet, still synced).
    ``stats`` accumulates [resyncs, unreadable, idle packets].
    """
    n = len(buf)
    pos = start
    ai = bisect.bisect_right(anchors, pos)
    na = len(anchors)
    while pos + 6 <= n:
        if buf[pos] >> 5:  # version must be 000
            stats[1] += 1
            if ai < na:
                pos = anchors[ai]
                ai += 1
                stats[0] += 1
                continue
            return n, False
        end = pos + 7 + ((buf[pos + 4] << 8) | buf[pos + 5])
        if ai < na and anchors[ai] < end:
            # A header begins inside what this header claims: trust the pointer.
            stats[1] += 1
            stats[0] += 1
            pos = anchors[ai]
            ai += 1
            continue
        if end > n:
            break
        if ((buf[pos] & 7) << 8 | buf[pos + 1]) == idle_apid:
            stats[2] += 1
        else:
            out.append((pos, end))
        pos = end
        if ai < na and anchors[ai] == pos:
            ai += 1
    return pos, True


class ChannelDemux:
    """Per-VC frame counting and packet reassembly (streaming, state across batches)."""

    def __init__(self, profile: MissionProfile, quality: QualityRecord) -> None:
        self.profile = profile
        self.q = quality
        self._state: dict[int, _VcState] = {}
        self._z0 = profile.data_zone_start
        self._z = profile.packet_zone_length

    def push(self, batch: FrameBatch) -> list[bytes]:
        """Packets completed by this batch, in the order their last octet arrived."""
        found: list[tuple[int, int, bytes]] = []  # (offset of completing frame, position, packet)
        vcs = set(np.unique(batch.vc).tolist()) | {d.vc for d in batch.damaged}
        for vc in sorted(vcs):
            self._push_vc(vc, batch, found)
        found.sort(key=lambda t: (t[0], t[1]))
        return [t[2] for t in found]

    def _push_vc(self, vc: int, batch: FrameBatch, found: list[tuple[int, int, bytes]]) -> None:
        st = self._state.setdefault(vc, _VcState())
        qv = self.q.vc(vc)
        rows = np.flatnonzero(batch.vc == vc)
        counts = batch.count[rows]
        offs = batch.offsets[rows]
        fhps = batch.fhp[rows]
        damaged = [d for d in batch.damaged if d.vc == vc]
        # breaks[i]: the stream is broken before good frame i (lost/damaged/discontinuity).
        breaks = np.zeros(len(rows), dtype=bool)
        drop = np.zeros(len(rows), dtype=bool)
        tail_break = False  # a damaged frame after the last good one of this batch
        if damaged:
            # Rare: walk frame by frame, merging damaged headers in file order.
            events = sorted([(int(o), 0, i) for i, o in enumerate(offs.tolist())]
                            + [(d.offset, 1, d.count) for d in damaged])
            expected = st.expected
            pending_break = False
            for _, is_damaged, val in events:
                if is_damaged:
                    if expected is not None and val == expected:
                        qv.frames_damaged += 1
                        expected = (val + 1) % _COUNT_MOD
                        pending_break = True
                    continue
                i = val
                c = int(counts[i])
                brk, lost, dup = self._step(qv, expected, c)
                if dup:
                    drop[i] = True
                    continue
                breaks[i] = brk or pending_break
                pending_break = False
                expected = (c + 1) % _COUNT_MOD
            st.expected = expected
            tail_break = pending_break
        elif len(rows):
            prev = np.empty(len(rows), dtype=np.int64)
            prev[0] = (st.expected - 1) % _COUNT_MOD if st.expected is not None else -1
            prev[1:] = counts[:-1]
            d = (counts - prev) % _COUNT_MOD
            normal = d == 1
            if st.expected is None:
                normal[0] = True
                qv.first_frame_count = int(counts[0])
            if not normal.all():
                for i in np.flatnonzero(~normal).tolist():
                    exp = int(prev[i] + 1) % _COUNT_MOD if (i or st.expected is not None) else None
                    brk, lost, dup = self._step(qv, exp, int(counts[i]))
                    breaks[i] = brk
                    drop[i] = dup
            st.expected = int(counts[~drop][-1] + 1) % _COUNT_MOD if (~drop).any() else st.expected
        if len(rows):
            self._runs(st, qv, batch, rows, counts, offs, fhps, breaks, drop, found)
        if tail_break:
            st.synced, st.carry = False, b""

    def _runs(self, st: _VcState, qv, batch: FrameBatch, rows: np.ndarray, counts: np.ndarray, offs: np.ndarray,
              fhps: np.ndarray, breaks: np.ndarray, drop: np.ndarray, found: list[tuple[int, int, bytes]]) -> None:
        if drop.any():
            keep = ~drop
            rows, counts, offs, fhps, breaks = rows[keep], counts[keep], offs[keep], fhps[keep], breaks[keep]
        qv.frames += len(rows)
        if len(rows):
            qv.last_frame_count = int(counts[-1])
        # Idle-only frames (FHP 0x7FE) on a data channel carry no packets and break the stream.
        idle = fhps == FHP_IDLE
        if idle.any():
            self.q.idle_frames += int(idle.sum())
            nxt = np.flatnonzero(idle) + 1
            breaks[nxt[nxt < len(breaks)]] = True
        # Split into runs of consecutive, unbroken, non-idle frames.
        cut = np.flatnonzero(breaks | idle | np.r_[False, idle[:-1]])
        bounds = [0, *cut.tolist(), len(rows)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            if a == b:
                continue
            if breaks[a]:
                st.synced, st.carry = False, b""
            if idle[a]:
                st.synced, st.carry = False, b""
                continue
            self._run(st, qv, batch, rows[a:b], offs[a:b], fhps[a:b], found)

    def _step(self, qv, expected: int | None, count: int) -> tuple[bool, int, bool]:
        """Account one frame count against the expected one: (break, lost, duplicate)."""
        if expected is None:
            if qv.first_frame_count is None:
                qv.first_frame_count = count
            return True, 0, False
        d = (count - expected) % _COUNT_MOD
        if d == 0:
            return False, 0, False
        if d == _COUNT_MOD - 1:
            qv.frames_duplicated += 1
            return False, 0, True
        if d < _HALF:
            qv.frames_lost += d
            return True, d, False
        qv.count_discontinuities += 1
        return True, 0, False

    def _run(self, st: _VcState, qv, batch: FrameBatch, rows: np.ndarray, offs: np.ndarray,
             fhps: np.ndarray, found: list[tuple[int, int, bytes]]) -> None:
        z0, z = self._z0, self._z
        zones = batch.frames[rows, z0 : z0 + z]
        lead = len(st.carry) if st.synced else 0
        buf = (st.carry if st.synced else b"") + zones.tobytes()
        valid = fhps < z
        idx = np.flatnonzero(valid)
        anchors = (lead + idx * z + fhps[idx]).tolist()
        bad_ptr = (~valid) & (fhps != FHP_NO_HEADER)
        if bad_ptr.any():
            self.q.packets_unreadable += 0  # pointers out of range are ignored
        if st.synced:
            start = 0
        else:
            if not anchors:
                st.carry = b""
                return  # no header begins in this run: nothing to resync on
            start = anchors[0]
            qv.resyncs += 1
        spans: list[tuple[int, int]] = []
        stats = [0, 0, 0]
        pos, synced = walk_packets(buf, start, anchors, self.profile.idle_apid, spans, stats)
        qv.resyncs += stats[0]
        self.q.packets_unreadable += stats[1]
        self.q.idle_packets += stats[2]
        offs_list = offs.tolist()
        for s, e in spans:
            frame_i = (e - 1 - lead) // z
            found.append((offs_list[frame_i], e, buf[s:e]))
        st.synced = synced
        st.carry = buf[pos:] if synced else b""
