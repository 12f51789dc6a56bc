"""Shelters and evacuees: request and response bodies."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emsync.emergency.schemas import Lat, Lon, Name, Strict, UtcDatetime


class ShelterStatus(StrEnum):
    OPEN = "open"
    FULL = "full"  # set by check-ins when no bed of either kind is left
    CLOSED = "closed"


Capacity = Field(ge=0, le=100_000)


class ShelterCreate(Strict):
    name: Name
    address: str | None = Field(default=None, max_length=200)
    lat: Lat
    lon: Lon
    capacity_beds: int = Capacity
    capacity_accessible: int = Field(default=0, ge=0, le=100_000)
    capacity_pets: int = Field(default=0, ge=0, le=100_000)
    amenities: list[str] = Field(default_factory=list, max_length=30)
    status: ShelterStatus = ShelterStatus.OPEN

    @model_validator(mode="after")
    def _not_full(self) -> Self:
        if self.status is ShelterStatus.FULL:
            raise ValueError("a new shelter is open or closed; 'full' follows its occupancy")
        return self


class ShelterUpdate(Strict):
    name: Name | None = None
    address: str | None = Field(default=None, max_length=200)
    status: ShelterStatus | None = None
    capacity_beds: int | None = Field(default=None, ge=0, le=100_000)
    capacity_accessible: int | None = Field(default=None, ge=0, le=100_000)
    capacity_pets: int | None = Field(default=None, ge=0, le=100_000)
    amenities: list[str] | None = Field(default=None, max_length=30)


class ShelterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    status: ShelterStatus
    address: str | None
    lat: float
    lon: float
    capacity_beds: int
    capacity_accessible: int
    capacity_pets: int
    occupied_beds: int
    occupied_accessible: int
    occupied_pets: int
    amenities: list[str]
    location_id: str | None = None  # its stock location (supplies moved to the shelter)
    updated_at: UtcDatetime


class CheckIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    family: str | None = Field(default=None, max_length=200, description="household name")
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    needs: str | None = Field(default=None, max_length=500, description="medical/care needs")
    accessible: bool = Field(default=False, description="needs an accessible bed")
    pets: int = Field(default=0, ge=0, le=20)


class EvacueeRead(BaseModel):
    """Every field the check-in took, opened for an authorised reader."""

    id: str
    shelter_id: str
    shelter_name: str
    name: str
    family: str | None
    birth_year: int | None
    needs: str | None
    accessible: bool
    pets: int
    checked_in_at: UtcDatetime
    checked_in_by: str
    checked_out_at: UtcDatetime | None
    checked_out_by: str | None


class CheckInResult(BaseModel):
    evacuee: EvacueeRead
    shelter: ShelterRead


class OccupancyPoint(BaseModel):
    at: UtcDatetime
    beds: int
    accessible: int
    pets: int
