"""A hospital that goes offline, while the server restarts, still receives every handoff and
update exactly once and in order: real uvicorn on loopback, real WebSockets, SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from emsync.auth import tokens
from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.settings import Settings
from tests.builders import incident_body, insert_account
from tests.conftest import TEST_SECRET
from tests.handoff_builders import COMPLAINT, handoff_body
from tests.live_server import HTTP_TIMEOUT_S

HOSPITAL = "hosp-offline"


def token(role: Role, hospital_id: str | None = None) -> str:
    return tokens.issue_access_token(
        secret=TEST_SECRET,
        user_id=f"{role.value}-test",
        username=f"{role.value}-test",
        role=role.value,
        hospital_id=hospital_id,
        now=datetime.now(UTC),
        lifetime=timedelta(minutes=30),
    )


@contextlib.asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A fresh app (new runtime, new hub) on a free loopback port, over the same database."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(settings)
    config = uvicorn.Config(app, ws="websockets-sansio", log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "the server did not start"
        # The hand-made tokens' accounts (every token is checked against its account).
        runtime = app.state.runtime
        await insert_account(runtime, user_id="paramedic-test", role=Role.PARAMEDIC)
        await insert_account(
            runtime, user_id="clinician-test", role=Role.CLINICIAN, hospital_id=HOSPITAL
        )
        address = f"127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=HTTP_TIMEOUT_S) as http:
            yield address, http
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class HospitalClient:
    """The reference client algorithm: subscribe, catch up from the feed after the last seq it
    processed, then take live messages, skipping seen seqs and refetching on a gap."""

    hospital_id: str
    client_id: str
    token: str
    last_seq: int = 0
    processed: list[dict[str, Any]] = field(default_factory=list)

    def _take(self, entry: dict[str, Any]) -> None:
        if entry["seq"] <= self.last_seq:
            return  # already processed: live and catch-up overlap
        assert entry["seq"] == self.last_seq + 1, f"gap before {entry['seq']}"
        self.processed.append(entry)
        self.last_seq = entry["seq"]

    async def catch_up(self, http: httpx.AsyncClient) -> None:
        while True:
            page = (
                await http.get(
                    "/api/handoffs/feed",
                    params={"hospital_id": self.hospital_id, "after_seq": self.last_seq},
                    headers={"Authorization": f"Bearer {self.token}"},
                )
            ).json()
            for entry in page["entries"]:
                self._take(entry)
            if not page["entries"] or self.last_seq >= page["last_seq"]:
                return

    async def ack(self, http: httpx.AsyncClient) -> None:
        response = await http.post(
            "/api/handoffs/feed/ack",
            json={
                "hospital_id": self.hospital_id,
                "client_id": self.client_id,
                "seq": self.last_seq,
            },
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text

    async def connect(self, address: str) -> ClientConnection:
        ws = await connect(
            f"ws://{address}/ws",
            subprotocols=["emsync.v1", f"bearer.{self.token}"],  # type: ignore[list-item]
            open_timeout=HTTP_TIMEOUT_S,
        )
        assert json.loads(await ws.recv())["type"] == "ready"
        channel = f"handoffs:{self.hospital_id}"
        await ws.send(json.dumps({"op": "subscribe", "channels": [channel]}))
        reply = json.loads(await ws.recv())
        assert reply == {"type": "subscribed", "channels": {channel: "ok"}}
        return ws

    async def receive_live(self, ws: ClientConnection, http: httpx.AsyncClient, until: int) -> None:
        while self.last_seq < until:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=20))
            entry = message["data"]
            if entry["seq"] > self.last_seq + 1:
                await self.catch_up(http)  # a gap: fetch what is missing, then go on
            self._take(entry)


async def test_offline_hospital_gets_everything_once_in_order_across_a_restart(
    settings: Settings,
) -> None:
    crew = {"Authorization": f"Bearer {token(Role.PARAMEDIC)}"}
    hospital = HospitalClient(HOSPITAL, "ed-desk-1", token(Role.CLINICIAN, HOSPITAL))

    async def send_handoff(http: httpx.AsyncClient, incident_id: str) -> str:
        body = handoff_body(incident_id, HOSPITAL)
        created = await http.post("/api/handoffs", json=body, headers=crew)
        assert created.status_code == 201, created.text
        sent = await http.post(f"/api/handoffs/{created.json()['id']}/send", headers=crew)
        assert sent.status_code == 200, sent.text
        handoff_id: str = sent.json()["id"]
        return handoff_id

    async def vitals(http: httpx.AsyncClient, handoff_id: str, hr: int) -> None:
        update = {"kind": "vitals", "vitals": {"ts": datetime.now(UTC).isoformat(), "hr": hr}}
        response = await http.post(f"/api/handoffs/{handoff_id}/updates", json=update, headers=crew)
        assert response.status_code == 201, response.text

    async with running_server(settings) as (address, http):
        incident = (await http.post("/api/incidents", json=incident_body(), headers=crew)).json()
        ws = await hospital.connect(address)
        first = await send_handoff(http, incident["id"])
        await hospital.receive_live(ws, http, until=1)
        await hospital.ack(http)
        await ws.close()  # the hospital goes offline
        second = await send_handoff(http, incident["id"])
        await vitals(http, first, 130)
    # The server restarts: a new app, a new hub with no memory, the same database.
    async with running_server(settings) as (address, http):
        await vitals(http, second, 90)
        third = await send_handoff(http, incident["id"])
        ws = await hospital.connect(address)  # subscribe first, then catch up
        await hospital.catch_up(http)
        await vitals(http, first, 140)  # live again
        await hospital.receive_live(ws, http, until=7)
        await hospital.ack(http)
        await ws.close()
        # A second desk that was never online catches up alone from its own cursor.
        other = HospitalClient(HOSPITAL, "ed-desk-2", hospital.token)
        await other.catch_up(http)
        statuses = {
            h: (await http.get(f"/api/handoffs/{h}", headers=crew)).json()["status"]
            for h in (first, second, third)
        }

    # Acking seq 1 delivered the first handoff: that status change is entry 2.
    assert [e["seq"] for e in hospital.processed] == [1, 2, 3, 4, 5, 6, 7]
    assert [(e["kind"], e["handoff_id"]) for e in hospital.processed] == [
        ("handoff", first),
        ("status", first),
        ("handoff", second),
        ("update", first),
        ("update", second),
        ("handoff", third),
        ("update", first),
    ]
    hrs = [e["update"]["data"]["vitals"]["hr"] for e in hospital.processed if e["kind"] == "update"]
    assert hrs == [130, 90, 140]
    assert all(
        e["handoff"]["content"]["mechanism"] == COMPLAINT
        for e in hospital.processed
        if e["kind"] == "handoff"
    )
    # The second desk gets the same entries plus the two deliveries the first desk's last ack
    # caused, once each.
    assert [e["seq"] for e in other.processed] == list(range(1, 10))
    assert [(e["kind"], e["meta"]["status_to"]) for e in other.processed[7:]] == [
        ("status", "delivered"),
        ("status", "delivered"),
    ]
    assert statuses == {first: "delivered", second: "delivered", third: "delivered"}
