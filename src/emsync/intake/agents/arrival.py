"""How the agents read a session's input, pure. One place, so every agent reads a field the
same way whatever the session was started from (an arriving handoff, a walk-in form, a device
scan).

The payload keys (all optional): `person` (registry identity fields: given_name, family_name,
birth_date, sex, identifiers, phone, emergency_contacts, insurance, language, unknown,
estimated_age_years, description), `age`, `sex`, `chief_complaint`, `mechanism`, `flags`
(reportable categories a crew or clinician ticked), `vitals` (hr, spo2, rr, sbp, dbp, temp,
on_oxygen, consciousness), `device_id`, `hospital_id`, `jurisdiction`, `consent`, `capacity`,
`planned_medications`, `follow_up` (specialty, within_days, kind), `dead_on_arrival`,
`arrival_mode`, `injury`, `pain`, `nrs_pain`, `handoff_id`, `incident_id`, `patient_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

VITAL_KEYS = ("hr", "spo2", "rr", "sbp", "dbp", "temp")


def person(payload: Mapping[str, Any]) -> dict[str, Any]:
    value = payload.get("person")
    return dict(value) if isinstance(value, Mapping) else {}


def _years_between(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age(payload: Mapping[str, Any], now: datetime) -> float | None:
    """Years: as given, else from the date of birth, else the estimate for an unknown patient."""
    given = payload.get("age")
    if isinstance(given, int | float) and not isinstance(given, bool):
        return float(given)
    p = person(payload)
    born = p.get("birth_date")
    if isinstance(born, str):
        try:
            born = date.fromisoformat(born)
        except ValueError:
            born = None
    if isinstance(born, date):
        return float(_years_between(born, now.date()))
    estimate = p.get("estimated_age_years")
    if isinstance(estimate, int | float) and not isinstance(estimate, bool):
        return float(estimate)
    return None


def sex(payload: Mapping[str, Any]) -> str:
    value = payload.get("sex") or person(payload).get("sex")
    return value if value in ("male", "female") else "unknown"


def complaint(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("chief_complaint") or payload.get("complaint")
    return value.strip() if isinstance(value, str) and value.strip() else None


def texts(payload: Mapping[str, Any]) -> list[str]:
    """The free text a rule may read: complaint, mechanism, circumstances, diagnosis."""
    keys = ("chief_complaint", "complaint", "mechanism", "circumstances", "diagnosis")
    return [str(payload[k]) for k in keys if isinstance(payload.get(k), str)]


def flags(payload: Mapping[str, Any]) -> list[str]:
    value = payload.get("flags")
    return [str(f) for f in value] if isinstance(value, list | tuple) else []


def vitals(payload: Mapping[str, Any]) -> dict[str, Any]:
    value = payload.get("vitals")
    return dict(value) if isinstance(value, Mapping) else {}


def text_field(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) and value else None


def hospital_id(payload: Mapping[str, Any], default: str | None) -> str | None:
    return text_field(payload, "hospital_id") or default


def person_id(previous: Mapping[str, Mapping[str, Any]], payload: Mapping[str, Any]) -> str | None:
    """The registry person: from the admission step, else given in the input."""
    admitted = previous.get("admission", {})
    found = admitted.get("person_id") if isinstance(admitted, Mapping) else None
    return (found if isinstance(found, str) else None) or text_field(payload, "person_id")


def acuity(previous: Mapping[str, Mapping[str, Any]]) -> int | None:
    level = previous.get("triage", {}).get("level")
    return level if isinstance(level, int) else None


def _age_of_band(band: str | None) -> int | None:
    """'70-80' -> 75; '80+' -> 80; anything else None."""
    if not band:
        return None
    parts = [p for p in band.replace("+", "").split("-") if p.strip().isdigit()]
    if not parts:
        return None
    numbers = [int(p) for p in parts]
    return sum(numbers) // len(numbers)


def from_handoff(record: Mapping[str, Any]) -> dict[str, Any]:
    """Session input from an arriving ambulance's handoff (its JSON as the receiving hospital
    reads it): who (name, age or age band, sex), what (mechanism, injuries), the newest vital
    signs, allergies the crew heard of, medications the crew gave. Only what is there."""
    content = record.get("content") or {}
    picture = record.get("picture") or {}
    patient = content.get("patient") or {}
    out: dict[str, Any] = {"arrival_mode": "public_ambulance"}
    person: dict[str, Any] = {}
    name = str(patient.get("name") or "").split()
    if name:
        person["given_name"] = name[0]
        if len(name) > 1:
            person["family_name"] = " ".join(name[1:])
    if patient.get("sex") in ("male", "female", "other", "unknown"):
        person["sex"] = patient["sex"]
        out["sex"] = patient["sex"]
    if isinstance(patient.get("age_years"), int):
        out["age"] = patient["age_years"]
    estimate = patient.get("age_years") or _age_of_band(patient.get("age_band"))
    if estimate is not None and not name:
        person["estimated_age_years"] = estimate
        out.setdefault("age", estimate)
    if person:
        out["person"] = person
    injuries = [str(i) for i in picture.get("injuries") or content.get("injuries") or []]
    if content.get("mechanism"):
        out["mechanism"] = str(content["mechanism"])
        out["chief_complaint"] = str(content["mechanism"])[:500]
    elif injuries:
        out["chief_complaint"] = injuries[0][:500]
    if injuries:
        out["circumstances"] = "; ".join(injuries)
        out["injury"] = True
    signs = picture.get("latest_signs")
    if isinstance(signs, Mapping):
        vitals = {k: signs[k] for k in VITAL_KEYS if signs.get(k) is not None}
        if signs.get("o2") is not None:
            vitals["on_oxygen"] = bool(signs["o2"])
        if signs.get("avpu"):
            vitals["consciousness"] = signs["avpu"]
        out["vitals"] = vitals
    treatment = picture.get("treatment") or content.get("treatment") or []
    given = [
        str(t["name"])
        for t in treatment
        if isinstance(t, Mapping) and t.get("kind") == "medication"
    ]
    if given:
        out["planned_medications"] = given
    if picture.get("allergies") is not None:
        out["reported_allergies"] = list(picture["allergies"])
    for key in ("patient_id", "incident_id", "hospital_id"):
        if record.get(key):
            out[key] = record[key]
    return out


def merged(given: Mapping[str, Any], derived: Mapping[str, Any]) -> dict[str, Any]:
    """The session's own input wins over what was derived; `person` and `vitals` merge field
    by field."""
    out = {**derived, **given}
    for key in ("person", "vitals"):
        a, b = derived.get(key), given.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out[key] = {**a, **b}
    return out
