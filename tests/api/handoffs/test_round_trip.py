"""Nothing the crew records is dropped: every field of the handoff schema, sent through the API,
is visible in what the hospital view reads (GET /api/handoffs/{id}) and in the FHIR Bundle.

The fields are enumerated from the pydantic models, so a field added to the schema and not
filled in here, or filled in and not mapped to FHIR, fails this test.
"""

from __future__ import annotations

import html
import re
import types
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from fhir.resources.R4B.bundle import Bundle
from pydantic import BaseModel

from emsync.auth.permissions import Role
from emsync.handoffs import fhir, fhir_rules
from emsync.handoffs.fhir_codes import (
    AVPU_FINDINGS,
    EMSYNC_ASSESSMENT,
    O2_DEVICES,
    SUSPECTED_CONDITIONS,
)
from emsync.handoffs.schemas import HandoffCreate, UpdateCreate
from tests.builders import auth_headers, incident_body

HOSPITAL = "hosp-north"
NOW = datetime.now(UTC).replace(microsecond=0)
# `kind` of an update names which of its fields it carries: it is seen through that field.
DISCRIMINATORS = {"update.kind"}


def _models(annotation: Any) -> Iterator[tuple[type[BaseModel] | None, bool]]:
    """(model or None for a leaf, is a list) for each arm of an annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(annotation):
            if arm is not type(None):
                yield from _models(arm)
    elif origin is list:
        for inner, _ in _models(typing.get_args(annotation)[0]):
            yield inner, True
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, False
    else:
        yield None, False


def schema_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every leaf field of `model`, recursively: `content.signs[].hr`."""
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        for inner, is_list in _models(info.annotation):
            path = f"{prefix}{name}{'[]' if is_list else ''}"
            paths |= {path} if inner is None else schema_paths(inner, f"{path}.")
    return paths


def sent_values(value: Any, prefix: str = "") -> dict[str, list[Any]]:
    """Each leaf path of a request body with the values sent at it."""
    out: dict[str, list[Any]] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            for path, vs in sent_values(v, f"{prefix}{'.' if prefix else ''}{k}").items():
                out.setdefault(path, []).extend(vs)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for item in value:
            for path, vs in sent_values(item, f"{prefix}[]").items():
                out.setdefault(path, []).extend(vs)
    elif isinstance(value, list):
        out[f"{prefix}[]"] = list(value)
    elif value is not None:
        out[prefix] = [value]
    return out


