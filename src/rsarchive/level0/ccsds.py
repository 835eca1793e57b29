"""CCSDS building blocks: CRC-16, the pseudo-random sequence, and the bit layouts of
the AOS transfer-frame header, the M_PDU header and the space-packet primary header.

Everything here is pure computation on bytes and numpy arrays.  Standards: CCSDS
131.0-B (randomiser), 732.0-B (AOS), 133.0-B (space packets).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rsarchive.errors import DecodeError

__all__ = [
    "AosHeader",
    "PacketHeader",
    "crc16",
    "crc16_rows",
    "crc16_rows_numpy",
    "pn_sequence",
    "pack_aos_header",
    "unpack_aos_header",
    "pack_mpdu_header",
    "unpack_mpdu_header",
    "pack_packet_header",
    "unpack_packet_header",
    "FHP_NO_HEADER",
    "FHP_IDLE",
    "SEQ_FIRST",
    "SEQ_CONTINUATION",
    "SEQ_LAST",
    "SEQ_UNSEGMENTED",
]

FHP_NO_HEADER = 0x7FF
"""First header pointer: no packet header begins in this frame."""
FHP_IDLE = 0x7FE
"""First header pointer: the packet zone holds idle data only."""

SEQ_CONTINUATION = 0
SEQ_FIRST = 1
SEQ_LAST = 2
SEQ_UNSEGMENTED = 3

_CRC_POLY = 0x1021


# --- CRC-16/CCITT-FALSE -------------------------------------------------------------
@lru_cache(maxsize=4)
def _anycrc(init: int) -> Any:
    import anycrc

    return anycrc.CRC(width=16, poly=_CRC_POLY, init=init, refin=False, refout=False, xorout=0)


def crc16(data: bytes | bytearray | memoryview, init: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR).

    ``crc16(b"123456789") == 0x29B1``.  anycrc (see :func:`crc16_rows`; the tests check it against
    ``binascii.crc_hqx``).
    """
    return int(_anycrc(init).calc(data))


def crc16_rows(rows: np.ndarray, init: int = 0xFFFF) -> np.ndarray:
    """CRC-16/CCITT-FALSE of every row of a 2-D uint8 array, as a uint16 vector.

    anycrc (slice-by-16 in C) over each row of one contiguous buffer; the same values as
    ``binascii.crc_hqx`` and the pure-NumPy column walk (:func:`crc16_rows_numpy`).  ``ValueError``
    unless ``rows`` is 2-D.  (why: docs/DECISIONS.md, Level-0 frame CRCs: anycrc)
    """
    if rows.ndim != 2:
        raise ValueError("crc16_rows expects a 2-D array of rows")
    n = rows.shape[1]
    buf = memoryview(np.ascontiguousarray(rows, dtype=np.uint8)).cast("B")
    crc = _anycrc(init).calc
    return np.fromiter((crc(buf[i : i + n]) for i in range(0, n * rows.shape[0], n)),
                       dtype=np.uint16, count=rows.shape[0])


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    t8 = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ _CRC_POLY) if c & 0x8000 else (c << 1)
        t8[i] = c & 0xFFFF
    # Two-byte table: for a 16-bit register the state after two bytes is T16[state ^ word].
    x = np.arange(65536, dtype=np.uint32)
    for _ in range(2):
        x = ((x << 8) & 0xFFFF) ^ t8[(x >> 8) & 0xFF]
    return t8.astype(np.uint16), x.astype(np.uint16)


def crc16_rows_numpy(rows: np.ndarray, init: int = 0xFFFF) -> np.ndarray:
    """Pure-numpy CRC of every row: a two-byte (65536-entry) table walked over columns,
    all rows at once.  Same result as :func:`crc16_rows`; kept as the reference
    vectorised routine."""
    t8, t16 = _tables()
    m, n = rows.shape
    crc = np.full(m, init, dtype=np.uint16)
    even = n - (n % 2)
    words = np.ascontiguousarray(rows[:, :even]).view(">u2").T.astype(np.uint16, order="C")
    for col in words:
        crc = t16[crc ^ col]
    if n % 2:
        last = rows[:, -1].astype(np.uint16)
        crc = ((crc << 8) & 0xFFFF).astype(np.uint16) ^ t8[((crc >> 8) ^ last) & 0xFF]
    return crc


