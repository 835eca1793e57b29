"""The quality (QA) band: a uint16 bitfield shared by the raw and product levels.

Bit positions (``../shared/design/ARCHITECTURE.md``)::

    0  no data            the pixel holds no measurement (its value is the nodata value)
    1  lost               its line was lost or unreadable in the downlink (missing packet / line)
    2  defective detector its detector is dead; the value was filled from the neighbours
    3  saturated          the detector reached the CPF saturation level (value is a lower bound)
    4  ancillary degraded ephemeris / attitude / housekeeping interpolated over a gap
    5  terrain occlusion  (geometry, product level)
    6  cloud              (product level)
    7–15 reserved

A lost line therefore reads ``QA_NODATA | QA_LOST`` = 3.  Overviews of the QA
band use nearest or mode resampling, never averaging (an average of 0 and 4
would claim "lost").
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "QA_ANCILLARY", "QA_BITS", "QA_CLOUD", "QA_DTYPE", "QA_FILLED", "QA_LOST", "QA_NODATA", "QA_SATURATED",
    "QA_TERRAIN", "describe_qa",
]

QA_DTYPE = np.uint16
QA_NODATA = 1 << 0
QA_LOST = 1 << 1
QA_FILLED = 1 << 2
QA_SATURATED = 1 << 3
QA_ANCILLARY = 1 << 4
QA_TERRAIN = 1 << 5
QA_CLOUD = 1 << 6

QA_BITS: dict[int, str] = {
    0: "no data",
    1: "lost (missing packet or line)",
    2: "defective detector (filled from neighbours)",
    3: "saturated",
    4: "ancillary degraded (ephemeris/attitude/housekeeping interpolated over a gap)",
    5: "terrain occlusion",
    6: "cloud",
}
"""Bit position → meaning (bits 7–15 are reserved)."""


def describe_qa(value: int) -> list[str]:
    """The meanings of the bits set in one QA value (for messages and reports)."""
    return [text for bit, text in QA_BITS.items() if value & (1 << bit)]
