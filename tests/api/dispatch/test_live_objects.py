"""Issue #15 item 2: an alert, an incident, a handoff and a crew's assignment are pushed in the
schema their REST read returns (the browser applies them as they are), and only to subscribers
who could GET them: a crew of another unit and a hospital desk of another hospital receive
nothing. Over a real WebSocket (uvicorn on loopback), on SQLite and PostgreSQL, on Monaco."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.dispatch.schemas import CrewAssignment
from emsync.handoffs.schemas import HandoffRead
from emsync.incidents.schemas import IncidentRead
from emsync.routing import RoadMap
from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.pipeline import Inbound, Pipeline
from emsync.telemetry.schemas import AlertRead
from tests.builders import PASSWORD, auth_headers, incident_body, login
from tests.handoff_builders import handoff_body
from tests.live_server import HTTP_TIMEOUT_S
from tests.ports import free_port
from tests.telemetry_support import SICK, make_patient, provision, vitals

Headers = dict[str, str]


@pytest.fixture
async def ws_base(monaco_app: FastAPI) -> AsyncIterator[str]:
    """The app served by a real uvicorn on loopback: WebSockets need a real server."""
    server = uvicorn.Server(
        uvicorn.Config(
            monaco_app, host="127.0.0.1", port=free_port(), lifespan="off", log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"ws://127.0.0.1:{port}/ws"
    server.should_exit = True
    await task


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _socket(base: str, headers: Headers, channels: list[str]) -> tuple[Any, dict[str, str]]:
    """A connection of `headers`' principal, and what subscribing to each channel answered."""
    token = headers["Authorization"].removeprefix("Bearer ")
    ws = await websockets.connect(
        base,
        subprotocols=["emsync.v1", f"bearer.{token}"],  # type: ignore[list-item]
        open_timeout=HTTP_TIMEOUT_S,  # a wait for a loaded machine, not a timing check
    )
    assert json.loads(await ws.recv())["type"] == "ready"
    await ws.send(json.dumps({"op": "subscribe", "channels": channels}))
    answer = json.loads(await asyncio.wait_for(ws.recv(), timeout=HTTP_TIMEOUT_S))
    return ws, dict(answer["channels"])


async def _next(ws: Any, channel: str, type_: str) -> dict[str, Any]:
    """The data of the next `type_` message on `channel` (others skipped), or a failure."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if message.get("channel") == channel and message.get("type") == type_:
            return dict(message["data"])


async def _until_equal(ws: Any, channel: str, type_: str, expected: Any) -> list[dict[str, Any]]:
    """Every `type_` message on `channel` up to one whose data equals `expected` (several
    changes may each push the object; the last state is what REST now returns)."""
    seen = [await _next(ws, channel, type_)]
    while seen[-1] != expected:
        seen.append(await _next(ws, channel, type_))
    return seen


async def _receives_nothing(app: FastAPI, ws: Any, channel: str) -> None:
    """Nothing reached `ws` on `channel` before a probe published now: the hub queues each
    connection's messages in order, so anything pushed earlier would arrive first."""
    app.state.runtime.get(Hub).publish(channel, "probe", {})
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if message.get("channel") != channel:
            continue
        assert message["type"] == "probe", message
        return


async def _crew(client: httpx.AsyncClient, admin: Headers, name: str, unit_id: str) -> Headers:
    body = {"username": name, "password": PASSWORD, "role": "crew", "unit_id": unit_id}
    await _ok(await client.post("/api/users", json=body, headers=admin), 201)
    return {"Authorization": f"Bearer {(await login(client, name))['access_token']}"}


def _node(road_map: RoadMap, i: int) -> tuple[float, float]:
    g = road_map.engine.graph
    return float(g.node_lat[i]), float(g.node_lon[i])


async def _unit(client: httpx.AsyncClient, headers: Headers, road_map: RoadMap, n: int) -> Any:
    lat, lon = _node(road_map, 100 + n)
    body = {"call_sign": f"LV-{n}", "unit_type": "ALS", "station_lat": lat, "station_lon": lon}
    return await _ok(await client.post("/api/units", json=body, headers=headers), 201)


async def _incident(client: httpx.AsyncClient, headers: Headers, road_map: RoadMap) -> Any:
    lat, lon = _node(road_map, 2100)
    body = incident_body(lat=lat, lon=lon, patients=[{"name": "Eero", "age_years": 64}])
    return await _ok(await client.post("/api/incidents", json=body, headers=headers), 201)


