"""Incident events other domains react to (dispatch, triage, the dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentCreated(Event):
    name: ClassVar[str] = "incident.created"
    incident_id: str
    priority: int
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentUpdated(Event):
    name: ClassVar[str] = "incident.updated"
    incident_id: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentStatusChanged(Event):
    name: ClassVar[str] = "incident.status_changed"
    incident_id: str
    old: str
    new: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientAdded(Event):
    name: ClassVar[str] = "incident.patient_added"
    incident_id: str
    patient_id: str
