"""Shelters over HTTP on SQLite and PostgreSQL: no overbooking under parallel check-ins,
sealed evacuee data, blind-index reunification search, occupancy over time."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.emergency.models import Evacuee, EvacueeToken, SearchDoc
from tests.builders import auth_headers
from tests.emergency_builders import post, shelter_body


async def _count(app: FastAPI, table: str) -> int:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608


async def test_parallel_check_ins_for_the_last_bed_admit_exactly_one(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    shelter = await post(client, "/api/emergency/shelters", shelter_body(capacity_beds=1), manager)
    path = f"/api/emergency/shelters/{shelter['id']}/check-ins"
    responses = await asyncio.gather(
        *(client.post(path, json={"name": f"Evacuee {n}"}, headers=manager) for n in range(8))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["field"] == "accessible"
    assert "full" in refused.json()["detail"]
    after = (await client.get(f"/api/emergency/shelters/{shelter['id']}", headers=manager)).json()
    assert after["occupied_beds"] == 1
    assert after["status"] == "open"  # the accessible bed is still free
    assert await _count(app, "emergency_evacuees") == 1


async def test_full_and_closed_shelters_refuse_and_store_nothing(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    shelter = await post(
        client, "/api/emergency/shelters",
        shelter_body(capacity_beds=1, capacity_accessible=0, capacity_pets=0), manager,
    )  # fmt: skip
    path = f"/api/emergency/shelters/{shelter['id']}/check-ins"
    pets = await client.post(path, json={"name": "Aino", "pets": 1}, headers=manager)
    assert pets.status_code == 409
    assert pets.json()["field"] == "pets"
    first = await post(client, path, {"name": "Aino"}, manager)
    assert first["shelter"]["status"] == "full"
    full = await client.post(path, json={"name": "Eero"}, headers=manager)
    assert full.status_code == 409
    samples = await _count(app, "emergency_shelter_occupancy")
    await client.post(
        f"/api/emergency/evacuees/{first['evacuee']['id']}/check-out", headers=manager
    )
    closed = await client.patch(
        f"/api/emergency/shelters/{shelter['id']}", json={"status": "closed"}, headers=manager
    )
    assert closed.json()["status"] == "closed"
    refused = await client.post(path, json={"name": "Eero"}, headers=manager)
    assert refused.status_code == 409
    assert refused.json()["field"] == "shelter_id"
    assert await _count(app, "emergency_evacuees") == 1
    assert await _count(app, "emergency_shelter_occupancy") == samples + 1  # the check-out
    bad = await client.post(path, json={"name": ""}, headers=manager)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.name"


async def test_evacuee_fields_are_sealed_and_found_only_through_the_blind_index(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    shelter = await post(client, "/api/emergency/shelters", shelter_body(capacity_beds=5), manager)
    entered = {
        "name": "Aino Virtanen",
        "family": "Virtanen household",
        "birth_year": 1984,
        "needs": "insulin twice daily",
        "accessible": True,
        "pets": 1,
    }
    checked = await post(
        client, f"/api/emergency/shelters/{shelter['id']}/check-ins", entered, manager
    )
    evacuee = checked["evacuee"]
    for field, value in entered.items():  # every field entered comes back
        assert evacuee[field] == value, field
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        row = await session.scalar(select(Evacuee))
        assert row is not None
        stored = b"".join(
            v for v in (row.name_sealed, row.family_sealed, row.needs_sealed) if v is not None
        )
        assert b"Virtanen" not in stored
        assert b"insulin" not in stored
        tokens = list(await session.scalars(select(EvacueeToken.token)))
        assert tokens
        assert all(b"virt" not in t.lower() for t in tokens)
        docs = [f"{d.title} {d.body}" for d in await session.scalars(select(SearchDoc))]
        assert not any("Virtanen" in d or "Aino" in d for d in docs)

    found = await client.get(
        "/api/emergency/evacuees/search", params={"q": "virt aino"}, headers=manager
    )
    assert [e["id"] for e in found.json()] == [evacuee["id"]]
    assert found.json()[0]["shelter_name"] == "Kallio School"
    assert (
        await client.get(
            "/api/emergency/evacuees/search", params={"q": "virtanan"}, headers=manager
        )
    ).json() == []  # blind tokens are exact: no typo tolerance over sealed names
    via_search = await client.get(
        "/api/emergency/search", params={"q": "Virtanen"}, headers=manager
    )
    assert [h["kind"] for h in via_search.json()["hits"]] == ["evacuee"]
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    denied = await client.get(
        "/api/emergency/evacuees/search", params={"q": "virt"}, headers=dispatcher
    )
    assert denied.status_code == 403
    hidden = await client.get("/api/emergency/search", params={"q": "Virtanen"}, headers=dispatcher)
    assert hidden.json()["hits"] == []


async def test_occupancy_over_time_follows_check_ins_and_outs(
    client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    shelter = await post(client, "/api/emergency/shelters", shelter_body(capacity_beds=3), manager)
    path = f"/api/emergency/shelters/{shelter['id']}"
    a = await post(client, f"{path}/check-ins", {"name": "A"}, manager)
    await post(client, f"{path}/check-ins", {"name": "B", "pets": 1}, manager)
    await post(client, f"/api/emergency/evacuees/{a['evacuee']['id']}/check-out", None, manager)
    again = await client.post(
        f"/api/emergency/evacuees/{a['evacuee']['id']}/check-out", headers=manager
    )
    assert again.status_code == 409
    points = (await client.get(f"{path}/occupancy", headers=manager)).json()
    assert [(p["beds"], p["pets"]) for p in points] == [(0, 0), (1, 0), (2, 1), (1, 1)]
    present = (await client.get(f"{path}/evacuees", headers=manager)).json()
    assert [e["name"] for e in present] == ["B"]
    shrink = await client.patch(path, json={"capacity_beds": 0}, headers=manager)
    assert shrink.status_code == 409
    assert shrink.json()["field"] == "capacity_beds"