def _t(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def full_handoffs(incident_id: str, patient_id: str) -> list[dict[str, Any]]:
    """Two handoffs that between them set every field: one timed, one where times are unknown
    (onset unknown, an untimed treatment, an age band instead of an age)."""
    timed = {
        "incident_id": incident_id,
        "patient_id": patient_id,
        "unit_id": "MEDIC-12",
        "hospital_id": HOSPITAL,
        "eta": (NOW + timedelta(minutes=11)).isoformat(),
        "acuity": 2,
        "news2": 9,
        "crew": ["Paramedic Kallio", "EMT Nieminen"],
        "content": {
            "patient": {"name": "Eero Testinen", "age_years": 81, "sex": "male"},
            "time_of_onset": _t(50),
            "mechanism": "fall at home, found on the floor",
            "injuries": ["confusion", "hypoxia"],
            "signs": [
                {"ts": _t(9), "hr": 112, "spo2": 93, "rr": 22, "sbp": 118, "dbp": 71, "temp": 37.9,
                 "o2": False, "avpu": "A", "source": "crew"},
                {"ts": _t(7), "hr": 118, "spo2": 89, "rr": 26, "sbp": 104, "dbp": 62, "temp": 38.6,
                 "o2": True, "o2_device": "non_rebreather_mask", "o2_flow": 15, "avpu": "V",
                 "source": "crew"},
                {"ts": _t(2), "hr": 121, "spo2": 86, "source": "telemetry",
                 "artefacts": [{"field": "spo2", "kind": "motion"}]},
            ],
            "treatment": [
                {"kind": "medication", "name": "oxygen", "at": _t(8), "route": "inhaled",
                 "response": "SpO2 84 to 89 %"},
                {"kind": "medication", "name": "paracetamol", "at": _t(6), "dose_value": 1,
                 "dose_unit": "g", "route": "IV", "response": "no change yet"},
                {"kind": "procedure", "name": "IV access", "at": _t(6.5), "route": "left arm",
                 "response": "patent"},
            ],
            "allergies": ["penicillin (rash)", "latex"],
            "notes": "Lives alone. Allergy: penicillin.",
            "assessment": {"befast": ["face", "speech"], "ecg": "stemi_equivalent",
                           "gcs_motor": 5, "injury_mechanism": "fall from standing height",
                           "conditions": ["stroke", "stemi"]},
        },
    }  # fmt: skip
    untimed = {
        **timed,
        "news2": None,
        "content": {
            "patient": {"age_band": "70-80", "sex": "female"},
            "onset_unknown": True,
            "mechanism": "collapsed in a shop",
            "injuries": ["syncope"],
            "signs": [{"ts": _t(3), "hr": 54, "spo2": 97, "o2_device": "nasal_cannula",
                       "avpu": "C"}],
            "treatment": [{"kind": "medication", "name": "glucagon", "dose_value": 1,
                           "dose_unit": "mg", "route": "IM", "response": "waking up"}],
            "allergies": [],
            "notes": "Bystander CPR for one minute.",
        },
    }  # fmt: skip
    return [timed, untimed]


UPDATES: list[dict[str, Any]] = [
    {"kind": "vitals", "vitals": {"ts": _t(1), "hr": 133, "spo2": 84, "rr": 31, "sbp": 92,
                                   "dbp": 55, "temp": 38.8, "o2": True, "o2_device": "venturi_mask",
                                   "o2_flow": 12, "avpu": "P", "source": "telemetry",
                                   "artefacts": [{"field": "sbp", "kind": "damped_line"}]}},
    {"kind": "eta", "eta": (NOW + timedelta(minutes=6)).isoformat()},
    {"kind": "findings", "findings": ["new left-sided weakness"]},
    {"kind": "treatment", "treatment": {"kind": "medication", "name": "ondansetron",
                                        "dose_value": 4, "dose_unit": "mg", "route": "IV",
                                        "at": _t(0.5), "response": "nausea settled"}},
    {"kind": "note", "note": "Daughter on her way, has his medication list."},
]  # fmt: skip


# ------------------------------------------------------------------ the hospital view's data


def _lookup(data: Any, path: str) -> list[Any]:
    """All values at a dotted path with [] for lists, in parsed JSON."""
    values = [data]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        nxt: list[Any] = []
        for v in values:
            if isinstance(v, dict) and v.get(key) is not None:
                nxt.extend(v[key] if many else [v[key]])
        values = nxt
    return values


# What the view shows merged (the record with its updates) is under `picture`.
_PICTURE = {
    "content.signs": "picture.signs",
    "content.injuries": "picture.injuries",
    "content.treatment": "picture.treatment",
    "content.allergies": "picture.allergies",
    "content.assessment": "picture.assessment",
    "update.vitals": "picture.signs[]",
    "update.findings": "picture.injuries",
    "update.treatment": "picture.treatment[]",
    "update.note": "picture.notes[].text",
    "update.eta": "eta",
}


def view_values(view: dict[str, Any], path: str) -> list[Any]:
    if path == "content.notes":
        return _lookup(view, "picture.notes[].text")
    for prefix, target in _PICTURE.items():
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[]"):
            return _lookup(view, target + path[len(prefix) :])
    return _lookup(view, path)


# ------------------------------------------------------------------ the FHIR Bundle


def _of(bundle: dict[str, Any], *kinds: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] in kinds]


