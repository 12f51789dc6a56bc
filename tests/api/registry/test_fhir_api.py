"""FHIR R4 in and out: an exported person round-trips into another registry with every field;
import is all or nothing and idempotent; malformed FHIR and a bad entry store nothing."""

from __future__ import annotations

import copy
from typing import Any

import httpx
from fastapi import FastAPI
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from emsync.core.runtime import Runtime
from emsync.registry.models import ClinicalEntry, Person
from tests.api.registry.test_chart_api import ENTRIES
from tests.registry_builders import national_id, person_body


async def _counts(app: FastAPI) -> tuple[int, int]:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        persons = await session.scalar(select(func.count()).select_from(Person))
        entries = await session.scalar(select(func.count()).select_from(ClinicalEntry))
    return int(persons or 0), int(entries or 0)


async def _exported(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, Any]:
    body = person_body(
        identifiers=[
            {"system": "national", "value": national_id()},
            {"system": "mrn", "value": "MRN-77", "assigner": "hospital-b"},
        ]
    )
    pid = (await client.post("/api/persons", json=body, headers=headers)).json()["person"]["id"]
    for entry in ENTRIES:
        created = await client.post(f"/api/persons/{pid}/entries", json=entry, headers=headers)
        assert created.status_code == 201, created.text
    response = await client.get(f"/api/persons/{pid}/fhir", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    return pid, response.json()


async def test_export_is_a_valid_r4_bundle_with_loinc_and_ucum(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    _pid, bundle = await _exported(client, clinician)
    Bundle.model_validate(bundle)
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == sorted(
        [
            "Patient",
            "AllergyIntolerance",
            "MedicationStatement",
            "Condition",
            "Encounter",
            "Observation",
            "DocumentReference",
            "DocumentReference",
        ]
    )
    [obs] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    ]
    assert obs["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "8867-4",
        "display": "Heart rate",
    }
    assert obs["valueQuantity"]["system"] == "http://unitsofmeasure.org"


async def test_a_bundle_imports_once_and_again_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    pid, bundle = await _exported(client, clinician)
    before = await _counts(app)
    # Into the same registry: it recognises its own person and entries.
    same = await client.post("/api/registry/fhir", json=bundle, headers=clinician)
    assert same.status_code == 200, same.text
    assert same.json()["person_id"] == pid
    assert same.json()["created"] == 0
    assert await _counts(app) == before
    # As another registry would receive it: no EMsync ids, new identifiers.
    foreign = copy.deepcopy(bundle)
    patient = foreign["entry"][0]["resource"]
    patient["identifier"] = [
        {"system": "https://emsync.dev/fhir/NamingSystem/national-id", "value": national_id()}
    ]
    patient["name"][0]["given"] = ["Kaarina"]
    patient["birthDate"] = "1948-12-24"
    for entry in foreign["entry"][1:]:
        entry["resource"].pop("identifier")
    first = await client.post("/api/registry/fhir", json=foreign, headers=clinician)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["person"] == "created"
    assert report["created"] == len(foreign["entry"]) - 1
    after_first = await _counts(app)
    second = await client.post("/api/registry/fhir", json=foreign, headers=clinician)
    assert second.json()["created"] == 0
    assert second.json()["person_id"] == report["person_id"]
    assert await _counts(app) == after_first
    chart = (
        await client.get(f"/api/persons/{report['person_id']}/chart", headers=clinician)
    ).json()
    person = chart["person"]
    assert (person["given_name"], person["birth_date"]) == ("Kaarina", "1948-12-24")
    for name in ("family_name", "aliases", "phone", "email", "address", "language", "gender"):
        assert person[name] == person_body()[name], name
    assert person["emergency_contacts"] == person_body()["emergency_contacts"]
    assert person["insurance"] == person_body()["insurance"]
    [allergy] = chart["allergies"]
    for name in ("substance", "code", "reaction", "severity", "status", "category", "note"):
        assert allergy["content"][name] == ENTRIES[0][name], name
    [encounter] = chart["encounters"]
    for name in ("facility", "reason", "symptoms", "diagnosis", "treatment"):
        assert encounter["content"][name] == ENTRIES[3][name], name
    [observation] = chart["observations"]
    assert (observation["content"]["code"], observation["content"]["value"]) == ("8867-4", 92.0)


async def test_one_bad_entry_rejects_the_bundle_and_names_it(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    _pid, bundle = await _exported(client, clinician)
    before = await _counts(app)
    foreign = copy.deepcopy(bundle)
    foreign["entry"][0]["resource"]["identifier"] = [
        {"system": "https://emsync.dev/fhir/NamingSystem/national-id", "value": national_id()}
    ]
    for entry in foreign["entry"][1:]:
        entry["resource"].pop("identifier")
    bad_at = next(
        i
        for i, e in enumerate(foreign["entry"])
        if e["resource"]["resourceType"] == "MedicationStatement"
    )
    foreign["entry"][bad_at]["resource"]["status"] = "entered-in-error"
    response = await client.post("/api/registry/fhir", json=foreign, headers=clinician)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": f"entry.{bad_at}",
            "message": "MedicationStatement: MedicationStatement.status 'entered-in-error' "
            "is not imported",
        }
    ]
    assert await _counts(app) == before


async def test_malformed_fhir_is_refused_with_the_field(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    before = await _counts(app)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:p",
                "resource": {"resourceType": "Patient", "birthDate": "1961-02-30"},
                "request": {"method": "POST", "url": "Patient"},
            }
        ],
    }
    response = await client.post("/api/registry/fhir", json=bundle, headers=clinician)
    assert response.status_code == 422
    assert "birthDate" in response.json()["errors"][0]["field"]
    not_a_bundle = await client.post(
        "/api/registry/fhir", json={"resourceType": "Patient"}, headers=clinician
    )
    assert not_a_bundle.status_code == 422
    assert await _counts(app) == before
