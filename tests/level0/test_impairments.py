"""Writer → decoder round trips: a clean downlink decodes bit-identically, and every
impairment the writer injects is counted exactly by the decoder's quality record."""

from __future__ import annotations

import numpy as np
import pytest

from rsarchive.level0.decoder import decode
from rsarchive.level0.lines import FLAG_MISSING, FLAG_OK
from rsarchive.level0.quality import QualityRecord
from rsarchive.level0.writer import Impairments, WriteReport

from .conftest import make_scene, write_downlink


def observed(q: QualityRecord) -> dict:
    return {
        "cadus_found": q.cadus_found,
        "cadus_short": q.cadus_short,
        "sync_losses": q.sync_losses,
        "bytes_skipped": q.bytes_skipped,
        "leading_bytes_skipped": q.leading_bytes_skipped,
        "trailing_partial_bytes": q.trailing_partial_bytes,
        "frames_bad_fecf": q.frames_bad_fecf,
        "idle_frames": q.idle_frames,
        "idle_packets": q.idle_packets,
        "frames_lost_per_vc": {k: v.frames_lost for k, v in q.vcs.items() if v.frames_lost},
        "frames_damaged_per_vc": {k: v.frames_damaged for k, v in q.vcs.items() if v.frames_damaged},
        "packets_per_apid": {k: v.packets for k, v in q.apids.items() if v.packets},
        "packets_lost_per_apid": {k: v.packets_lost for k, v in q.apids.items() if v.packets_lost},
        "duplicates_per_apid": {k: v.duplicates_dropped for k, v in q.apids.items() if v.duplicates_dropped},
        "out_of_order_per_apid": {k: v.out_of_order for k, v in q.apids.items() if v.out_of_order},
        "bands": {k: {"first_line": v.first_line, "last_line": v.last_line, "lines_decoded": v.lines_decoded,
                      "lines_missing": v.lines_missing, "lines_expected": v.lines_expected}
                  for k, v in q.bands.items() if v.first_line is not None},
    }


def expected(report: WriteReport) -> dict:
    e = report.expected
    return {
        "cadus_found": e.cadus_found,
        "cadus_short": e.cadus_short,
        "sync_losses": e.sync_losses,
        "bytes_skipped": e.bytes_skipped,
        "leading_bytes_skipped": e.leading_bytes_skipped,
        "trailing_partial_bytes": e.trailing_partial_bytes,
        "frames_bad_fecf": e.frames_bad_fecf,
        "idle_frames": e.idle_frames,
        "idle_packets": e.idle_packets,
        "frames_lost_per_vc": e.frames_lost_per_vc,
        "frames_damaged_per_vc": e.frames_damaged_per_vc,
        "packets_per_apid": e.packets_per_apid,
        "packets_lost_per_apid": e.packets_lost_per_apid,
        "duplicates_per_apid": e.duplicates_per_apid,
        "out_of_order_per_apid": e.out_of_order_per_apid,
        "bands": e.bands,
    }


def test_clean_downlink_is_bit_identical(profile, scene, clean_downlink):
    raw, report = clean_downlink
    data = decode(raw, profile)
    q = data.quality
    assert len(raw) == report.bytes_written == report.cadus_written * profile.cadu_length
    assert q.cadus_found == report.cadus_written
    assert q.sync_losses == q.bytes_skipped == q.frames_bad_fecf == q.frames_lost == 0
    for band in profile.bands:
        got = data.bands[band.name]
        assert got.first_line == 0
        np.testing.assert_array_equal(got.dns, scene.dns[band.id])
        assert (got.flags == FLAG_OK).all()
        assert q.bands[band.name].lines_decoded == report.lines_per_band[band.name]
    assert {k: v.packets for k, v in q.apids.items()} == report.packets_per_apid
    assert data.bands["B1"].times[1] - data.bands["B1"].times[0] == np.timedelta64(10_000_000, "ns") or \
        abs(int((data.bands["B1"].times[1] - data.bands["B1"].times[0]).astype(np.int64)) - 10_000_000) < 20_000
    assert str(data.bands["B1"].times[0]).startswith("2026-03-01T03:00:00.000")
    anc = data.ancillary
    assert anc.positions_m.shape == (2, 3) and anc.positions_m[1, 0] == 7.0e6 + 100
    assert anc.quaternions.shape == (20, 4) and (anc.quaternions[:, 0] == 1.0).all()
    assert anc.focal_plane_temp_c[1] == pytest.approx(20.1, abs=1e-5)
    assert expected(report) == observed(q)


