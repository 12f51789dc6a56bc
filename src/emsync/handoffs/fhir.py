"""A handoff as a FHIR R4 Bundle (pure: plain dicts in, a plain JSON-ready dict out).

Vital signs follow the R4 vital-signs profile: LOINC codes, UCUM units, the `vital-signs`
category, blood pressure as the 85354-9 panel with systolic and diastolic components. The service
parses the result with `fhir.resources.R4B` and `fhir_rules.problems` before returning it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ACT_CODE = "http://terminology.hl7.org/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
EMSYNC_SCORES = "https://emsync.dev/fhir/CodeSystem/scores"
HOSPITAL_IDENTIFIER = "https://emsync.dev/fhir/NamingSystem/hospital"
HANDOFF_IDENTIFIER = "https://emsync.dev/fhir/NamingSystem/handoff"
_NAMESPACE = uuid.UUID("6f1c3c1e-3d1b-4a57-9a7e-0b3a4f1f2d10")


@dataclass(frozen=True, slots=True)
class VitalCode:
    loinc: str
    display: str
    unit: str  # UCUM code
    unit_display: str


# Field of the EMsync vital-signs reading (DESIGN §3.1) → its vital-signs profile coding.
VITAL_CODES: Mapping[str, VitalCode] = {
    "hr": VitalCode("8867-4", "Heart rate", "/min", "beats/minute"),
    "spo2": VitalCode("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%"),
    "rr": VitalCode("9279-1", "Respiratory rate", "/min", "breaths/minute"),
    "temp": VitalCode("8310-5", "Body temperature", "Cel", "C"),
}
BP_PANEL = VitalCode("85354-9", "Blood pressure panel with all children optional", "", "")
BP_COMPONENTS: Mapping[str, VitalCode] = {
    "sbp": VitalCode("8480-6", "Systolic blood pressure", "mm[Hg]", "mmHg"),
    "dbp": VitalCode("8462-4", "Diastolic blood pressure", "mm[Hg]", "mmHg"),
}
VITAL_SIGN_LOINC = frozenset(
    {
        *(c.loinc for c in VITAL_CODES.values()),
        BP_PANEL.loinc,
        *(c.loinc for c in BP_COMPONENTS.values()),
    }
)


@dataclass(frozen=True, slots=True)
class HandoffFacts:
    """What the FHIR export needs of an opened handoff."""

    handoff_id: str
    hospital_id: str
    status: str
    created_at: datetime
    eta: datetime | None
    acuity: int | None
    news2: int | None
    content: Mapping[str, Any]
    signs: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def _uid(handoff_id: str, name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{handoff_id}/{name}"))


def _when(value: datetime) -> str:
    # In UTC: RFC 3339 lets a client send any offset up to ±23:59 (one was accepted as -22:21),
    # FHIR's dateTime only -14:00..+14:00, and such a handoff could never be exported.
    if value.tzinfo is None:
        return value.isoformat()
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _quantity(value: float, code: VitalCode) -> dict[str, Any]:
    return {"value": value, "unit": code.unit_display, "system": UCUM, "code": code.unit}


_VITALS_CATEGORY = [
    {"coding": [_coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")], "text": "Vital Signs"}
]

# Encounter.status for each handoff status (FHIR encounter-status is required binding).
_ENCOUNTER_STATUS = {
    "draft": "planned",
    "sent": "planned",
    "delivered": "planned",
    "acknowledged": "planned",
    "redirected": "planned",
    "arrived": "arrived",
    "handed_over": "in-progress",
    "cancelled": "cancelled",
}


def bundle(facts: HandoffFacts) -> dict[str, Any]:
    hid = facts.handoff_id
    patient_id = _uid(hid, "patient")
    encounter_id = _uid(hid, "encounter")
    patient_ref = {"reference": f"urn:uuid:{patient_id}"}
    encounter_ref = {"reference": f"urn:uuid:{encounter_id}"}
    content = facts.content
    resources: list[dict[str, Any]] = [_patient(patient_id, content.get("patient") or {})]
    resources.append(_encounter(encounter_id, facts, patient_ref))
    context = {"subject": patient_ref, "encounter": encounter_ref}
    onset: datetime | None = content.get("time_of_onset")
    for n, sign in enumerate(sorted(facts.signs, key=lambda s: s["ts"])):
        resources.extend(_vital_observations(hid, n, sign, context))
    for name, value in (("acuity", facts.acuity), ("news2", facts.news2)):
        if value is not None:
            resources.append(_score(hid, name, value, facts.created_at, context))
    age = (content.get("patient") or {}).get("age_years")
    if age is not None:
        resources.append(
            {
                "resourceType": "Observation",
                "id": _uid(hid, "age"),
                "status": "final",
                "code": {"coding": [_coding(LOINC, "30525-0", "Age")], "text": "Age"},
                "effectiveDateTime": _when(facts.created_at),
                "valueQuantity": {"value": age, "unit": "years", "system": UCUM, "code": "a"},
                **context,
            }
        )
    complaints = [content.get("mechanism"), *(content.get("injuries") or ())]
    for n, text in enumerate(c for c in complaints if c):
        condition: dict[str, Any] = {
            "resourceType": "Condition",
            "id": _uid(hid, f"condition/{n}"),
            "clinicalStatus": {"coding": [_coding(CONDITION_CLINICAL, "active", "Active")]},
            "verificationStatus": {
                "coding": [_coding(CONDITION_VERIFICATION, "provisional", "Provisional")]
            },
            "category": [
                {
                    "coding": [
                        _coding(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")
                    ]
                }
            ],
            "code": {"text": text},
            **context,
        }
        if onset is not None:
            condition["onsetDateTime"] = _when(onset)
        resources.append(condition)
    for n, item in enumerate(content.get("treatment") or ()):
        resources.append(_treatment(hid, n, item, facts.created_at, context))
    return {
        "resourceType": "Bundle",
        "id": _uid(hid, "bundle"),
        "identifier": {"system": HANDOFF_IDENTIFIER, "value": hid},
        "type": "collection",
        "timestamp": _when(facts.created_at),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def _patient(patient_id: str, patient: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "gender": patient.get("sex") or "unknown",
    }
    if patient.get("name"):
        out["name"] = [{"text": patient["name"]}]
    return out


def _encounter(
    encounter_id: str, facts: HandoffFacts, patient_ref: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id,
        "status": _ENCOUNTER_STATUS[facts.status],
        "class": _coding(ACT_CODE, "EMER", "emergency"),
        "subject": patient_ref,
        "serviceProvider": {
            "identifier": {"system": HOSPITAL_IDENTIFIER, "value": facts.hospital_id}
        },
    }
    if facts.acuity is not None and facts.acuity <= 2:
        out["priority"] = {"coding": [_coding(ACT_PRIORITY, "EM", "emergency")]}
    if facts.eta is not None:
        out["period"] = {"start": _when(facts.eta)}
    return out


# Sets filled in from the patient's monitor name it as their device (a display-only reference:
# the monitor is not a resource of the bundle); sets the crew recorded have none.
MONITOR = {"display": "Patient monitor (EMsync telemetry)"}


def _vital_observations(
    hid: str, n: int, sign: Mapping[str, Any], context: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    when = _when(sign["ts"])
    if sign.get("source") == "telemetry":
        context = {**context, "device": MONITOR}
    for name, code in VITAL_CODES.items():
        value = sign.get(name)
        if value is None:
            continue
        out.append(
            {
                "resourceType": "Observation",
                "id": _uid(hid, f"vitals/{n}/{name}"),
                "status": "final",
                "category": _VITALS_CATEGORY,
                "code": {
                    "coding": [_coding(LOINC, code.loinc, code.display)],
                    "text": code.display,
                },
                "effectiveDateTime": when,
                "valueQuantity": _quantity(value, code),
                **context,
            }
        )
    if sign.get("sbp") is not None or sign.get("dbp") is not None:
        components = []
        for name, code in BP_COMPONENTS.items():
            component: dict[str, Any] = {
                "code": {"coding": [_coding(LOINC, code.loinc, code.display)], "text": code.display}
            }
            if sign.get(name) is None:
                component["dataAbsentReason"] = {
                    "coding": [
                        _coding(
                            "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                            "not-performed",
                            "Not Performed",
                        )
                    ]
                }
            else:
                component["valueQuantity"] = _quantity(sign[name], code)
            components.append(component)
        out.append(
            {
                "resourceType": "Observation",
                "id": _uid(hid, f"vitals/{n}/bp"),
                "status": "final",
                "category": _VITALS_CATEGORY,
                "code": {
                    "coding": [_coding(LOINC, BP_PANEL.loinc, BP_PANEL.display)],
                    "text": "Blood pressure",
                },
                "effectiveDateTime": when,
                "component": components,
                **context,
            }
        )
    return out


def _score(
    hid: str, name: str, value: int, at: datetime, context: dict[str, Any]
) -> dict[str, Any]:
    display = {"acuity": "Acuity (KTAS 1-5)", "news2": "NEWS2 score"}[name]
    return {
        "resourceType": "Observation",
        "id": _uid(hid, f"score/{name}"),
        "status": "final",
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "survey", "Survey")]}],
        "code": {"coding": [_coding(EMSYNC_SCORES, name, display)], "text": display},
        "effectiveDateTime": _when(at),
        "valueInteger": value,
        **context,
    }


def _treatment(
    hid: str, n: int, item: Mapping[str, Any], default_at: datetime, context: dict[str, Any]
) -> dict[str, Any]:
    at = _when(item.get("at") or default_at)
    if item.get("kind") == "medication":
        out: dict[str, Any] = {
            "resourceType": "MedicationAdministration",
            "id": _uid(hid, f"treatment/{n}"),
            "status": "completed",
            "medicationCodeableConcept": {"text": item["name"]},
            "subject": context["subject"],
            "context": context["encounter"],
            "effectiveDateTime": at,
        }
        dosage: dict[str, Any] = {}
        if item.get("dose_value") is not None and item.get("dose_unit"):
            dosage["dose"] = {
                "value": item["dose_value"],
                "unit": item["dose_unit"],
                "system": UCUM,
                "code": item["dose_unit"],
            }
        if item.get("route"):
            dosage["route"] = {"text": item["route"]}
        if dosage:
            out["dosage"] = dosage
        return out
    return {
        "resourceType": "Procedure",
        "id": _uid(hid, f"treatment/{n}"),
        "status": "completed",
        "code": {"text": item["name"]},
        "performedDateTime": at,
        **context,
    }
