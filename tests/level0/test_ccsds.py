"""CRC-16, the pseudo-random sequence, headers and 12-bit packing."""

from __future__ import annotations

import binascii

import numpy as np
import pytest

from rsarchive.errors import DecodeError
from rsarchive.level0.ccsds import (
    crc16,
    crc16_rows,
    crc16_rows_numpy,
    pack_aos_header,
    pack_mpdu_header,
    pack_packet_header,
    pn_sequence,
    unpack_aos_header,
    unpack_mpdu_header,
    unpack_packet_header,
)
from rsarchive.level0.lines import pack12, unpack12


def test_crc_check_value():
    assert crc16(b"123456789") == 0x29B1
    data = np.random.default_rng(1).integers(0, 256, 4099, dtype=np.uint8).tobytes()
    for init in (0xFFFF, 0x0000, 0x1D0F):  # against binascii (the C reference)
        assert crc16(data, init) == binascii.crc_hqx(data, init)


def test_crc_rows_agree_and_frame_with_fecf_checks_to_zero():
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 256, (50, 1018), dtype=np.uint8)
    expected = np.array([binascii.crc_hqx(r.tobytes(), 0xFFFF) for r in rows], dtype=np.uint16)
    np.testing.assert_array_equal(crc16_rows(rows), expected)
    np.testing.assert_array_equal(crc16_rows_numpy(rows), expected)
    np.testing.assert_array_equal(crc16_rows_numpy(rows[:, :1017]), crc16_rows(rows[:, :1017]))  # odd length
    framed = np.concatenate([rows, expected.astype(">u2").view(np.uint8).reshape(50, 2)], axis=1)
    assert (crc16_rows(framed) == 0).all()
    # another initial register, and rows of one byte, against binascii (the C reference)
    for init, width in [(0x1D0F, 1018), (0x0000, 1), (0xFFFF, 7)]:
        part = rows[:, :width]
        want = np.array([binascii.crc_hqx(r.tobytes(), init) for r in part], dtype=np.uint16)
        np.testing.assert_array_equal(crc16_rows(part, init), want)


def test_pn_sequence_start_and_period():
    pn = pn_sequence(1020)
    assert pn[:8].tobytes() == bytes.fromhex("FF480EC09A0D70BC")
    assert pn[255:263].tobytes() == pn[:8].tobytes()
    assert len(set(pn[:255].tobytes())) > 100  # not a short cycle


def test_aos_and_mpdu_headers_round_trip():
    h = unpack_aos_header(pack_aos_header(0x5A, 3, 0xABCDEF))
    assert (h.version, h.spacecraft_id, h.virtual_channel, h.frame_count) == (1, 0x5A, 3, 0xABCDEF)
    assert unpack_mpdu_header(pack_mpdu_header(0x123)) == 0x123
    with pytest.raises(DecodeError):
        unpack_aos_header(b"\x40")


def test_packet_header_round_trip():
    h = unpack_packet_header(pack_packet_header(0x102, 16383, 10))
    assert (h.version, h.type, h.secondary_header, h.apid, h.sequence_flags, h.sequence_count) == (0, 0, True, 0x102, 3, 16383)
    assert h.data_length == 9 and h.packet_length == 16


def test_12bit_packing_layout_and_round_trip():
    packed = pack12(np.array([0xABC, 0x123], dtype=np.uint16))
    assert packed.tobytes() == bytes([0xAB, 0xC1, 0x23])
    rng = np.random.default_rng(1)
    dns = rng.integers(0, 4096, (7, 350), dtype=np.uint16)
    np.testing.assert_array_equal(unpack12(pack12(dns), 350), dns)
