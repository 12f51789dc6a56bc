"""A person as FHIR R4 resources, and back. Pure: schemas in, plain JSON-ready dicts out;
FHIR resources (already parsed by fhir.resources.R4B) in, schemas or a reason out.

Every exported clinical resource carries the EMsync entry id as an identifier, so importing an
export into the same registry recognises its own entries and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from emsync.registry.clinical_schemas import (
    AllergyIn,
    DocumentIn,
    EncounterIn,
    EntryIn,
    EntryRead,
    MedicationIn,
    ObservationIn,
    ProblemIn,
)
from emsync.registry.schemas import IdentifierIn, PersonRegistration, RegisteredPerson

NATIONAL_ID = "https://emsync.dev/fhir/NamingSystem/national-id"
MRN_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
OTHER_ID = "https://emsync.dev/fhir/NamingSystem/"
ENTRY_ID = "https://emsync.dev/fhir/NamingSystem/registry-entry"
PERSON_ID = "https://emsync.dev/fhir/NamingSystem/person"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = "http://terminology.hl7.org/v3-ActCode"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
LANGUAGE = "urn:ietf:bcp:47"
_ENCOUNTER_CLASS = {
    "ambulance": "FLD",
    "emergency": "EMER",
    "inpatient": "IMP",
    "outpatient": "AMB",
}
_CLASS_OF = {v: k for k, v in _ENCOUNTER_CLASS.items()}
_MED_STATUS = {
    "active": "active",
    "completed": "completed",
    "stopped": "stopped",
    "intended": "active",
    "on-hold": "stopped",
    "not-taken": "stopped",
    "given": "completed",
}


class FhirRejected(ValueError):
    """One resource of a Bundle cannot be imported; the message says why."""


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _concept(text: str, code: str | None = None, system: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"code": code, **({"system": system} if system else {})}]
    return concept


def patient_resource(person: RegisteredPerson) -> dict[str, Any]:
    identifiers: list[dict[str, Any]] = [{"system": PERSON_ID, "value": person.id}]
    for ident in person.identifiers:
        if ident.system == "national":
            identifiers.append({"system": NATIONAL_ID, "value": ident.value})
        elif ident.system == "mrn":
            identifiers.append(
                {
                    "type": {"coding": [{"system": MRN_TYPE, "code": "MR"}]},
                    "system": f"{OTHER_ID}mrn/{ident.assigner}",
                    "value": ident.value,
                    "assigner": {"display": ident.assigner},
                }
            )
        else:
            identifiers.append({"system": f"{OTHER_ID}{ident.system}", "value": ident.value})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person.id,
        "identifier": identifiers,
        "name": _names(person),
        "gender": person.sex,
        "birthDate": person.birth_date.isoformat() if person.birth_date else None,
        "telecom": [
            *([{"system": "phone", "value": person.phone}] if person.phone else []),
            *([{"system": "email", "value": str(person.email)}] if person.email else []),
        ],
        "contact": [
            {
                "name": {"text": c.name},
                **({"relationship": [{"text": c.relation}]} if c.relation else {}),
                **({"telecom": [{"system": "phone", "value": c.phone}]} if c.phone else {}),
            }
            for c in person.emergency_contacts
        ],
    }
    if person.address is not None:
        a = person.address
        resource["address"] = [
            {
                "line": [a.line] if a.line else None,
                "city": a.city,
                "postalCode": a.postcode,
                "state": a.state,
                "country": a.country,
            }
        ]
    if person.language:
        resource["communication"] = [
            {"language": {"coding": [{"system": LANGUAGE, "code": person.language}]}}
        ]
    extension = _patient_extension(person)
    if extension:
        resource["extension"] = extension
    cleaned: dict[str, Any] = _clean(resource)
    return cleaned


_EXT = "https://emsync.dev/fhir/StructureDefinition/"


def _patient_extension(person: RegisteredPerson) -> list[dict[str, Any]]:
    """What R4 Patient has no element for: birth date estimated, gender identity, insurance
    (a Coverage resource needs a payer Organization), the description of an unknown patient."""
    ext: list[dict[str, Any]] = []
    if person.birth_date_estimated:
        ext.append({"url": f"{_EXT}birth-date-estimated", "valueBoolean": True})
    if person.gender:
        ext.append({"url": f"{_EXT}gender-identity", "valueString": person.gender})
    if person.description:
        ext.append({"url": f"{_EXT}description", "valueString": person.description})
    if person.unknown:
        ext.append({"url": f"{_EXT}unknown-patient", "valueBoolean": True})
    ext.extend(
        {"url": f"{_EXT}insurance", "valueString": json.dumps(i.model_dump(), sort_keys=True)}
        for i in person.insurance
    )
    return ext


def _names(person: RegisteredPerson) -> list[dict[str, Any]]:
    names: list[dict[str, Any]] = []
    if person.given_name or person.family_name:
        names.append(
            {
                "use": "official",
                "family": person.family_name,
                "given": [person.given_name] if person.given_name else None,
            }
        )
    names.extend({"use": "nickname", "text": alias} for alias in person.aliases)
    return names


def _clean(value: Any) -> Any:
    """Drop None and empty lists: FHIR forbids empty elements."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [c for c in (_clean(v) for v in value) if c not in (None, [], {})]
    return value


