"""Typed resources, the resources board (with dispatch's ambulances) and mutual aid."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from emsync.emergency.schemas import Lat, Lon, Name, Strict, UtcDatetime


class ResourceKind(StrEnum):
    AMBULANCE = "ambulance"  # dispatch's units: listed here, never stored here
    FIRE_ENGINE = "fire_engine"
    RESCUE = "rescue"
    HELICOPTER = "helicopter"
    MOBILE_COMMAND = "mobile_command"
    GENERATOR = "generator"
    BOAT = "boat"
    EQUIPMENT = "equipment"


class ResourceStatus(StrEnum):
    AVAILABLE = "available"
    ASSIGNED = "assigned"
    OUT_OF_SERVICE = "out_of_service"
    MAINTENANCE = "maintenance"


class ResourceCreate(Strict):
    name: Name
    kind: ResourceKind
    agency: Name
    capabilities: list[str] = Field(default_factory=list, max_length=30)
    home_name: str | None = Field(default=None, max_length=120)
    home_lat: Lat
    home_lon: Lon
    status: ResourceStatus = ResourceStatus.AVAILABLE
    notes: str | None = Field(default=None, max_length=500)


class ResourceUpdate(Strict):
    name: Name | None = None
    agency: Name | None = None
    capabilities: list[str] | None = Field(default=None, max_length=30)
    home_name: str | None = Field(default=None, max_length=120)
    home_lat: Lat | None = None
    home_lon: Lon | None = None
    status: ResourceStatus | None = None
    notes: str | None = Field(default=None, max_length=500)


class ResourceAssign(Strict):
    incident_id: str | None = Field(max_length=36, description="null releases the resource")


class ResourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: ResourceKind
    agency: str
    capabilities: list[str]
    home_name: str | None
    home_lat: float
    home_lon: float
    status: str
    incident_id: str | None
    notes: str | None
    source: str = "emergency"  # "dispatch" for ambulances
    updated_at: UtcDatetime | None = None


class MutualAidStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class MutualAidCreate(Strict):
    requesting_agency: Name
    providing_agency: Name
    resource_kind: ResourceKind
    quantity: int = Field(ge=1, le=1000)
    incident_id: str | None = Field(default=None, max_length=36)
    note: str | None = Field(default=None, max_length=500)


class MutualAidRespond(Strict):
    status: MutualAidStatus
    resource_ids: list[str] = Field(default_factory=list, max_length=100)
    note: str | None = Field(default=None, max_length=500)


class MutualAidRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    requesting_agency: str
    providing_agency: str
    resource_kind: str
    quantity: int
    incident_id: str | None
    status: MutualAidStatus
    note: str | None
    resource_ids: list[str]
    created_at: UtcDatetime
    updated_at: UtcDatetime
    updated_by: str
