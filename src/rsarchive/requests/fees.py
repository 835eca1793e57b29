"""The fee statement of a delivery, per Circular 187/2016/TT-BTC as amended by Circular 108/2017/TT-BTC.

Two sources, kept apart:

* the **law** (``law/legal-basis.toml``, :mod:`rsarchive.law`): the article of the fee table (rule ``fee.levels``),
  the 60 % for security, defence and emergencies (``fee.security-defence-emergency``), the exemption of
  direct requests of the Party's and the State's leaders (``fee.exempt-leaders``), the 50 % for data 36 months
  old or older (``fee.age-reduction``, its age a period in months);
* the **table** (``fees.toml``, site directory else the package's): the rows of the Circular's fee table and
  which purpose takes which rule.

Every delivered item is one line: its row of the table (by level and GSD), its age at the delivery date
(acquisition date in Vietnam → delivery date), the reductions that apply, and the articles cited.

How the reductions combine
--------------------------
Art. 3.2 sets the security/defence/emergency fee at 60 % "of the fee set in clause 1" (mức phí quy định tại
khoản 1 Điều này), and the age reduction sets the fee *level* of old data at 50 % of the table's rate (read as
part of clause 1; the clause is not confirmed, see the rule's ``source``).  So the 60 % applies to the already
halved fee: the reductions **multiply** (old data for security use pays 60 % × 50 % = 30 % of the table's
rate).  The exemption (Art. 3.3) makes every line 0.  Each line is rounded to whole đồng (half up).
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rsarchive.errors import ConfigError
from rsarchive.law import LegalBasis, Rule, calendar, load_basis
from rsarchive.resources import site_or_shipped

LEVELS_RULE = "fee.levels"
AGE_RULE = "fee.age-reduction"
_UNIT_WORDS = {"scene": ("cảnh", "scene"), "km2": ("km²", "km²")}


class FeeRow(BaseModel):
    """One row of the fee table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1)
    label_vi: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    level: str = Field(min_length=1)
    min_gsd_m: float | None = Field(default=None, ge=0)
    max_gsd_m: float | None = Field(default=None, gt=0)
    unit: Literal["scene", "km2"]
    rate: int = Field(ge=0)
    placeholder: bool = False

    def matches(self, level: str, gsd: float | None) -> bool:
        if level != self.level:
            return False
        if gsd is None:
            return self.min_gsd_m is None and self.max_gsd_m is None
        return (self.min_gsd_m is None or gsd >= self.min_gsd_m) and (self.max_gsd_m is None or gsd < self.max_gsd_m)


class FeeSchedule(BaseModel):
    """The parsed ``fees.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = "VND"
    source: str = ""
    purpose_rules: dict[str, str] = Field(default_factory=dict)
    rows: list[FeeRow] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> FeeSchedule:
        keys = [row.key for row in self.rows]
        if len(set(keys)) != len(keys):
            raise ValueError(f"row keys are not unique: {keys}")
        return self

    @classmethod
    def load(cls, path: Path) -> FeeSchedule:
        """Read and check a fee table file."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"fee schedule {path} does not exist") from None
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read fee schedule {path}: {exc}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"fee schedule {path} is missing or has a bad value: {problems}") from None

    def row_for(self, level: str, gsd: float | None) -> FeeRow:
        for row in self.rows:
            if row.matches(level, gsd):
                return row
        raise ConfigError(f"the fee table has no row for level {level!r} at GSD {gsd} m")

    def purpose_rule(self, purpose: str, basis: LegalBasis) -> Rule | None:
        key = self.purpose_rules.get(purpose)
        return basis.rule(key) if key else None

    def statement(self, purpose: str, items: list[dict[str, Any]], delivered_on: date,
                  basis: LegalBasis | None = None) -> dict[str, Any]:
        """The fee statement for delivering ``items`` on ``delivered_on``.

        Each item needs ``id``, ``level``, ``datetime`` (acquisition, ISO) and, for per-km² rows, ``area_km2``;
        ``gsd`` (m) chooses among rows of one level."""
        basis = basis or load_basis()
        levels_rule, age_rule = basis.rule(LEVELS_RULE), basis.rule(AGE_RULE)
        purpose_rule = self.purpose_rule(purpose, basis)
        lines = [_line(self.row_for(str(it["level"]), _gsd(it)), it, delivered_on, levels_rule, age_rule,
                       purpose_rule) for it in items]
        total = sum(line["amount"] for line in lines)
        exempt = purpose_rule is not None and purpose_rule.rate_percent == 0
        applied = [levels_rule] + ([purpose_rule] if purpose_rule else [])
        if any(AGE_RULE in line["rules"] for line in lines):
            applied.append(age_rule)
        placeholder = any(line["placeholder"] for line in lines)
        who = basis.authority
        return {
            "issuer_vi": f"{who.archive('vi')} — {who.ministry('vi')}",
            "issuer": f"{who.archive('en')} — {who.ministry('en')}",
            "currency": self.currency, "purpose": purpose, "delivered_on": delivered_on.isoformat(),
            "lines": lines, "total": int(total), "exempt": exempt,
            "basis_vi": "; ".join(rule.cite("vi") for rule in applied),
            "basis": "; ".join(rule.cite("en") for rule in applied),
            "placeholder_rates": placeholder,
            "note_vi": ("Mức thu trong biểu là giá trị tạm (chưa đối chiếu Biểu mức thu phí của Thông tư)."
                        if placeholder else ""),
            "note": "The table's rates are placeholders (not checked against the Circular's fee table)."
                    if placeholder else "",
            "table_source": self.source,
        }


