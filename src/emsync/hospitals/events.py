"""Hospital events: pushed to dashboards on channel `hospitals`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class HospitalCreated(Event):
    name: ClassVar[str] = "hospital.created"
    hospital_id: str
    hospital_name: str
    source: str  # "map" or "api"


@dataclass(frozen=True, slots=True, kw_only=True)
class HospitalUpdated(Event):
    name: ClassVar[str] = "hospital.updated"
    hospital_id: str
    fields: tuple[str, ...]
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HospitalDiversionChanged(Event):
    name: ClassVar[str] = "hospital.diversion_changed"
    hospital_id: str
    diversion: bool
    reason: str | None
    actor: str
