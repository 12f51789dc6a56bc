"""Unit and dispatch events: pushed on WebSocket channels `units` and `dispatch`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitCreated(Event):
    name: ClassVar[str] = "unit.created"
    unit_id: str
    call_sign: str
    unit_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitUpdated(Event):
    name: ClassVar[str] = "unit.updated"
    unit_id: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitStatusChanged(Event):
    name: ClassVar[str] = "unit.status_changed"
    unit_id: str
    call_sign: str
    old: str
    new: str
    incident_id: str | None
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitPositionChanged(Event):
    name: ClassVar[str] = "unit.position_changed"
    unit_id: str
    lat: float
    lon: float
    at: datetime
    speed_mps: float | None
    heading: float | None
    source: str  # "api" or "telemetry"


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitAssigned(Event):
    name: ClassVar[str] = "unit.assigned"
    unit_id: str
    call_sign: str
    incident_id: str
    eta_s: float | None
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationChosen(Event):
    """A unit is taking its patient to a hospital (the handoff bridge drafts from this)."""

    name: ClassVar[str] = "unit.destination_chosen"
    unit_id: str
    incident_id: str | None
    hospital_id: str
    eta: datetime | None
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchRecommended(Event):
    """A ranked unit list for an incident that has no unit yet (pushed to dispatchers)."""

    name: ClassVar[str] = "dispatch.recommended"
    incident_id: str
    urgency: int
    trigger: str
    ranked: tuple[dict[str, Any], ...]
    excluded_count: int
