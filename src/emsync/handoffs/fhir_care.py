"""The non-vital resources of a handoff's FHIR Bundle (pure): scores, age, conditions,
treatments, allergies, and the Composition that carries the crew's notes."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from emsync.handoffs import fhir_assessment
from emsync.handoffs.fhir_codes import (
    ALLERGY_CLINICAL,
    ALLERGY_VERIFICATION,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    EMSYNC_SCORES,
    LOINC,
    NO_KNOWN_ALLERGY,
    SNOMED,
    SURVEY_CATEGORY,
    TRANSFER_SUMMARY,
    UCUM,
    UNIT_IDENTIFIER,
    coding,
    uid,
    when,
)
from emsync.handoffs.fhir_facts import HandoffFacts

_SCORE_DISPLAY = {"acuity": "Acuity (KTAS 1-5)", "news2": "NEWS2 score"}


def _score(hid: str, name: str, value: int, context: Mapping[str, Any]) -> dict[str, Any]:
    display = _SCORE_DISPLAY[name]
    return {
        "resourceType": "Observation",
        "id": uid(hid, f"score/{name}"),
        "status": "final",
        "category": SURVEY_CATEGORY,
        "code": {"coding": [coding(EMSYNC_SCORES, name, display)], "text": display},
        "valueInteger": value,
        **context,
    }


def scores(
    facts: HandoffFacts, context: Mapping[str, Any], vital_ids: Mapping[int, Sequence[str]]
) -> list[dict[str, Any]]:
    """Acuity and NEWS2 as stated (by the crew or triage: no time of their own, only when
    EMsync was told, `issued`), and NEWS2 as EMsync computed it from a vital-sign set (at that
    set's time, derived from its observations)."""
    hid = facts.handoff_id
    out = []
    issued = when(facts.created_at)
    for name, value in (("acuity", facts.acuity), ("news2", facts.news2)):
        if value is not None:
            stated = _score(hid, name, value, context)
            stated["issued"] = issued
            stated["method"] = {"text": "as stated by the crew or triage"}
            out.append(stated)
    computed = facts.picture.get("news2")
    if computed:
        obs = _score(hid, "news2", computed["total"], context)
        obs["id"] = uid(hid, "score/news2/computed")
        obs["effectiveDateTime"] = when(computed["ts"])
        obs["method"] = {"text": "computed by EMsync from the recorded vital signs (RCP 2017)"}
        obs["interpretation"] = [{"text": f"NEWS2 band: {computed['band']}"}]
        notes = []
        if computed.get("carried"):
            notes.append(f"taken from an earlier set (15 min): {', '.join(computed['carried'])}")
        if computed.get("assumed"):
            notes.append(f"not recorded, scored as normal: {', '.join(computed['assumed'])}")
        if notes:
            obs["note"] = [{"text": text} for text in notes]
        index = next(
            (
                n
                for n, sign in enumerate(facts.picture.get("signs") or ())
                if sign["ts"] == computed["ts"]
            ),
            None,
        )
        if index is not None:
            obs["derivedFrom"] = [{"reference": f"urn:uuid:{i}"} for i in vital_ids[index]]
        out.append(obs)
    return out


_BAND = re.compile(r"^\s*(\d{1,3})\s*[-\u2013]\s*(\d{1,3})\s*$")  # hyphen or en dash


def age(facts: HandoffFacts, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Age in years at the handoff, or the age band the crew gave when the age is unknown."""
    patient = facts.content.get("patient") or {}
    years, band = patient.get("age_years"), patient.get("age_band")
    if years is None and not band:
        return []
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": uid(facts.handoff_id, "age"),
        "status": "final",
        "code": {"coding": [coding(LOINC, "30525-0", "Age")], "text": "Age"},
        "effectiveDateTime": when(facts.created_at),
        **context,
    }
    if years is not None:
        obs["valueQuantity"] = {"value": years, "unit": "years", "system": UCUM, "code": "a"}
        if band:
            obs["note"] = [{"text": f"age band: {band}"}]
        return [obs]
    match = _BAND.match(str(band))
    if match:
        low, high = (int(g) for g in match.groups())
        obs["valueRange"] = {
            "low": {"value": low, "unit": "years", "system": UCUM, "code": "a"},
            "high": {"value": high, "unit": "years", "system": UCUM, "code": "a"},
        }
        obs["note"] = [{"text": f"age band: {band}"}]
    else:
        obs["valueString"] = band
    return [obs]


def conditions(facts: HandoffFacts, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = facts.content
    onset: datetime | None = content.get("time_of_onset")
    complaints = [content.get("mechanism"), *(facts.picture.get("injuries") or ())]
    out = []
    for n, text in enumerate(c for c in complaints if c):
        condition: dict[str, Any] = {
            "resourceType": "Condition",
            "id": uid(facts.handoff_id, f"condition/{n}"),
            "clinicalStatus": {"coding": [coding(CONDITION_CLINICAL, "active", "Active")]},
            "verificationStatus": {
                "coding": [coding(CONDITION_VERIFICATION, "provisional", "Provisional")]
            },
            "category": [
                {
                    "coding": [
                        coding(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")
                    ]
                }
            ],
            "code": {"text": text},
            **context,
        }
        if onset is not None:
            condition["onsetDateTime"] = when(onset)
        elif content.get("onset_unknown"):
            condition["onsetString"] = "unknown (nobody knows when it began)"
        out.append(condition)
    return out


def _dose(item: Mapping[str, Any]) -> dict[str, Any] | None:
    if item.get("dose_value") is None or not item.get("dose_unit"):
        return None
    unit = item["dose_unit"]
    return {"value": item["dose_value"], "unit": unit, "system": UCUM, "code": unit}


def _treatment(
    hid: str, n: int, item: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """A timed medication is a MedicationAdministration; an untimed one a MedicationStatement
    (R4's MedicationAdministration requires a time, and none is invented); a procedure a
    Procedure, performed at its time if the crew gave one."""
    at = item.get("at")
    notes = [{"text": f"Response: {item['response']}"}] if item.get("response") else []
    rid = uid(hid, f"treatment/{n}")
    if item.get("kind") == "procedure":
        out: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": rid,
            "status": "completed",
            "code": {"text": item["name"]},
            **context,
        }
        if at is not None:
            out["performedDateTime"] = when(at)
        if item.get("response"):
            out["outcome"] = {"text": item["response"]}
        if item.get("route"):
            out["note"] = [{"text": f"Route: {item['route']}"}]
        return out
    dose = _dose(item)
    route = {"text": item["route"]} if item.get("route") else None
    out = {
        "resourceType": "MedicationAdministration" if at is not None else "MedicationStatement",
        "id": rid,
        "status": "completed",
        "medicationCodeableConcept": {"text": item["name"]},
        "subject": context["subject"],
        "context": context["encounter"],
    }
    if at is not None:
        out["effectiveDateTime"] = when(at)
        dosage = {k: v for k, v in (("dose", dose), ("route", route)) if v is not None}
        if dosage:
            out["dosage"] = dosage
    else:
        statement: dict[str, Any] = {"text": "time of administration not recorded"}
        if route:
            statement["route"] = route
        if dose:
            statement["doseAndRate"] = [{"doseQuantity": dose}]
        out["dosage"] = [statement]
    if notes:
        out["note"] = notes
    return out


def treatments(
    hid: str, items: Sequence[Mapping[str, Any]] | None, context: Mapping[str, Any]
) -> list[dict[str, Any]]:
    return [_treatment(hid, n, item, context) for n, item in enumerate(items or ())]


def allergies(
    hid: str, items: Sequence[str] | None, context: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Each allergy the crew was told of (unconfirmed: reported on scene); an empty list states
    that none is known. None (not asked) exports nothing."""
    if items is None:
        return []
    base = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [coding(ALLERGY_CLINICAL, "active", "Active")]},
        "verificationStatus": {
            "coding": [coding(ALLERGY_VERIFICATION, "unconfirmed", "Unconfirmed")]
        },
        "patient": context["subject"],
        "encounter": context["encounter"],
    }
    if not items:
        code = {"coding": [coding(SNOMED, *NO_KNOWN_ALLERGY)], "text": "No known allergy"}
        return [{**base, "id": uid(hid, "allergy/none"), "code": code}]
    return [
        {**base, "id": uid(hid, f"allergy/{n}"), "code": {"text": text}}
        for n, text in enumerate(items)
    ]


# Characters XML 1.0 cannot carry (controls but tab, newline, return; U+FFFE, U+FFFF): a
# narrative holding one would not parse for the receiving system.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _narrative(paragraphs: Sequence[str]) -> dict[str, Any]:
    # The crew's words go into XHTML escaped: text, never markup.
    body = "".join(f"<p>{html.escape(_NOT_XML.sub('', p))}</p>" for p in paragraphs)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def composition(
    facts: HandoffFacts, context: Mapping[str, Any], allergy_ids: Sequence[str]
) -> dict[str, Any]:
    """The handoff as a document: who sent it (the crew and their unit, by its call sign), the
    notes (the handoff's own and each note sent after it, with its time), the prehospital
    assessment and the allergies."""
    authors: list[dict[str, Any]] = [{"display": name} for name in facts.crew]
    if facts.unit_id:
        authors.append(
            {
                "identifier": {"system": UNIT_IDENTIFIER, "value": facts.unit_id},
                "display": f"Unit {facts.unit_call_sign or facts.unit_id}",
            }
        )
    if not authors:
        authors = [{"display": "Ambulance crew (not named)"}]
    sections: list[dict[str, Any]] = []
    notes = facts.picture.get("notes") or []
    if notes:
        sections.append(
            {
                "title": "Notes",
                "text": _narrative(
                    [
                        n["text"] if n.get("at") is None else f"{when(n['at'])}: {n['text']}"
                        for n in notes
                    ]
                ),
            }
        )
    assessment = fhir_assessment.paragraphs(facts.picture.get("assessment"))
    if assessment:
        sections.append({"title": fhir_assessment.SECTION_TITLE, "text": _narrative(assessment)})
    if allergy_ids:
        allergy_list = facts.picture.get("allergies") or []
        sections.append(
            {
                "title": "Allergies",
                "text": _narrative(list(allergy_list) or ["No known allergy"]),
                "entry": [{"reference": f"urn:uuid:{i}"} for i in allergy_ids],
            }
        )
    out: dict[str, Any] = {
        "resourceType": "Composition",
        "id": uid(facts.handoff_id, "composition"),
        "status": "preliminary" if facts.status == "draft" else "final",
        "type": {
            "coding": [coding(LOINC, *TRANSFER_SUMMARY)],
            "text": "Pre-arrival handoff (ATMIST)",
        },
        "date": when(facts.created_at),
        "author": authors,
        "title": "Pre-arrival handoff (ATMIST)",
        **context,
    }
    if sections:
        out["section"] = sections
    return out
