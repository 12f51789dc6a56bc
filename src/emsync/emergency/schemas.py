"""Shapes shared by every emergency sub-area: strict input, UTC times, coordinates, search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from emsync.core.clock import as_utc

UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
Lat = Annotated[float, Field(ge=-90, le=90, description="WGS84 latitude, degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="WGS84 longitude, degrees")]
Name = Annotated[str, Field(min_length=1, max_length=120)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SegmentRead(BaseModel):
    text: str
    match: bool


class SearchHitRead(BaseModel):
    kind: str
    ref_id: str
    title: str
    status: str | None
    score: float
    title_segments: list[SegmentRead]
    snippet: list[SegmentRead]


class SearchResults(BaseModel):
    query: str
    hits: list[SearchHitRead]


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: UtcDatetime
    actor: str
    # Who, by name: the person's username or the API key's name (None: a system actor).
    actor_name: str | None = None
    subject_kind: str
    subject_id: str
    action: str
    detail: str
