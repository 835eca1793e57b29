"""Arbitrary bytes end in a result or a DecodeError — never another exception or a hang."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rsarchive.errors import DecodeError
from rsarchive.level0.decoder import Level0Decoder
from rsarchive.level0.profiles import load_profile

VNR = load_profile("vnredsat1")
SNPP = load_profile("snpp")
FUZZ = settings(max_examples=int(os.environ.get("RSARCHIVE_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run(data: bytes, profile, kind: str, block_size: int = 4096) -> None:
    dec = Level0Decoder(profile, input_kind=kind, block_size=block_size)
    try:
        for _ in dec.iter_packets(data):
            pass
    except DecodeError:
        return
    q = dec.quality
    assert q.bytes_read == len(data)
    assert q.bytes_skipped <= len(data)


@FUZZ
@given(st.binary(max_size=6000))
def test_cadu_parser_on_arbitrary_bytes(data):
    _run(data, VNR, "cadu")


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=1100), st.just(VNR.asm), st.just(SNPP.asm + bytes(1020))), max_size=12))
def test_cadu_parser_on_asm_rich_bytes(chunks):
    data = b"".join(chunks)
    _run(data, VNR, "cadu")
    _run(data, SNPP, "cadu")


@FUZZ
@given(st.binary(max_size=5000))
def test_packet_parser_on_arbitrary_bytes(data):
    _run(data, VNR, "packets")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 0x7FF), st.integers(0, 0x3FFF), st.binary(min_size=1, max_size=300)),
                max_size=20), st.binary(max_size=20))
def test_packet_parser_on_valid_looking_packets(packets, tail):
    from rsarchive.level0.ccsds import pack_packet_header

    data = b"".join(pack_packet_header(a, s, len(b)) + b for a, s, b in packets) + tail
    _run(data, VNR, "packets")


@FUZZ
@given(st.binary(min_size=1, max_size=3000), st.integers(0, 3))
def test_frames_with_corrupted_bytes(noise, which):
    # A valid downlink with arbitrary bytes pasted into it.
    raw, _ = _CLEAN
    cut = (len(raw) * (which + 1)) // 5
    data = raw[:cut] + noise + raw[cut + len(noise) // 2 :]
    _run(data, VNR, "cadu", block_size=8192)


def _clean():
    from .conftest import make_scene, write_downlink

    return write_downlink(VNR, make_scene(lines=20, ms_detectors=16))


_CLEAN = _clean()
