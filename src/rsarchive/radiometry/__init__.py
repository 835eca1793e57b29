"""Radiometry: arrays → arrays (calibration, equalisation, solar geometry, TOA reflectance).

Pure computation, no file or network I/O.  The raw-level writer that uses it
lives in :mod:`rsarchive.raw`.
"""

from __future__ import annotations

from rsarchive.radiometry.encoding import RADIANCE_UNITS, REFLECTANCE_ENCODING, Encoding, radiance_encoding
from rsarchive.radiometry.equalise import BandEqualiser, equalise_dask, line_temperatures
from rsarchive.radiometry.qa import (
    QA_ANCILLARY,
    QA_BITS,
    QA_CLOUD,
    QA_FILLED,
    QA_LOST,
    QA_NODATA,
    QA_SATURATED,
    QA_TERRAIN,
)
from rsarchive.radiometry.solar import earth_sun_distance, solar_angle_grid, solar_angles
from rsarchive.radiometry.toa import encode_reflectance, toa_reflectance

__all__ = [
    "QA_ANCILLARY", "QA_BITS", "QA_CLOUD", "QA_FILLED", "QA_LOST", "QA_NODATA", "QA_SATURATED", "QA_TERRAIN",
    "RADIANCE_UNITS", "REFLECTANCE_ENCODING",
    "BandEqualiser", "Encoding",
    "earth_sun_distance", "encode_reflectance", "equalise_dask", "line_temperatures", "radiance_encoding",
    "solar_angle_grid", "solar_angles", "toa_reflectance",
]
