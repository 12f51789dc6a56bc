"""Hospitals: facilities, capabilities, ED capacity, diversion, destination recommendation.

Other domains use only what is exported here.
"""

from emsync.hospitals.destination import Capability, Condition
from emsync.hospitals.events import HospitalCreated, HospitalDiversionChanged, HospitalUpdated
from emsync.hospitals.service import hospital_exists

__all__ = [
    "Capability",
    "Condition",
    "HospitalCreated",
    "HospitalDiversionChanged",
    "HospitalUpdated",
    "hospital_exists",
]
