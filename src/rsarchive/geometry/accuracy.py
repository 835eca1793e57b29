"""Geometric accuracy measures: RMSE and CE90 of check-point displacements, band-to-band registration.

Displacements are ground vectors (east, north) in metres between where the
product puts a feature and where the reference (GCPs, a reference orthoimage,
or the simulator's truth in tests) has it.  ``rmse`` is the root mean square of
the radial displacement; ``ce90`` the radius containing 90 % of the check
points (empirical quantile — with fewer than 10 points it is the largest one);
both in metres and in pixels of the product grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rsarchive.errors import ProcessingError

__all__ = ["BandRegistration", "displacement_stats", "matches_to_displacements", "band_registration",
           "absolute_accuracy", "chip_step"]


def displacement_stats(east_m: Any, north_m: Any, pixel_m: float) -> dict[str, Any]:
    """RMSE, CE90, mean and maximum of displacements (metres) and the same in pixels."""
    e = np.asarray(east_m, dtype=np.float64).ravel()
    n = np.asarray(north_m, dtype=np.float64).ravel()
    if e.size == 0:
        return {"count": 0, "rmse_m": None, "rmse_px": None, "ce90_m": None, "ce90_px": None,
                "mean_east_m": None, "mean_north_m": None, "max_m": None}
    r = np.hypot(e, n)
    rmse = float(np.sqrt(np.mean(r**2)))
    ce90 = float(np.quantile(r, 0.9)) if r.size >= 10 else float(r.max())
    return {"count": int(e.size), "rmse_m": rmse, "rmse_px": rmse / pixel_m, "ce90_m": ce90,
            "ce90_px": ce90 / pixel_m, "mean_east_m": float(e.mean()), "mean_north_m": float(n.mean()),
            "max_m": float(r.max()), "pixel_m": pixel_m}


def matches_to_displacements(matches: list[Any], resolution_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Chip matches (dy, dx in grid pixels: product content found at +dy rows, +dx cols in the reference)
    → displacement of the product from the reference, east and north in metres."""
    dy = np.array([m.dy for m in matches], dtype=np.float64)
    dx = np.array([m.dx for m in matches], dtype=np.float64)
    # the feature is at +dx (east) and +dy rows (south) in the reference: the product is off by the opposite
    return -dx * resolution_m, dy * resolution_m


def chip_step(shape: tuple[int, ...], chip: int, max_chips: int | None) -> int:
    """Lattice step of chips (at least half a chip) so that at most about ``max_chips`` are tried."""
    import math

    if not max_chips:
        return chip // 2
    rows, cols = shape[:2]
    return max(chip // 2, math.ceil(math.sqrt(max(rows - chip, 1) * max(cols - chip, 1) / max_chips)))


def absolute_accuracy(image: np.ndarray, reference: np.ndarray, resolution_m: float, chip: int = 64,
                      max_chips: int | None = 256, gradient: bool = False) -> dict[str, Any]:
    """Displacement STATS of a band's product image from a reference orthoimage on the same grid (NaN =
    no data): chips matched, outliers rejected (``gradient``: match gradient magnitudes, for a reference
    of another spectral band)."""
    from rsarchive.geometry.refine import match_chips, robust_inliers

    matches = match_chips(image, reference, chip=chip, step=chip_step(image.shape, chip, max_chips),
                          gradient=gradient)
    keep = robust_inliers(matches)
    east, north = matches_to_displacements([m for m, k in zip(matches, keep) if k], resolution_m)
    return {**displacement_stats(east, north, resolution_m), "rejected": int((~keep).sum()) if len(matches) else 0}


class BandRegistration:
    """Band-to-band registration of co-gridded bands against a reference band, measured one band at a
    time (the product measures each band as soon as it and the reference are made).

    :meth:`set_reference` first (the costly preparation of the reference), then :meth:`add` per band,
    then :meth:`result`; :meth:`add` before :meth:`set_reference` raises
    :class:`~rsarchive.errors.ProcessingError`.  Not thread-safe: one thread at a time, in that order
    (the product uses a one-thread pool).  Chips lie on a regular lattice (step ``chip // 2``)
    widened so that at most about ``max_chips`` positions are tried per band (None: every half-chip).
    (why: docs/DECISIONS.md, Image matching and band-to-band registration: precision and cost)
    """

    def __init__(self, reference: str, resolution_m: float, chip: int = 64, max_chips: int | None = 256) -> None:
        self.reference, self.resolution_m, self.chip, self.max_chips = reference, resolution_m, chip, max_chips
        self._prepared: Any = None
        self._step = chip // 2
        self._bands: dict[str, dict[str, Any]] = {}

    def set_reference(self, image: np.ndarray) -> None:
        from rsarchive.geometry.refine import prepare_reference

        self._step = chip_step(image.shape, self.chip, self.max_chips)
        self._prepared = prepare_reference(image, gradient=True)  # once, for every band

    def add(self, name: str, image: np.ndarray) -> None:
        """Measure band ``name`` (its image on the reference's grid) against the reference."""
        from rsarchive.geometry.refine import match_chips, robust_inliers

        if self._prepared is None:
            raise ProcessingError(f"band {name} registered before the reference band {self.reference}")
        matches = match_chips(image, self._prepared, chip=self.chip, step=self._step, gradient=True)
        keep = robust_inliers(matches, floor_px=0.3)
        good = [m for m, k in zip(matches, keep) if k]
        if not good:
            self._bands[name] = {"count": 0, "shift_px": None, "rms_px": None}
            return
        east, north = matches_to_displacements(good, 1.0)
        rms = float(np.sqrt(np.mean(east**2 + north**2)))
        stats = displacement_stats(east * self.resolution_m, north * self.resolution_m, self.resolution_m)
        self._bands[name] = {"count": len(good), "rejected": len(matches) - len(good),
                             "shift_px": [float(east.mean()), float(north.mean())],
                             "rms_px": rms, "rms_m": rms * self.resolution_m,
                             "ce90_m": stats["ce90_m"], "ce90_px": stats["ce90_px"]}

    def result(self) -> dict[str, Any]:
        """Per band: mean shift (east, north) in pixels, RMS (px, m) and CE90 (px, m) of the chip shifts,
        number of chips."""
        worst = max((b["rms_px"] for b in self._bands.values() if b["rms_px"] is not None), default=0.0)
        return {"reference_band": self.reference,
                "method": "gradient-magnitude phase correlation "
                          f"+ Lucas–Kanade on {self.chip}-px chips every {self._step} px, median-consensus outlier "
                          "rejection",
                "bands": dict(self._bands), "max_rms_px": worst}


def band_registration(images: dict[str, np.ndarray], reference: str, resolution_m: float,
                      chip: int = 64, max_chips: int | None = 256) -> dict[str, Any]:
    """Band-to-band registration of co-gridded bands against ``reference`` (gradient-magnitude matching),
    all at once: :class:`BandRegistration`."""
    registration = BandRegistration(reference, resolution_m, chip, max_chips)
    registration.set_reference(images[reference])
    for name, image in images.items():
        if name != reference:
            registration.add(name, image)
    return registration.result()
