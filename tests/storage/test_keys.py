from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from rsarchive.errors import UsageError
from rsarchive.storage import (Form, form_of, from_multihash, level0_key, multihash, original_key, product_key,
                               raw_key, staging_key)
from rsarchive.storage.keys import unstage_key

T = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))  # 16:30 UTC


def test_layout_shows_the_form_and_the_utc_date() -> None:
    assert level0_key("vnredsat1", T, "HN-20260301-1630", "pass.cadu") == \
        "level0/vnredsat1/2026/03/01/HN-20260301-1630/pass.cadu"
    assert raw_key("vnredsat1", T, "S001", "B1.tif") == "raw/vnredsat1/2026/03/01/S001/B1.tif"
    assert product_key("vnredsat1", dt.date(2026, 3, 2), "S001", "thumb.png") == \
        "product/vnredsat1/2026/03/02/S001/thumb.png"
    assert original_key("airbus", T, "PO-123", "delivery/IMG_01.JP2") == \
        "original/airbus/2026/03/01/PO-123/delivery/IMG_01.JP2"
    assert form_of("level0/vnredsat1/2026/03/01/p/x") is Form.LEVEL0
    staged = staging_key("abc123", "product/vnredsat1/2026/03/01/S001/B1.tif")
    assert staged == "staging/abc123/product/vnredsat1/2026/03/01/S001/B1.tif"
    assert unstage_key(staged) == ("abc123", "product/vnredsat1/2026/03/01/S001/B1.tif")


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "-x", "sp ace"])
def test_unsafe_segments_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        level0_key("vnredsat1", T, bad, "pass.cadu")


def test_naive_datetimes_and_unknown_forms_are_refused() -> None:
    with pytest.raises(UsageError, match="time zone"):
        raw_key("vnredsat1", dt.datetime(2026, 1, 1), "S1", "a.tif")
    with pytest.raises(UsageError, match="form"):
        form_of("tmp/x/y")


def test_multihash_is_the_stac_file_checksum() -> None:
    sha = hashlib.sha256(b"abc").hexdigest()
    assert multihash(sha) == "1220" + sha
    assert from_multihash(multihash(sha)) == sha
    with pytest.raises(UsageError):
        from_multihash("1114" + sha[:40])
