"""CADU synchronisation and transfer-frame validation, streaming.

:class:`FrameSync` is fed blocks of bytes and returns, per block, the accepted
transfer frames as one 2-D uint8 array (de-randomised, Reed–Solomon bytes dropped),
with their byte offsets and parsed headers, plus the headers of frames it had to
discard (bad FECF, or cut short by a slip) so the channel layer can tell *damaged*
frames from *lost* ones.

Sync rules (never assume CADU *k* starts at byte L·*k*):

* Before the first CADU, bytes are skipped up to the first ASM (leading garbage).
* A CADU starting at an ASM at *p* is decided by where the next ASM *q* is:
  ``q == p+L`` good; ``q < p+L`` the CADU was cut short by a slip (discarded,
  its bytes skipped); ``q > p+L`` the CADU is taken and the ``q−p−L`` extra octets
  are skipped.  Each of the last two is one *sync loss*.
* At the end of the file a CADU shorter than L (or 1–3 octets of an ASM) is a
  partial CADU: skipped and reported.

The fast path checks the ASMs of many CADUs at once with numpy; the slow path
(``bytes.find``) runs only after a slip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from rsarchive.level0.ccsds import crc16_rows, pn_sequence
from rsarchive.level0.profiles import MissionProfile
from rsarchive.level0.quality import QualityRecord

log = logging.getLogger(__name__)

__all__ = ["DamagedFrame", "FrameBatch", "FrameSync", "parse_frame_headers"]


@dataclass(frozen=True)
class DamagedFrame:
    """A frame that was discarded but whose header still names a channel and count."""

    offset: int
    vc: int
    count: int
    reason: str  # "fecf" or "short"


@dataclass
class FrameBatch:
    """Accepted frames of one block, in file order."""

    frames: np.ndarray          # (m, frame_length) uint8, de-randomised
    offsets: np.ndarray         # (m,) int64 byte offset of each CADU in the file
    vc: np.ndarray              # (m,) int64
    count: np.ndarray           # (m,) int64 24-bit frame count
    fhp: np.ndarray             # (m,) int64 first header pointer
    damaged: list[DamagedFrame] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def parse_frame_headers(frames: np.ndarray, insert_zone: int = 0) -> dict[str, np.ndarray]:
    """Vectorised AOS primary + M_PDU header fields of a (m, ≥8) uint8 array."""
    f = frames.astype(np.int64, copy=False) if frames.dtype != np.int64 else frames
    h0, h1 = f[:, 0], f[:, 1]
    return {
        "version": h0 >> 6,
        "scid": ((h0 & 0x3F) << 2) | (h1 >> 6),
        "vc": h1 & 0x3F,
        "count": (f[:, 2] << 16) | (f[:, 3] << 8) | f[:, 4],
        "fhp": ((f[:, 6 + insert_zone] & 0x07) << 8) | f[:, 7 + insert_zone],
    }


class FrameSync:
    """Streaming CADU synchroniser and frame validator for one mission profile."""

    def __init__(self, profile: MissionProfile, quality: QualityRecord) -> None:
        self.profile = profile
        self.q = quality
        self.L = profile.cadu_length
        self.asm = profile.asm
        self._asm_u32 = int.from_bytes(profile.asm, "little")
        self._pn = pn_sequence(profile.randomised_length) if profile.randomised else None
        self._buf = b""
        self._base = 0          # file offset of self._buf[0]
        self._locked = False    # an ASM is known to start at self._buf[0]
        self._seen_cadu = False
        self._loss_pending = False  # a sync loss already counted, searching for the next ASM
        self._scids = np.array(profile.spacecraft_ids, dtype=np.int64)

    # ------------------------------------------------------------------------------
    def feed(self, data: bytes, final: bool = False) -> FrameBatch:
        """Add a block of the file (``final`` for the last one) and return its frames."""
        self.q.bytes_read += len(data)
        buf = self._buf + data if self._buf else bytes(data)
        n = len(buf)
        arr = np.frombuffer(buf, dtype=np.uint8)
        L = self.L
        runs: list[tuple[int, int]] = []   # (start, count) of accepted CADUs
        short: list[tuple[int, int]] = []  # (start, length) of CADUs cut by a slip
        pos = 0
        while pos < n:
            if not self._locked:
                q = buf.find(self.asm, pos)
                if q < 0:
                    keep = 0 if final else min(3, n - pos)
                    self._skip(n - keep - pos, final and keep == 0)
                    pos = n - keep
                    break
                self._skip(q - pos, False)
                pos = q
                self._locked = True
                self._loss_pending = False
            # Locked: an ASM starts at pos.  Fast path: ASMs at pos + j·L.
            jmax = (n - pos - 4) // L  # last j with a complete ASM in the buffer
            if jmax >= 1:
                starts = pos + L * np.arange(1, jmax + 1, dtype=np.int64)
                words = _u32_at(arr, starts)
                bad = np.flatnonzero(words != self._asm_u32)
                good_next = int(bad[0]) if bad.size else jmax  # CADUs 0..good_next-1 are followed by an ASM
                if good_next:
                    runs.append((pos, good_next))
                    self._seen_cadu = True
                    pos += L * good_next
                    if not bad.size:
                        continue  # re-evaluate with the remaining bytes
            # The CADU at pos is undecided: find the next ASM.
            q = buf.find(self.asm, pos + 1)
            if q < 0:
                if not final and n - pos < 3 * L:
                    break  # wait for more data
                # No ASM up to the end of the buffer.
                if n - pos >= L:
                    runs.append((pos, 1))
                    self._seen_cadu = True
                    tail_start = pos + L
                else:
                    tail_start = pos
                tail = buf[tail_start:n] if final else buf[tail_start:n - 3]
                if final:
                    if tail_start == pos or (len(tail) < 4 and self.asm.startswith(tail)):
                        self.q.trailing_partial_bytes += len(tail)
                    else:
                        self.q.sync_losses += 1
                        self.q.trailing_partial_bytes += len(tail)
                    self.q.bytes_skipped += len(tail)
                    pos = n
                else:
                    self.q.sync_losses += 1
                    self.q.bytes_skipped += len(tail)
                    self._locked = False
                    self._loss_pending = True
                    pos = tail_start + len(tail)
                break
            if q - pos < L:
                short.append((pos, q - pos))
                self.q.cadus_short += 1
                self.q.bytes_skipped += q - pos
            else:
                runs.append((pos, 1))
                self._seen_cadu = True
                self.q.bytes_skipped += q - pos - L
            self.q.sync_losses += 1
            pos = q
        if final and pos < n:  # can only be a locked, partial CADU
            self.q.trailing_partial_bytes += n - pos
            self.q.bytes_skipped += n - pos
            pos = n
        batch = self._frames(arr, runs, short)
        self._base += pos
        self._buf = buf[pos:]
        return batch

    def _skip(self, count: int, at_end: bool) -> None:
        if count <= 0:
            return
        self.q.bytes_skipped += count
        if not self._seen_cadu:
            self.q.leading_bytes_skipped += count
        elif at_end:
            self.q.trailing_partial_bytes += count

    # ------------------------------------------------------------------------------
    def _frames(self, arr: np.ndarray, runs: list[tuple[int, int]], short: list[tuple[int, int]]) -> FrameBatch:
        p = self.profile
        L, FL = self.L, p.frame_length
        rl = p.randomised_length if p.randomised else FL
        width = max(FL, rl)
        damaged: list[DamagedFrame] = []
        if runs:
            parts = [arr[s : s + L * c].reshape(c, L)[:, 4 : 4 + width] for s, c in runs]
            raw = np.concatenate(parts) if len(parts) > 1 else parts[0]
            offsets = np.concatenate([s + L * np.arange(c, dtype=np.int64) for s, c in runs]) + self._base
        else:
            raw = np.empty((0, width), dtype=np.uint8)
            offsets = np.empty(0, dtype=np.int64)
        if self._pn is not None:
            frames = raw[:, :rl] ^ self._pn
            frames = frames[:, :FL]
        else:
            frames = np.array(raw[:, :FL])
        self.q.cadus_found += len(frames)
        hdr = parse_frame_headers(frames[:, :8], p.insert_zone)
        keep = np.ones(len(frames), dtype=bool)
        plausible = (hdr["version"] == 1) & np.isin(hdr["scid"], self._scids)
        if p.fecf and len(frames):
            fecf_ok = crc16_rows(frames) == 0
            bad = np.flatnonzero(~fecf_ok)
            self.q.frames_bad_fecf += int(bad.size)
            for i in bad.tolist():
                if plausible[i]:
                    damaged.append(DamagedFrame(int(offsets[i]), int(hdr["vc"][i]), int(hdr["count"][i]), "fecf"))
            keep &= fecf_ok
        invalid = keep & ~plausible
        self.q.frames_invalid += int(invalid.sum())
        keep &= plausible
        idle = keep & (hdr["vc"] == p.idle_vc)
        self.q.idle_frames += int(idle.sum())
        keep &= ~idle
        for s, length in short:
            if length >= 4 + 8:
                head = np.frombuffer(arr[s + 4 : s + 12].tobytes(), dtype=np.uint8)
                if self._pn is not None:
                    head = head ^ self._pn[:8]
                h = parse_frame_headers(head[None, :], 0)
                if int(h["version"][0]) == 1 and int(h["scid"][0]) in p.spacecraft_ids and int(h["vc"][0]) != p.idle_vc:
                    damaged.append(DamagedFrame(s + self._base, int(h["vc"][0]), int(h["count"][0]), "short"))
        damaged.sort(key=lambda d: d.offset)
        if not keep.all():
            idx = np.flatnonzero(keep)
            frames, offsets = frames[idx], offsets[idx]
            hdr = {k: v[idx] for k, v in hdr.items()}
        return FrameBatch(frames, offsets, hdr["vc"], hdr["count"], hdr["fhp"], damaged)


def _u32_at(arr: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Little-endian uint32 of the 4 octets at each start (vectorised, unaligned)."""
    a = arr[starts].astype(np.uint32)
    a |= arr[starts + 1].astype(np.uint32) << 8
    a |= arr[starts + 2].astype(np.uint32) << 16
    a |= arr[starts + 3].astype(np.uint32) << 24
    return a