async def test_a_crew_gets_its_assignment_live_and_another_crew_nothing(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap, ws_base: str
) -> None:
    client = monaco_client
    admin = await auth_headers(monaco_app, client, Role.ADMIN)
    dispatcher = await auth_headers(monaco_app, client, Role.DISPATCHER)
    mine, other = await _unit(client, admin, monaco, 1), await _unit(client, admin, monaco, 2)
    crew = await _crew(client, admin, "live-crew-a", mine["id"])
    rival = await _crew(client, admin, "live-crew-b", other["id"])
    channel, rival_channel = f"incidents:unit:{mine['id']}", f"incidents:unit:{other['id']}"

    ws, answer = await _socket(ws_base, crew, [channel, "incidents"])
    # A crew reads no incident but its own unit's: the unscoped channel is not for it.
    assert answer[channel] == "ok"
    assert answer["incidents"].startswith("not allowed")
    rival_ws, answer = await _socket(ws_base, rival, [channel, rival_channel])
    assert answer == {channel: f"not allowed to subscribe to {channel!r}", rival_channel: "ok"}
    desk, answer = await _socket(ws_base, dispatcher, [channel])
    assert answer[channel].startswith("not allowed")  # no crew:unit, no unit of its own
    await desk.close()

    incident = await _incident(client, dispatcher, monaco)
    assign = f"/api/dispatch/incidents/{incident['id']}/assign"
    await _ok(await client.post(assign, json={"unit_id": mine["id"]}, headers=dispatcher), 201)
    rest = await _ok(await client.get("/api/crew/assignment", headers=crew))
    pushed = await _until_equal(ws, channel, "assignment", rest)
    for data in pushed:
        CrewAssignment.model_validate(data)
    assert pushed[-1]["incident"]["id"] == incident["id"]
    assert pushed[-1]["incident"]["patients"][0]["name"] == "Eero"
    assert pushed[-1]["route"]["to"] == "incident"

    # A change to the call reaches the crew on it as well.
    await _ok(
        await client.patch(
            f"/api/incidents/{incident['id']}", json={"address": "Quai Albert 1er"}, headers=admin
        )
    )
    moved = await _ok(await client.get("/api/crew/assignment", headers=crew))
    assert (await _until_equal(ws, channel, "assignment", moved))[-1]["incident"][
        "address"
    ] == "Quai Albert 1er"
    await _receives_nothing(monaco_app, rival_ws, rival_channel)
    await ws.close()
    await rival_ws.close()


async def test_an_incident_reaches_a_hospital_desk_only_while_its_patient_is_coming(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap, ws_base: str
) -> None:
    client = monaco_client
    admin = await auth_headers(monaco_app, client, Role.ADMIN)
    hospitals = []
    for n in (1, 2):
        lat, lon = _node(monaco, 9000 + n)
        body = {"name": f"Live General {n}", "lat": lat, "lon": lon}
        hospitals.append(
            await _ok(await client.post("/api/hospitals", json=body, headers=admin), 201)
        )
    north, south = hospitals[0]["id"], hospitals[1]["id"]
    dispatcher = await auth_headers(monaco_app, client, Role.DISPATCHER)
    nurse = await auth_headers(monaco_app, client, Role.CLINICIAN, hospital_id=north)
    elsewhere = await auth_headers(monaco_app, client, Role.CLINICIAN, hospital_id=south)
    mine, theirs = f"incidents:hospital:{north}", f"incidents:hospital:{south}"

    board, answer = await _socket(ws_base, dispatcher, ["incidents"])
    assert answer == {"incidents": "ok"}
    desk, answer = await _socket(ws_base, nurse, ["incidents", mine, theirs])
    # Hospital staff read only incidents coming to them: never the unscoped channel.
    assert answer["incidents"].startswith("not allowed")
    assert (answer[mine], answer[theirs].startswith("not allowed")) == ("ok", True)
    other_desk, answer = await _socket(ws_base, elsewhere, [theirs])
    assert answer == {theirs: "ok"}

    incident = await _incident(client, dispatcher, monaco)
    url = f"/api/incidents/{incident['id']}"
    created = await _next(board, "incidents", "incident")
    assert IncidentRead.model_validate(created).id == incident["id"]
    assert created["caller_name"] == "Aino Virtanen"  # the dispatcher reads the caller
    # Not yet coming anywhere: no hospital desk hears of it.
    await _receives_nothing(monaco_app, desk, mine)

    unit = await _unit(client, admin, monaco, 3)
    assign = f"/api/dispatch/incidents/{incident['id']}/assign"
    await _ok(await client.post(assign, json={"unit_id": unit["id"]}, headers=dispatcher), 201)
    for status in ("en_route", "on_scene"):
        body = {"status": status}
        await _ok(await client.post(f"/api/units/{unit['id']}/status", json=body, headers=admin))
    body = {"status": "transporting", "hospital_id": north}
    await _ok(await client.post(f"/api/units/{unit['id']}/status", json=body, headers=admin))

    as_nurse = await _ok(await client.get(url, headers=nurse))
    assert as_nurse["caller_name"] is None
    pushed = await _until_equal(desk, mine, "incident", as_nurse)
    for data in pushed:
        assert IncidentRead.model_validate(data).caller_name is None
        assert data["callback_number"] is None
    as_board = await _ok(await client.get(url, headers=dispatcher))
    assert (await _until_equal(board, "incidents", "incident", as_board))[-1]["caller_name"]
    assert (await client.get(url, headers=elsewhere)).status_code == 404
    await _receives_nothing(monaco_app, other_desk, theirs)
    for ws in (board, desk, other_desk):
        await ws.close()