def entry_resource(entry: EntryRead, patient_ref: str) -> dict[str, Any] | None:
    """The FHIR resource of one clinical entry (None: a device report, exported as a
    DocumentReference, is handled there)."""
    c = entry.content
    base: dict[str, Any] = {
        "id": entry.id,
        "identifier": [{"system": ENTRY_ID, "value": entry.id}],
    }
    subject = {"reference": patient_ref}
    if isinstance(c, AllergyIn):
        res = {
            "resourceType": "AllergyIntolerance",
            "patient": subject,
            "code": _concept(c.substance, c.code),
            "category": [c.category],
            "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": c.status}]},
            "recordedDate": _when(entry.recorded_at),
            "reaction": [
                {
                    "manifestation": [{"text": c.reaction or "unspecified"}],
                    **({"severity": c.severity} if c.severity else {}),
                }
            ],
            "note": [{"text": c.note}] if c.note else None,
        }
    elif isinstance(c, MedicationIn):
        dosage = " ".join(p for p in (c.dose, c.route, c.frequency) if p)
        res = {
            "resourceType": "MedicationStatement",
            "subject": subject,
            "status": "completed" if c.status == "given" else c.status,
            "medicationCodeableConcept": {"text": c.substance},
            "dosage": [{"text": dosage}] if dosage else None,
            "effectiveDateTime": _when(c.occurred_at),
            "note": [{"text": c.note}] if c.note else None,
        }
    elif isinstance(c, ProblemIn):
        res = {
            "resourceType": "Condition",
            "subject": subject,
            "code": _concept(c.condition, c.code),
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": c.status}]},
            "onsetDateTime": c.onset.isoformat() if c.onset else None,
            "note": [{"text": c.note}] if c.note else None,
        }
    elif isinstance(c, EncounterIn):
        res = _encounter(c, subject, entry)
    elif isinstance(c, ObservationIn):
        res = _observation(c, subject, entry)
    else:
        res = _document(c, subject, entry)
    cleaned: dict[str, Any] = _clean({**res, **base})
    return cleaned


def _encounter(c: EncounterIn, subject: dict[str, Any], entry: EntryRead) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "subject": subject,
        "status": c.status,
        "class": {"system": ACT_CODE, "code": _ENCOUNTER_CLASS[c.encounter_class]},
        "period": {"start": _when(c.occurred_at or entry.recorded_at), "end": _when(c.ended_at)},
        "reasonCode": [{"text": c.reason}] if c.reason else None,
        "serviceProvider": {"display": c.facility} if c.facility else None,
        "diagnosis": [{"condition": {"display": c.diagnosis}}] if c.diagnosis else None,
        "extension": _clean(
            [
                {"url": f"{_EXT}symptoms", "valueString": c.symptoms} if c.symptoms else None,
                {"url": f"{_EXT}treatment", "valueString": c.treatment} if c.treatment else None,
                {"url": f"{_EXT}incident", "valueString": c.incident_id} if c.incident_id else None,
            ]
        ),
    }


