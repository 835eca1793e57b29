"""Band-to-band registration: measured band by band, the same as all at once, and right."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from rsarchive.errors import ProcessingError
from rsarchive.geometry.accuracy import BandRegistration, band_registration


@pytest.fixture(scope="module")
def bands() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    base = ndimage.gaussian_filter(rng.normal(size=(300, 280)), 2.0) * 100 + 500
    return {"red": base, "green": ndimage.shift(base, (0.0, 0.4), order=3, mode="nearest"),
            "nir": ndimage.shift(base, (-0.25, 0.0), order=3, mode="nearest") * 1.7}


def test_band_by_band_equals_all_at_once_and_finds_the_shifts(bands: dict[str, np.ndarray]) -> None:
    whole = band_registration(bands, "red", 10.0)
    one = BandRegistration("red", 10.0)
    one.set_reference(bands["red"])
    for name in ("nir", "green"):  # any order
        one.add(name, bands[name])
    step = one.result()
    assert step["bands"]["green"] == whole["bands"]["green"] and step["bands"]["nir"] == whole["bands"]["nir"]
    assert step["max_rms_px"] == whole["max_rms_px"] and step["method"] == whole["method"]
    # a band moved by +0.4 column appears 0.4 px east; one moved -0.25 row appears 0.25 px north
    east, north = whole["bands"]["green"]["shift_px"]
    assert abs(east - 0.4) < 0.02 and abs(north) < 0.02, whole["bands"]["green"]
    east, north = whole["bands"]["nir"]["shift_px"]
    assert abs(east) < 0.02 and abs(north - 0.25) < 0.02, whole["bands"]["nir"]


def test_a_band_before_the_reference_is_refused(bands: dict[str, np.ndarray]) -> None:
    with pytest.raises(ProcessingError, match="before the reference band red"):
        BandRegistration("red", 10.0).add("green", bands["green"])
