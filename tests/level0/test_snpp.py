"""The real Suomi-NPP capture (recorded by a real station, decoded by two other tools)."""

from __future__ import annotations

import hashlib

from rsarchive.level0.decoder import Level0Decoder
from rsarchive.level0.profiles import load_profile


def test_snpp_synchronized_cadus(snpp_dir):
    dec = Level0Decoder(load_profile("snpp"))
    packets = list(dec.iter_packets(snpp_dir / "snpp_synchronized_cadus.dat"))
    q = dec.quality
    assert q.cadus_found == 65 and q.bytes_read == 66560
    assert q.sync_losses == 0 and q.bytes_skipped == 0 and q.frames_invalid == 0
    assert set(q.vcs) == {16}
    assert q.vcs[16].frames == 65 and q.vcs[16].frames_lost == 1
    assert len(packets) == q.packets == 12
    assert sum(map(len, packets)) == q.packet_bytes == 53_098
    assert q.apids[802].packets == 1 and q.apids[802].bytes == 3006
    assert q.apids[803].packets == 11 and q.apids[803].packets_lost == 1
    seqs = [((p[2] & 0x3F) << 8) | p[3] for p in packets if (((p[0] & 7) << 8) | p[1]) == 803]
    assert seqs == [9859, *range(9861, 9871)]  # 9860 crossed the missing frame
    assert hashlib.md5(b"".join(packets)).hexdigest() == "5e11051d86c46ddc3500904c99bbe978"


def test_snpp_two_virtual_channels(snpp_dir):
    dec = Level0Decoder("snpp")
    packets = list(dec.iter_packets(snpp_dir / "snpp_7cadus_2vcids.dat"))
    q = dec.quality
    assert q.cadus_found == 7
    assert set(q.vcs) == {6, 16}
    assert q.vcs[6].frames == 4 and q.vcs[16].frames == 3
    assert q.frames_lost == 0
    assert len(packets) >= 1 and all(p[0] >> 5 == 0 for p in packets)


def test_snpp_packets_reread_as_packet_stream(snpp_dir, tmp_path):
    dec = Level0Decoder("snpp")
    blob = b"".join(dec.iter_packets(snpp_dir / "snpp_synchronized_cadus.dat"))
    again = Level0Decoder("snpp", input_kind="packets")
    packets = list(again.iter_packets(blob))
    assert b"".join(packets) == blob
    assert again.quality.apids[803].packets_lost == 1
