"""Personnel and shifts over HTTP on SQLite and PostgreSQL: no overlapping shifts for one person
even under parallel requests, patterns, who is on duty."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from emsync.core.runtime import Runtime
from tests.emergency_builders import post, shift


async def test_parallel_overlapping_shifts_for_one_person_store_exactly_one(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    person = await post(
        client,
        "/api/emergency/people",
        {
            "name": "Ville Paramedic",
            "agency": "Helsinki EMS",
            "qualifications": [
                {"kind": "paramedic", "expires_on": "2030-01-01"},
                {"kind": "driver"},
            ],
        },
        manager,
    )
    runtime: Runtime = app.state.runtime
    base = runtime.clock().replace(microsecond=0) + timedelta(days=1)
    path = f"/api/emergency/people/{person['id']}/shifts"
    bodies = [shift(base + timedelta(hours=n), base + timedelta(hours=n + 8)) for n in range(6)]
    responses = await asyncio.gather(*(client.post(path, json=b, headers=manager) for b in bodies))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    refused = next(r for r in responses if r.status_code == 409).json()
    assert refused["field"] == "starts_at"
    assert "already" in refused["detail"]
    stored = (
        await client.get(
            "/api/emergency/shifts",
            params={"person_id": person["id"], "start": base.isoformat()},
            headers=manager,
        )
    ).json()
    assert len(stored) == 1
    # Back to back is not an overlap ([start, end) windows).
    end = datetime.fromisoformat(stored[0]["ends_at"])
    assert (
        await client.post(path, json=shift(end, end + timedelta(hours=4)), headers=manager)
    ).status_code == 201


async def test_batches_and_patterns_are_all_or_nothing(
    client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    person = await post(
        client, "/api/emergency/people", {"name": "Emma EMT", "agency": "Helsinki EMS"}, manager
    )
    path = f"/api/emergency/people/{person['id']}/shifts"
    day = datetime(2031, 3, 1, 7, tzinfo=UTC)
    clash = await client.post(
        f"{path}/batch",
        json={
            "shifts": [
                shift(day, day + timedelta(hours=12)),
                shift(day + timedelta(hours=11), day + timedelta(hours=20)),
            ]
        },
        headers=manager,
    )
    assert clash.status_code == 409
    assert clash.json()["field"] == "shifts[1]"
    pattern = {
        "slots": [
            {"day": 0, "start": "07:00", "hours": 12},
            {"day": 1, "start": "19:00", "hours": 12},
        ],
        "cycle_days": 4,
        "first_day": "2031-03-29",
        "days": 8,
        "timezone": "Europe/Helsinki",
    }
    made = await post(client, f"{path}/pattern", pattern, manager)
    # Local 07:00 both before and after the switch to summer time on 30 March 2031.
    starts = [datetime.fromisoformat(s["starts_at"]) for s in made]
    assert [s.strftime("%m-%d %H") for s in starts] == [
        "03-29 05",
        "03-30 16",
        "04-02 04",
        "04-03 16",
    ]
    again = await client.post(f"{path}/pattern", json=pattern, headers=manager)
    assert again.status_code == 409
    listed = (
        await client.get(
            "/api/emergency/shifts",
            params={
                "person_id": person["id"],
                "start": "2031-03-01T00:00:00Z",
                "end": "2031-04-30T00:00:00Z",
            },
            headers=manager,
        )
    ).json()
    assert len(listed) == 4
    bad = await client.post(path, json=shift(day, day - timedelta(hours=1)), headers=manager)
    assert bad.status_code == 422
    tz = await client.post(
        f"{path}/pattern", json={**pattern, "timezone": "Mars/Olympus"}, headers=manager
    )
    assert tz.status_code == 422
    assert tz.json()["field"] == "timezone"
    # A start with an offset, or a duration that rounds to nothing, is refused by name
    # (schemathesis sent "00:00:00Z" with 5e-324 hours and got a 500).
    for slot, field in (
        ({"day": 0, "start": "07:00:00Z", "hours": 12}, "start"),
        ({"day": 0, "start": "07:00", "hours": 5e-324}, "hours"),
    ):
        refused = await client.post(
            f"{path}/pattern", json={**pattern, "slots": [slot]}, headers=manager
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"].endswith(field)
    assert (
        len(
            (
                await client.get(
                    "/api/emergency/shifts",
                    params={
                        "person_id": person["id"],
                        "start": "2031-03-01T00:00:00Z",
                        "end": "2031-04-30T00:00:00Z",
                    },
                    headers=manager,
                )
            ).json()
        )
        == 4
    )


async def test_on_duty_now_with_valid_qualifications(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    runtime: Runtime = app.state.runtime
    now = runtime.clock()
    nurse = await post(
        client,
        "/api/emergency/people",
        {
            "name": "Nora Nurse",
            "agency": "Red Cross",
            "qualifications": [{"kind": "nurse", "expires_on": "2001-01-01"}],
        },
        manager,
    )
    await post(
        client,
        f"/api/emergency/people/{nurse['id']}/shifts",
        shift(now - timedelta(hours=1), now + timedelta(hours=7), position="triage"),
        manager,
    )
    duty = (await client.get("/api/emergency/on-duty", headers=manager)).json()
    assert [(d["name"], d["position"]) for d in duty] == [("Nora Nurse", "triage")]
    assert duty[0]["qualifications"][0]["valid"] is False
    later = (
        await client.get(
            "/api/emergency/on-duty",
            params={"at": (now + timedelta(hours=8)).isoformat()},
            headers=manager,
        )
    ).json()
    assert later == []
