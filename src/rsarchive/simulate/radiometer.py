"""What the detectors do: at-sensor radiance from reflectance, and the DN forward model.

Radiance (spec §4 TOA formula inverted): ``L = ρ · ESUN_b · cos θ_s / (π d²)``
(0 where the Sun is below the horizon).  Digital numbers (spec §4 forward
model): ``DN = clip(round(G_b · r_b,i · L + D_b,i + k_b·(T − T_ref) + noise), 0,
saturation)``, rounding half to even (``numpy.rint``); dead detectors read 0.
The focal-plane temperature follows :class:`TemperatureProfile`, a slow drift
written to the downlink as housekeeping.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rsarchive.cpf import CPF, BandCalibration

__all__ = ["TemperatureProfile", "radiance_from_reflectance", "forward_model"]


@dataclass(frozen=True)
class TemperatureProfile:
    """Focal-plane temperature (°C) at t seconds after the first image line:
    ``start_c + drift_c_per_s · t + amplitude_c · sin(2π t / period_s)``."""

    start_c: float = 21.5
    drift_c_per_s: float = 0.004
    amplitude_c: float = 0.3
    period_s: float = 600.0

    def at(self, t_s: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t_s, dtype=np.float64)
        return self.start_c + self.drift_c_per_s * t + self.amplitude_c * np.sin(2.0 * math.pi * t / self.period_s)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["formula"] = "T(t) = start_c + drift_c_per_s·t + amplitude_c·sin(2πt/period_s), t from the first line"
        return data


def radiance_from_reflectance(reflectance: np.ndarray, esun: float, cos_sun_zenith: np.ndarray,
                              distance_au: np.ndarray) -> np.ndarray:
    """At-sensor spectral radiance (W m⁻² sr⁻¹ µm⁻¹) of a TOA reflectance."""
    cos_sz = np.maximum(np.asarray(cos_sun_zenith, dtype=np.float64), 0.0)
    d = np.asarray(distance_au, dtype=np.float64)
    return np.asarray(reflectance, dtype=np.float64) * esun * cos_sz / (math.pi * d * d)


def forward_model(
    cpf: CPF,
    band: BandCalibration | str | int,
    radiance: np.ndarray,
    temperature_c: np.ndarray | float,
    noise_dn: np.ndarray | None = None,
    detectors: np.ndarray | None = None,
) -> np.ndarray:
    """DNs (uint16, shape of ``radiance`` (L, D)) the instrument records for ``radiance``.

    ``temperature_c`` broadcasts per line ((L, 1) or scalar); ``noise_dn`` is an
    optional additive noise array in DN; ``detectors`` (D,) selects which
    detectors the columns are (default: all, in order).
    """
    cal = cpf.band(band)
    idx = slice(None) if detectors is None else np.asarray(detectors)
    gain = cal.gain * cal.relative_gain[idx]
    dark = cal.dark[idx]
    temp = np.asarray(temperature_c, dtype=np.float64)
    if temp.ndim == 1:
        temp = temp[:, None]
    value = gain * radiance + dark + cal.dark_temp_coeff * (temp - cpf.t_ref_c)
    if noise_dn is not None:
        value = value + noise_dn
    dn = np.clip(np.rint(value), 0, cal.saturation).astype(np.uint16)
    dead = cal.dead_mask[idx]
    if np.any(dead):
        dn[..., dead] = 0
    return dn
