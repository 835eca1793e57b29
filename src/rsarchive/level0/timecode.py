"""CCSDS time codes ↔ UTC, through a leap-second table kept in configuration.

* CUC (CCSDS 301.0-B §3.2, P-field implicit): 4 octets of whole seconds and 2 octets
  of 1/65536 s since 1958-01-01T00:00:00 **TAI**.
* CDS (§3.3, used by JPSS/Suomi-NPP): 2 octets day, 4 octets millisecond of day,
  2 octets microsecond since 1958-01-01, read as UTC.

UTC = TAI − (TAI − UTC), the difference coming from ``leap-seconds.yaml`` of the package
data or the site directory (the full historical table, 37 s since 2017-01-01).  Before 1961 the difference is
taken as 0.  A TAI instant that falls inside an inserted leap second (23:59:60 UTC,
which neither ``datetime`` nor ``datetime64`` can hold) is reported as the last
representable instant before midnight (23:59:59.999999), so decoded times never go
backwards.  Scalar functions use timezone-aware ``datetime`` (µs); the array
functions use ``datetime64[ns]``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from rsarchive.errors import ConfigError, DecodeError
from rsarchive.resources import site_or_shipped

__all__ = [
    "CUC_EPOCH",
    "LeapSecondTable",
    "cds_to_utc_array",
    "cuc_to_utc",
    "cuc_to_utc_array",
    "leap_seconds",
    "tai_minus_utc",
    "utc_to_cuc",
    "utc_to_cuc_array",
]

CUC_EPOCH = dt.datetime(1958, 1, 1, tzinfo=dt.timezone.utc)
"""The CUC epoch, 1958-01-01T00:00:00 (on the TAI scale)."""

_NS = 1_000_000_000
_EPOCH_NS = int(np.datetime64("1958-01-01T00:00:00", "ns").astype(np.int64))
_MJD_UNIX_EPOCH = 40587  # MJD of 1970-01-01
_DAY_NS = 86_400 * _NS


@dataclass(frozen=True)
class LeapSecondTable:
    """TAI − UTC as a step (and, before 1972, drift) function of UTC."""

    start_ns: np.ndarray      # UTC start of each entry, ns since 1970 (int64)
    offset_s: np.ndarray      # float64
    drift_mjd: np.ndarray     # float64
    drift_s_per_day: np.ndarray  # float64
    source: str = ""

    def _entry_offset_ns(self, idx: np.ndarray, utc_ns: np.ndarray) -> np.ndarray:
        valid = idx >= 0
        i = np.clip(idx, 0, None)
        mjd = utc_ns / _DAY_NS + _MJD_UNIX_EPOCH
        off = self.offset_s[i] + (mjd - self.drift_mjd[i]) * self.drift_s_per_day[i]
        return np.where(valid, np.rint(off * _NS), 0).astype(np.int64)

    def offset_ns(self, utc_ns: np.ndarray) -> np.ndarray:
        """TAI − UTC (ns, int64) at the given UTC instants (ns since 1970)."""
        utc_ns = np.asarray(utc_ns, dtype=np.int64)
        idx = np.searchsorted(self.start_ns, utc_ns, side="right") - 1
        return self._entry_offset_ns(idx, utc_ns)

    def tai_to_utc_ns(self, tai_ns: np.ndarray) -> np.ndarray:
        """UTC (ns since 1970) of TAI instants given as ns since 1970 on the TAI scale."""
        tai_ns = np.asarray(tai_ns, dtype=np.int64)
        entry_tai = self.start_ns + self.offset_ns(self.start_ns)
        idx = np.searchsorted(entry_tai, tai_ns, side="right") - 1
        # Fixed point UTC = TAI − offset_idx(UTC): exact for steps, sub-ns for the
        # pre-1972 drift (≤ 0.003 s/day).
        utc = tai_ns.copy()
        for _ in range(3):
            utc = tai_ns - self._entry_offset_ns(idx, utc)
        # Inside an inserted leap second the entry in force puts UTC past the next
        # entry's start: freeze at the last nanosecond before it.
        has_next = (idx + 1) < len(self.start_ns)
        nxt_start = self.start_ns[np.clip(idx + 1, 0, len(self.start_ns) - 1)]
        return np.where(has_next & (utc >= nxt_start), nxt_start - 1, utc)


def _date_ns(value: object) -> int:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if not isinstance(value, dt.date):
        raise TypeError(f"not a date: {value!r}")
    return (value - dt.date(1970, 1, 1)).days * _DAY_NS


def load_leap_seconds(path: Path) -> LeapSecondTable:
    """Read a leap-second table (see the package's ``data/leap-seconds.yaml``)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        entries = sorted(raw["entries"], key=lambda e: _date_ns(e["utc"]))
        start = np.array([_date_ns(e["utc"]) for e in entries], dtype=np.int64)
        offset = np.array([float(e["offset_s"]) for e in entries])
        drift_mjd = np.array([float(e.get("drift_mjd", 0)) for e in entries])
        drift = np.array([float(e.get("drift_s_per_day", 0)) for e in entries])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"cannot read leap-second table {path}: {exc!r}") from None
    if len(start) == 0:
        raise ConfigError(f"leap-second table {path} has no entries")
    return LeapSecondTable(start, offset, drift_mjd, drift, str(path))


