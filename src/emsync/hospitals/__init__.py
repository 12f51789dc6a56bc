"""Hospitals: facilities, capabilities, ED capacity, diversion, destination recommendation.

Other domains use only what is exported here.
"""

from emsync.hospitals.destination import Capability, Condition
from emsync.hospitals.events import HospitalCreated, HospitalDiversionChanged, HospitalUpdated
from emsync.hospitals.public import availability, hospital_position, report_availability
from emsync.hospitals.schemas import HospitalRead
from emsync.hospitals.service import hospital_exists

__all__ = [
    "Capability",
    "Condition",
    "HospitalCreated",
    "HospitalDiversionChanged",
    "HospitalRead",
    "HospitalUpdated",
    "availability",
    "hospital_exists",
    "hospital_position",
    "report_availability",
]
