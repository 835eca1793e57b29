"""Fees (Art. 11): cost-only for security, defence and emergencies; the schedule for the rest.

The schedule is data: ``fees.toml`` (site directory, else the package data).  The statement is computed from the
delivered items (one line per level: scenes and km² of footprint) and is part of
the delivery.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsarchive.errors import ConfigError
from rsarchive.resources import site_or_shipped


@dataclass(frozen=True)
class LevelRate:
    per_scene: int
    per_km2: int


@dataclass(frozen=True)
class FeeSchedule:
    """The parsed ``fees.toml``."""

    currency: str
    legal_basis: str
    cost_only_purposes: frozenset[str]
    cost_only_per_request: int
    cost_only_per_scene: int
    per_request: int
    levels: dict[str, LevelRate]
    purpose_factor: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> FeeSchedule:
        """Read and check a fee schedule file."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"fee schedule {path} does not exist") from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read fee schedule {path}: {exc}") from None
        try:
            cost = data["cost_only"]
            sched = data["schedule"]
            levels = {name: LevelRate(int(v["per_scene"]), int(v["per_km2"])) for name, v in sched["levels"].items()}
            schedule = cls(
                currency=str(data.get("currency", "VND")),
                legal_basis=str(data.get("legal_basis", "Decision 81/2010/QĐ-TTg, Art. 11")),
                cost_only_purposes=frozenset(cost["purposes"]),
                cost_only_per_request=int(cost["per_request"]),
                cost_only_per_scene=int(cost["per_scene"]),
                per_request=int(sched["per_request"]),
                levels=levels,
                purpose_factor={k: float(v) for k, v in (sched.get("purpose_factor") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"fee schedule {path} is missing or has a bad value: {exc}") from None
        amounts = [schedule.cost_only_per_request, schedule.cost_only_per_scene, schedule.per_request]
        amounts += [r.per_scene for r in levels.values()] + [r.per_km2 for r in levels.values()]
        if any(a < 0 for a in amounts) or any(f < 0 for f in schedule.purpose_factor.values()):
            raise ConfigError(f"fee schedule {path} has a negative amount or factor")
        return schedule

    def statement(self, purpose: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """The fee statement for delivering ``items`` (each with ``level`` and ``area_km2``)."""
        lines: list[dict[str, Any]] = []
        if purpose in self.cost_only_purposes:
            basis = "Art. 11.1: security, defence or emergency — necessary service cost only"
            basis_vi = ("Điều 11.1: an ninh, quốc phòng, khẩn cấp — "
                        "chỉ thu chi phí dịch vụ cần thiết")
            lines.append({"description": "Request handling (service cost)",
                          "description_vi": "Xử lý yêu cầu (chi phí dịch vụ)", "quantity": 1,
                          "unit": "request", "unit_vi": "yêu cầu",
                          "rate": self.cost_only_per_request, "amount": self.cost_only_per_request})
            if items:
                n = len(items)
                lines.append({"description": "Preparing and verifying delivered items (service cost)",
                              "description_vi": "Chuẩn bị và kiểm tra dữ liệu cung cấp (chi phí dịch vụ)",
                              "quantity": n, "unit": "scene", "unit_vi": "cảnh",
                              "rate": self.cost_only_per_scene,
                              "amount": n * self.cost_only_per_scene})
        else:
            basis = "Art. 11.2: fee per the schedule"
            basis_vi = "Điều 11.2: phí theo biểu phí"
            factor = self.purpose_factor.get(purpose, 1.0)
            lines.append({"description": "Request handling", "description_vi": "Xử lý yêu cầu", "quantity": 1,
                          "unit": "request", "unit_vi": "yêu cầu", "rate": self.per_request,
                          "amount": self.per_request})
            for level in sorted({str(it["level"]) for it in items}):
                rate = self.levels.get(level)
                if rate is None:
                    raise ConfigError(f"fee schedule has no rate for level {level!r}")
                chosen = [it for it in items if it["level"] == level]
                km2 = round(sum(float(it["area_km2"]) for it in chosen), 3)
                lines.append({"description": f"{level}: scenes", "description_vi": f"{level}: số cảnh",
                              "quantity": len(chosen), "unit": "scene", "unit_vi": "cảnh",
                              "rate": rate.per_scene, "amount": round(len(chosen) * rate.per_scene * factor)})
                lines.append({"description": f"{level}: area", "description_vi": f"{level}: diện tích",
                              "quantity": km2, "unit": "km²", "unit_vi": "km²",
                              "rate": rate.per_km2, "amount": round(km2 * rate.per_km2 * factor)})
            if factor != 1.0:
                basis += f" (purpose factor {factor:g} applied to scenes and area)"
                basis_vi += f" (hệ số mục đích {factor:g} áp dụng cho số cảnh và diện tích)"
        return {"currency": self.currency, "purpose": purpose, "basis": basis, "basis_vi": basis_vi,
                "legal_basis": self.legal_basis,
                "lines": lines, "total": int(sum(line["amount"] for line in lines))}


def load_schedule(config_dir: Path | None = None) -> FeeSchedule:
    """The fee schedule ``fees.toml`` of ``config_dir`` (else the site directory), or the package's."""
    return FeeSchedule.load(site_or_shipped("fees.toml", config_dir))