def _observation(c: ObservationIn, subject: dict[str, Any], entry: EntryRead) -> dict[str, Any]:
    code = (
        {"coding": [{"system": LOINC, "code": c.code, "display": c.display}], "text": c.display}
        if c.code
        else {"text": c.display or f"{c.ref_kind} {c.ref_id}"}
    )
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "subject": subject,
        "status": c.status,
        "code": code,
        "effectiveDateTime": _when(c.occurred_at or entry.recorded_at),
        "note": [{"text": c.note}] if c.note else None,
    }
    if c.value is not None:
        res["valueQuantity"] = {"value": c.value, "unit": c.unit, "system": UCUM, "code": c.unit}
    if c.ref_kind and c.ref_id:
        # By reference: the values stay where they live (telemetry, the handoff).
        res["derivedFrom"] = [{"display": f"{c.ref_kind}:{c.ref_id}"}]
    return res


def _document(c: Any, subject: dict[str, Any], entry: EntryRead) -> dict[str, Any]:
    if isinstance(c, DocumentIn):
        title, ctype, text, url, status = c.title, c.content_type, c.text, c.url, c.status
    else:  # a device report
        title, ctype, url, status = f"device report {c.device_id}", "text/plain", None, "current"
        text = c.summary
    attachment: dict[str, Any] = {"contentType": ctype, "title": title, "url": url}
    if text is not None:
        attachment["data"] = base64.b64encode(text.encode()).decode()
    return {
        "resourceType": "DocumentReference",
        "subject": subject,
        "status": "current" if status in ("final", "preliminary") else status,
        "description": title,
        "date": _when(entry.recorded_at),
        "type": {"text": entry.kind},
        "content": [{"attachment": attachment}],
    }


def source_key(resource: Mapping[str, Any]) -> str:
    """Idempotency key of an imported resource: its EMsync entry id if it came from EMsync,
    else a digest of its content (the same resource imported twice is recorded once)."""
    for ident in resource.get("identifier") or []:
        if ident.get("system") == ENTRY_ID and ident.get("value"):
            return f"fhir:entry:{ident['value']}"
    canonical = json.dumps(
        {k: v for k, v in resource.items() if k not in ("meta", "id")}, sort_keys=True
    )
    return f"fhir:{resource.get('resourceType')}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def entry_id_of(resource: Mapping[str, Any]) -> str | None:
    for ident in resource.get("identifier") or []:
        if ident.get("system") == ENTRY_ID:
            return str(ident.get("value"))
    return None


