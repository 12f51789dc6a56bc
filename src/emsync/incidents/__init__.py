"""Incidents (calls): location, complaint, lifecycle, timeline, patients.

Other domains use only what is exported here, inside their own transaction.
"""

from emsync.incidents.access import unit_channel
from emsync.incidents.events import (
    IncidentCreated,
    IncidentStatusChanged,
    IncidentUpdated,
    PatientAdded,
)
from emsync.incidents.lifecycle import IncidentStatus
from emsync.incidents.public import (
    IncidentPoint,
    incident_point,
    incident_status,
    open_incident_points,
    site_of,
)
from emsync.incidents.schemas import IncidentRead
from emsync.incidents.service import (
    get_incident,
    get_patient,
    patient_ages,
    record_triage,
    transition,
    triage_inputs,
)

__all__ = [
    "IncidentCreated",
    "IncidentPoint",
    "IncidentRead",
    "IncidentStatus",
    "IncidentStatusChanged",
    "IncidentUpdated",
    "PatientAdded",
    "get_incident",
    "get_patient",
    "incident_point",
    "incident_status",
    "open_incident_points",
    "patient_ages",
    "record_triage",
    "site_of",
    "transition",
    "triage_inputs",
    "unit_channel",
]
