"""Triage events: a patient's acuity is known (dispatch and handoffs react)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientTriaged(Event):
    name: ClassVar[str] = "triage.patient_triaged"
    incident_id: str
    patient_id: str
    level: int
    news2: int | None
    mode: str
    model_version: str
    chief_complaint: str
