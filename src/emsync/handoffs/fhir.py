"""A handoff as a FHIR R4 Bundle (pure: plain dicts in, a plain JSON-ready dict out).

Vital signs follow the R4 vital-signs profile: LOINC codes, UCUM units, the `vital-signs`
category, blood pressure as the 85354-9 panel with systolic and diastolic components, SpO2 as
2708-6 with 59408-5 and, on oxygen, the US Core pulse-oximetry flow-rate component. Consciousness
(AVPU) and supplemental oxygen are Observations of their own; treatments, allergies, conditions,
scores and the crew's notes are built in `fhir_care`, the incident's findings (BE-FAST, ECG,
GCS motor) in `fhir_assessment`. The service parses the result with
`fhir.resources.R4B` and `fhir_rules.problems` before returning it.

Nothing is given a time it was not recorded with: an untimed treatment has no effective time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emsync.handoffs import fhir_assessment, fhir_care, fhir_media
from emsync.handoffs.fhir_codes import (
    ACT_CODE,
    ACT_PRIORITY,
    AVPU_CODE,
    AVPU_FINDINGS,
    BP_COMPONENTS,
    BP_PANEL,
    HANDOFF_IDENTIFIER,
    HOSPITAL_IDENTIFIER,
    INCIDENT_IDENTIFIER,
    LOINC,
    O2_DEVICES,
    O2_FLOW,
    OBSERVATION_CATEGORY,
    PATIENT_IDENTIFIER,
    ROOM_AIR,
    SNOMED,
    UCUM,
    VITAL_CODES,
    VITAL_SIGN_LOINC,
    VITALS_CATEGORY,
    VitalCode,
    absent,
    coding,
    concept,
    quantity,
    uid,
    when,
)
from emsync.handoffs.fhir_facts import HandoffFacts

__all__ = [
    "BP_COMPONENTS",
    "BP_PANEL",
    "LOINC",
    "OBSERVATION_CATEGORY",
    "UCUM",
    "VITAL_CODES",
    "VITAL_SIGN_LOINC",
    "HandoffFacts",
    "VitalCode",
    "bundle",
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
    patient_id = uid(hid, "patient")
    encounter_id = uid(hid, "encounter")
    patient_ref = {"reference": f"urn:uuid:{patient_id}"}
    encounter_ref = {"reference": f"urn:uuid:{encounter_id}"}
    context = {"subject": patient_ref, "encounter": encounter_ref}
    picture = facts.picture
    resources: list[dict[str, Any]] = [
        _patient(patient_id, facts.content.get("patient") or {}, facts.patient_id),
        _encounter(encounter_id, facts, patient_ref),
    ]
    vital_ids: dict[int, list[str]] = {}
    for n, sign in enumerate(picture.get("signs") or ()):
        observations = _vital_observations(hid, n, sign, context)
        vital_ids[n] = [o["id"] for o in observations]
        resources.extend(observations)
    resources.extend(fhir_care.scores(facts, context, vital_ids))
    resources.extend(fhir_care.age(facts, context))
    resources.extend(fhir_care.conditions(facts, context))
    resources.extend(
        fhir_assessment.observations(hid, picture.get("assessment"), facts.created_at, context)
    )
    resources.extend(fhir_care.treatments(hid, picture.get("treatment"), context))
    allergies = fhir_care.allergies(hid, picture.get("allergies"), context)
    resources.extend(allergies)
    resources.extend(fhir_media.document_references(hid, facts.attachments, context))
    resources.append(fhir_care.composition(facts, context, [a["id"] for a in allergies]))
    return {
        "resourceType": "Bundle",
        "id": uid(hid, "bundle"),
        "identifier": {"system": HANDOFF_IDENTIFIER, "value": hid},
        "type": "collection",
        "timestamp": when(facts.created_at),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def _patient(patient_id: str, patient: Mapping[str, Any], emsync_id: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "gender": patient.get("sex") or "unknown",
    }
    if emsync_id:
        out["identifier"] = [{"system": PATIENT_IDENTIFIER, "value": emsync_id}]
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
        "class": coding(ACT_CODE, "EMER", "emergency"),
        "subject": patient_ref,
        "serviceProvider": {
            "identifier": {"system": HOSPITAL_IDENTIFIER, "value": facts.hospital_id}
        },
    }
    if facts.incident_id:
        out["identifier"] = [{"system": INCIDENT_IDENTIFIER, "value": facts.incident_id}]
    if facts.acuity is not None and facts.acuity <= 2:
        out["priority"] = {"coding": [coding(ACT_PRIORITY, "EM", "emergency")]}
    if facts.eta is not None:
        out["period"] = {"start": when(facts.eta)}  # planned: the expected arrival
    return out


# Sets filled in from the patient's monitor name it as their device (a display-only reference:
# the monitor is not a resource of the bundle); sets the crew recorded have none.
MONITOR = {"display": "Patient monitor (EMsync telemetry)"}


def _observation(
    hid: str, name: str, code: dict[str, Any], at: str, context: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": uid(hid, name),
        "status": "final",
        "category": VITALS_CATEGORY,
        "code": code,
        "effectiveDateTime": at,
        **context,
    }


# A value the monitor's rules flagged is exported as measured, with a note that says so: the ED
# must not read a lead off's 0 as a heart rate (handoffs.picture leaves it out of NEWS2).
ARTEFACT_NOTE = "Probable monitor artefact"
ARTEFACT_FIELDS = {
    "hr": "heart rate",
    "spo2": "SpO2",
    "rr": "respiratory rate",
    "sbp": "systolic pressure",
    "dbp": "diastolic pressure",
    "temp": "temperature",
}
ARTEFACT_KINDS = {
    "lead_off": "ECG lead off",
    "motion": "motion",
    "probe_off": "probe off",
    "damped_line": "damped line",
    "flat_line": "frozen value",
    "anomaly": "unusual transient",
}


def artefact_notes(sign: Mapping[str, Any], fields: tuple[str, ...]) -> list[dict[str, str]]:
    return [
        {
            "text": f"{ARTEFACT_NOTE} ({ARTEFACT_FIELDS[a['field']]}): "
            f"{ARTEFACT_KINDS.get(a['kind'], a['kind'])}"
        }
        for a in sign.get("artefacts") or ()
        if a["field"] in fields
    ]


def _o2_device_text(sign: Mapping[str, Any]) -> str:
    device = sign.get("o2_device")
    return O2_DEVICES[device] if device else "device not recorded"


def _flow_component(sign: Mapping[str, Any]) -> dict[str, Any]:
    """US Core pulse oximetry: the oxygen flow the saturation was measured on."""
    component: dict[str, Any] = {"code": concept(O2_FLOW)}
    if sign.get("o2_flow") is not None:
        component["valueQuantity"] = quantity(sign["o2_flow"], O2_FLOW)
    else:
        component["dataAbsentReason"] = absent("unknown", "Unknown")
    return component


def _vital_observations(
    hid: str, n: int, sign: Mapping[str, Any], context: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    at = when(sign["ts"])
    if sign.get("source") == "telemetry":
        context = {**context, "device": MONITOR}
    for name, code in VITAL_CODES.items():
        value = sign.get(name)
        if value is None:
            continue
        obs = _observation(hid, f"vitals/{n}/{name}", concept(code), at, context)
        obs["valueQuantity"] = quantity(value, code)
        notes = []
        if name == "spo2" and sign.get("o2"):
            obs["component"] = [_flow_component(sign)]
            notes.append({"text": f"On supplemental oxygen ({_o2_device_text(sign)})"})
        notes += artefact_notes(sign, (name,))
        if notes:
            obs["note"] = notes
        out.append(obs)
    if sign.get("sbp") is not None or sign.get("dbp") is not None:
        bp = _blood_pressure(hid, n, sign, at, context)
        if notes := artefact_notes(sign, ("sbp", "dbp")):
            bp["note"] = notes
        out.append(bp)
    if sign.get("avpu"):
        out.append(_avpu(hid, n, sign["avpu"], at, context))
    if sign.get("o2") is not None:
        out.append(_oxygen(hid, n, sign, at, context))
    return out


def _blood_pressure(
    hid: str, n: int, sign: Mapping[str, Any], at: str, context: Mapping[str, Any]
) -> dict[str, Any]:
    components = []
    for name, code in BP_COMPONENTS.items():
        component: dict[str, Any] = {"code": concept(code)}
        if sign.get(name) is None:
            component["dataAbsentReason"] = absent("not-performed", "Not Performed")
        else:
            component["valueQuantity"] = quantity(sign[name], code)
        components.append(component)
    obs = _observation(hid, f"vitals/{n}/bp", concept(BP_PANEL, "Blood pressure"), at, context)
    obs["component"] = components
    return obs


def _avpu(hid: str, n: int, avpu: str, at: str, context: Mapping[str, Any]) -> dict[str, Any]:
    code, display = AVPU_FINDINGS[avpu]
    obs = _observation(hid, f"vitals/{n}/avpu", concept(AVPU_CODE, "AVPU"), at, context)
    obs["valueCodeableConcept"] = {
        "coding": [coding(SNOMED, code, display)],
        "text": f"{avpu} — {display}",
    }
    return obs


def _oxygen(
    hid: str, n: int, sign: Mapping[str, Any], at: str, context: Mapping[str, Any]
) -> dict[str, Any]:
    """Supplemental oxygen as the inhaled flow rate, with the delivery device as its method
    (room air: no flow, method 'breathing room air')."""
    code = {"coding": concept(O2_FLOW)["coding"], "text": "Supplemental oxygen"}
    obs = _observation(hid, f"vitals/{n}/o2", code, at, context)
    if not sign.get("o2"):
        obs["valueQuantity"] = quantity(0, O2_FLOW)
        obs["method"] = {"coding": [coding(SNOMED, *ROOM_AIR)], "text": "Room air"}
        return obs
    if sign.get("o2_flow") is not None:
        obs["valueQuantity"] = quantity(sign["o2_flow"], O2_FLOW)
    else:
        obs["dataAbsentReason"] = absent("unknown", "Unknown")
    obs["method"] = {"text": f"Supplemental oxygen: {_o2_device_text(sign)}"}
    return obs