def person_from_patient(resource: Mapping[str, Any]) -> PersonRegistration:
    identifiers = [_identifier(i) for i in resource.get("identifier") or []]
    identifiers = [i for i in identifiers if i is not None]
    if not identifiers:
        raise FhirRejected("a Patient is imported by identifier: it needs one (national or MRN)")
    names: list[dict[str, Any]] = resource.get("name") or []
    official: dict[str, Any] = next((n for n in names if n.get("use") != "nickname"), {})
    telecom = resource.get("telecom") or []
    address = (resource.get("address") or [None])[0]
    ext = {e.get("url", "").removeprefix(_EXT): e for e in resource.get("extension") or []}
    data: dict[str, Any] = {
        "given_name": (official.get("given") or [None])[0],
        "family_name": official.get("family"),
        "aliases": [n["text"] for n in resource.get("name") or [] if n.get("use") == "nickname"],
        "birth_date": resource.get("birthDate"),
        "birth_date_estimated": bool(ext.get("birth-date-estimated", {}).get("valueBoolean")),
        "sex": resource.get("gender"),
        "gender": ext.get("gender-identity", {}).get("valueString"),
        "description": ext.get("description", {}).get("valueString"),
        "unknown": bool(ext.get("unknown-patient", {}).get("valueBoolean")),
        "phone": next((t["value"] for t in telecom if t.get("system") == "phone"), None),
        "email": next((t["value"] for t in telecom if t.get("system") == "email"), None),
        "emergency_contacts": [_contact(c) for c in resource.get("contact") or []],
        "insurance": [
            json.loads(e["valueString"])
            for e in resource.get("extension") or []
            if e.get("url") == f"{_EXT}insurance"
        ],
        "identifiers": identifiers,
        "match": True,
    }
    if address:
        data["address"] = {
            "line": (address.get("line") or [None])[0],
            "city": address.get("city"),
            "postcode": address.get("postalCode"),
            "state": address.get("state"),
            "country": address.get("country"),
        }
    comm = resource.get("communication") or []
    if comm:
        data["language"] = ((comm[0].get("language") or {}).get("coding") or [{}])[0].get("code")
    try:
        return PersonRegistration.model_validate(data)
    except ValidationError as exc:
        raise FhirRejected(_first_error(exc)) from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"


def _identifier(ident: Mapping[str, Any]) -> IdentifierIn | None:
    system, value = ident.get("system") or "", ident.get("value")
    if not value or system == PERSON_ID:
        return None
    codes = {c.get("code") for c in (ident.get("type") or {}).get("coding") or []}
    if system == NATIONAL_ID or "NI" in codes:
        return IdentifierIn(system="national", value=value)
    if "MR" in codes:
        assigner = (ident.get("assigner") or {}).get("display") or system.rsplit("/", 1)[-1]
        return IdentifierIn(system="mrn", value=value, assigner=assigner)
    if system.endswith("/passport"):
        return IdentifierIn(system="passport", value=value)
    return IdentifierIn(system="other", value=value)


def _contact(c: Mapping[str, Any]) -> dict[str, Any]:
    phone = next((t["value"] for t in c.get("telecom") or [] if t.get("system") == "phone"), None)
    relation = ((c.get("relationship") or [{}])[0]).get("text")
    return {
        "name": (c.get("name") or {}).get("text") or "unnamed",
        "relation": relation,
        "phone": phone,
    }


def _text(concept: Mapping[str, Any] | None) -> str | None:
    if not concept:
        return None
    coding = (concept.get("coding") or [{}])[0]
    found = concept.get("text") or coding.get("display") or coding.get("code")
    return None if found is None else str(found)


def _code(concept: Mapping[str, Any] | None) -> str | None:
    found = ((concept or {}).get("coding") or [{}])[0].get("code")
    return None if found is None else str(found)


