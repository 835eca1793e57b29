"""The byte-level downlink writer: image lines and ancillary samples → CADUs (spec §1–3),
with optional, exactly-accounted impairments.

The writer builds space packets, multiplexes them into the packet zones of their
virtual channels (first header pointers set), appends the FECF, randomises, and
writes ``ASM + frame (+ RS bytes)`` CADUs.  Impairments (:class:`Impairments`) are
placed deterministically from ``seed``, kept apart so that each one is counted once
by a decoder, and :attr:`DownlinkWriter.report` says exactly what was injected and
what the decoder's quality record must therefore show (``report.expected``).

Placement rules (so counts are exact):

* frame impairments (bit errors, dropped frames, slips) hit data frames only, never
  two neighbours, never a frame holding a duplicated or re-ordered packet, never the
  first frame of a channel, and only when the channel's previous frame arrived;
  a dropped frame is always followed by a later frame of its channel;
* bit errors flip bits after the frame header (the decoder still knows the
  channel and count → *damaged*, not lost); slips either insert bytes between two
  CADUs (no frame lost) or delete the tail of a CADU (that frame is damaged);
* the last ``truncate_bytes / L + 8`` frames are never impaired, so truncation only
  cuts clean CADUs and leaves one partial CADU.

Events are spaced ``spacing`` frames apart (``expected_cadus`` spreads them over a
downlink of known size); events that do not fit before the end are not injected,
and the report says so.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

import numpy as np

from rsarchive.errors import UsageError
from rsarchive.level0.ccsds import FHP_IDLE, FHP_NO_HEADER, SEQ_UNSEGMENTED, crc16, pack_aos_header, pn_sequence
from rsarchive.level0.lines import pack12
from rsarchive.level0.profiles import MissionProfile
from rsarchive.level0.timecode import LeapSecondTable, leap_seconds

log = logging.getLogger(__name__)

__all__ = ["DownlinkWriter", "Impairments", "WriteReport"]

_NS = 1_000_000_000
_EPOCH_NS = -378_691_200 * _NS  # 1958-01-01 in ns since 1970


@dataclass
class Impairments:
    """What to break in the written downlink; all 0 = a clean downlink."""

    bit_errors: int = 0          # frames that get flipped bits (→ bad FECF)
    dropped_frames: int = 0      # frames omitted (→ VC frame-count gaps)
    slips: int = 0               # places where bytes are inserted or deleted (→ sync losses)
    duplicated_packets: int = 0  # image/ancillary packets emitted twice
    leading_garbage: int = 0     # random bytes before the first CADU
    truncate_bytes: int = 0      # bytes cut from the end of the file
    idle_frames: int = 0         # idle frames (VC 63) interleaved
    seed: int = 0
    reordered_packets: int = 0   # packets emitted after the next packet of their APID (→ re-sorted)


@dataclass
class Expected:
    """What the decoder's quality record must show for the written file."""

    cadus_found: int = 0
    cadus_short: int = 0
    sync_losses: int = 0
    bytes_skipped: int = 0
    leading_bytes_skipped: int = 0
    trailing_partial_bytes: int = 0
    frames_bad_fecf: int = 0
    idle_frames: int = 0
    idle_packets: int = 0
    frames_lost_per_vc: dict[int, int] = field(default_factory=dict)
    frames_damaged_per_vc: dict[int, int] = field(default_factory=dict)
    packets_per_apid: dict[int, int] = field(default_factory=dict)
    packets_lost_per_apid: dict[int, int] = field(default_factory=dict)
    duplicates_per_apid: dict[int, int] = field(default_factory=dict)
    out_of_order_per_apid: dict[int, int] = field(default_factory=dict)
    bands: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class WriteReport:
    """What was written and exactly which impairments were injected."""

    cadus_written: int = 0
    bytes_written: int = 0
    packets_per_apid: dict[int, int] = field(default_factory=dict)
    lines_per_band: dict[str, int] = field(default_factory=dict)
    bit_errors: list[dict[str, int]] = field(default_factory=list)      # {cadu, vc, count, offset}
    dropped_frames: list[dict[str, int]] = field(default_factory=list)  # {cadu, vc, count}
    slips: list[dict[str, Any]] = field(default_factory=list)           # {cadu, kind, bytes, offset}
    duplicated_packets: list[dict[str, int]] = field(default_factory=list)  # {apid, seq}
    reordered_packets: list[dict[str, int]] = field(default_factory=list)   # {apid, seq}
    leading_garbage: int = 0
    truncated_bytes: int = 0
    idle_frames: int = 0
    not_injected: dict[str, int] = field(default_factory=dict)  # events that did not fit
    expected: Expected = field(default_factory=Expected)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Pkt:
    """Bookkeeping of one written packet (survival decides what the decoder sees)."""

    __slots__ = ("apid", "seq", "band", "line", "dup", "protected", "lost", "frames_left", "placed", "overtaken_by")

    def __init__(self, apid: int, seq: int, band: str | None, line: int, dup: bool = False) -> None:
        self.apid, self.seq, self.band, self.line, self.dup = apid, seq, band, line, dup
        self.protected = False
        self.lost = False
        self.frames_left = 0
        self.placed = False
        self.overtaken_by: _Pkt | None = None


