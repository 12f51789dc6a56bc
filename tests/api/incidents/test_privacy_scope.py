"""Issue #14 item 10: hospital staff read an incident only while a patient of it is coming to
their hospital (a handoff or a unit's chosen destination), and never the caller's details."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import handoff_body

NORTH, SOUTH = "HOSP-NORTH", "HOSP-SOUTH"


async def test_hospital_staff_see_only_incidents_coming_to_them(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    for hospital in (NORTH, SOUTH):
        await client.post(f"/api/handoffs/hospital-keys/{hospital}", headers=admin)
    ours = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
    other = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
    handoff = await client.post("/api/handoffs", json=handoff_body(ours["id"], NORTH), headers=crew)
    assert handoff.status_code == 201, handoff.text
    sent = await client.post(f"/api/handoffs/{handoff.json()['id']}/send", headers=crew)
    assert sent.status_code == 200, sent.text
    await client.post("/api/handoffs", json=handoff_body(other["id"], SOUTH), headers=crew)

    clinician = await auth_headers(app, client, Role.CLINICIAN, hospital_id=NORTH)
    listed = (await client.get("/api/incidents", headers=clinician)).json()
    assert [i["id"] for i in listed["items"]] == [ours["id"]]
    assert listed["total"] == 1
    seen = await client.get(f"/api/incidents/{ours['id']}", headers=clinician)
    assert seen.status_code == 200
    assert seen.json()["caller_name"] is None
    assert seen.json()["callback_number"] is None
    assert seen.json()["chief_complaint"] == ours["chief_complaint"]
    for path in (f"/api/incidents/{other['id']}", f"/api/incidents/{other['id']}/timeline"):
        assert (await client.get(path, headers=clinician)).status_code == 404

    # Redirected to the south: the north loses the incident, the south gains it.
    redirected = await client.post(
        f"/api/handoffs/{handoff.json()['id']}/redirect",
        json={"hospital_id": SOUTH, "reason": "cath lab busy"},
        headers=crew,
    )
    assert redirected.status_code == 200, redirected.text
    assert (await client.get(f"/api/incidents/{ours['id']}", headers=clinician)).status_code == 404
    south = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR, hospital_id=SOUTH)
    south_ids = {
        i["id"] for i in (await client.get("/api/incidents", headers=south)).json()["items"]
    }
    assert south_ids == {ours["id"], other["id"]}

    # A clinician of no hospital sees nothing; a dispatcher sees everything, caller included.
    unattached = await auth_headers(app, client, Role.CLINICIAN)
    assert (await client.get("/api/incidents", headers=unattached)).json()["total"] == 0
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    full = (await client.get(f"/api/incidents/{ours['id']}", headers=dispatcher)).json()
    assert full["caller_name"] == ours["caller_name"]
