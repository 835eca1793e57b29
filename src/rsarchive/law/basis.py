"""The legal basis as configuration: instruments, rules (article + time limit) and the responsible bodies.

Read from ``law/legal-basis.toml`` (the site directory's, else the package's).  Letters, licences, fee
statements, deadlines and reports cite what this says, so a change in the law is a change of that file:

>>> basis = load_basis()
>>> basis.rule("request.reply").cite("vi")
'Điều 8.2(c) Quyết định 81/2010/QĐ-TTg'
>>> basis.rule("request.reply").period.describe("en")
'7 working days'
"""

from __future__ import annotations

import tomllib
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rsarchive.errors import ConfigError
from rsarchive.law.periods import Period, Unit
from rsarchive.resources import site_or_shipped

BASIS_FILE = "law/legal-basis.toml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Authority(_Model):
    """The ministry responsible for the national database, and the archive that issues letters."""

    ministry_vi: str
    ministry_en: str
    ministry_since: date
    previous_ministry_vi: str = ""
    previous_ministry_en: str = ""
    ministry_basis: str = ""
    ministry_confirmed: bool = False
    archive_vi: str
    archive_en: str
    # The custodian of the data (Circular 09/2017/TT-BTNMT, Art. 7.1(y): name, address, telephone, e-mail).
    custodian_address: str = ""
    custodian_city: str = ""
    custodian_country: str = ""
    custodian_phone: str = Field(default="", pattern=r"^(\+[1-9][0-9]{3,14})?$")
    custodian_email: str = ""
    custodian_confirmed: bool = False

    def custodian_contact(self) -> dict[str, Any]:
        """The custodian as a STAC ``contacts`` entry (contacts extension v0.1.1), Vietnamese first."""
        contact: dict[str, Any] = {"name": f"{self.archive_vi} / {self.archive_en}",
                                   "organization": f"{self.ministry_vi} / {self.ministry_en}",
                                   "roles": ["custodian"]}
        address = {k: v for k, v in (("deliveryPoint", [self.custodian_address] if self.custodian_address else None),
                                     ("city", self.custodian_city), ("country", self.custodian_country)) if v}
        if address:
            contact["addresses"] = [address]
        if self.custodian_phone:
            contact["phones"] = [{"value": self.custodian_phone}]
        if self.custodian_email:
            contact["emails"] = [{"value": self.custodian_email}]
        return contact

    def ministry(self, lang: str = "vi") -> str:
        return self.ministry_vi if lang == "vi" else self.ministry_en

    def archive(self, lang: str = "vi") -> str:
        return self.archive_vi if lang == "vi" else self.archive_en


class Instrument(_Model):
    """A legal instrument (decision, decree, circular, law)."""

    number: str
    kind_vi: str
    kind_en: str
    title_vi: str
    title_en: str
    issued: date | None = None
    in_force: date | None = None
    amended_by: list[str] = Field(default_factory=list)
    status: str = "in_force"
    status_note_vi: str = ""
    status_note_en: str = ""
    confirmed: bool = False
    source: str = ""

    def name(self, lang: str = "vi") -> str:
        """``Quyết định 81/2010/QĐ-TTg`` / ``Decision 81/2010/QĐ-TTg``."""
        return f"{self.kind_vi if lang == 'vi' else self.kind_en} {self.number}"


class PeriodSpec(_Model):
    count: int
    unit: Unit