@lru_cache(maxsize=4)
def leap_seconds(config_dir: Path | None = None) -> LeapSecondTable:
    """The leap-second table ``leap-seconds.yaml`` of ``config_dir`` (else the site directory), or
    the package's (cached)."""
    return load_leap_seconds(site_or_shipped("leap-seconds.yaml", config_dir))


def tai_minus_utc(utc: dt.datetime, table: LeapSecondTable | None = None) -> float:
    """TAI − UTC in seconds at a UTC instant."""
    table = table or leap_seconds()
    return float(table.offset_ns(np.array([_datetime_ns(utc)]))[0]) / _NS


def _datetime_ns(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000


# --- CUC --------------------------------------------------------------------------
def cuc_to_utc_array(seconds: np.ndarray, fraction: np.ndarray, table: LeapSecondTable | None = None) -> np.ndarray:
    """Vectorised CUC → UTC: ``datetime64[ns]`` for arrays of seconds and 1/65536 fractions."""
    table = table or leap_seconds()
    sec = np.asarray(seconds, dtype=np.int64)
    frac = np.asarray(fraction, dtype=np.int64)
    tai = _EPOCH_NS + sec * _NS + ((frac * _NS + 32768) >> 16)
    return table.tai_to_utc_ns(tai).astype("datetime64[ns]")


def utc_to_cuc_array(times: np.ndarray, table: LeapSecondTable | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised UTC (``datetime64``) → CUC: (seconds uint32, fraction uint16)."""
    table = table or leap_seconds()
    utc = np.asarray(times).astype("datetime64[ns]").astype(np.int64)
    tai = utc + table.offset_ns(utc) - _EPOCH_NS
    if np.any(tai < 0):
        raise DecodeError("a time before the CUC epoch 1958-01-01 TAI cannot be coded")
    sec = tai // _NS
    frac = ((tai - sec * _NS) * 65536 + _NS // 2) // _NS
    carry = frac >= 65536
    sec = sec + carry
    frac = np.where(carry, frac - 65536, frac)
    if np.any(sec >= 2**32):
        raise DecodeError("a time after 2094 does not fit a 4-octet CUC")
    return sec.astype(np.uint32), frac.astype(np.uint16)


def cuc_to_utc(seconds: int, fraction: int, table: LeapSecondTable | None = None) -> dt.datetime:
    """CUC (whole seconds, 1/65536 s since 1958-01-01 TAI) → timezone-aware UTC datetime (µs)."""
    if not (0 <= seconds < 2**32 and 0 <= fraction < 65536):
        raise DecodeError(f"CUC value out of range: seconds={seconds}, fraction={fraction}")
    ns = int(cuc_to_utc_array(np.array([seconds]), np.array([fraction]), table)[0].astype(np.int64))
    micro = ns // 1000 if ns % 1000 == 999 else (ns + 500) // 1000  # keep a frozen leap second before midnight
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micro)


def utc_to_cuc(utc: dt.datetime, table: LeapSecondTable | None = None) -> tuple[int, int]:
    """UTC datetime (naive = UTC) → CUC (seconds, fraction)."""
    sec, frac = utc_to_cuc_array(np.array([_datetime_ns(utc)], dtype="datetime64[ns]"), table)
    return int(sec[0]), int(frac[0])


# --- CDS --------------------------------------------------------------------------
def cds_to_utc_array(days: np.ndarray, millis: np.ndarray, micros: np.ndarray | None = None) -> np.ndarray:
    """CDS (day since 1958-01-01, ms of day, µs of ms) → ``datetime64[ns]`` (UTC scale)."""
    ns = (_EPOCH_NS + np.asarray(days, dtype=np.int64) * _DAY_NS
          + np.asarray(millis, dtype=np.int64) * 1_000_000)
    if micros is not None:
        ns = ns + np.asarray(micros, dtype=np.int64) * 1000
    return ns.astype("datetime64[ns]")
