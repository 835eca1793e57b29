"""A decoded datastrip: the level-0 lines of every band, spooled to disk, with the
ancillary series and the level-0 quality record.

The decoder streams line blocks (:meth:`rsarchive.level0.Level0Decoder.iter_blocks`);
the housekeeping that the dark correction needs and the quality record are only
final at the end of the file, so the DNs are first spooled, band by band, to
flat files read back as NumPy memory maps (memory does not grow with the length
of the pass), and the downlink's SHA-256 is computed on the same read.

The CPF is checked against the downlink while decoding: every band of the
downlink must be in the CPF (matched by band id) with the same detector count,
and every CPF band must be present in the downlink — otherwise
:class:`~rsarchive.errors.CalibrationError`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from rsarchive.cpf import CPF
from rsarchive.errors import CalibrationError, NotFoundError, ProcessingError
from rsarchive.level0 import FLAG_MISSING, Level0Decoder, MissionProfile, QualityRecord
from rsarchive.level0.ancillary import AncillaryData

log = logging.getLogger(__name__)

__all__ = ["BandStrip", "Datastrip", "read_datastrip"]

_NS = np.timedelta64(1, "ns")


@dataclass
class BandStrip:
    """The lines of one band: rows are line counters ``first_line …``."""

    name: str
    band_id: int
    detectors: int
    line_period_s: float
    first_line: int
    dns: np.ndarray            # (lines, detectors) uint16, a read-only memory map
    times: np.ndarray          # (lines,) datetime64[ns]; NaT where the line was lost
    flags: np.ndarray          # (lines,) uint8 level-0 line flags (0 ok)

    @property
    def stop_line(self) -> int:
        return self.first_line + int(self.flags.shape[0])

    def nominal_times(self, first: int, stop: int) -> np.ndarray:
        """Times of line counters ``[first, stop)``: decoded where known, else from the line period.

        The nominal time line is ``t = t0 + counter · period``, with ``t0`` the
        median over the decoded lines (robust to a few bad time codes).
        """
        counters = np.arange(first, stop, dtype=np.int64)
        valid = ~np.isnat(self.times)
        if not valid.any():
            return np.full(counters.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
        period_ns = self.line_period_s * 1e9
        own = self.first_line + np.flatnonzero(valid)
        t0 = np.median(self.times[valid].astype(np.int64) - np.rint(own * period_ns)).astype(np.int64)
        out = (t0 + np.rint(counters * period_ns).astype(np.int64)).astype("datetime64[ns]")
        inside = (counters >= self.first_line) & (counters < self.stop_line)
        rows = counters[inside] - self.first_line
        known = ~np.isnat(self.times[rows])
        out[np.flatnonzero(inside)[known]] = self.times[rows[known]]
        return out

    def line_flags(self, first: int, stop: int) -> np.ndarray:
        """Level-0 flags of counters ``[first, stop)``; lines outside the strip are missing."""
        out = np.full(stop - first, FLAG_MISSING, dtype=np.uint8)
        lo, hi = max(first, self.first_line), min(stop, self.stop_line)
        if hi > lo:
            out[lo - first : hi - first] = self.flags[lo - self.first_line : hi - self.first_line]
        return out

    def read_rows(self, first: int, stop: int) -> np.ndarray:
        """DNs of counters ``[first, stop)`` (fill 0 outside the strip), a new array.

        A spooled band (a memory map) is read with ``readinto`` from its file rather than
        through the map, so the pages read do not stay in this process's RSS; each call opens
        its own file handle (calls may run in parallel).  A spool file shorter than the strip
        raises :class:`~rsarchive.errors.ProcessingError`.
        (why: docs/DECISIONS.md, Memory over a long ingest pass)"""
        out = np.zeros((stop - first, self.detectors), dtype=np.uint16)
        lo, hi = max(first, self.first_line), min(stop, self.stop_line)
        if hi > lo:
            target = out[lo - first : hi - first]
            filename = getattr(self.dns, "filename", None)
            if isinstance(self.dns, np.memmap) and filename is not None and self.dns.dtype == np.uint16 \
                    and self.dns.flags.c_contiguous:
                row_bytes = self.detectors * 2
                with open(filename, "rb", buffering=0) as handle:
                    handle.seek(int(self.dns.offset) + (lo - self.first_line) * row_bytes)
                    view = memoryview(target).cast("B")
                    got = 0
                    while got < view.nbytes:
                        n = handle.readinto(view[got:])
                        if not n:
                            raise ProcessingError(f"spool {filename} of band {self.name} is truncated "
                                                  f"(lines {lo}–{hi - 1} expected)")
                        got += n
            else:
                target[...] = self.dns[lo - self.first_line : hi - self.first_line]
        return out

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return ("BandStrip", self.name, getattr(self.dns, "filename", id(self.dns)), self.first_line,
                self.flags.shape[0])


@dataclass
class Datastrip:
    """A decoded downlink (see the module docstring)."""

    bands: dict[str, BandStrip]
    ancillary: AncillaryData
    quality: QualityRecord
    source: str
    sha256: str
    size: int
    profile: str
    notes: list[str] = field(default_factory=list)

    def extents(self) -> dict[str, tuple[int, int]]:
        """``(first, stop)`` line counters of each band with at least one line."""
        return {n: (b.first_line, b.stop_line) for n, b in self.bands.items() if b.flags.size}


class _HashingReader:
    """A read-only binary stream that hashes what is read and reports progress."""

    def __init__(self, raw: BinaryIO, name: str, progress: Callable[[int], None] | None) -> None:
        self._raw = raw
        self.name = name
        self.digest = hashlib.sha256()
        self.size = 0
        self._progress = progress

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.digest.update(data)
        self.size += len(data)
        if self._progress is not None and data:
            self._progress(len(data))
        return data


def read_datastrip(
    source: str | Path,
    profile: MissionProfile | str,
    cpf: CPF,
    spool_dir: str | Path,
    *,
    config_dir: Path | None = None,
    block_lines: int = 512,
    progress: Callable[[int], None] | None = None,
) -> Datastrip:
    """Decode ``source`` into a :class:`Datastrip` whose DNs are spooled in ``spool_dir``.

    ``progress`` (optional) is called with the number of bytes read since the
    last call.  Raises :class:`CalibrationError` when the CPF does not describe
    the downlink's bands.
    """
    path = Path(source)
    if not path.is_file():
        raise NotFoundError(f"downlink {path} does not exist or is not a file")
    spool = Path(spool_dir)
    spool.mkdir(parents=True, exist_ok=True)
    decoder = Level0Decoder(profile, block_lines=block_lines, config_dir=config_dir)
    by_id = {b.id: b for b in cpf.bands}
    files: dict[str, Any] = {}
    rows: dict[str, int] = {}
    first: dict[str, int] = {}
    times: dict[str, list[np.ndarray]] = {}
    flags: dict[str, list[np.ndarray]] = {}
    try:
        with open(path, "rb") as raw:
            reader = _HashingReader(raw, str(path), progress)
            for block in decoder.iter_blocks(reader):  # type: ignore[arg-type]
                cal = by_id.get(block.band_id)
                if cal is None:
                    raise CalibrationError(
                        f"CPF {cpf.version} ({cpf.source}) has no band id {block.band_id} ({block.band}), which "
                        f"the downlink {path.name} contains; CPF bands: "
                        f"{', '.join(f'{b.id}={b.name}' for b in cpf.bands)}")
                name = cal.name
                dns = block.dns
                if dns.shape[1] == 0:  # no readable line yet: the band's width is unknown, lines are fill
                    dns = np.zeros((len(block), cal.detectors), dtype=np.uint16)
                if dns.shape[1] != cal.detectors:
                    raise CalibrationError(
                        f"CPF {cpf.version} band {name} has {cal.detectors} detectors but the downlink "
                        f"{path.name} has {dns.shape[1]} pixels per line (line {block.first_line}): wrong CPF "
                        "for this instrument")
                if name not in files:
                    if block.band != name:
                        log.warning("band id %d is %r in the mission profile but %r in CPF %s; using the CPF name",
                                    block.band_id, block.band, name, cpf.version)
                    files[name] = open(spool / f"{name}.u16", "wb")  # noqa: SIM115
                    first[name], rows[name] = block.first_line, 0
                    times[name], flags[name] = [], []
                expected = first[name] + rows[name]
                if block.first_line != expected:
                    raise ProcessingError(
                        f"{path.name}: band {name} line counter jumps from {expected - 1} to {block.first_line} "
                        "(a second acquisition in one downlink); split the downlink per acquisition")
                files[name].write(np.ascontiguousarray(dns, dtype=np.uint16).tobytes())
                rows[name] += len(block)
                times[name].append(block.times)
                flags[name].append(block.flags)
    finally:
        for handle in files.values():
            handle.close()
    missing = [b for b in cpf.bands if b.name not in files]
    if missing:
        raise CalibrationError(
            f"band(s) {', '.join(f'{b.name} (id {b.id})' for b in missing)} of CPF {cpf.version} are missing "
            f"from the downlink {path.name} (no line decoded); bands found: {', '.join(files) or 'none'}")
    bands = {}
    for cal in cpf.bands:
        name = cal.name
        n = rows[name]
        dns_map = np.memmap(spool / f"{name}.u16", dtype=np.uint16, mode="r", shape=(n, cal.detectors)) if n else \
            np.zeros((0, cal.detectors), dtype=np.uint16)
        bands[name] = BandStrip(name, cal.id, cal.detectors, cal.line_period_s, first[name], dns_map,
                                np.concatenate(times[name]), np.concatenate(flags[name]))
    log.info("decoded %s: %s", path.name, ", ".join(f"{n} {len(b.flags)} lines" for n, b in bands.items()))
    return Datastrip(bands, decoder.ancillary, decoder.quality, str(path), reader.digest.hexdigest(), reader.size,
                     decoder.profile.name)
