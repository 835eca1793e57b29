"""Simulated downlinks for tests, benchmarks and the demo (``from rsarchive.testing import small_downlink``).

``small_downlink`` simulates a short, clean (or impaired) pass with the small
CPF (256 MS / 1024 PAN detectors): one scene is 256 MS lines (0.38 s of
imagery, ≈ 2 MB of level-0) and takes about two seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["SMALL_CPF", "small_downlink"]

SMALL_CPF = "vnredsat1-small"


def small_downlink(
    tmp_path: str | Path,
    scenes: int = 1,
    *,
    name: str = "pass.cadu",
    scene: Any = None,
    write_truth_dn: bool = True,
    write_truth_radiance: bool = True,
    config: dict[str, Any] | None = None,
    **impairments: int,
) -> Any:
    """A simulated downlink in ``tmp_path`` with the small CPF; impairments as keyword counts.

    ``scene`` is a :class:`rsarchive.simulate.scene.SceneSpec` (default: procedural);
    ``config`` holds further :class:`~rsarchive.simulate.downlink.SimulationConfig`
    fields (``attitude_bias_rad``, ``jitter``, ``noise_dn``, ``seed`` …).  The truth
    DNs and radiance are written by default (they are small).  Returns the
    :class:`~rsarchive.simulate.downlink.SimulationResult`.
    """
    from rsarchive.simulate.downlink import SimulationConfig, simulate_downlink
    from rsarchive.simulate.scene import SceneSpec

    tmp = Path(tmp_path)
    options = dict(config or {})
    options.setdefault("cpf", SMALL_CPF)
    cfg = SimulationConfig(scenes=scenes, scene=scene or SceneSpec(), impairments=dict(impairments),
                           write_truth_dn=write_truth_dn, write_truth_radiance=write_truth_radiance, **options)
    return simulate_downlink(cfg, tmp / name, tmp / (Path(name).stem + ".truth"))