def _loinc(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [
        r
        for r in _of(bundle, "Observation")
        if code in {c.get("code") for c in r["code"].get("coding", ())}
    ]


def _oxygen(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in _loinc(bundle, "3151-8") if o["code"].get("text") == "Supplemental oxygen"]


def _scores(bundle: dict[str, Any], name: str, stated: bool) -> list[Any]:
    return [
        o["valueInteger"]
        for o in _of(bundle, "Observation")
        if o["code"]["coding"][0]["code"] == name
        and o["method"]["text"].startswith("as stated") == stated
    ]


def _notes(resource: dict[str, Any], prefix: str) -> list[str]:
    return [
        n["text"].removeprefix(prefix)
        for n in resource.get("note", ())
        if n["text"].startswith(prefix)
    ]


def _doses(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    out = [
        m["dosage"]["dose"]
        for m in _of(bundle, "MedicationAdministration")
        if "dose" in m.get("dosage", {})
    ]
    out += [
        d["doseAndRate"][0]["doseQuantity"]
        for m in _of(bundle, "MedicationStatement")
        for d in m["dosage"]
        if "doseAndRate" in d
    ]
    return out


def _routes(bundle: dict[str, Any]) -> list[str]:
    out = [
        m["dosage"]["route"]["text"]
        for m in _of(bundle, "MedicationAdministration")
        if "route" in m.get("dosage", {})
    ]
    out += [
        d["route"]["text"]
        for m in _of(bundle, "MedicationStatement")
        for d in m["dosage"]
        if "route" in d
    ]
    out += [t for p in _of(bundle, "Procedure") for t in _notes(p, "Route: ")]
    return out


def _treatment_names(bundle: dict[str, Any]) -> list[str]:
    meds = _of(bundle, "MedicationAdministration", "MedicationStatement")
    return [m["medicationCodeableConcept"]["text"] for m in meds] + [
        p["code"]["text"] for p in _of(bundle, "Procedure")
    ]


def _composition_paragraphs(bundle: dict[str, Any], title: str) -> list[str]:
    [doc] = _of(bundle, "Composition")
    divs = [s["text"]["div"] for s in doc.get("section", ()) if s["title"] == title]
    return [html.unescape(p) for d in divs for p in re.findall(r"<p>(.*?)</p>", d)]


def _assessment_obs(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [
        o
        for o in _of(bundle, "Observation")
        if (EMSYNC_ASSESSMENT, code) in {(c["system"], c["code"]) for c in o["code"]["coding"]}
    ]


def _assessment_said(bundle: dict[str, Any], prefix: str) -> list[str]:
    return [
        p.removeprefix(prefix)
        for p in _composition_paragraphs(bundle, "Prehospital assessment")
        if p.startswith(prefix)
    ]


_REVERSE_CONDITION = {text: key for key, text in SUSPECTED_CONDITIONS.items()}
ASSESSMENT: dict[str, Extractor] = {
    "befast[]": lambda b: [
        c["code"]["coding"][0]["code"].removeprefix("befast-")
        for o in _assessment_obs(b, "befast")
        for c in o["component"]
        if c["valueBoolean"]
    ],
    "ecg": lambda b: [
        o["valueCodeableConcept"]["coding"][0]["code"].removeprefix("ecg-")
        for o in _assessment_obs(b, "ecg-12-lead")
    ],
    "gcs_motor": lambda b: [o["valueInteger"] for o in _loinc(b, "9268-4")],
    "injury_mechanism": lambda b: _assessment_said(b, "Mechanism of injury: "),
    "conditions[]": lambda b: [
        _REVERSE_CONDITION[c]
        for said in _assessment_said(b, "Condition set by hand: ")
        for c in said.split(", ")
        if c != "none"
    ],
}


_TIMED = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z: (.*)$", re.S)


def _vitals(bundle: dict[str, Any], code: str) -> list[Any]:
    return [o["valueQuantity"]["value"] for o in _loinc(bundle, code)]


def _bp(bundle: dict[str, Any], code: str) -> list[Any]:
    return [
        c["valueQuantity"]["value"]
        for o in _loinc(bundle, "85354-9")
        for c in o["component"]
        if c["code"]["coding"][0]["code"] == code and "valueQuantity" in c
    ]


_ARTEFACT = re.compile(rf"^{fhir.ARTEFACT_NOTE} \((.+)\): (.+)$")
_REVERSE_FIELD = {text: name for name, text in fhir.ARTEFACT_FIELDS.items()}
_REVERSE_KIND = {text: kind for kind, text in fhir.ARTEFACT_KINDS.items()}


def _artefacts(bundle: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, kind) of each artefact note on a vital-sign Observation."""
    return [
        (_REVERSE_FIELD[m.group(1)], _REVERSE_KIND[m.group(2)])
        for o in _of(bundle, "Observation")
        for n in o.get("note", ())
        if (m := _ARTEFACT.match(n["text"]))
    ]


_REVERSE_AVPU = {code: letter for letter, (code, _) in AVPU_FINDINGS.items()}
_REVERSE_DEVICE = {f"Supplemental oxygen: {text}": key for key, text in O2_DEVICES.items()}
Extractor = Callable[[dict[str, Any]], list[Any]]
SIGNS: dict[str, Extractor] = {
    "ts": lambda b: [o["effectiveDateTime"] for o in _loinc(b, "8867-4") + _loinc(b, "2708-6")],
    "hr": lambda b: _vitals(b, "8867-4"),
    "spo2": lambda b: _vitals(b, "2708-6"),
    "rr": lambda b: _vitals(b, "9279-1"),
    "temp": lambda b: _vitals(b, "8310-5"),
    "sbp": lambda b: _bp(b, "8480-6"),
    "dbp": lambda b: _bp(b, "8462-4"),
    "o2": lambda b: ["coding" not in o["method"] for o in _oxygen(b)],
    "o2_device": lambda b: [_REVERSE_DEVICE.get(o["method"]["text"]) for o in _oxygen(b)],
    "o2_flow": lambda b: [o["valueQuantity"]["value"] for o in _oxygen(b) if "valueQuantity" in o],
    "avpu": lambda b: [
        _REVERSE_AVPU[o["valueCodeableConcept"]["coding"][0]["code"]] for o in _loinc(b, "67775-7")
    ],
    "artefacts[].field": lambda b: [field for field, _ in _artefacts(b)],
    "artefacts[].kind": lambda b: [kind for _, kind in _artefacts(b)],
    "source": lambda b: [
        "telemetry" if "device" in o else "crew"
        for o in _of(b, "Observation")
        if "category" in o and o["category"][0]["coding"][0]["code"] == "vital-signs"
    ],
}
TREATMENT: dict[str, Extractor] = {
    "kind": lambda b: (
        ["medication"] * len(_of(b, "MedicationAdministration", "MedicationStatement"))
        + ["procedure"] * len(_of(b, "Procedure"))
    ),
    "name": _treatment_names,
    "at": lambda b: (
        [m["effectiveDateTime"] for m in _of(b, "MedicationAdministration")]
        + [p["performedDateTime"] for p in _of(b, "Procedure") if "performedDateTime" in p]
    ),
    "dose_value": lambda b: [d["value"] for d in _doses(b)],
    "dose_unit": lambda b: [d["code"] for d in _doses(b)],
    "route": _routes,
    "response": lambda b: (
        [
            t
            for m in _of(b, "MedicationAdministration", "MedicationStatement")
            for t in _notes(m, "Response: ")
        ]
        + [p["outcome"]["text"] for p in _of(b, "Procedure") if "outcome" in p]
    ),
}
FHIR: dict[str, Extractor] = {
    "incident_id": lambda b: [i["value"] for e in _of(b, "Encounter") for i in e["identifier"]],
    "patient_id": lambda b: [i["value"] for p in _of(b, "Patient") for i in p["identifier"]],
    "unit_id": lambda b: [
        a["identifier"]["value"]
        for c in _of(b, "Composition")
        for a in c["author"]
        if "identifier" in a
    ],
    "hospital_id": lambda b: [
        e["serviceProvider"]["identifier"]["value"] for e in _of(b, "Encounter")
    ],
    "eta": lambda b: [e["period"]["start"] for e in _of(b, "Encounter")],
    "acuity": lambda b: _scores(b, "acuity", stated=True),
    "news2": lambda b: _scores(b, "news2", stated=True),
    "crew[]": lambda b: [a["display"] for c in _of(b, "Composition") for a in c["author"]],
    "content.patient.name": lambda b: [
        n["text"] for p in _of(b, "Patient") for n in p.get("name", ())
    ],
    "content.patient.age_years": lambda b: [
        o["valueQuantity"]["value"] for o in _loinc(b, "30525-0") if "valueQuantity" in o
    ],
    "content.patient.age_band": lambda b: [
        t for o in _loinc(b, "30525-0") for t in _notes(o, "age band: ")
    ],
    "content.patient.sex": lambda b: [p["gender"] for p in _of(b, "Patient")],
    "content.time_of_onset": lambda b: [
        c["onsetDateTime"] for c in _of(b, "Condition") if "onsetDateTime" in c
    ],
    "content.onset_unknown": lambda b: [True for c in _of(b, "Condition") if "onsetString" in c],
    "content.mechanism": lambda b: [c["code"]["text"] for c in _of(b, "Condition")],
    "content.injuries[]": lambda b: [c["code"]["text"] for c in _of(b, "Condition")],
    "content.allergies[]": lambda b: [a["code"]["text"] for a in _of(b, "AllergyIntolerance")],
    "content.notes": lambda b: _composition_paragraphs(b, "Notes"),
    "update.eta": lambda b: [e["period"]["start"] for e in _of(b, "Encounter")],
    "update.findings[]": lambda b: [c["code"]["text"] for c in _of(b, "Condition")],
    "update.note": lambda b: [
        m.group(1) for p in _composition_paragraphs(b, "Notes") if (m := _TIMED.match(p))
    ],
    **{f"content.assessment.{k}": f for k, f in ASSESSMENT.items()},
    **{f"content.signs[].{k}": f for k, f in SIGNS.items()},
    **{f"update.vitals.{k}": f for k, f in SIGNS.items()},
    **{f"content.treatment[].{k}": f for k, f in TREATMENT.items()},
    **{f"update.treatment.{k}": f for k, f in TREATMENT.items()},
}


def _same(sent: Any, found: Any) -> bool:
    if isinstance(sent, str) and isinstance(found, str) and "T" in sent and ":" in sent:
        try:
            return datetime.fromisoformat(sent) == datetime.fromisoformat(found)
        except ValueError:
            pass
    return bool(sent == found)


def _missing(sent: list[Any], found: list[Any]) -> list[Any]:
    return [s for s in sent if not any(_same(s, f) for f in found)]


async def test_every_field_the_crew_sends_reaches_the_hospital_view_and_fhir(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    body = incident_body(patients=[{"name": "Eero", "age_years": 81, "sex": "male"}])
    incident = (await client.post("/api/incidents", json=body, headers=crew)).json()
    handoffs = full_handoffs(incident["id"], incident["patients"][0]["id"])

    # The payloads set every leaf of the schema: a new field must be added here to pass.
    paths = schema_paths(HandoffCreate) | {f"update.{p}" for p in schema_paths(UpdateCreate)}
    sent: list[dict[str, list[Any]]] = [sent_values(h) for h in handoffs]
    sent[0] |= {
        f"update.{path}": values
        for update in UPDATES
        for path, values in sent_values(update).items()
    }
    assert paths == set().union(*sent), "fill every schema field in full_handoffs / UPDATES"
    unmapped = sorted(paths - DISCRIMINATORS - set(FHIR))
    assert unmapped == [], f"schema fields with no FHIR mapping: {unmapped}"

    # The ETA update supersedes the first estimate: the current one is what the ED sees.
    superseded = [{"eta"}, set()]
    for handoff, values, skip in zip(handoffs, sent, superseded, strict=True):
        created = await client.post("/api/handoffs", json=handoff, headers=crew)
        assert created.status_code == 201, created.text
        hid = created.json()["id"]
        sending = await client.post(f"/api/handoffs/{hid}/send", headers=crew)
        assert sending.status_code == 200, sending.text
        if "update.note" in values:
            for update in UPDATES:
                added = await client.post(f"/api/handoffs/{hid}/updates", json=update, headers=crew)
                assert added.status_code == 201, added.text
        view = (await client.get(f"/api/handoffs/{hid}", headers=nurse)).json()
        exported = await client.get(f"/api/handoffs/{hid}/fhir", headers=nurse)
        assert exported.status_code == 200, exported.text
        bundle = exported.json()
        Bundle.model_validate(bundle)
        assert fhir_rules.problems(bundle) == []
        lost_in_view, lost_in_fhir = {}, {}
        for path, sent_at_path in values.items():
            if path in DISCRIMINATORS or path in skip:
                continue
            if missing := _missing(sent_at_path, view_values(view, path)):
                lost_in_view[path] = missing
            if missing := _missing(sent_at_path, FHIR[path](bundle)):
                lost_in_fhir[path] = missing
        assert lost_in_view == {}, "not in the hospital view's data"
        assert lost_in_fhir == {}, "not in the FHIR Bundle"
        # NEWS2 is computed on the handoff when a vital set allows it (the second has none).
        computed = view["picture"]["news2"]
        if "update.note" in values:
            assert computed is not None
            assert computed["total"] >= 7
            assert computed["source"] == "telemetry"  # the newest complete set: the update's
            assert view["picture"]["latest_signs"]["hr"] == 133
        else:
            assert computed is None
            assert view["news2"] is None


def test_the_field_walk_sees_nested_and_list_fields() -> None:
    paths = schema_paths(HandoffCreate)
    assert {
        "content.signs[].o2_flow",
        "content.treatment[].response",
        "content.allergies[]",
        "content.patient.age_band",
        "crew[]",
    } <= paths
    assert not any(p.endswith((".signs[]", ".content", ".patient")) for p in paths)
