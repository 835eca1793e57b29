"""The level-0 quality record (spec §6): what a decoder saw in one downlink.

Per file: bytes read, CADUs found, sync losses and bytes skipped, frames with a bad
FECF, frames lost per virtual channel, idle frames.  Per APID: packets, packets lost,
duplicates dropped, out-of-order packets re-sorted, unreadable packets.  Per band:
lines expected vs decoded, first and last line time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ApidQuality", "BandQuality", "QualityRecord", "VcQuality"]


@dataclass
class VcQuality:
    """One virtual channel."""

    frames: int = 0            # good frames received (FECF valid, header valid)
    frames_lost: int = 0       # frames never received: gaps in the 24-bit frame count
    frames_damaged: int = 0    # frames received damaged (bad FECF or cut by a slip) but identified
    frames_duplicated: int = 0  # frames received twice (same count) and dropped
    count_discontinuities: int = 0  # frame count went backwards (counter reset / replay)
    resyncs: int = 0           # packet-stream resynchronisations on a first header pointer
    first_frame_count: int | None = None
    last_frame_count: int | None = None


@dataclass
class ApidQuality:
    """One application process id."""

    packets: int = 0           # packets recovered (duplicates excluded)
    bytes: int = 0             # octets of those packets, primary headers included
    packets_lost: int = 0      # gaps in the 14-bit sequence count
    duplicates_dropped: int = 0
    out_of_order: int = 0      # packets that arrived late and were re-sorted
    unreadable: int = 0        # packets (or image lines) that could not be read
    first_time: str | None = None
    last_time: str | None = None


@dataclass
class BandQuality:
    """One image band (lines are counted by the line counter of spec §3)."""

    name: str = ""
    apid: int = 0
    detectors: int = 0
    lines_expected: int = 0    # last − first line counter + 1 (minus counter jumps)
    lines_decoded: int = 0     # lines with pixels
    lines_missing: int = 0     # counter gaps: present as fill, flag 1
    lines_unreadable: int = 0  # packet present but not decodable (compression ≠ 0, bad length): fill, flag 2
    lines_out_of_sequence: int = 0  # repeated or backward line counters, dropped
    lines_counter_repaired: int = 0  # counters that contradict the line's time (bit flips): placed by the time
    counter_jumps: int = 0     # gaps too large to fill (treated as a new acquisition)
    first_line: int | None = None
    last_line: int | None = None
    first_time: str | None = None
    last_time: str | None = None


@dataclass
class QualityRecord:
    """The level-0 quality record of one downlink."""

    file: str = ""
    profile: str = ""
    input_kind: str = "cadu"
    bytes_read: int = 0
    cadus_found: int = 0          # full-length CADUs found (bad FECF included)
    cadus_short: int = 0          # CADUs cut short by a slip (bytes lost), discarded
    sync_losses: int = 0          # places where the next ASM was not where expected
    bytes_skipped: int = 0        # all octets outside accepted CADUs
    leading_bytes_skipped: int = 0
    trailing_partial_bytes: int = 0  # a partial CADU (or garbage) at the end of the file
    frames_bad_fecf: int = 0
    frames_invalid: int = 0       # wrong version or spacecraft id
    idle_frames: int = 0
    frames_lost: int = 0          # sum over virtual channels
    packets: int = 0
    packet_bytes: int = 0
    idle_packets: int = 0
    packets_unreadable: int = 0   # malformed packet headers / lengths inconsistent with the FHP
    vcs: dict[int, VcQuality] = field(default_factory=dict)
    apids: dict[int, ApidQuality] = field(default_factory=dict)
    bands: dict[str, BandQuality] = field(default_factory=dict)

    def vc(self, vc: int) -> VcQuality:
        if vc not in self.vcs:
            self.vcs[vc] = VcQuality()
        return self.vcs[vc]

    def apid(self, apid: int) -> ApidQuality:
        if apid not in self.apids:
            self.apids[apid] = ApidQuality()
        return self.apids[apid]

    def finish(self) -> None:
        """Recompute the totals from the per-channel entries."""
        self.frames_lost = sum(v.frames_lost for v in self.vcs.values())
        self.packets = sum(a.packets for a in self.apids.values())
        self.packet_bytes = sum(a.bytes for a in self.apids.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dictionary (dictionary keys as strings, APIDs in decimal)."""
        data = asdict(self)
        data["vcs"] = {str(k): v for k, v in sorted(data["vcs"].items())}
        data["apids"] = {str(k): v for k, v in sorted(data["apids"].items())}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityRecord:
        """The record of a :meth:`to_dict` form (unknown keys are refused: a record of another version)."""
        groups = {"vcs": (VcQuality, int), "apids": (ApidQuality, int), "bands": (BandQuality, str)}
        plain = {k: v for k, v in data.items() if k not in groups}
        nested = {name: {key(k): kind(**v) for k, v in (data.get(name) or {}).items()}
                  for name, (kind, key) in groups.items()}
        return cls(**plain, **nested)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self) -> str:
        """A human-readable summary."""
        lines = [
            f"file:            {self.file}",
            f"profile:         {self.profile} (input {self.input_kind})",
            f"bytes read:      {self.bytes_read}",
        ]
        if self.input_kind == "cadu":
            lines += [
                f"CADUs found:     {self.cadus_found} (short {self.cadus_short})",
                f"sync losses:     {self.sync_losses}, bytes skipped {self.bytes_skipped} "
                f"(leading {self.leading_bytes_skipped}, trailing partial {self.trailing_partial_bytes})",
                f"frames:          bad FECF {self.frames_bad_fecf}, invalid {self.frames_invalid}, "
                f"idle {self.idle_frames}, lost {self.frames_lost}",
            ]
            for vc, q in sorted(self.vcs.items()):
                lines.append(f"  VC {vc:2d}: frames {q.frames}, lost {q.frames_lost}, damaged {q.frames_damaged}, "
                             f"duplicated {q.frames_duplicated}, resyncs {q.resyncs}")
        lines.append(f"packets:         {self.packets} ({self.packet_bytes} bytes), idle {self.idle_packets}, "
                     f"unreadable {self.packets_unreadable}")
        for apid, a in sorted(self.apids.items()):
            lines.append(f"  APID {apid:4d} (0x{apid:03X}): packets {a.packets}, lost {a.packets_lost}, "
                         f"duplicates {a.duplicates_dropped}, re-sorted {a.out_of_order}, unreadable {a.unreadable}")
        for name, b in self.bands.items():
            lines.append(f"  band {name}: lines expected {b.lines_expected}, decoded {b.lines_decoded}, "
                         f"missing {b.lines_missing}, unreadable {b.lines_unreadable}, "
                         f"first {b.first_time}, last {b.last_time}")
        return "\n".join(lines)
