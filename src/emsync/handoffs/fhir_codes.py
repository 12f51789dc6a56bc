"""Code systems, codes and small builders shared by the FHIR export modules (pure).

LOINC codes follow the FHIR R4 vital-signs profile and the US Core pulse-oximetry profile (SpO2 as
2708-6 with 59408-5, the oxygen flow rate as its 3151-8 component); AVPU answers are the SNOMED CT
findings of the NEWS2 ACVPU scale.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
EMSYNC_SCORES = "https://emsync.dev/fhir/CodeSystem/scores"
HOSPITAL_IDENTIFIER = "https://emsync.dev/fhir/NamingSystem/hospital"
HANDOFF_IDENTIFIER = "https://emsync.dev/fhir/NamingSystem/handoff"
INCIDENT_IDENTIFIER = "https://emsync.dev/fhir/NamingSystem/incident"
PATIENT_IDENTIFIER = "https://emsync.dev/fhir/NamingSystem/patient"
UNIT_IDENTIFIER = "https://emsync.dev/fhir/NamingSystem/unit"
# The prehospital findings without a LOINC code of their own (BE-FAST, its signs, the ECG
# finding, the condition set by hand); GCS motor has one (9268-4).
EMSYNC_ASSESSMENT = "https://emsync.dev/fhir/CodeSystem/prehospital-assessment"
_NAMESPACE = uuid.UUID("6f1c3c1e-3d1b-4a57-9a7e-0b3a4f1f2d10")


@dataclass(frozen=True, slots=True)
class VitalCode:
    loinc: str
    display: str
    unit: str  # UCUM code
    unit_display: str
    also: tuple[tuple[str, str], ...] = ()  # further LOINC codings of the same observation


# Field of the EMsync vital-signs reading (DESIGN §3.1) → its vital-signs profile coding.
VITAL_CODES: Mapping[str, VitalCode] = {
    "hr": VitalCode("8867-4", "Heart rate", "/min", "beats/minute"),
    # The vital-signs profile requires 2708-6; 59408-5 says it was measured by pulse oximetry.
    "spo2": VitalCode(
        "2708-6",
        "Oxygen saturation in Arterial blood",
        "%",
        "%",
        also=(("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),),
    ),
    "rr": VitalCode("9279-1", "Respiratory rate", "/min", "breaths/minute"),
    "temp": VitalCode("8310-5", "Body temperature", "Cel", "C"),
}
BP_PANEL = VitalCode("85354-9", "Blood pressure panel with all children optional", "", "")
BP_COMPONENTS: Mapping[str, VitalCode] = {
    "sbp": VitalCode("8480-6", "Systolic blood pressure", "mm[Hg]", "mmHg"),
    "dbp": VitalCode("8462-4", "Diastolic blood pressure", "mm[Hg]", "mmHg"),
}
O2_FLOW = VitalCode("3151-8", "Inhaled oxygen flow rate", "L/min", "L/min")
AVPU_CODE = VitalCode("67775-7", "Level of responsiveness", "", "")
VITAL_SIGN_LOINC = frozenset(
    {
        *(c.loinc for c in VITAL_CODES.values()),
        *(code for c in VITAL_CODES.values() for code, _ in c.also),
        BP_PANEL.loinc,
        *(c.loinc for c in BP_COMPONENTS.values()),
    }
)
# Each LOINC code → the UCUM unit its quantity must carry.
UNITS: Mapping[str, str] = {
    **{c.loinc: c.unit for c in VITAL_CODES.values()},
    **{code: c.unit for c in VITAL_CODES.values() for code, _ in c.also},
    **{c.loinc: c.unit for c in BP_COMPONENTS.values()},
    O2_FLOW.loinc: O2_FLOW.unit,
}

# ACVPU (NEWS2's AVPU with C for new confusion) → SNOMED CT finding.
AVPU_FINDINGS: Mapping[str, tuple[str, str]] = {
    "A": ("248234008", "Mentally alert"),
    "C": ("130987000", "Acute confusion"),
    "V": ("300202002", "Responds to voice"),
    "P": ("450847001", "Responds to pain"),
    "U": ("422768004", "Unresponsive"),
}
ROOM_AIR = ("722742002", "Breathing room air")
NO_KNOWN_ALLERGY = ("716186003", "No known allergy")
TRANSFER_SUMMARY = ("18761-7", "Transfer summary note")
GCS_MOTOR = ("9268-4", "Glasgow coma score motor")
BEFAST_SIGNS: Mapping[str, str] = {
    "balance": "B: balance lost",
    "eyes": "E: vision lost",
    "face": "F: face droops",
    "arm": "A: arm weak",
    "speech": "S: speech slurred",
}
ECG_FINDINGS: Mapping[str, str] = {
    "stemi": "STEMI",
    "stemi_equivalent": "STEMI equivalent (new LBBB, posterior)",
    "non_diagnostic": "Not diagnostic",
    "normal": "Normal",
}
SUSPECTED_CONDITIONS: Mapping[str, str] = {
    "stroke": "stroke",
    "stemi": "STEMI",
    "major_trauma": "major trauma",
    "trauma": "trauma",
    "burns": "burns",
}
O2_DEVICES: Mapping[str, str] = {
    "nasal_cannula": "Nasal cannula",
    "simple_face_mask": "Simple face mask",
    "venturi_mask": "Venturi mask",
    "non_rebreather_mask": "Non-rebreather mask",
    "high_flow_nasal_cannula": "High-flow nasal cannula",
    "cpap_niv": "CPAP / non-invasive ventilation",
    "bag_valve_mask": "Bag-valve-mask",
    "ventilator": "Ventilator",
    "other": "Other oxygen device",
}


def uid(handoff_id: str, name: str) -> str:
    """A stable id per handoff and resource: the same export twice has the same ids."""
    return str(uuid.uuid5(_NAMESPACE, f"{handoff_id}/{name}"))


def when(value: datetime) -> str:
    # In UTC: RFC 3339 lets a client send any offset up to ±23:59 (one was accepted as -22:21),
    # FHIR's dateTime only -14:00..+14:00, and such a handoff could never be exported.
    if value.tzinfo is None:
        return value.isoformat()
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(code: VitalCode, text: str | None = None) -> dict[str, Any]:
    codings = [coding(LOINC, code.loinc, code.display)]
    codings.extend(coding(LOINC, c, d) for c, d in code.also)
    return {"coding": codings, "text": text or code.display}


def quantity(value: float, code: VitalCode) -> dict[str, Any]:
    return {"value": value, "unit": code.unit_display, "system": UCUM, "code": code.unit}


def absent(reason: str, display: str) -> dict[str, Any]:
    return {"coding": [coding(DATA_ABSENT, reason, display)]}


VITALS_CATEGORY = [
    {"coding": [coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")], "text": "Vital Signs"}
]
SURVEY_CATEGORY = [{"coding": [coding(OBSERVATION_CATEGORY, "survey", "Survey")]}]
