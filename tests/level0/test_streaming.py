"""Streaming: block-by-block decoding gives the same result as one-shot decoding."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from rsarchive.errors import ConfigError, UsageError
from rsarchive.level0.decoder import Level0Decoder, decode
from rsarchive.level0.profiles import available_profiles, load_profile
from rsarchive.level0.writer import Impairments

from .conftest import make_scene, write_downlink


@pytest.fixture(scope="module")
def multi_mb(profile):
    scene = make_scene(lines=600, ms_detectors=256, seed=3)  # ~ 4 MB
    imp = Impairments(bit_errors=2, dropped_frames=2, slips=3, duplicated_packets=2, idle_frames=2,
                      truncate_bytes=700, leading_garbage=33, reordered_packets=2, seed=21)
    raw, report = write_downlink(profile, scene, imp)
    assert len(raw) > 3_000_000
    return raw, scene


def _digest(dec: Level0Decoder, raw: bytes) -> tuple[dict, str]:
    h = hashlib.sha256()
    bands: dict[str, list] = {}
    for block in dec.iter_blocks(raw, h.update):
        bands.setdefault(block.band, []).append(block)
    out = {name: (blocks[0].first_line, np.concatenate([b.dns for b in blocks]),
                  np.concatenate([b.flags for b in blocks]), np.concatenate([b.times for b in blocks]))
           for name, blocks in bands.items()}
    return out, h.hexdigest()


def test_small_blocks_equal_one_shot(profile, multi_mb):
    raw, _ = multi_mb
    one, h1 = _digest(Level0Decoder(profile, block_size=len(raw) + 1), raw)
    small, h2 = _digest(Level0Decoder(profile, block_size=5000, block_lines=37), raw)
    assert h1 == h2
    assert one.keys() == small.keys()
    for name in one:
        assert one[name][0] == small[name][0]
        for a, b in zip(one[name][1:], small[name][1:]):
            np.testing.assert_array_equal(a, b)
    q1 = decode(raw, profile, block_size=len(raw) + 1).quality.to_dict()
    q2 = decode(raw, profile, block_size=4096).quality.to_dict()
    assert q1 == q2


def test_blocks_are_bounded(profile, multi_mb):
    raw, _ = multi_mb
    dec = Level0Decoder(profile, block_size=65536, block_lines=64)
    assert max(len(b) for b in dec.iter_blocks(raw)) <= 64


def test_profiles_are_data():
    assert {"vnredsat1", "snpp"} <= set(available_profiles())
    snpp = load_profile("snpp")
    assert (snpp.frame_length, snpp.rs_check_bytes, snpp.fecf, snpp.spacecraft_ids) == (892, 128, False, (157,))
    with pytest.raises(UsageError, match="vnredsat1"):
        load_profile("nope")


def test_invalid_profile_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ncadu: {length: 1000}\nframe: {length: 1020}\npackets: {}\n"
                   "virtual_channels: {idle: 63}\nspacecraft_ids: [1]\n")
    with pytest.raises(ConfigError, match="cadu length"):
        load_profile(bad)
