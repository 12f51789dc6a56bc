"""Public alerts (CAP 1.2) as the composer sends them and as the API returns them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from emsync.emergency.cap import not_xml_chars
from emsync.emergency.schemas import Lat, Lon, Strict, UtcDatetime

Category = Literal[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
]
ResponseType = Literal[
    "Shelter",
    "Evacuate",
    "Prepare",
    "Execute",
    "Avoid",
    "Monitor",
    "Assess",
    "AllClear",
    "None",
]


class CircleIn(Strict):
    lat: Lat
    lon: Lon
    radius_km: float = Field(gt=0, le=5000)


class GeocodeIn(Strict):
    name: str = Field(min_length=1, max_length=60, description="valueName, e.g. FIPS6")
    value: str = Field(min_length=1, max_length=60)


class AreaIn(Strict):
    @model_validator(mode="before")
    @classmethod
    def _xml_text_only(cls, data: object) -> object:
        desc = data.get("desc") if isinstance(data, dict) else None
        if isinstance(desc, str) and not_xml_chars(desc):
            raise ValueError("desc contains control characters XML cannot carry")
        return data

    desc: str = Field(min_length=1, max_length=300, description="areaDesc")
    polygons: list[list[tuple[float, float]]] = Field(
        default_factory=list, max_length=20, description="rings of [lat, lon], closed"
    )
    circles: list[CircleIn] = Field(default_factory=list, max_length=20)
    geocodes: list[GeocodeIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _has_shape(self) -> Self:
        if not (self.polygons or self.circles or self.geocodes):
            raise ValueError("an area needs a polygon, a circle or a geocode")
        return self


class PublicAlertCompose(Strict):
    """One CAP `<info>` block and its areas; the server fills identifier, sender and times."""

    @model_validator(mode="before")
    @classmethod
    def _xml_text_only(cls, data: object) -> object:
        # Control characters cannot travel in XML: refuse them here, naming the field.
        if isinstance(data, dict):
            for name, value in data.items():
                if isinstance(value, str) and not_xml_chars(value):
                    raise ValueError(f"{name} contains control characters XML cannot carry")
        return data

    status: Literal["Actual", "Exercise", "System", "Test", "Draft"] = "Actual"
    scope: Literal["Public", "Restricted", "Private"] = "Public"
    categories: list[Category] = Field(min_length=1, max_length=12)
    event: str = Field(min_length=1, max_length=120)
    response_types: list[ResponseType] = Field(default_factory=list, max_length=9)
    urgency: Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
    severity: Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
    certainty: Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
    headline: str | None = Field(default=None, max_length=160)
    description: str | None = Field(default=None, max_length=4000)
    instruction: str | None = Field(default=None, max_length=4000)
    web: str | None = Field(default=None, max_length=500)
    contact: str | None = Field(default=None, max_length=200)
    language: str = Field(default="en-US", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    onset: UtcDatetime | None = None
    expires: UtcDatetime | None = None
    areas: list[AreaIn] = Field(min_length=1, max_length=20)
    note: str | None = Field(default=None, max_length=500)


class PublicAlertCancel(Strict):
    note: str = Field(min_length=1, max_length=500, description="why it is cancelled")


class PublicAlertRead(BaseModel):
    id: str
    thread_id: str
    identifier: str
    sender: str
    sent: UtcDatetime
    msg_type: str
    status: str
    state: str  # active | superseded | cancelled | expired
    references: str | None
    event: str
    headline: str | None
    severity: str
    urgency: str
    certainty: str
    expires: UtcDatetime | None
    signed: bool
    created_by: str
    compose: PublicAlertCompose


class FeedStatus(BaseModel):
    id: str
    name: str
    url: str
    format: Literal["cap", "geojson"]
    last_fetched_at: datetime | None
    last_error: str | None
    features: int


class FeedCreate(Strict):
    name: str = Field(min_length=1, max_length=120)
    url: str = Field(
        min_length=1, max_length=500, pattern=r"^(https?|file)://", description="http(s) or file"
    )
    format: Literal["cap", "geojson"]
