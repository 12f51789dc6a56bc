"""Supplies over HTTP on SQLite and PostgreSQL: the ledger never goes negative under parallel
issues, a refused movement leaves nothing, requests are fulfilled by tagged transfers."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from emsync.core.runtime import Runtime
from tests.emergency_builders import post, shelter_body


async def _setup(client: httpx.AsyncClient, manager: dict[str, str]) -> tuple[str, str, str]:
    warehouse = await post(
        client,
        "/api/emergency/locations",
        {"name": "Central warehouse", "kind": "warehouse"},
        manager,
    )
    shelter = await post(client, "/api/emergency/shelters", shelter_body(), manager)
    item = await post(
        client,
        "/api/emergency/items",
        {"sku": "WATER-5L", "name": "Drinking water 5 l", "unit": "each", "min_stock": 10},
        manager,
    )
    return warehouse["id"], shelter["location_id"], item["id"]


async def test_parallel_issues_of_the_last_unit_let_exactly_one_through(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    warehouse, _, item = await _setup(client, manager)
    await post(
        client,
        "/api/emergency/movements",
        {"kind": "receipt", "item_id": item, "quantity": 1, "to_location_id": warehouse},
        manager,
    )
    issue = {"kind": "issue", "item_id": item, "quantity": 1, "from_location_id": warehouse}
    responses = await asyncio.gather(
        *(client.post("/api/emergency/movements", json=issue, headers=manager) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert all(r.json()["field"] == "quantity" for r in responses if r.status_code == 409)
    stock = (await client.get("/api/emergency/stock", headers=manager)).json()
    assert stock == []  # zero on hand is not listed
    ledger = (await client.get("/api/emergency/movements", headers=manager)).json()
    assert [m["kind"] for m in ledger] == ["issue", "receipt"]
    alerts = (await client.get("/api/emergency/stock-alerts", headers=manager)).json()
    assert [a["kind"] for a in alerts] == ["low_stock"]


async def test_opposite_transfers_in_parallel_all_go_through(
    client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    """Transfers A -> B and B -> A at once: on PostgreSQL they locked the two stock rows in
    opposite orders and deadlocked (a 500; bench/inventory.py found it); now every one of them
    is applied and the totals are kept."""
    warehouse, shelter, item = await _setup(client, manager)
    for location in (warehouse, shelter):
        await post(
            client,
            "/api/emergency/movements",
            {"kind": "receipt", "item_id": item, "quantity": 50, "to_location_id": location},
            manager,
        )

    def transfer(source: str, target: str) -> dict[str, object]:
        return {"kind": "transfer", "item_id": item, "quantity": 1,
                "from_location_id": source, "to_location_id": target}  # fmt: skip

    bodies = [transfer(warehouse, shelter), transfer(shelter, warehouse)] * 10
    responses = await asyncio.gather(
        *(client.post("/api/emergency/movements", json=b, headers=manager) for b in bodies)
    )
    assert [r.status_code for r in responses] == [201] * len(bodies)
    stock = await client.get("/api/emergency/stock", params={"item_id": item}, headers=manager)
    assert sorted(row["quantity"] for row in stock.json()) == [50, 50]


async def test_moves_to_a_shelter_and_refused_movements_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    warehouse, shelter_loc, item = await _setup(client, manager)
    for lot, qty, expires in (("A1", 30, "2030-01-01"), ("B2", 20, "2027-06-01")):
        await post(
            client,
            "/api/emergency/movements",
            {
                "kind": "receipt",
                "item_id": item,
                "quantity": qty,
                "to_location_id": warehouse,
                "lot": lot,
                "expires_on": expires,
            },
            manager,
        )
    moved = await post(
        client,
        "/api/emergency/movements",
        {
            "kind": "transfer",
            "item_id": item,
            "quantity": 25,
            "from_location_id": warehouse,
            "to_location_id": shelter_loc,
        },
        manager,
    )
    # First expiry first out: all of lot B2, then 5 of A1; one ledger row per lot.
    assert [(m["lot"], m["quantity"]) for m in moved] == [("B2", 20), ("A1", 5)]
    before = (await client.get("/api/emergency/movements", headers=manager)).json()
    for body, field in (
        (
            {"kind": "issue", "item_id": item, "quantity": 26, "from_location_id": warehouse},
            "quantity",
        ),
        ({"kind": "issue", "item_id": item, "quantity": 1}, "from_location_id"),
        (
            {
                "kind": "transfer",
                "item_id": item,
                "quantity": 1,
                "from_location_id": warehouse,
                "to_location_id": warehouse,
            },
            "to_location_id",
        ),
        (
            {"kind": "issue", "item_id": "nope", "quantity": 1, "from_location_id": warehouse},
            "item_id",
        ),
    ):
        refused = await client.post("/api/emergency/movements", json=body, headers=manager)
        assert refused.status_code in (404, 409, 422), refused.text
        assert refused.json()["field"] == field
    zero = await client.post(
        "/api/emergency/movements",
        json={"kind": "issue", "item_id": item, "quantity": 0, "from_location_id": warehouse},
        headers=manager,
    )
    assert zero.status_code == 422
    assert zero.json()["errors"][0]["field"] == "body.quantity"
    assert (await client.get("/api/emergency/movements", headers=manager)).json() == before
    at_shelter = (
        await client.get(
            "/api/emergency/stock", params={"location_id": shelter_loc}, headers=manager
        )
    ).json()
    assert sorted((s["lot"], s["quantity"]) for s in at_shelter) == [("A1", 5), ("B2", 20)]


async def test_requests_are_fulfilled_by_transfers_never_beyond_the_request(
    client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    warehouse, shelter_loc, item = await _setup(client, manager)
    await post(
        client,
        "/api/emergency/movements",
        {"kind": "receipt", "item_id": item, "quantity": 100, "to_location_id": warehouse},
        manager,
    )
    request = await post(
        client,
        "/api/emergency/supply-requests",
        {"item_id": item, "quantity": 40, "to_location_id": shelter_loc, "note": "200 evacuees"},
        manager,
    )
    path = f"/api/emergency/supply-requests/{request['id']}"
    part = await post(
        client, f"{path}/fulfil", {"from_location_id": warehouse, "quantity": 15}, manager
    )
    assert (part["status"], part["fulfilled_quantity"]) == ("partial", 15)
    over = await client.post(
        f"{path}/fulfil", json={"from_location_id": warehouse, "quantity": 30}, headers=manager
    )
    assert over.status_code == 422
    assert over.json()["field"] == "quantity"
    rest = await post(client, f"{path}/fulfil", {"from_location_id": warehouse}, manager)
    assert (rest["status"], rest["fulfilled_quantity"]) == ("fulfilled", 40)
    tagged = [
        m
        for m in (await client.get("/api/emergency/movements", headers=manager)).json()
        if m["request_id"] == request["id"]
    ]
    assert sorted(m["quantity"] for m in tagged) == [15, 25]
    done = await client.post(f"{path}/cancel", headers=manager)
    assert done.status_code == 409


async def test_the_ledger_is_append_only_in_the_database(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    warehouse, _, item = await _setup(client, manager)
    await post(
        client,
        "/api/emergency/movements",
        {"kind": "receipt", "item_id": item, "quantity": 3, "to_location_id": warehouse},
        manager,
    )
    runtime: Runtime = app.state.runtime
    for statement in (
        "UPDATE emergency_movements SET quantity = 300",
        "DELETE FROM emergency_movements",
        "UPDATE emergency_stock SET quantity = -1",
    ):
        async with runtime.sessions() as session:
            with pytest.raises((DBAPIError, IntegrityError)):
                await session.execute(text(statement))
            await session.rollback()
