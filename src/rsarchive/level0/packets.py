"""Space packets: per-APID sequence accounting, duplicates and re-sorting (streaming).

:class:`PacketSorter` receives packets in arrival order and releases them in
order: duplicates — same (APID, time, sequence count) — are dropped; a packet that
arrives after a later one of its APID is put back in place, as long as that later
one is still inside the bounded re-sort window (``window`` packets); gaps in the
14-bit sequence count (wrapping at 16384) are counted as lost when packets leave
the window.  Packets of different APIDs keep their arrival order.

:func:`split_packet_stream` cuts a plain packet stream (no frames; e.g. NASA/JPSS
``*.PDS``/``*_LZ_*.DAT`` files) into packets.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from rsarchive.errors import DecodeError
from rsarchive.level0.profiles import MissionProfile
from rsarchive.level0.quality import QualityRecord

log = logging.getLogger(__name__)

__all__ = ["PacketSorter", "PacketStreamSplitter", "looks_like_packets", "SEQ_MOD"]

SEQ_MOD = 1 << 14
_SEQ_HALF = 1 << 13


class _ApidState:
    __slots__ = ("max_u", "last_emitted", "recent", "quality")

    def __init__(self, quality) -> None:
        self.max_u: int | None = None
        self.last_emitted: int | None = None
        self.recent: dict[int, bytes] = {}   # unwrapped count → time field of recent packets
        self.quality = quality


class PacketSorter:
    """Duplicate removal, bounded re-sorting and sequence-gap counting."""

    def __init__(self, profile: MissionProfile, quality: QualityRecord, sink: Callable[[int, int, bytes], None],
                 window: int = 256, memory: int = 2048) -> None:
        self.q = quality
        self.sink = sink  # called as sink(apid, unwrapped count, packet) in release order
        self.window = window
        self.memory = memory
        self.sec_len = profile.secondary_header_length
        self.idle_apid = profile.idle_apid
        self._pending: deque[tuple[int, int, bytes, _ApidState]] = deque()
        self._apids: dict[int, _ApidState] = {}

    def push_many(self, packets: Iterable[bytes]) -> None:
        for pkt in packets:
            self.push(pkt)

    def push(self, pkt: bytes) -> None:
        """Take one packet (primary header included)."""
        apid = ((pkt[0] & 7) << 8) | pkt[1]
        if apid == self.idle_apid:
            self.q.idle_packets += 1
            return
        seq = ((pkt[2] & 0x3F) << 8) | pkt[3]
        tkey = pkt[6 : 6 + self.sec_len] if (pkt[0] & 0x08) and self.sec_len else b""
        st = self._apids.get(apid)
        if st is None:
            st = self._apids[apid] = _ApidState(self.q.apid(apid))
            u = seq
            st.max_u = u
        else:
            d = ((seq - st.max_u + _SEQ_HALF) % SEQ_MOD) - _SEQ_HALF
            u = st.max_u + d
            if d > 0:
                st.max_u = u
            else:
                # Only a packet at or behind the newest can be a duplicate or late.
                known = st.recent.get(u)
                if known is not None and (known == tkey or (d == 0 and known == tkey)):
                    st.quality.duplicates_dropped += 1
                    return
                if d < 0:
                    st.quality.out_of_order += 1
                    st.recent[u] = tkey
                    self._insert(apid, u, pkt, st)
                    self._trim()
                    return
        recent = st.recent
        recent[u] = tkey
        if len(recent) > 2 * self.memory:
            floor = st.max_u - self.memory
            st.recent = {k: v for k, v in recent.items() if k > floor}
        self._pending.append((apid, u, pkt, st))
        self._trim()

    def _trim(self) -> None:
        pending = self._pending
        while len(pending) > self.window:
            self._release(pending.popleft())

    def _insert(self, apid: int, u: int, pkt: bytes, st: _ApidState) -> None:
        for i, entry in enumerate(self._pending):
            if entry[0] == apid and entry[1] > u:
                self._pending.insert(i, (apid, u, pkt, st))
                return
        # Everything later of this APID has left the window: release it now, late.
        if st.last_emitted is not None and u < st.last_emitted:
            st.quality.packets_lost = max(0, st.quality.packets_lost - 1)  # it fills a gap already counted
        self._pending.append((apid, u, pkt, st))

    def _release(self, entry: tuple[int, int, bytes, _ApidState]) -> None:
        apid, u, pkt, st = entry
        a = st.quality
        last = st.last_emitted
        if last is None or u > last:
            if last is not None and u > last + 1:
                a.packets_lost += u - last - 1
            st.last_emitted = u
        a.packets += 1
        a.bytes += len(pkt)
        self.sink(apid, u, pkt)

    def flush(self) -> None:
        """Release everything still in the window (end of the stream)."""
        while self._pending:
            self._release(self._pending.popleft())


def looks_like_packets(data: bytes, count: int = 4) -> bool:
    """Whether ``data`` starts with ``count`` chained plausible space packet headers
    (version 000, type 0) — or runs out of data while they are plausible."""
    pos = 0
    seen = 0
    while seen < count and pos + 6 <= len(data):
        if data[pos] >> 4:  # version 000 and type 0 (telemetry)
            return False
        pos += 7 + ((data[pos + 4] << 8) | data[pos + 5])
        seen += 1
    return seen > 0 and (seen == count or pos >= len(data))


class PacketStreamSplitter:
    """Cut a plain space-packet stream into packets, block by block."""

    def __init__(self, quality: QualityRecord, name: str = "stream") -> None:
        self.q = quality
        self.name = name
        self._buf = b""
        self._offset = 0
        self._broken = False

    def feed(self, data: bytes, final: bool = False) -> Iterator[bytes]:
        self.q.bytes_read += len(data)
        if self._broken:
            self.q.bytes_skipped += len(data)
            return
        buf = self._buf + data if self._buf else bytes(data)
        n = len(buf)
        pos = 0
        while pos + 6 <= n:
            if buf[pos] >> 5:
                # No frame pointers to resync on in a bare packet stream: stop here.
                self.q.packets_unreadable += 1
                self.q.bytes_skipped += n - pos
                log.warning("%s: invalid space packet header at byte %d; rest of the file skipped",
                            self.name, self._offset + pos)
                self._broken = True
                self._buf = b""
                return
            end = pos + 7 + ((buf[pos + 4] << 8) | buf[pos + 5])
            if end > n:
                break
            yield buf[pos:end]
            pos = end
        self._offset += pos
        self._buf = buf[pos:]
        if final and self._buf:
            self.q.trailing_partial_bytes += len(self._buf)
            self.q.bytes_skipped += len(self._buf)
            self._buf = b""


def check_packet_stream_start(head: bytes, name: str, profile: MissionProfile) -> None:
    """Raise a :class:`DecodeError` naming the right input kind when a file is not a packet stream."""
    if not head:
        raise DecodeError(f"{name} is empty")
    if head[:4] == profile.asm or _asm_at_stride(head, profile):
        raise DecodeError(f"{name} looks like a CADU stream (ASM {profile.asm.hex().upper()} every "
                          f"{profile.cadu_length} bytes), not a space-packet stream: use --input cadu")
    if not looks_like_packets(head):
        raise DecodeError(f"{name} does not start with a space packet header (version 000, telemetry); "
                          f"first octets {head[:6].hex().upper()}")


def _asm_at_stride(head: bytes, profile: MissionProfile) -> bool:
    first = head.find(profile.asm)
    if first < 0:
        return False
    nxt = first + profile.cadu_length
    return head[nxt : nxt + 4] == profile.asm