class Rule(_Model):
    """One duty or right: the article it rests on, its text, and its time limit if it has one."""

    key: str = ""
    instrument: str
    article: str
    text_vi: str
    text_en: str
    period_spec: PeriodSpec | None = Field(default=None, alias="period")
    extended_period_spec: PeriodSpec | None = Field(default=None, alias="extended_period")
    rate_percent: float | None = Field(default=None, ge=0, le=100,
                                       description="the share of the fee the rule sets, in per cent")
    amended_by: str = Field(default="", description="key of the instrument that gave the article its wording")
    confirmed: bool = False
    source: str = ""
    instrument_ref: Instrument | None = None
    amended_by_ref: Instrument | None = None

    @property
    def period(self) -> Period:
        """The rule's time limit (a :class:`ConfigError` when it has none)."""
        if self.period_spec is None:
            raise ConfigError(f"rule {self.key!r} of the legal basis has no time limit")
        return Period(self.period_spec.count, self.period_spec.unit)

    @property
    def extended_period(self) -> Period | None:
        spec = self.extended_period_spec
        return Period(spec.count, spec.unit) if spec else None

    def text(self, lang: str = "vi") -> str:
        return self.text_vi if lang == "vi" else self.text_en

    def cite(self, lang: str = "vi") -> str:
        """``Điều 8.2(c) Quyết định 81/2010/QĐ-TTg`` / ``Art. 8.2(c), Decision 81/2010/QĐ-TTg``;
        the instrument alone when the rule names no article; ``(sửa đổi bởi …)`` / ``(as amended by …)``
        when ``amended_by`` names the amending instrument."""
        assert self.instrument_ref is not None
        name = self.instrument_ref.name(lang)
        if self.article in ("", "—"):
            cited = name
        else:
            cited = f"Điều {self.article} {name}" if lang == "vi" else f"Art. {self.article}, {name}"
        if self.amended_by_ref is not None:
            amending = self.amended_by_ref.name(lang)
            cited += f" (sửa đổi bởi {amending})" if lang == "vi" else f" (as amended by {amending})"
        return cited

    @property
    def fraction(self) -> float:
        """``rate_percent`` as a fraction (a :class:`ConfigError` when the rule sets no rate)."""
        if self.rate_percent is None:
            raise ConfigError(f"rule {self.key!r} of the legal basis sets no rate_percent")
        return self.rate_percent / 100.0


class LegalBasis(_Model):
    """The parsed legal-basis file."""

    authority: Authority
    instruments: dict[str, Instrument]
    rules: dict[str, Rule]
    path: Path | None = None

    @model_validator(mode="after")
    def _link(self) -> LegalBasis:
        for key, rule in self.rules.items():
            if rule.instrument not in self.instruments:
                raise ValueError(f"rule {key!r} cites unknown instrument {rule.instrument!r}")
            object.__setattr__(rule, "key", key)
            object.__setattr__(rule, "instrument_ref", self.instruments[rule.instrument])
            if rule.amended_by:
                if rule.amended_by not in self.instruments:
                    raise ValueError(f"rule {key!r} is amended by unknown instrument {rule.amended_by!r}")
                object.__setattr__(rule, "amended_by_ref", self.instruments[rule.amended_by])
            if rule.period_spec is not None:
                rule.period  # noqa: B018 — checks the count and unit now, not when a clock first runs
        return self

    def rule(self, key: str) -> Rule:
        try:
            return self.rules[key]
        except KeyError:
            raise ConfigError(f"the legal basis ({self.path}) has no rule {key!r}") from None

    def instrument(self, key: str) -> Instrument:
        try:
            return self.instruments[key]
        except KeyError:
            raise ConfigError(f"the legal basis ({self.path}) has no instrument {key!r}") from None

    def unconfirmed(self) -> list[str]:
        """Instruments and rules that rest on a secondary source (to be checked before relied upon)."""
        out = [f"instrument {k}" for k, v in self.instruments.items() if not v.confirmed]
        out += [f"rule {k}" for k, v in self.rules.items() if not v.confirmed]
        if not self.authority.ministry_confirmed:
            out.append("authority ministry")
        if not self.authority.custodian_confirmed:
            out.append("authority custodian contact")
        return out

    @classmethod
    def load(cls, path: Path) -> LegalBasis:
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"legal basis {path} does not exist") from None
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read legal basis {path}: {exc}") from None
        try:
            return cls.model_validate({**data, "path": path})
        except (ValidationError, ConfigError) as exc:
            raise ConfigError(f"legal basis {path} is not valid: {exc}") from None


@lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int) -> LegalBasis:
    return LegalBasis.load(path)


def load_basis(site: str | Path | None = None) -> LegalBasis:
    """The legal basis of the site directory ``site`` (else ``$RSARCHIVE_SITE_DIR``), or the package's."""
    path = site_or_shipped(BASIS_FILE, site)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise ConfigError(f"legal basis {path} does not exist") from None
    return _load_cached(path, mtime)
