"""Pipelines declared as data: ``pipelines/<name>.yaml`` (site directory, else the package
data; see :mod:`rsarchive.resources`) is read, validated and run.

A pipeline names its stages (in order), the mission profile, the CPF and
options such as a DEM or GCP refinement.  Stage names are checked against the
stages the code knows, so a typo fails at submission, not in the middle of a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rsarchive.errors import ConfigError, UsageError
from rsarchive.resources import listing, site_or_shipped

INGEST_STAGES = ("store_level0", "decode", "split", "raw", "product", "store", "catalog", "publish")
"""Every stage an ingest pipeline may use, in the only order that makes sense."""



@dataclass(frozen=True)
class StagePlan:
    """Which stages a pipeline runs: one flag per stage of :data:`INGEST_STAGES`."""

    store_level0: bool
    decode: bool
    split: bool
    raw: bool
    product: bool
    store: bool
    catalog: bool
    publish: bool

    @classmethod
    def of(cls, stages: list[str]) -> StagePlan:
        return cls(**{name: name in stages for name in INGEST_STAGES})


CLASSIFICATIONS = ("unclassified", "confidential", "secret", "top-secret")
"""The catalog's words (``rsarchive.catalog.inputs.SECURITY_LEVELS``): any other is refused when the
pipeline is loaded, not when its first item is catalogued."""


class PipelineOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dem: str | None = Field(default=None, description="GeoTIFF of terrain heights (m) for orthorectification")
    refine: bool = Field(default=False, description="GCP refinement against the reference orthoimage")
    reference: str | None = Field(default=None, description="reference orthoimage for GCP refinement")
    classification: Literal[CLASSIFICATIONS] | None = Field(  # type: ignore[valid-type]
        default=None, description="security classification of the items when the reception record states none; "
        "none here either: the items are held (never published) until an officer classifies them")
    publish: bool = Field(default=True, description="publish unclassified items to the public catalog")


class PipelineSpec(BaseModel):
    """One pipeline definition file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["ingest"] = "ingest"
    description: str = ""
    mission: str
    profile: str
    cpf: str
    stages: list[str]
    options: PipelineOptions = PipelineOptions()
    max_attempts: int = Field(default=3, ge=1, le=20)

    @field_validator("stages")
    @classmethod
    def _known_and_ordered(cls, stages: list[str]) -> list[str]:
        unknown = [s for s in stages if s not in INGEST_STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; known: {', '.join(INGEST_STAGES)}")
        if len(set(stages)) != len(stages):
            raise ValueError("a stage is listed twice")
        positions = [INGEST_STAGES.index(s) for s in stages]
        if positions != sorted(positions):
            raise ValueError(f"stages must follow the order {' → '.join(INGEST_STAGES)}")
        if not stages or stages[0] != "store_level0":
            raise ValueError("an ingest pipeline starts with store_level0 (the law keeps level-0 first)")
        return stages

    @property
    def plan(self) -> StagePlan:
        """The stages as flags (what the runner asks)."""
        return StagePlan.of(self.stages)


def available(site: Path | None = None) -> list[str]:
    """Names of the pipelines of the package and of ``site`` (else the site directory)."""
    return [Path(name).stem for name in listing("pipelines", "*.yaml", site)]


def load_pipeline(name_or_path: str, site: Path | None = None) -> PipelineSpec:
    """Read and validate a pipeline by path or by name: ``pipelines/<name>.yaml`` of ``site``
    (else the site directory) or of the package."""
    import yaml

    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = site_or_shipped(f"pipelines/{name_or_path}.yaml", site)
    if not path.is_file():
        raise UsageError(f"unknown pipeline {name_or_path!r}; available: {', '.join(available(site)) or 'none'}")
    try:
        data: Any = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"pipeline {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"pipeline {path} must be a mapping")
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid pipeline {path}: {problems}") from None
