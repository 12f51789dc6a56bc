"""One search over emergency records, incidents and units, on SQLite FTS5 and PostgreSQL
tsvector + pg_trgm: ranking, prefixes, typos, filters, highlighting, transactional sync."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers, incident_body
from tests.emergency_builders import alert_body, post, shelter_body


async def _search(
    client: httpx.AsyncClient, headers: dict[str, str], q: str, **params: str
) -> list[dict[str, object]]:
    response = await client.get("/api/emergency/search", params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    hits: list[dict[str, object]] = response.json()["hits"]
    return hits


def _marked(hit: dict[str, object]) -> list[str]:
    segments = [*hit["title_segments"], *hit["snippet"]]  # type: ignore[misc]
    return [s["text"] for s in segments if s["match"]]


async def test_search_finds_every_kind_with_prefix_typo_filters_and_highlights(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    shelter = await post(
        client, "/api/emergency/shelters", shelter_body(name="Evacuation Centre Kallio"), manager
    )
    await post(
        client,
        "/api/emergency/shelters",
        shelter_body(name="Pasila Sports Hall", amenities=["evacuation beds"]),
        manager,
    )
    await post(
        client,
        "/api/emergency/items",
        {"sku": "BLK-1", "name": "Thermal blankets", "unit": "each"},
        manager,
    )
    await post(
        client,
        "/api/emergency/resources",
        {
            "name": "Rescue boat 3",
            "kind": "boat",
            "agency": "Helsinki Fire",
            "home_lat": 60.16,
            "home_lon": 24.95,
            "capabilities": ["swift water", "evacuation"],
        },
        manager,
    )
    await post(
        client,
        "/api/emergency/alerts",
        alert_body(description="Evacuation of the shore has begun."),
        manager,
    )
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    await post(
        client,
        "/api/incidents",
        incident_body(chief_complaint="Hypothermia after evacuation"),
        dispatcher,
    )

    hits = await _search(client, manager, "evacuation")
    kinds = {h["kind"] for h in hits}
    assert {"shelter", "resource", "incident", "alert"} <= kinds
    assert hits[0]["kind"] == "shelter"
    assert hits[0]["ref_id"] == shelter["id"]
    assert all(any(m.lower().startswith("evacua") for m in _marked(h)) for h in hits)

    prefix = await _search(client, manager, "blank")
    assert [h["title"] for h in prefix] == ["Thermal blankets"]
    assert _marked(prefix[0]) == ["blankets"]
    typo = await _search(client, manager, "blankts")
    assert [h["title"] for h in typo] == ["Thermal blankets"]
    typo2 = await _search(client, manager, "Kalio evacuaton")
    assert shelter["id"] in [h["ref_id"] for h in typo2]
    assert "Kallio" in _marked(typo2[0])

    only = await _search(client, manager, "evacuation", kind="resource")
    assert [h["kind"] for h in only] == ["resource"]
    closed = await _search(client, manager, "evacuation", kind="shelter", status="closed")
    assert closed == []
    await client.patch(
        f"/api/emergency/shelters/{shelter['id']}", json={"status": "closed"}, headers=manager
    )
    closed = await _search(client, manager, "evacuation", kind="shelter", status="closed")
    assert [h["ref_id"] for h in closed] == [shelter["id"]]  # the index moved with the record
    assert await _search(client, manager, '"; DROP TABLE x; --') == []


async def test_a_refused_write_leaves_no_index_entry(
    client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    await post(
        client,
        "/api/emergency/items",
        {"sku": "MASK", "name": "Respirator masks", "unit": "box"},
        manager,
    )
    dup = await client.post(
        "/api/emergency/items",
        json={"sku": "MASK", "name": "Duplicate respirators", "unit": "box"},
        headers=manager,
    )
    assert dup.status_code == 409
    assert [h["title"] for h in await _search(client, manager, "respirator")] == [
        "Respirator masks"
    ]
    paramedic = await auth_headers(client._transport.app, client, Role.PARAMEDIC)  # type: ignore[attr-defined]
    assert (
        await client.get("/api/emergency/search", params={"q": "mask"}, headers=paramedic)
    ).status_code == 403