def entry_from_resource(resource: Mapping[str, Any]) -> EntryIn:
    """The clinical entry of one imported resource, or FhirRejected saying why not."""
    kind = resource.get("resourceType")
    build = _IMPORTERS.get(str(kind))
    if build is None:
        raise FhirRejected(f"{kind} is not imported (Patient and clinical resources only)")
    try:
        return build(resource)
    except ValidationError as exc:
        raise FhirRejected(_first_error(exc)) from exc
    except (KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise FhirRejected(f"{kind}: {exc!r}") from exc


def _allergy(r: Mapping[str, Any]) -> EntryIn:
    reaction = (r.get("reaction") or [{}])[0]
    manifestation = _text((reaction.get("manifestation") or [None])[0])
    substance = _text(r.get("code"))
    if not substance:
        raise FhirRejected("AllergyIntolerance.code names no substance")
    return AllergyIn(
        source="import",
        substance=substance,
        code=_code(r.get("code")),
        category=(r.get("category") or ["medication"])[0],
        reaction=None if manifestation == "unspecified" else manifestation,
        severity=reaction.get("severity"),
        status=_code(r.get("clinicalStatus")) or "active",
        note=((r.get("note") or [{}])[0]).get("text"),
    )


def _medication(r: Mapping[str, Any]) -> EntryIn:
    substance = _text(r.get("medicationCodeableConcept"))
    if not substance:
        raise FhirRejected("MedicationStatement needs medicationCodeableConcept")
    status = _MED_STATUS.get(r.get("status", ""))
    if status is None:
        raise FhirRejected(f"MedicationStatement.status {r.get('status')!r} is not imported")
    return MedicationIn(
        source="import",
        substance=substance,
        dose=((r.get("dosage") or [{}])[0]).get("text"),
        status=status,
        occurred_at=r.get("effectiveDateTime"),
        note=((r.get("note") or [{}])[0]).get("text"),
        # A statement of what was taken is history, not an order: conflicts are reported.
        override_reason="imported statement (FHIR)",
    )


def _condition(r: Mapping[str, Any]) -> EntryIn:
    condition = _text(r.get("code"))
    if not condition:
        raise FhirRejected("Condition.code names no condition")
    onset = r.get("onsetDateTime")
    return ProblemIn(
        source="import",
        condition=condition,
        code=_code(r.get("code")),
        onset=onset[:10] if onset else None,
        status=_code(r.get("clinicalStatus")) or "active",
        note=((r.get("note") or [{}])[0]).get("text"),
    )


def _encounter_in(r: Mapping[str, Any]) -> EntryIn:
    ext = {
        e.get("url", "").removeprefix(_EXT): e.get("valueString") for e in r.get("extension") or []
    }
    period = r.get("period") or {}
    cls = (r.get("class") or {}).get("code")
    return EncounterIn(
        source="import",
        encounter_class=_CLASS_OF.get(cls, "emergency"),  # type: ignore[arg-type]
        facility=(r.get("serviceProvider") or {}).get("display"),
        reason=_text((r.get("reasonCode") or [None])[0]),
        diagnosis=(((r.get("diagnosis") or [{}])[0]).get("condition") or {}).get("display"),
        symptoms=ext.get("symptoms"),
        treatment=ext.get("treatment"),
        incident_id=ext.get("incident"),
        occurred_at=period.get("start"),
        ended_at=period.get("end"),
        status=r.get("status", "finished"),
    )


def _observation_in(r: Mapping[str, Any]) -> EntryIn:
    code = r.get("code") or {}
    loinc = next(
        (c.get("code") for c in code.get("coding") or [] if c.get("system") == LOINC), None
    )
    quantity = r.get("valueQuantity") or {}
    derived = ((r.get("derivedFrom") or [{}])[0]).get("display") or ""
    ref_kind, _, ref_id = derived.partition(":")
    return ObservationIn(
        source="import",
        code=loinc,
        display=code.get("text") or _text(code),
        value=quantity.get("value"),
        unit=quantity.get("code") or quantity.get("unit"),
        ref_kind=ref_kind or None,
        ref_id=ref_id or None,
        occurred_at=r.get("effectiveDateTime"),
        status=r.get("status", "final"),
        note=((r.get("note") or [{}])[0]).get("text"),
    )


def _document_in(r: Mapping[str, Any]) -> EntryIn:
    attachment = ((r.get("content") or [{}])[0]).get("attachment") or {}
    data = attachment.get("data")
    return DocumentIn(
        source="import",
        title=attachment.get("title") or r.get("description") or "document",
        content_type=attachment.get("contentType") or "text/plain",
        text=base64.b64decode(data, validate=True).decode() if data else None,
        url=attachment.get("url"),
        status=r.get("status", "current"),
    )


_IMPORTERS = {
    "AllergyIntolerance": _allergy,
    "MedicationStatement": _medication,
    "Condition": _condition,
    "Encounter": _encounter_in,
    "Observation": _observation_in,
    "DocumentReference": _document_in,
}