def _gsd(item: dict[str, Any]) -> float | None:
    value = item.get("gsd")
    return float(value) if value is not None else None


def acquisition_date(item: dict[str, Any]) -> date:
    """The item's acquisition date in Vietnam (from its ISO ``datetime``)."""
    text = item.get("datetime")
    if not text:
        raise ConfigError(f"item {item.get('id')!r} has no acquisition datetime; its age cannot be told")
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return calendar.receipt_date(moment)


def is_old(acquired: date, delivered_on: date, age_rule: Rule) -> bool:
    """True when the data is at least the rule's age (e.g. 36 months) on ``delivered_on``."""
    return age_rule.period.calendar_end(acquired) <= delivered_on


def _line(row: FeeRow, item: dict[str, Any], delivered_on: date, levels_rule: Rule, age_rule: Rule,
          purpose_rule: Rule | None) -> dict[str, Any]:
    acquired = acquisition_date(item)
    quantity = Decimal(1) if row.unit == "scene" else Decimal(str(round(float(item.get("area_km2") or 0.0), 3)))
    base = quantity * row.rate
    amount = base
    rules = [levels_rule]
    if is_old(acquired, delivered_on, age_rule):
        amount *= Decimal(str(age_rule.rate_percent)) / 100
        rules.append(age_rule)
    if purpose_rule is not None:
        amount *= Decimal(str(purpose_rule.rate_percent)) / 100
        rules.append(purpose_rule)
    percent = (amount / base * 100) if base else Decimal(100)
    unit_vi, unit_en = _UNIT_WORDS[row.unit]
    return {
        "item_id": item.get("id"), "level": row.level, "gsd": _gsd(item), "row": row.key,
        "acquired": acquired.isoformat(), "placeholder": row.placeholder,
        "description_vi": f"{row.label_vi} — {item.get('id')}", "description": f"{row.label_en} — {item.get('id')}",
        "quantity": float(quantity) if row.unit == "km2" else 1, "unit_vi": unit_vi, "unit": unit_en,
        "rate": row.rate, "base_amount": int(base.quantize(Decimal(1), ROUND_HALF_UP)),
        "percent": float(percent.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "amount": int(amount.quantize(Decimal(1), ROUND_HALF_UP)),
        "rules": [rule.key for rule in rules],
        "cite_vi": "; ".join(rule.cite("vi") for rule in rules),
        "cite": "; ".join(rule.cite("en") for rule in rules),
    }


def load_schedule(config_dir: Path | None = None) -> FeeSchedule:
    """The fee table ``fees.toml`` of ``config_dir`` (else the site directory), or the package's."""
    return FeeSchedule.load(site_or_shipped("fees.toml", config_dir))