async def test_the_handoff_board_gets_the_listed_metadata_and_never_the_content(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, ws_base: str
) -> None:
    client = monaco_client
    crew = await auth_headers(monaco_app, client, Role.PARAMEDIC)
    nurse = await auth_headers(monaco_app, client, Role.CLINICIAN, hospital_id="live-north")
    elsewhere = await auth_headers(monaco_app, client, Role.CLINICIAN, hospital_id="live-south")
    board, answer = await _socket(ws_base, crew, ["handoffs"])
    assert answer == {"handoffs": "ok"}
    desk, _ = await _socket(ws_base, nurse, ["handoffs:live-north"])
    other_desk, answer = await _socket(ws_base, elsewhere, ["handoffs", "handoffs:live-north"])
    # A hospital desk follows its own hospital's feed only.
    assert all(a.startswith("not allowed") for a in answer.values())
    await other_desk.close()
    other_desk, _ = await _socket(ws_base, elsewhere, ["handoffs:live-south"])

    incident = await _ok(
        await client.post("/api/incidents", json=incident_body(), headers=crew), 201
    )
    draft = await _ok(
        await client.post(
            "/api/handoffs", json=handoff_body(incident["id"], "live-north"), headers=crew
        ),
        201,
    )
    sent = await _ok(await client.post(f"/api/handoffs/{draft['id']}/send", headers=crew))
    listed = await _ok(
        await client.get(f"/api/handoffs?incident_id={incident['id']}", headers=crew)
    )
    pushed = await _until_equal(board, "handoffs", "board", listed["items"][0])
    for data in pushed:
        assert HandoffRead.model_validate(data).content is None  # sealed for the hospital
    assert pushed[-1]["status"] == sent["status"] == "sent"
    entry = await _next(desk, "handoffs:live-north", "handoff")
    opened = await _ok(await client.get(f"/api/handoffs/{draft['id']}", headers=nurse))
    assert entry["handoff"]["content"] == opened["content"]
    await _receives_nothing(monaco_app, other_desk, "handoffs:live-south")
    for ws in (board, desk, other_desk):
        await ws.close()


def _sealed_vitals(device_id: str, key: bytes, counter: int) -> Inbound:
    topic = envelope.topic_for(device_id, "vitals")
    payload = envelope.seal(
        topic=topic,
        algorithm=Algorithm.ASCON_AEAD128,
        key=key,
        key_id=1,
        counter=counter,
        plaintext=vitals(**SICK),
    )
    return Inbound(topic, payload, time.monotonic())


async def test_a_raised_alert_is_pushed_as_the_alert_list_returns_it(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, ws_base: str
) -> None:
    client = monaco_client
    admin = await auth_headers(monaco_app, client, Role.ADMIN)
    clinician = await auth_headers(monaco_app, client, Role.CLINICIAN)
    ws, answer = await _socket(ws_base, clinician, ["alerts"])
    assert answer == {"alerts": "ok"}
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "live-mon", patient_id=patient)
    runtime: Runtime = monaco_app.state.runtime
    await runtime.get(Pipeline).handle([_sealed_vitals("live-mon", key, 1)])
    listed = await _ok(await client.get("/api/telemetry/alerts", headers=clinician))
    alert = listed["items"][0]
    pushed = await _until_equal(ws, "alerts", "alert", alert)
    assert AlertRead.model_validate(pushed[-1]).news2 == alert["news2"] == 17
    acked = await _ok(await client.post(f"/api/telemetry/alerts/{alert['id']}/ack", headers=admin))
    assert (await _until_equal(ws, "alerts", "alert", acked))[-1]["status"] == "acknowledged"
    await ws.close()
