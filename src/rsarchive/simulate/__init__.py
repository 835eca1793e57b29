"""The downlink simulator: a ground-truth scene seen by a CPF-described instrument on a
sun-synchronous orbit over Vietnam, written as a level-0 downlink (through
:mod:`rsarchive.level0.writer`) plus the truth later stages are checked against."""

from __future__ import annotations

__all__ = ["SimulationConfig", "SimulationResult", "simulate_downlink"]


def __getattr__(name: str) -> object:  # lazy: keep `import rsarchive.simulate` light
    if name in __all__:
        from rsarchive.simulate import downlink

        return getattr(downlink, name)
    raise AttributeError(name)
