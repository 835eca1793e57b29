"""Cloud mask on TOA reflectance, cloud cover and the cloud class of Circular 10/2015: pure NumPy.

VNREDSat-1 has four bands (blue, green, red, NIR) and no SWIR or thermal band,
so the tests are the spectral ones of ACCA (Irish 2000) and Fmask (Zhu &
Woodcock 2012) that need only visible and NIR bands.  A pixel is cloud when
**all** hold (ρ = TOA reflectance):

1. **brightness** — mean(ρ_blue, ρ_green, ρ_red) > 0.30 (ACCA's band-3 filter,
   raised from 0.08 because without the thermal test brightness carries the
   decision; land in the delta is 0.03–0.20, thick cloud 0.6–0.9).  A pixel
   partly covered by cloud edges counts when roughly a third or more of it is
   cloud, which keeps the cover unbiased.
2. **whiteness** — Σ|ρ_i − mean| / mean over the three visible bands < 0.7
   (Fmask): clouds are spectrally flat; bright soils and roofs are not.
3. **NIR/red** — 0.7 < ρ_nir/ρ_red < 1.75 (ACCA's B4/B3 < 2 test, bounded below
   for turbid water): excludes vegetation (ratio 5–10) and water (< 0.5).
4. **haze-optimised transform** — ρ_blue − 0.5·ρ_red − 0.08 > 0 (Fmask's HOT):
   excludes bright, reddish surfaces.

No dilation is applied (it would bias ``eo:cloud_cover`` upward); the mask goes
into QA bit 6.  :func:`cloud_class` is the class of Circular 10/2015/TT-BTNMT:
A below 10 %, B from 10 to below 25 %, C from 25 % up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CloudThresholds", "cloud_mask", "cloud_cover", "cloud_class"]


@dataclass(frozen=True)
class CloudThresholds:
    """The thresholds of the tests (see the module docstring)."""

    brightness: float = 0.30
    whiteness: float = 0.70
    nir_red_min: float = 0.70
    nir_red_max: float = 1.75
    hot_offset: float = 0.08

    def to_dict(self) -> dict[str, Any]:
        return {"brightness_min": self.brightness, "whiteness_max": self.whiteness,
                "nir_red_range": [self.nir_red_min, self.nir_red_max],
                "hot": f"blue - 0.5*red - {self.hot_offset} > 0"}


def cloud_mask(blue: np.ndarray, green: np.ndarray, red: np.ndarray, nir: np.ndarray,
               thresholds: CloudThresholds = CloudThresholds()) -> np.ndarray:
    """Boolean cloud mask from TOA reflectance arrays (NaN = no data → False)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (blue + green + red) / 3.0
        bright = mean > thresholds.brightness
        white = (np.abs(blue - mean) + np.abs(green - mean) + np.abs(red - mean)) / mean < thresholds.whiteness
        ratio = nir / red
        flat_nir = (ratio > thresholds.nir_red_min) & (ratio < thresholds.nir_red_max)
        hot = blue - 0.5 * red - thresholds.hot_offset > 0.0
        return bright & white & flat_nir & hot


def cloud_cover(mask: np.ndarray, valid: np.ndarray) -> float:
    """Percentage (0–100) of valid pixels that are cloud (0 when nothing is valid)."""
    n = int(np.count_nonzero(valid))
    return 100.0 * int(np.count_nonzero(mask & valid)) / n if n else 0.0


def cloud_class(cover_percent: float) -> str:
    """Circular 10/2015 cloud class: ``A`` (< 10 %), ``B`` (10–25 %), ``C`` (≥ 25 %)."""
    if cover_percent < 10.0:
        return "A"
    if cover_percent < 25.0:
        return "B"
    return "C"
