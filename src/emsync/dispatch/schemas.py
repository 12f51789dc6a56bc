"""Unit and dispatch request and response bodies, validated at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from emsync.core.clock import as_utc
from emsync.dispatch.lifecycle import UnitStatus
from emsync.dispatch.ranking import UnitType

# SQLite hands back naive datetimes for aware columns: always answer in UTC.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]

Lat = Field(ge=-90, le=90, description="WGS84 latitude, degrees")
Lon = Field(ge=-180, le=180, description="WGS84 longitude, degrees")
CallSign = Field(
    pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,31}$",
    description="Radio call sign, e.g. 'HKI-121'",
)
DeviceId = Field(
    default=None,
    pattern=r"^[A-Za-z0-9_-]{1,64}$",
    description="Telemetry device whose position messages move this unit",
)
CrewMember = Field(min_length=1, max_length=100)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UnitCreate(_Strict):
    call_sign: str = CallSign
    unit_type: UnitType
    station_name: str | None = Field(default=None, min_length=1, max_length=100)
    station_lat: float = Lat
    station_lon: float = Lon
    crew: list[str] = Field(default_factory=list, max_length=8)
    device_id: str | None = DeviceId

    @model_validator(mode="after")
    def _crew_names(self) -> Self:
        if any(not 1 <= len(name.strip()) <= 100 for name in self.crew):
            raise ValueError("each crew name must be 1..100 characters")
        return self


class UnitUpdate(_Strict):
    call_sign: str | None = CallSign
    unit_type: UnitType | None = None
    station_name: str | None = Field(default=None, min_length=1, max_length=100)
    station_lat: float | None = Lat
    station_lon: float | None = Lon
    crew: list[str] | None = Field(default=None, max_length=8)
    device_id: str | None = DeviceId

    @model_validator(mode="after")
    def _pairs(self) -> Self:
        for name in ("call_sign", "unit_type", "station_lat", "station_lon", "crew"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if ("station_lat" in self.model_fields_set) != ("station_lon" in self.model_fields_set):
            raise ValueError("station_lat and station_lon must be given together")
        if self.crew and any(not 1 <= len(n.strip()) <= 100 for n in self.crew):
            raise ValueError("each crew name must be 1..100 characters")
        return self


class UnitStatusChange(_Strict):
    status: UnitStatus
    hospital_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=36,
        description="Destination hospital, with status 'transporting' (records the transport ETA)",
    )
    reason: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _hospital_only_for_transport(self) -> Self:
        if self.hospital_id is not None and self.status is not UnitStatus.TRANSPORTING:
            raise ValueError("hospital_id goes only with status 'transporting'")
        return self


class PositionUpdate(_Strict):
    lat: float = Lat
    lon: float = Lon
    at: AwareDatetime | None = Field(default=None, description="Fix time; now when omitted")
    speed_mps: float | None = Field(default=None, ge=0, le=350)
    heading: float | None = Field(default=None, ge=0, le=360)


class UnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    call_sign: str
    unit_type: UnitType
    station_name: str | None
    station_lat: float
    station_lon: float
    crew: list[str]
    device_id: str | None
    status: UnitStatus
    status_changed_at: UtcDatetime
    lat: float | None
    lon: float | None
    position_at: UtcDatetime | None
    speed_mps: float | None
    heading: float | None
    incident_id: str | None
    hospital_id: str | None
    updated_at: UtcDatetime


class RankedUnitRead(BaseModel):
    unit_id: str
    call_sign: str
    unit_type: UnitType
    status: UnitStatus
    rank: int | None
    eta_s: float | None
    reason: str


class RecommendationRead(BaseModel):
    incident_id: str
    urgency: int = Field(description="Most urgent of the call's priority and patients' acuity")
    als_required: bool
    incident_position: tuple[float, float]  # (lat, lon)
    ranked: list[RankedUnitRead]
    excluded: list[RankedUnitRead]


class AssignRequest(_Strict):
    unit_id: str = Field(min_length=1, max_length=36)


class AssignmentRead(BaseModel):
    unit: UnitRead
    incident_id: str
    incident_status: str
    eta_s: float | None
    route: dict[str, Any] | None = Field(description="GeoJSON Feature (LineString)")


class TripRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    unit_id: str
    incident_id: str | None
    kind: Literal["response", "transport"]
    region: str
    predicted_s: float
    actual_s: float | None
    state: Literal["open", "completed", "abandoned"]
    started_at: UtcDatetime
    ended_at: UtcDatetime | None


class EtaErrorRead(BaseModel):
    trips: int
    mean_abs_error_s: float
    median_abs_error_s: float
    share_within_2_min: float


class CalibrationRead(BaseModel):
    region: str
    trips: int
    speed_factors: dict[str, float]
    before: EtaErrorRead
    after: EtaErrorRead
    applied: bool


# ---- the crew view (issue #23): a crew account acts for the unit it signed on to ----------


class CrewSignOnRequest(_Strict):
    unit_id: str = Field(min_length=1, max_length=36)


class CrewUnitChoice(BaseModel):
    """A unit a crew may sign on to (no position or crew names)."""

    id: str
    call_sign: str
    unit_type: UnitType
    station_name: str | None
    status: UnitStatus


class CrewPatient(BaseModel):
    id: str
    label: str
    name: str | None
    age_years: int | None
    sex: str | None
    acuity: int | None


class CrewIncident(BaseModel):
    """The call the crew's unit is committed to: where, what, who (no caller details)."""

    id: str
    number: int
    status: str
    priority: int
    chief_complaint: str
    address: str | None
    lat: float | None
    lon: float | None
    patients: list[CrewPatient]


class CrewRoute(BaseModel):
    """The road route from the unit to where it is heading (the scene, or the hospital)."""

    to: Literal["incident", "hospital"]
    eta_s: float
    distance_m: float
    geometry: dict[str, Any] = Field(description="GeoJSON LineString, [lon, lat] pairs")


class CrewAssignment(BaseModel):
    unit: UnitRead
    incident: CrewIncident | None
    route: CrewRoute | None
    route_problem: str | None = Field(
        default=None, description="Why there is no route (no map position, off the road map)"
    )