# --- Pseudo-random sequence ---------------------------------------------------------
@lru_cache(maxsize=16)
def _pn_cached(length: int) -> bytes:
    out = bytearray(length)
    reg = 0xFF
    for i in range(min(length, 255)):
        byte = 0
        for _ in range(8):
            byte = (byte << 1) | (reg & 1)
            feedback = (reg ^ (reg >> 3) ^ (reg >> 5) ^ (reg >> 7)) & 1
            reg = (reg >> 1) | (feedback << 7)
        out[i] = byte
    for i in range(255, length):  # period 255
        out[i] = out[i - 255]
    return bytes(out)


def pn_sequence(length: int) -> np.ndarray:
    """The CCSDS pseudo-random sequence h(x)=x⁸+x⁷+x⁵+x³+1 (all-ones start) for
    ``length`` bytes: ``FF 48 0E C0 9A 0D 70 BC …``, period 255.  Read-only array."""
    arr = np.frombuffer(_pn_cached(int(length)), dtype=np.uint8)
    return arr


# --- AOS transfer frame primary header and M_PDU header ------------------------------
@dataclass(frozen=True)
class AosHeader:
    """The 6-octet AOS transfer frame primary header."""

    version: int
    spacecraft_id: int
    virtual_channel: int
    frame_count: int
    replay: bool = False
    signalling: int = 0  # the whole last octet, kept for reference


def pack_aos_header(spacecraft_id: int, virtual_channel: int, frame_count: int, replay: bool = False) -> bytes:
    """The 6 octets of an AOS primary header (version 01, usage flag 0, cycle 0)."""
    word = (0b01 << 14) | ((spacecraft_id & 0xFF) << 6) | (virtual_channel & 0x3F)
    return word.to_bytes(2, "big") + (frame_count & 0xFFFFFF).to_bytes(3, "big") + bytes([0x80 if replay else 0])


def unpack_aos_header(data: bytes | memoryview) -> AosHeader:
    """Parse the first 6 octets of a transfer frame."""
    if len(data) < 6:
        raise DecodeError(f"AOS primary header needs 6 octets, got {len(data)}")
    word = int.from_bytes(data[0:2], "big")
    sig = data[5]
    return AosHeader(word >> 14, (word >> 6) & 0xFF, word & 0x3F, int.from_bytes(data[2:5], "big"),
                     bool(sig & 0x80), sig)


def pack_mpdu_header(first_header_pointer: int) -> bytes:
    """The 2-octet M_PDU header (5 spare bits 0, 11-bit first header pointer)."""
    return (first_header_pointer & 0x7FF).to_bytes(2, "big")


def unpack_mpdu_header(data: bytes | memoryview) -> int:
    """The first header pointer of a 2-octet M_PDU header."""
    if len(data) < 2:
        raise DecodeError(f"M_PDU header needs 2 octets, got {len(data)}")
    return int.from_bytes(data[0:2], "big") & 0x7FF


# --- Space packet primary header -----------------------------------------------------
@dataclass(frozen=True)
class PacketHeader:
    """The 6-octet space packet primary header."""

    version: int
    type: int
    secondary_header: bool
    apid: int
    sequence_flags: int
    sequence_count: int
    data_length: int  # octets in the data field − 1

    @property
    def packet_length(self) -> int:
        """Total octets of the packet, primary header included."""
        return self.data_length + 7


def pack_packet_header(apid: int, sequence_count: int, data_field_length: int, *,
                       secondary_header: bool = True, sequence_flags: int = SEQ_UNSEGMENTED,
                       packet_type: int = 0) -> bytes:
    """The 6 octets of a space packet primary header; ``data_field_length`` is the real
    number of octets of the data field (1 … 65536)."""
    if not 1 <= data_field_length <= 65536:
        raise ValueError(f"space packet data field must be 1..65536 octets, got {data_field_length}")
    w0 = (packet_type & 1) << 12 | (int(secondary_header) << 11) | (apid & 0x7FF)
    w1 = ((sequence_flags & 3) << 14) | (sequence_count & 0x3FFF)
    return w0.to_bytes(2, "big") + w1.to_bytes(2, "big") + (data_field_length - 1).to_bytes(2, "big")


def unpack_packet_header(data: bytes | memoryview) -> PacketHeader:
    """Parse the first 6 octets of a space packet."""
    if len(data) < 6:
        raise DecodeError(f"space packet header needs 6 octets, got {len(data)}")
    w0 = int.from_bytes(data[0:2], "big")
    w1 = int.from_bytes(data[2:4], "big")
    return PacketHeader(w0 >> 13, (w0 >> 12) & 1, bool((w0 >> 11) & 1), w0 & 0x7FF, w1 >> 14, w1 & 0x3FFF,
                        int.from_bytes(data[4:6], "big"))
