"""Registering, matching, searching, merging and unmerging persons, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.registry.models import Person, PersonIdentifier
from tests.builders import auth_headers
from tests.registry_builders import national_id, person_body

IDENTITY_FIELDS = (
    "given_name",
    "family_name",
    "aliases",
    "birth_date",
    "birth_date_estimated",
    "sex",
    "gender",
    "email",
    "address",
    "emergency_contacts",
    "insurance",
    "language",
    "description",
)


async def _register(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/api/persons", json=person_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _count(app: FastAPI, model: Any) -> int:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_every_identity_field_round_trips(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    sent = person_body()
    result = await _register(client, clinician)
    assert result["decision"] == "created"
    read = (await client.get(f"/api/persons/{result['person']['id']}", headers=clinician)).json()
    for name in IDENTITY_FIELDS:
        assert read[name] == sent.get(name, read[name]), name
    assert read["phone"] == sent["phone"]
    assert {(i["system"], i["assigner"]) for i in read["identifiers"]} == {
        ("national", None),
        ("mrn", "hospital-a"),
    }
    assert read["display_name"] == "Aino Virtanen"


async def test_personal_fields_are_sealed_at_rest(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    ident = national_id()
    await _register(client, clinician, identifiers=[{"system": "national", "value": ident}])
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        dump: list[str] = []
        for table in ("registry_persons", "registry_identifiers", "registry_keys"):
            rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
            dump.extend(repr(tuple(r)) for r in rows)
    blob = "\n".join(dump)
    for secret in ("Virtanen", "virtanen", "Aino", ident, "1961", "4567", "Mannerheim"):
        assert secret not in blob, secret


async def test_a_known_identifier_links_exactly_and_keeps_the_new_record(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    ident = national_id()
    first = await _register(client, clinician, identifiers=[{"system": "national", "value": ident}])
    second = await _register(
        client,
        clinician,
        given_name="A.",
        phone="+358 50 999 0000",
        identifiers=[{"system": "national", "value": ident}],
    )
    assert second["decision"] == "exact"
    assert second["linked_to"] == first["person"]["id"]
    survivor = (await client.get(f"/api/persons/{first['person']['id']}", headers=clinician)).json()
    # The merged record keeps its own data (a merge loses nothing).
    assert [m["id"] for m in survivor["merged_records"]] == [second["person"]["id"]]
    merged = (await client.get(f"/api/persons/{second['person']['id']}", headers=clinician)).json()
    assert merged["phone"] == "+358 50 999 0000"
    assert merged["merged_into"] == first["person"]["id"]


async def test_a_bad_check_digit_is_refused_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    good = national_id()
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    response = await client.post(
        "/api/persons",
        json=person_body(identifiers=[{"system": "national", "value": bad}]),
        headers=clinician,
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "identifiers.0.value"
    assert await _count(app, Person) == 0


async def test_impossible_and_future_dates_are_refused(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    for value in ("1990-02-30", "2999-01-01", "1800-01-01"):
        response = await client.post(
            "/api/persons", json=person_body(birth_date=value), headers=clinician
        )
        assert response.status_code == 422, value
        assert "birth_date" in response.text
    assert await _count(app, Person) == 0


async def test_an_unknown_patient_registers_with_nothing_but_a_sex_and_an_age(
    client: httpx.AsyncClient, paramedic: dict[str, str]
) -> None:
    response = await client.post(
        "/api/persons",
        json={"unknown": True, "sex": "male", "estimated_age_years": 40},
        headers=paramedic,
    )
    assert response.status_code == 201, response.text
    person = response.json()["person"]
    assert person["unknown"] is True
    assert person["birth_date_estimated"] is True
    assert person["display_name"].startswith("Unknown male ~")


async def test_a_misspelt_name_with_the_same_birth_date_and_phone_links_automatically(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    first = await _register(client, clinician, identifiers=[])
    again = await _register(
        client, clinician, given_name="Aina", family_name="Virtanene", identifiers=[]
    )
    assert again["decision"] == "auto", again["candidates"]
    assert again["linked_to"] == first["person"]["id"]
    best = again["candidates"][0]
    assert "birth_date" not in best["fields"]["disagree"]
    assert "dob" in best["fields"]["agree"]


async def test_a_different_birth_date_is_never_linked_without_a_person(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    """Same name, address and phone (a parent and child of one name): asks, never links."""
    first = await _register(client, clinician, identifiers=[])
    child = await _register(client, clinician, birth_date="1989-07-02", identifiers=[])
    assert child["decision"] in ("review", "created")
    assert child["linked_to"] is None
    assert child["person"]["id"] != first["person"]["id"]


async def test_the_grey_zone_goes_to_review_and_a_decision_merges(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    first = await _register(client, clinician, identifiers=[])
    # Same person, new phone, moved house, birth date typed with two digits swapped.
    second = await _register(
        client,
        clinician,
        birth_date="1961-03-41".replace("41", "14").replace("03-14", "04-13"),
        phone="+358 50 765 4321",
        address={"line": "Hameentie 3", "city": "Helsinki", "postcode": "00500"},
        identifiers=[],
    )
    assert second["decision"] == "review", second["candidates"]
    queue = (await client.get("/api/registry/reviews", headers=clinician)).json()
    assert [r["id"] for r in queue] == [second["review_id"]]
    assert queue[0]["candidate"]["id"] == first["person"]["id"]
    decided = await client.post(
        f"/api/registry/reviews/{second['review_id']}/decision",
        json={"same_person": True, "reason": "same person per ID card"},
        headers=clinician,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "merged"
    merged = (await client.get(f"/api/persons/{second['person']['id']}", headers=clinician)).json()
    assert merged["merged_into"] == first["person"]["id"]
    again = await client.post(
        f"/api/registry/reviews/{second['review_id']}/decision",
        json={"same_person": False, "reason": "changed my mind"},
        headers=clinician,
    )
    assert again.status_code == 409


async def test_unmerge_restores_both_persons_exactly(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    a = await _register(client, clinician, identifiers=[])
    b = await _register(
        client,
        clinician,
        given_name="Matti",
        family_name="Korhonen",
        birth_date="1950-01-01",
        phone="+358 44 000 1111",
        email="matti@example.org",
        identifiers=[{"system": "national", "value": national_id()}],
        match=False,
    )
    a_id, b_id = a["person"]["id"], b["person"]["id"]
    before = {
        pid: (await client.get(f"/api/persons/{pid}", headers=clinician)).json()
        for pid in (a_id, b_id)
    }
    merged = await client.post(
        f"/api/persons/{a_id}/merges",
        json={"merged_id": b_id, "reason": "test"},
        headers=clinician,
    )
    assert merged.status_code == 201, merged.text
    during = (await client.get(f"/api/persons/{a_id}", headers=clinician)).json()
    assert [m["id"] for m in during["merged_records"]] == [b_id]
    assert len(during["identifiers"]) == len(before[a_id]["identifiers"]) + 1
    undo = await client.post(
        f"/api/registry/merges/{merged.json()['id']}/undo",
        json={"reason": "different people"},
        headers=clinician,
    )
    assert undo.status_code == 200, undo.text
    for pid in (a_id, b_id):
        after = (await client.get(f"/api/persons/{pid}", headers=clinician)).json()
        for volatile in ("updated_at", "version"):
            after.pop(volatile)
            before[pid].pop(volatile, None)
        assert after == before[pid]
    history = (await client.get(f"/api/persons/{a_id}/merges", headers=clinician)).json()
    assert history[0]["unmerged_by"] is not None
    assert history[0]["unmerge_reason"] == "different people"


async def test_search_by_identifier_phone_and_misspelt_name(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    ident = national_id()
    person = await _register(
        client, clinician, identifiers=[{"system": "national", "value": ident}]
    )
    pid = person["person"]["id"]
    await _register(
        client,
        clinician,
        given_name="Matti",
        family_name="Nieminen",
        birth_date="1970-05-05",
        phone=None,
        email=None,
        identifiers=[],
    )
    by_id = await client.get("/api/persons", params={"identifier": ident}, headers=clinician)
    assert [h["person"]["id"] for h in by_id.json()] == [pid]
    by_phone = await client.get("/api/persons", params={"phone": "040 1234567"}, headers=clinician)
    assert [h["person"]["id"] for h in by_phone.json()] == [pid]
    fuzzy = await client.get(
        "/api/persons",
        params={"family_name": "Wirtanen", "birth_date": "1961-03-14"},
        headers=clinician,
    )
    assert [h["person"]["id"] for h in fuzzy.json()][:1] == [pid]
    nobody = await client.get(
        "/api/persons", params={"identifier": national_id()}, headers=clinician
    )
    assert nobody.json() == []


async def test_concurrent_registrations_of_one_identifier_make_one_person(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    ident = national_id()
    results = await asyncio.gather(
        *(
            client.post(
                "/api/persons",
                json=person_body(identifiers=[{"system": "national", "value": ident}], match=False),
                headers=clinician,
            )
            for _ in range(4)
        )
    )
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        holders = await session.scalar(select(func.count()).select_from(PersonIdentifier))
        current = await session.scalar(
            select(func.count()).select_from(Person).where(Person.merged_into.is_(None))
        )
    assert holders == 1
    assert current == 1


async def test_roles_without_registry_access_are_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    auditor = await auth_headers(app, client, Role.AUDITOR)
    assert (await client.get("/api/persons?family_name=x", headers=auditor)).status_code == 403
    paramedic = await auth_headers(app, client, Role.PARAMEDIC)
    assert (await client.get("/api/registry/reviews", headers=paramedic)).status_code == 403
    assert (await client.post("/api/persons", json={"unknown": True})).status_code == 401


async def test_a_held_identifier_with_another_birth_date_and_name_goes_to_review(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    """A parent's id typed for the child: the identifier alone does not merge them."""
    ident = national_id()
    parent = await _register(
        client, clinician, identifiers=[{"system": "national", "value": ident}]
    )
    child = await _register(
        client,
        clinician,
        given_name="Ilona",
        birth_date="2015-09-30",
        phone=None,
        email=None,
        identifiers=[{"system": "national", "value": ident}],
    )
    assert child["decision"] == "review"
    assert child["linked_to"] is None
    assert child["candidates"][0]["person"]["id"] == parent["person"]["id"]
    assert child["person"]["identifiers"] == []
