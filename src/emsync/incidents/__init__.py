"""Incidents (calls): location, complaint, lifecycle, timeline, patients.

Other domains use only what is exported here, inside their own transaction.
"""

from emsync.incidents.events import (
    IncidentCreated,
    IncidentStatusChanged,
    IncidentUpdated,
    PatientAdded,
)
from emsync.incidents.lifecycle import IncidentStatus
from emsync.incidents.service import (
    get_incident,
    get_patient,
    patient_ages,
    record_triage,
    transition,
)

__all__ = [
    "IncidentCreated",
    "IncidentStatus",
    "IncidentStatusChanged",
    "IncidentUpdated",
    "PatientAdded",
    "get_incident",
    "get_patient",
    "patient_ages",
    "record_triage",
    "transition",
]
