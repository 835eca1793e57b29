"""The level-0 decoder: a file (or stream) → line blocks, ancillary data, packets
and the quality record, in bounded memory.

Pipeline per block of ``block_size`` octets::

    FrameSync (ASM, de-randomise, FECF) → ChannelDemux (VC counts, M_PDU) →
    PacketSorter (duplicates, re-sort, sequence gaps) → LineAssembler / AncillaryCollector

With ``input_kind="packets"`` the first two stages are replaced by a plain
space-packet splitter.  :meth:`Level0Decoder.iter_blocks` yields
:class:`~rsarchive.level0.lines.LineBlock` s as soon as they are complete; memory
does not grow with the file.  :func:`decode` materialises everything for small files.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rsarchive.errors import DecodeError, NotFoundError, UsageError
from rsarchive.level0.ancillary import AncillaryCollector, AncillaryData
from rsarchive.level0.channels import ChannelDemux
from rsarchive.level0.frames import FrameSync
from rsarchive.level0.lines import LineAssembler, LineBlock
from rsarchive.level0.packets import PacketSorter, PacketStreamSplitter, check_packet_stream_start, looks_like_packets
from rsarchive.level0.profiles import MissionProfile, load_profile
from rsarchive.level0.quality import BandQuality, QualityRecord
from rsarchive.level0.timecode import LeapSecondTable, leap_seconds

log = logging.getLogger(__name__)

__all__ = ["BandLines", "INPUT_KINDS", "Level0Data", "Level0Decoder", "decode"]

INPUT_KINDS = ("cadu", "packets")
DEFAULT_BLOCK_SIZE = 8 << 20

Source = str | Path | BinaryIO | bytes


@dataclass
class BandLines:
    """All lines of one band (materialised)."""

    name: str
    first_line: int
    dns: np.ndarray
    times: np.ndarray
    flags: np.ndarray

    @property
    def counters(self) -> np.ndarray:
        return self.first_line + np.arange(len(self.flags), dtype=np.int64)


@dataclass
class Level0Data:
    """A whole decoded downlink (small files; see :meth:`Level0Decoder.iter_blocks` for large ones)."""

    bands: dict[str, BandLines]
    ancillary: AncillaryData
    quality: QualityRecord
    packets: list[bytes] = field(default_factory=list)


class Level0Decoder:
    """Streaming decoder of one downlink with one mission profile."""

    def __init__(self, profile: MissionProfile | str, *, input_kind: str = "cadu",
                 block_size: int = DEFAULT_BLOCK_SIZE, block_lines: int = 512, reorder_window: int = 256,
                 config_dir: Path | None = None, leap: LeapSecondTable | None = None) -> None:
        if input_kind not in INPUT_KINDS:
            raise UsageError(f"input kind {input_kind!r} is not one of {', '.join(INPUT_KINDS)}")
        if block_size < 4096:
            raise UsageError(f"block size {block_size} is too small (at least 4096 octets)")
        self.profile = profile if isinstance(profile, MissionProfile) else load_profile(profile, config_dir)
        self.input_kind = input_kind
        self.block_size = block_size
        self.block_lines = block_lines
        self.reorder_window = reorder_window
        self.leap = leap or leap_seconds(config_dir)
        self.quality = QualityRecord(profile=self.profile.name, input_kind=input_kind)
        self.ancillary = AncillaryData()

    # ------------------------------------------------------------------------------
    def iter_blocks(self, source: Source, packet_sink: Callable[[bytes], object] | None = None) -> Iterator[LineBlock]:
        """Decode ``source`` and yield line blocks per band as they complete.

        ``packet_sink`` (optional) receives every recovered packet (primary header
        included) in release order: duplicates removed, re-sorted.  After the
        iterator is exhausted :attr:`quality` and :attr:`ancillary` are final.
        """
        p = self.profile
        q = self.quality
        bands = {b.apid: b for b in p.bands} if p.image_format == "line" else {}
        assemblers: dict[int, LineAssembler] = {}
        for apid, band in bands.items():
            q.bands[band.name] = BandQuality(name=band.name, apid=apid)
            assemblers[apid] = LineAssembler(p, band, q.bands[band.name], self.block_lines, self.leap)
        anc = AncillaryCollector(p, q, self.leap)
        ready: list[LineBlock] = []

        def release(apid: int, _u: int, pkt: bytes) -> None:
            if packet_sink is not None:
                packet_sink(pkt)
            asm = assemblers.get(apid)
            if asm is not None:
                ready.extend(asm.add(pkt))
            elif apid in anc.kinds:
                anc.add(apid, pkt)

        sorter = PacketSorter(p, q, release, window=self.reorder_window)
        with _open(source) as (stream, name):
            q.file = name
            if self.input_kind == "cadu":
                sync = FrameSync(p, q)
                demux = ChannelDemux(p, q)
                first = True
                for data, final in _blocks(stream, self.block_size):
                    if first:
                        self._check_cadu_start(data, name, final)
                        first = False
                    batch = sync.feed(data, final)
                    if len(batch) or batch.damaged:
                        sorter.push_many(demux.push(batch))
                    yield from ready
                    ready.clear()
                if q.cadus_found == 0 and q.cadus_short == 0:
                    raise DecodeError(f"{name}: no complete CADU found ({q.bytes_read} bytes, "
                                      f"ASM {p.asm.hex().upper()}, CADU length {p.cadu_length})")
            else:
                splitter = PacketStreamSplitter(q, name)
                first = True
                for data, final in _blocks(stream, self.block_size):
                    if first:
                        check_packet_stream_start(data, name, p)
                        first = False
                    sorter.push_many(splitter.feed(data, final))
                    yield from ready
                    ready.clear()
            sorter.flush()
            for asm in assemblers.values():
                ready.extend(asm.flush())
            yield from ready
            ready.clear()
        self.ancillary = anc.result()
        q.finish()

    def _check_cadu_start(self, data: bytes, name: str, final: bool) -> None:
        if not data:
            raise DecodeError(f"{name} is empty")
        if self.profile.asm not in data:
            hint = (" — it looks like a space-packet stream: use --input packets"
                    if looks_like_packets(data) else "")
            if final or len(data) >= 1 << 20:
                raise DecodeError(f"{name}: no attached sync marker {self.profile.asm.hex().upper()} found in the "
                                  f"first {len(data)} bytes; not a CADU stream{hint}")

    def iter_packets(self, source: Source) -> Iterator[bytes]:
        """Recovered packets in order (duplicates removed); line decoding still runs."""
        out: list[bytes] = []
        for _ in self.iter_blocks(source, out.append):
            yield from out
            out.clear()
        yield from out


def decode(source: Source, profile: MissionProfile | str = "vnredsat1", *, input_kind: str = "cadu",
           keep_packets: bool = False, **kwargs) -> Level0Data:
    """Decode a whole (small) downlink into arrays: bands, ancillary, quality."""
    dec = Level0Decoder(profile, input_kind=input_kind, **kwargs)
    blocks: dict[str, list[LineBlock]] = {}
    packets: list[bytes] = []
    for block in dec.iter_blocks(source, packets.append if keep_packets else None):
        blocks.setdefault(block.band, []).append(block)
    bands = {}
    for name, bl in blocks.items():
        bands[name] = BandLines(name, bl[0].first_line, np.concatenate([b.dns for b in bl]),
                                np.concatenate([b.times for b in bl]), np.concatenate([b.flags for b in bl]))
    return Level0Data(bands, dec.ancillary, dec.quality, packets)


# --- input helpers ----------------------------------------------------------------------
class _open:
    """Context manager: (binary stream, display name) for a path, bytes or an open stream."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._owned: BinaryIO | None = None

    def __enter__(self) -> tuple[BinaryIO, str]:
        src = self.source
        if isinstance(src, (bytes, bytearray, memoryview)):
            return io.BytesIO(bytes(src)), "<bytes>"
        if isinstance(src, (str, Path)):
            path = Path(src)
            if not path.exists():
                raise NotFoundError(f"level-0 file {path} does not exist")
            if path.is_dir():
                raise UsageError(f"{path} is a directory, not a level-0 file")
            self._owned = open(path, "rb")  # noqa: SIM115
            return self._owned, str(path)
        return src, getattr(src, "name", "<stream>")

    def __exit__(self, *exc: object) -> None:
        if self._owned is not None:
            self._owned.close()


def _blocks(stream: BinaryIO, size: int) -> Iterator[tuple[bytes, bool]]:
    """(block, is_last) pairs; reads one block ahead to know which is last."""
    current = stream.read(size)
    while True:
        nxt = stream.read(size) if current else b""
        yield current, not nxt
        if not nxt:
            return
        current = nxt
