"""The request form (Art. 8.2) and the other bodies the requests API accepts, as pydantic models.

Validation lists every field's error at once (FastAPI turns it into a 422 with
one entry per field); the same models validate the web form and the CLI.
"""

from __future__ import annotations

import re
from datetime import date
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MIN_DATE = date(1970, 1, 1)

LEVELS: tuple[str, ...] = ("raw", "product", "original")
"""What may be requested: raw image data (L1A), image products (L2A), originals received
from abroad.  Level-0 is never served as imagery (Art. 5.2); copies are for restore only."""


def parse_period(text: str) -> tuple[date, date]:
    """``A/B`` (ISO dates, or datetimes whose date part is used) → (start, end)."""
    from rsarchive.errors import UsageError

    start, sep, end = text.partition("/")
    try:
        if not sep:
            raise ValueError
        return date.fromisoformat(start.strip()[:10]), date.fromisoformat(end.strip()[:10])
    except ValueError:
        raise UsageError(f"period {text!r} is not START/END with ISO dates (e.g. 2024-01-01/2024-06-30)") from None


class Purpose(str, Enum):
    """Purpose categories; the fee rules of the legal basis reduce the first one (60 %) and exempt the last
    (direct requests of the Party's and the State's leaders), see ``fees.toml`` ``[purpose_rules]``."""

    security_defence_emergency = "security_defence_emergency"
    state_management = "state_management"
    research_education = "research_education"
    commercial_other = "commercial_other"
    party_state_leaders = "party_state_leaders"

    @property
    def label(self) -> str:
        return PURPOSE_LABELS[self.value]


PURPOSE_LABELS = {  # Vietnamese first, English second (issue #21)
    "security_defence_emergency": "An ninh, quốc phòng, khẩn cấp / Security, defence, emergency",
    "state_management": "Quản lý nhà nước / State management",
    "research_education": "Nghiên cứu, đào tạo / Research and education",
    "commercial_other": "Thương mại, khác / Commercial and other",
    "party_state_leaders": ("Phục vụ yêu cầu trực tiếp của lãnh đạo Đảng và Nhà nước / "
                            "Direct request of the Party's and the State's leaders"),
}


class Level(str, Enum):
    raw = "raw"
    product = "product"
    original = "original"


class DeliveryFormat(str, Enum):
    """COG is a valid GeoTIFF: both are served as the archived Cloud-Optimised GeoTIFF files."""

    cog = "cog"
    geotiff = "geotiff"


def _reject_nul(value: Any, where: str = "body") -> Any:
    """PostgreSQL text cannot hold NUL characters: refuse them anywhere in a body."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where} contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key, where)
            _reject_nul(item, f"{where}.{key}" if isinstance(key, str) else where)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _reject_nul(item, where)
    return value


class _Body(BaseModel):
    """Base of every body: strict (unknown fields refused), strings stripped, no NUL anywhere."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return _reject_nul(data)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BAND = re.compile(r"^[A-Za-z0-9_.:-]{1,32}$")
_ITEM = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


class Contact(_Body):
    """Who at the organisation answers for the request."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(min_length=3, max_length=254)]
    phone: Annotated[str | None, Field(default=None, max_length=40)] = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not an e-mail address (expected name@domain)")
        return value


class RequestForm(_Body):
    """A data request as submitted (the archive's request form, Art. 8.2(a))."""

    organisation: Annotated[str | None, Field(default=None, max_length=200,
                                              description="defaults to the requester's organisation")] = None
    contact: Contact
    purpose: Purpose
    aoi: Annotated[dict[str, Any] | None, Field(default=None, description="GeoJSON Polygon/MultiPolygon (or Feature) in lon/lat")] = None
    bbox: Annotated[list[float] | None, Field(default=None, description="[west, south, east, north] in degrees")] = None
    start: date
    end: date
    levels: Annotated[list[Level], Field(min_length=1, max_length=3)]
    bands: Annotated[list[str], Field(default_factory=list, max_length=64)]
    items: Annotated[list[str], Field(default_factory=list, max_length=500,
                                      description="specific item ids wanted (optional)")]
    max_cloud_cover: Annotated[float | None, Field(default=None, ge=0, le=100)] = None
    intended_use: Annotated[str, Field(min_length=10, max_length=4000)]
    format: DeliveryFormat = DeliveryFormat.cog

    @field_validator("bands")
    @classmethod
    def _bands(cls, value: list[str]) -> list[str]:
        for band in value:
            if not _BAND.match(band):
                raise ValueError(f"band name {band!r} is not 1-32 letters, digits or _.:-")
        return value

    @field_validator("items")
    @classmethod
    def _items(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _ITEM.match(item):
                raise ValueError(f"item id {item!r} is not 1-200 letters, digits or _.:-")
        return value

    @field_validator("start", "end")
    @classmethod
    def _date_range(cls, value: date) -> date:
        if value < MIN_DATE or value.year > 2100:
            raise ValueError("date must be between 1970-01-01 and 2100-12-31")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RequestForm:
        problems = []
        if self.end < self.start:
            problems.append("end is before start")
        if (self.aoi is None) == (self.bbox is None):
            problems.append("give exactly one of aoi (GeoJSON) or bbox")
        if problems:
            raise ValueError("; ".join(problems))
        from rsarchive.requests.geometry import area_from_form

        area_from_form(self.aoi, self.bbox)  # raises ValueError with the reason
        return self


class Refusal(_Body):
    """A refusal must give its reason in writing (Art. 8.2(c))."""

    reason: Annotated[str, Field(min_length=1, max_length=8000)]


class Approval(_Body):
    """What the officer records when approving: the contract, and whether it allows transfer."""

    contract_ref: Annotated[str | None, Field(default=None, max_length=200)] = None
    third_party_transfer_allowed: bool = False
    note: Annotated[str | None, Field(default=None, max_length=4000)] = None


class Cancellation(_Body):
    reason: Annotated[str | None, Field(default=None, max_length=4000)] = None


class ErrorReportForm(_Body):
    """Art. 9.4: a requester reports an error found in a delivered item."""

    item_id: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(min_length=5, max_length=8000)]


class TriageAction(str, Enum):
    dismiss = "dismiss"
    reprocess = "reprocess"
    withdraw = "withdraw"


class Triage(_Body):
    action: TriageAction
    note: Annotated[str, Field(min_length=1, max_length=4000)]


class Reinstatement(_Body):
    """An officer puts a withdrawn item back into the public catalog."""

    note: Annotated[str, Field(min_length=1, max_length=4000)]


class CoverageQuery(_Body):
    """Art. 10.2: does the archive already cover this area and period?"""

    aoi: Annotated[dict[str, Any] | None, Field(default=None)] = None
    bbox: Annotated[list[float] | None, Field(default=None)] = None
    start: date
    end: date
    max_gsd: Annotated[float | None, Field(default=None, gt=0, le=100000)] = None
    levels: Annotated[list[Level], Field(default_factory=lambda: [Level.raw, Level.product, Level.original],
                                         min_length=1, max_length=3)]
    max_cloud_cover: Annotated[float | None, Field(default=None, ge=0, le=100)] = None

    @field_validator("start", "end")
    @classmethod
    def _date_range(cls, value: date) -> date:
        if value < MIN_DATE or value.year > 2100:
            raise ValueError("date must be between 1970-01-01 and 2100-12-31")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CoverageQuery:
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.aoi is None) == (self.bbox is None):
            raise ValueError("give exactly one of aoi (GeoJSON) or bbox")
        from rsarchive.requests.geometry import area_from_form

        area_from_form(self.aoi, self.bbox)
        return self