class _Frame:
    __slots__ = ("vc", "count", "body", "pkts")

    def __init__(self, vc: int, count: int, body: bytes, pkts: list[_Pkt]) -> None:
        self.vc, self.count, self.body, self.pkts = vc, count, body, pkts


class _Channel:
    __slots__ = ("vc", "count", "buf", "spans", "frames_out", "last_fate")

    def __init__(self, vc: int) -> None:
        self.vc = vc
        self.count = 0
        self.buf = bytearray()
        self.spans: list[list[Any]] = []  # [start, end, _Pkt] in buf coordinates
        self.frames_out = 0
        self.last_fate = ""


class DownlinkWriter:
    """Write a level-0 downlink (CADU stream) for a mission profile.  Context manager."""

    LOOKAHEAD = 64

    def __init__(self, stream: BinaryIO, profile: MissionProfile, impairments: Impairments | None = None,
                 spacecraft_id: int | None = None, *, expected_cadus: int | None = None,
                 spacing: int | None = None, leap: LeapSecondTable | None = None) -> None:
        self.stream = stream
        self.p = profile
        self.imp = impairments or Impairments()
        self.scid = profile.spacecraft_ids[0] if spacecraft_id is None else int(spacecraft_id)
        if self.imp.bit_errors and not profile.fecf:
            raise UsageError(f"mission {profile.name!r} has no FECF: bit errors would not be detectable")
        self.leap = leap or leap_seconds()
        self.report = WriteReport()
        self._rng = random.Random(self.imp.seed)
        self._L = profile.cadu_length
        self._Z = profile.packet_zone_length
        self._FL = profile.frame_length
        self._pn_int = int.from_bytes(pn_sequence(profile.randomised_length).tobytes(), "big") if profile.randomised else 0
        self._rand_len = profile.randomised_length if profile.randomised else 0
        self._rs_pad = bytes(profile.rs_check_bytes)
        self._channels: dict[int, _Channel] = {}
        self._seq: dict[int, int] = {}
        self._bands = {b.id: b for b in profile.bands}
        self._deque: deque[_Frame] = deque()
        self._keep = self.LOOKAHEAD + (self.imp.truncate_bytes // self._L) + 8
        self._closed = False
        self._offset = 0
        self._popped = 0
        self._prev_impaired = False
        self._cuc_cache: tuple[int, int, int] = (0, -1, 0)  # lo, hi, offset ns
        self._delayed: dict[int, tuple[bytes, _Pkt]] = {}
        # Frame events, spaced out.
        events = (["bit"] * self.imp.bit_errors + ["drop"] * self.imp.dropped_frames
                  + ["slip"] * self.imp.slips + ["idle"] * self.imp.idle_frames)
        self._rng.shuffle(events)
        n = len(events)
        self._spacing = spacing or (max(12, expected_cadus // (n + 1)) if expected_cadus and n else 12)
        self._events = deque(events)
        self._next_event_at = 4 + self._rng.randrange(self._spacing // 2 + 1)
        # Packet events.
        pevents = ["dup"] * self.imp.duplicated_packets + ["reorder"] * self.imp.reordered_packets
        self._rng.shuffle(pevents)
        self._pevents = deque(pevents)
        self._data_packets = 0
        self._next_pevent_at = 3 + self._rng.randrange(4)
        # Accounting state (the decoder model).
        self._apid_acc: dict[int, list[int]] = {}   # apid → [seen_survivor, pending_lost]
        self._band_acc: dict[str, list[Any]] = {}   # name → [first, last, count, pending_lost, missing]
        self._leading()

    # --- context manager ------------------------------------------------------------
    def __enter__(self) -> DownlinkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public API -------------------------------------------------------------------
    @property
    def bytes_written(self) -> int:
        """Octets written to the stream so far (the clean tail is held until close)."""
        return self._offset

    def image_line(self, band_id: int, line_counter: int, utc: dt.datetime, dns: np.ndarray) -> None:
        """One line of one band: ``band_id`` 0–3 = B1–B4 (VC 1), 4 = PAN (VC 2); ``dns`` uint16, even length."""
        band = self._bands.get(int(band_id))
        if band is None:
            raise UsageError(f"mission {self.p.name!r} has no band id {band_id}")
        d = np.asarray(dns)
        if d.ndim != 1 or d.size % 2 or d.size == 0:
            raise UsageError(f"a line needs an even, non-zero number of pixels, got shape {d.shape}")
        if d.size and int(d.max()) > 4095:
            raise UsageError("DNs must be 12-bit (0..4095)")
        body = (int(line_counter).to_bytes(4, "big") + bytes([band.id, 0]) + d.size.to_bytes(2, "big")
                + pack12(d.astype(np.uint16)).tobytes())
        self._packet(band.apid, band.vc, utc, body, band.name, int(line_counter))
        self.report.lines_per_band[band.name] = self.report.lines_per_band.get(band.name, 0) + 1

    def ephemeris(self, utc: dt.datetime, position_m: Sequence[float], velocity_m_s: Sequence[float]) -> None:
        """Position (m) and velocity (m/s), ITRF, on the ancillary channel (APID 0x100)."""
        values = np.asarray([*position_m, *velocity_m_s], dtype=">f8")
        if values.size != 6:
            raise UsageError("ephemeris needs 3 position and 3 velocity components")
        self._ancillary("ephemeris", utc, values.tobytes())

    def attitude(self, utc: dt.datetime, quaternion: Sequence[float]) -> None:
        """Unit quaternion q0 (scalar), q1, q2, q3: body → ITRF (APID 0x101)."""
        values = np.asarray(quaternion, dtype=">f8")
        if values.size != 4:
            raise UsageError("attitude needs 4 quaternion components (q0 scalar first)")
        self._ancillary("attitude", utc, values.tobytes())

    def housekeeping(self, utc: dt.datetime, focal_plane_temp_c: float) -> None:
        """Focal-plane temperature (°C), float32 (APID 0x102)."""
        self._ancillary("housekeeping", utc, np.asarray([focal_plane_temp_c], dtype=">f4").tobytes())

    def close(self) -> WriteReport:
        """Flush partial frames (padded with an idle packet), write the tail, apply truncation."""
        if self._closed:
            return self.report
        self._closed = True
        for apid in list(self._delayed):
            pkt, rec = self._delayed.pop(apid)
            self._emit(self._vc_of_apid(apid), pkt, rec)
        for ch in list(self._channels.values()):
            if ch.buf:
                self._pad_with_idle(ch)
        # Pop everything except the clean tail with impairments as usual.
        while len(self._deque) > self._keep:
            self._pop()
        for kind in self._events:
            self.report.not_injected[kind] = self.report.not_injected.get(kind, 0) + 1
        for kind in self._pevents:
            self.report.not_injected[kind] = self.report.not_injected.get(kind, 0) + 1
        self._events.clear()
        # The clean tail: write, then cut truncate_bytes from the end.
        tail_frames = list(self._deque)
        self._deque.clear()
        cadus = [self._cadu(f) for f in tail_frames]
        tail = b"".join(cadus)
        cut = min(self.imp.truncate_bytes, len(tail))
        if cut < self.imp.truncate_bytes:
            log.warning("truncate_bytes %d exceeds the clean tail (%d bytes); cutting %d",
                        self.imp.truncate_bytes, len(tail), cut)
        keep_len = len(tail) - cut
        e = self.report.expected
        pos = 0
        for frame, cadu in zip(tail_frames, cadus):
            end = pos + len(cadu)
            survived = end <= keep_len
            if survived:
                e.cadus_found += 1
                if frame.vc == self.p.idle_vc:
                    e.idle_frames += 1
            elif pos < keep_len:
                e.trailing_partial_bytes += keep_len - pos
                e.bytes_skipped += keep_len - pos
            self._settle(frame, lost=not survived)
            self.report.cadus_written += 1
            pos = end
        self._write(tail[:keep_len])
        self.report.truncated_bytes = cut
        self.report.bytes_written = self._offset
        self._finish_expected()
        try:
            self.stream.flush()
        except (AttributeError, OSError):
            pass
        return self.report

    # --- packets ----------------------------------------------------------------------
    def _ancillary(self, kind: str, utc: dt.datetime, payload: bytes) -> None:
        apid = self.p.ancillary_apids.get(kind)
        if apid is None or self.p.ancillary_vc is None:
            raise UsageError(f"mission {self.p.name!r} has no {kind} APID")
        self._packet(apid, self.p.ancillary_vc, utc, payload, None, -1)

    def _packet(self, apid: int, vc: int, utc: dt.datetime, body: bytes, band: str | None, line: int) -> None:
        if self._closed:
            raise UsageError("the downlink writer is closed")
        seq = self._seq.get(apid, 0)
        self._seq[apid] = (seq + 1) & 0x3FFF
        sec, frac = self._cuc(utc)
        data = sec.to_bytes(4, "big") + frac.to_bytes(2, "big") + body
        hdr = ((0x0800 | apid).to_bytes(2, "big") + ((SEQ_UNSEGMENTED << 14) | seq).to_bytes(2, "big")
               + (len(data) - 1).to_bytes(2, "big"))
        pkt = hdr + data
        rec = _Pkt(apid, seq, band, line)
        self.report.packets_per_apid[apid] = self.report.packets_per_apid.get(apid, 0) + 1
        self._data_packets += 1
        event = None
        if self._pevents and self._data_packets >= self._next_pevent_at and apid not in self._delayed:
            event = self._pevents.popleft()
            self._next_pevent_at = self._data_packets + 4 + self._rng.randrange(6)
        held = self._delayed.pop(apid, None)
        if event == "reorder":
            rec.protected = True
            self._delayed[apid] = (pkt, rec)
            self.report.reordered_packets.append({"apid": apid, "seq": seq})
            return
        self._emit(vc, pkt, rec)
        if held is not None:
            rec.protected = True
            held[1].overtaken_by = rec
            self._emit(vc, *held)  # the held packet arrives after a later one of its APID
        if event == "dup":
            rec.protected = True
            copy = _Pkt(apid, seq, band, line, dup=True)
            copy.protected = True
            self._emit(vc, pkt, copy)
            self.report.duplicated_packets.append({"apid": apid, "seq": seq})

    def _vc_of_apid(self, apid: int) -> int:
        for b in self.p.bands:
            if b.apid == apid:
                return b.vc
        return int(self.p.ancillary_vc or 0)

    def _emit(self, vc: int, pkt: bytes, rec: _Pkt | None) -> None:
        ch = self._channels.get(vc)
        if ch is None:
            ch = self._channels[vc] = _Channel(vc)
        start = len(ch.buf)
        ch.buf += pkt
        ch.spans.append([start, start + len(pkt), rec])
        Z = self._Z
        while len(ch.buf) >= Z:
            self._cut_frame(ch)

    def _cut_frame(self, ch: _Channel) -> None:
        Z = self._Z
        zone = bytes(ch.buf[:Z])
        del ch.buf[:Z]
        fhp = FHP_NO_HEADER
        pkts: list[_Pkt] = []
        remaining = []
        for span in ch.spans:
            s, e, rec = span
            if s < Z and fhp == FHP_NO_HEADER and s >= 0:
                fhp = s
            if s < Z:
                if rec is not None:
                    rec.frames_left += 1
                    pkts.append(rec)
                    if e <= Z:
                        rec.placed = True
            if e > Z:
                remaining.append([s - Z, e - Z, rec])
        ch.spans = remaining
        body = (pack_aos_header(self.scid, ch.vc, ch.count) + bytes(self.p.insert_zone)
                + fhp.to_bytes(2, "big") + zone)
        frame = _Frame(ch.vc, ch.count, body, pkts)
        ch.count = (ch.count + 1) & 0xFFFFFF
        self._deque.append(frame)
        while len(self._deque) > self._keep:
            self._pop()

    def _pad_with_idle(self, ch: _Channel) -> None:
        room = self._Z - len(ch.buf)
        length = room if room >= 7 else room + self._Z
        hdr = (self.p.idle_apid.to_bytes(2, "big") + ((SEQ_UNSEGMENTED << 14)).to_bytes(2, "big")
               + (length - 7).to_bytes(2, "big"))
        self._emit(ch.vc, hdr + bytes(length - 6), _Pkt(self.p.idle_apid, 0, None, -1))

    # --- frames -----------------------------------------------------------------------
    def _cadu(self, frame: _Frame, flip: list[int] | None = None) -> bytes:
        body = frame.body
        if self.p.fecf:
            body = body + crc16(body).to_bytes(2, "big")
        body = body + self._rs_pad
        if self._rand_len:
            n = self._rand_len
            head = (int.from_bytes(body[:n], "big") ^ self._pn_int).to_bytes(n, "big")
            body = head + body[n:]
        if flip:
            b = bytearray(body)
            for bit in flip:
                b[bit >> 3] ^= 0x80 >> (bit & 7)
            body = bytes(b)
        return self.p.asm + body

    def _idle_frame(self) -> _Frame:
        ch = self._channels.get(self.p.idle_vc)
        if ch is None:
            ch = self._channels[self.p.idle_vc] = _Channel(self.p.idle_vc)
        body = (pack_aos_header(self.scid, ch.vc, ch.count) + bytes(self.p.insert_zone)
                + FHP_IDLE.to_bytes(2, "big") + bytes([0x55]) * self._Z)
        ch.count = (ch.count + 1) & 0xFFFFFF
        return _Frame(ch.vc, ch.count, body, [])

    def _pop(self) -> None:
        frame = self._deque.popleft()
        e = self.report.expected
        rep = self.report
        ch = self._channels[frame.vc]
        index = self._popped
        self._popped += 1
        kind = None
        if self._events and index >= self._next_event_at:
            kind = self._events[0]
            if kind != "idle" and not self._eligible(frame, ch, kind):
                kind = None
            if kind is not None:
                self._events.popleft()
                self._next_event_at = index + self._spacing + self._rng.randrange(self._spacing // 2 + 1)
        if kind == "idle":
            idle = self._idle_frame()
            self._write(self._cadu(idle))
            rep.cadus_written += 1
            rep.idle_frames += 1
            e.cadus_found += 1
            e.idle_frames += 1
            kind = None
        impaired = kind is not None
        if kind == "drop":
            rep.dropped_frames.append({"cadu": index, "vc": frame.vc, "count": frame.count})
            e.frames_lost_per_vc[frame.vc] = e.frames_lost_per_vc.get(frame.vc, 0) + 1
            ch.last_fate = "dropped"
            self._settle(frame, lost=True)
        elif kind == "bit":
            nbits = 1 + self._rng.randrange(3)
            first_bit = (4 + 6) * 8
            last_bit = (4 + self._FL) * 8
            bits = sorted(self._rng.sample(range(first_bit, last_bit), nbits))
            cadu = self._cadu(frame)
            b = bytearray(cadu)
            for bit in bits:
                b[bit >> 3] ^= 0x80 >> (bit & 7)
            rep.bit_errors.append({"cadu": index, "vc": frame.vc, "count": frame.count, "offset": self._offset,
                                   "bits": len(bits)})
            self._write(bytes(b))
            rep.cadus_written += 1
            e.cadus_found += 1
            e.frames_bad_fecf += 1
            e.frames_damaged_per_vc[frame.vc] = e.frames_damaged_per_vc.get(frame.vc, 0) + 1
            ch.last_fate = "damaged"
            self._settle(frame, lost=True)
        elif kind == "slip":
            cadu = self._cadu(frame)
            if self._rng.random() < 0.5:
                d = 1 + self._rng.randrange(self._L - 16)
                rep.slips.append({"cadu": index, "kind": "delete", "bytes": d, "offset": self._offset})
                self._write(cadu[: self._L - d])
                e.cadus_short += 1
                e.bytes_skipped += self._L - d
                e.frames_damaged_per_vc[frame.vc] = e.frames_damaged_per_vc.get(frame.vc, 0) + 1
                ch.last_fate = "damaged"
                self._settle(frame, lost=True)
            else:
                i = 1 + self._rng.randrange(2 * self._L)
                garbage = self._garbage(i, before=cadu)
                rep.slips.append({"cadu": index, "kind": "insert", "bytes": i, "offset": self._offset + self._L})
                self._write(cadu + garbage)
                e.cadus_found += 1
                e.bytes_skipped += i
                ch.last_fate = "ok"
                self._settle(frame, lost=False)
            rep.cadus_written += 1
            e.sync_losses += 1
        elif kind is None:
            self._write(self._cadu(frame))
            rep.cadus_written += 1
            e.cadus_found += 1
            if frame.vc == self.p.idle_vc:
                e.idle_frames += 1
            ch.last_fate = "ok"
            self._settle(frame, lost=False)
        ch.frames_out += 1
        self._prev_impaired = impaired

    def _eligible(self, frame: _Frame, ch: _Channel, kind: str) -> bool:
        if self._prev_impaired or frame.vc == self.p.idle_vc or ch.frames_out == 0:
            return False
        if ch.last_fate not in ("ok", "damaged") or any(r.protected for r in frame.pkts):
            return False
        if kind == "slip" and self.p.asm in self._cadu(frame)[1:]:
            return False  # a false ASM inside the CADU would make the slip ambiguous
        if kind == "drop":
            # A later frame of this channel must arrive (outside the clean tail's reach).
            horizon = len(self._deque) - (self._keep - self.LOOKAHEAD)
            for i, f in enumerate(self._deque):
                if i >= horizon:
                    return False
                if f.vc == frame.vc:
                    return True
            return False
        return True

    def _garbage(self, n: int, before: bytes = b"") -> bytes:
        asm = self.p.asm
        while True:
            g = bytes(self._rng.getrandbits(8) for _ in range(n))
            if g[0] == asm[0]:
                continue
            probe = before[-3:] + g + asm
            if probe.find(asm) == len(probe) - 4:
                return g

    def _leading(self) -> None:
        n = self.imp.leading_garbage
        if n:
            g = self._garbage(n)
            self._write(g)
            self.report.leading_garbage = n
            self.report.expected.leading_bytes_skipped = n
            self.report.expected.bytes_skipped += n

    def _write(self, data: bytes) -> None:
        if data:
            self.stream.write(data)
            self._offset += len(data)

    # --- accounting (the decoder model) -------------------------------------------------
    def _settle(self, frame: _Frame, lost: bool) -> None:
        for rec in frame.pkts:
            if lost:
                rec.lost = True
            rec.frames_left -= 1
            if rec.frames_left == 0 and rec.placed:
                self._packet_done(rec)

    def _packet_done(self, rec: _Pkt) -> None:
        e = self.report.expected
        apid = rec.apid
        if apid == self.p.idle_apid:
            e.idle_packets += 0 if rec.lost else 1
            return
        if rec.dup:
            if not rec.lost:
                e.duplicates_per_apid[apid] = e.duplicates_per_apid.get(apid, 0) + 1
            return
        if rec.overtaken_by is not None and not rec.lost and not rec.overtaken_by.lost:
            e.out_of_order_per_apid[apid] = e.out_of_order_per_apid.get(apid, 0) + 1
        acc = self._apid_acc.setdefault(apid, [0, 0])
        if rec.lost:
            if acc[0]:
                acc[1] += 1
        else:
            if acc[0] and acc[1]:
                e.packets_lost_per_apid[apid] = e.packets_lost_per_apid.get(apid, 0) + acc[1]
            acc[0], acc[1] = 1, 0
            e.packets_per_apid[apid] = e.packets_per_apid.get(apid, 0) + 1
        if rec.band is not None:
            b = self._band_acc.setdefault(rec.band, [None, None, 0, 0, 0])
            if rec.lost:
                if b[0] is not None:
                    b[3] += 1
            else:
                if b[0] is None:
                    b[0] = b[1] = rec.line
                else:
                    b[4] += b[3]
                # min/max: a re-ordered line is settled after its successor
                b[0], b[1], b[2], b[3] = min(b[0], rec.line), max(b[1], rec.line), b[2] + 1, 0

    def _finish_expected(self) -> None:
        e = self.report.expected
        for name, (first, last, count, _pending, missing) in self._band_acc.items():
            e.bands[name] = {"first_line": first, "last_line": last, "lines_decoded": count,
                             "lines_missing": missing,
                             "lines_expected": (last - first + 1) if first is not None else 0}

    # --- time -------------------------------------------------------------------------
    def _cuc(self, utc: dt.datetime) -> tuple[int, int]:
        if utc.tzinfo is None:
            utc = utc.replace(tzinfo=dt.timezone.utc)
        delta = utc - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        ns = (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000
        lo, hi, off = self._cuc_cache
        if not lo <= ns < hi:
            table = self.leap
            i = int(np.searchsorted(table.start_ns, ns, side="right")) - 1
            off = int(table.offset_ns(np.array([ns]))[0])
            lo = int(table.start_ns[i]) if i >= 0 else -(2**62)
            hi = int(table.start_ns[i + 1]) if i + 1 < len(table.start_ns) else 2**62
            if i >= 0 and table.drift_s_per_day[i] != 0:
                lo, hi = ns, ns + 1  # drifting era: no caching
            self._cuc_cache = (lo, hi, off)
        tai = ns + off - _EPOCH_NS
        sec, rem = divmod(tai, _NS)
        frac = (rem * 65536 + _NS // 2) // _NS
        if frac >= 65536:
            sec, frac = sec + 1, frac - 65536
        return int(sec), int(frac)