IMPAIRMENTS = {
    "bit_errors": Impairments(bit_errors=3, seed=1),
    "dropped_frames": Impairments(dropped_frames=3, seed=2),
    "slips": Impairments(slips=6, seed=3),
    "duplicated_packets": Impairments(duplicated_packets=4, seed=4),
    "reordered_packets": Impairments(reordered_packets=3, seed=5),
    "leading_garbage": Impairments(leading_garbage=1500, seed=6),
    "truncate_bytes": Impairments(truncate_bytes=5000, seed=7),
    "idle_frames": Impairments(idle_frames=4, seed=8),
    "everything": Impairments(bit_errors=2, dropped_frames=2, slips=3, duplicated_packets=2, leading_garbage=99,
                              truncate_bytes=2500, idle_frames=2, reordered_packets=2, seed=9),
}


@pytest.mark.parametrize("name", list(IMPAIRMENTS))
def test_impairments_are_counted_exactly(profile, scene, name):
    imp = IMPAIRMENTS[name]
    raw, report = write_downlink(profile, scene, imp)
    assert not report.not_injected, report.not_injected
    data = decode(raw, profile)
    q = data.quality
    assert observed(q) == expected(report)
    # The headline numbers of the brief, spelled out.
    assert q.frames_bad_fecf == imp.bit_errors == len(report.bit_errors)
    assert sum(v.frames_lost for v in q.vcs.values()) == imp.dropped_frames == len(report.dropped_frames)
    assert q.sync_losses == imp.slips == len(report.slips)
    assert sum(a.duplicates_dropped for a in q.apids.values()) == imp.duplicated_packets
    assert sum(a.out_of_order for a in q.apids.values()) == imp.reordered_packets
    assert q.idle_frames == imp.idle_frames
    assert q.leading_bytes_skipped == imp.leading_garbage
    assert q.bytes_skipped >= imp.leading_garbage
    assert q.bytes_read == len(raw) == report.bytes_written
    if imp.truncate_bytes:
        assert report.truncated_bytes == imp.truncate_bytes
        assert 0 < q.trailing_partial_bytes < profile.cadu_length
    # Partial data is still decoded, and surviving lines are bit-identical to the truth.
    for band in profile.bands:
        got = data.bands[band.name]
        ok = got.flags == FLAG_OK
        assert ok.sum() == q.bands[band.name].lines_decoded > 0
        np.testing.assert_array_equal(got.dns[ok], scene.dns[band.id][got.counters[ok]])
        assert (got.flags == FLAG_MISSING).sum() == q.bands[band.name].lines_missing
        assert (got.dns[got.flags == FLAG_MISSING] == 0).all()


@pytest.mark.parametrize("seed", range(6))
def test_combined_impairments_many_seeds(profile, seed):
    scene = make_scene(lines=150, seed=seed)
    imp = Impairments(bit_errors=2, dropped_frames=2, slips=3, duplicated_packets=2, leading_garbage=10 + seed,
                      truncate_bytes=1000 + 333 * seed, idle_frames=2, reordered_packets=1, seed=100 + seed)
    raw, report = write_downlink(profile, scene, imp)
    q = decode(raw, profile, block_size=64 * 1024).quality
    assert observed(q) == expected(report)


def test_lost_frames_lose_lines_which_are_flagged(profile, scene):
    raw, report = write_downlink(profile, scene, Impairments(dropped_frames=2, seed=11))
    data = decode(raw, profile)
    missing = sum(b.lines_missing for b in data.quality.bands.values())
    assert missing > 0
    assert missing == sum(v["lines_missing"] for v in report.expected.bands.values())


def test_report_to_dict_is_plain(profile, scene):
    _, report = write_downlink(profile, scene, Impairments(slips=2, seed=3))
    d = report.to_dict()
    assert d["cadus_written"] == report.cadus_written
    assert len(d["slips"]) == 2 and {s["kind"] for s in d["slips"]} <= {"insert", "delete"}
