"""The prehospital assessment of a handoff in FHIR (pure): BE-FAST (an Observation with one
component per sign, positive or not), the 12-lead ECG finding, GCS motor (LOINC 9268-4), and a
Composition section that says all of it in words, with the mechanism of injury and the
condition set by hand, so a receiving system that reads only the document loses none of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emsync.handoffs.fhir_codes import (
    BEFAST_SIGNS,
    ECG_FINDINGS,
    EMSYNC_ASSESSMENT,
    GCS_MOTOR,
    LOINC,
    SURVEY_CATEGORY,
    SUSPECTED_CONDITIONS,
    coding,
    uid,
    when,
)

SECTION_TITLE = "Prehospital assessment"


def _observation(
    hid: str, name: str, code: dict[str, Any], issued: str, context: Mapping[str, Any]
) -> dict[str, Any]:
    # Recorded on the incident without a time of its own: `issued`, never an effective time.
    return {
        "resourceType": "Observation",
        "id": uid(hid, f"assessment/{name}"),
        "status": "final",
        "category": SURVEY_CATEGORY,
        "code": code,
        "issued": issued,
        **context,
    }


def observations(
    hid: str, assessment: Mapping[str, Any] | None, issued: Any, context: Mapping[str, Any]
) -> list[dict[str, Any]]:
    if not assessment:
        return []
    at = when(issued)
    out = []
    positive = list(assessment.get("befast") or ())
    if positive:
        befast = _observation(
            hid,
            "befast",
            {
                "coding": [coding(EMSYNC_ASSESSMENT, "befast", "BE-FAST stroke screen")],
                "text": "BE-FAST stroke screen",
            },
            at,
            context,
        )
        befast["valueString"] = "positive: " + ", ".join(positive)
        befast["component"] = [
            {
                "code": {
                    "coding": [coding(EMSYNC_ASSESSMENT, f"befast-{sign}", display)],
                    "text": display,
                },
                "valueBoolean": sign in positive,
            }
            for sign, display in BEFAST_SIGNS.items()
        ]
        out.append(befast)
    ecg = assessment.get("ecg")
    if ecg:
        obs = _observation(
            hid,
            "ecg",
            {
                "coding": [coding(EMSYNC_ASSESSMENT, "ecg-12-lead", "12-lead ECG finding")],
                "text": "12-lead ECG finding",
            },
            at,
            context,
        )
        display = ECG_FINDINGS[ecg]
        obs["valueCodeableConcept"] = {
            "coding": [coding(EMSYNC_ASSESSMENT, f"ecg-{ecg}", display)],
            "text": display,
        }
        out.append(obs)
    motor = assessment.get("gcs_motor")
    if motor is not None:
        obs = _observation(
            hid,
            "gcs-motor",
            {"coding": [coding(LOINC, *GCS_MOTOR)], "text": GCS_MOTOR[1]},
            at,
            context,
        )
        obs["valueInteger"] = motor
        out.append(obs)
    return out


def paragraphs(assessment: Mapping[str, Any] | None) -> list[str]:
    """The assessment in words, one finding a paragraph (the Composition section's text)."""
    if not assessment:
        return []
    out = []
    if assessment.get("befast"):
        signs = ", ".join(BEFAST_SIGNS[s] for s in assessment["befast"])
        out.append(f"BE-FAST positive: {signs}")
    if assessment.get("ecg"):
        out.append(f"12-lead ECG: {ECG_FINDINGS[assessment['ecg']]}")
    if assessment.get("gcs_motor") is not None:
        out.append(f"GCS motor: {assessment['gcs_motor']}")
    if assessment.get("injury_mechanism"):
        out.append(f"Mechanism of injury: {assessment['injury_mechanism']}")
    conditions = assessment.get("conditions")
    if conditions is not None:
        named = ", ".join(SUSPECTED_CONDITIONS[c] for c in conditions) or "none"
        out.append(f"Condition set by hand: {named}")
    return out
