"""The plain-stack baseline of `bench/handoff.py`: the same round trip on bare FastAPI, in memory.

    .venv/bin/python bench/handoff_baseline.py --port N --secret S

The routes and WebSocket protocol `bench/handoff.py` drives, and only those, with what the round
trip cannot do without and nothing else: the bearer token decoded and its role checked on every
request and connection (no account lookup), the request bodies validated by pydantic, the
handoff sealed for its hospital as EMsync seals it (fresh data key wrapped for the hospital's
X25519 key, content under AES-GCM: `emsync.handoffs.sealing`) and opened again for what reads
content (the hospital's push, its acknowledgement's response), the pushes queued per connection
and written by a sender task per connection. No database (a dict), no audit, no outbox, no
middleware, no idempotency. It runs under the uvicorn settings of `emsync serve` (cli.py), so the
difference the bench measures is EMsync's own path; this server's CPU per round trip is the
floor of the stack on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import uvicorn
from fastapi import (
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Request,
    WebSocket,
    WebSocketDisconnect,
)
from pydantic import BaseModel

from emsync.auth import tokens
from emsync.handoffs import sealing


class Patient(BaseModel):
    name: str | None = None
    age_years: int | None = None
    sex: str | None = None


class Sign(BaseModel):
    ts: datetime
    hr: int | None = None
    spo2: int | None = None
    rr: int | None = None
    sbp: int | None = None
    dbp: int | None = None


class Treatment(BaseModel):
    kind: str
    name: str
    dose_value: float | None = None
    dose_unit: str | None = None


class Content(BaseModel):
    patient: Patient
    time_of_onset: datetime | None = None
    mechanism: str | None = None
    injuries: list[str] = []
    signs: list[Sign] = []
    treatment: list[Treatment] = []


class HandoffIn(BaseModel):
    incident_id: str
    unit_id: str | None = None
    hospital_id: str
    eta: datetime | None = None
    acuity: int
    news2: int | None = None
    crew: list[str] = []
    content: Content


class StatusIn(BaseModel):
    status: str
    reason: str | None = None


@dataclass
class Stored:
    id: str
    hospital_id: str
    meta: dict[str, Any]
    wrapped: bytes
    sealed: bytes
    status: str = "draft"
    seq: int = 0


@dataclass(eq=False)  # hashed by identity: kept in sets of subscribers
class Connection:
    claims: tokens.AccessClaims
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


@dataclass
class State:
    secret: str
    keys: dict[str, sealing.HospitalKeyPair] = field(default_factory=dict)
    handoffs: dict[str, Stored] = field(default_factory=dict)
    channels: dict[str, set[Connection]] = field(default_factory=dict)
    feed_seq: dict[str, int] = field(default_factory=dict)

    def publish(self, channel: str, type_: str, data: dict[str, Any]) -> None:
        text = json.dumps({"channel": channel, "type": type_, "data": data}, default=str)
        for conn in self.channels.get(channel, ()):
            conn.queue.put_nowait(text)

    def open(self, handoff: Stored) -> dict[str, Any]:
        pair = self.keys[handoff.hospital_id]
        key = sealing.unwrap_data_key(
            handoff.wrapped, hospital_private=pair.private, context=handoff.id.encode()
        )
        body: dict[str, Any] = json.loads(
            sealing.open_sealed(key, handoff.sealed, aad=handoff.id.encode())
        )
        return body

    def board(self, handoff: Stored) -> dict[str, Any]:
        return {**handoff.meta, "id": handoff.id, "status": handoff.status}

    def feed(self, handoff: Stored, kind: str, data: dict[str, Any]) -> None:
        seq = self.feed_seq[handoff.hospital_id] = self.feed_seq.get(handoff.hospital_id, 0) + 1
        entry = {"seq": seq, "kind": kind, "handoff_id": handoff.id, **data}
        self.publish(f"handoffs:{handoff.hospital_id}", kind, entry)
        self.publish("handoffs", "board", self.board(handoff))


def claims(request: Request, authorization: Annotated[str, Header()]) -> tokens.AccessClaims:
    try:
        return tokens.decode_access_token(
            authorization.removeprefix("Bearer "), secret=request.app.state.secret
        )
    except Exception as exc:
        raise HTTPException(401) from exc


Claims = Annotated[tokens.AccessClaims, Depends(claims)]


def build(secret: str) -> FastAPI:
    app = FastAPI()
    app.state.secret = secret
    state = State(secret)

    def handoff_of(handoff_id: str) -> Stored:
        handoff = state.handoffs.get(handoff_id)
        if handoff is None:
            raise HTTPException(404)
        return handoff

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/incidents", status_code=201)
    async def create_incident(body: dict[str, Any], who: Claims) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), **body}

    @app.post("/api/handoffs/hospital-keys/{hospital_id}", status_code=201)
    async def enrol(hospital_id: str, who: Claims) -> dict[str, Any]:
        if who.role != "admin":
            raise HTTPException(403)
        state.keys[hospital_id] = sealing.generate_key_pair()
        return {"hospital_id": hospital_id, "version": 1}

    @app.post("/api/handoffs", status_code=201)
    async def create(body: HandoffIn, who: Claims) -> dict[str, Any]:
        if who.role != "paramedic":
            raise HTTPException(403)
        handoff_id = str(uuid.uuid4())
        pair = state.keys[body.hospital_id]
        data_key = sealing.new_data_key()
        content = body.model_dump(mode="json")
        meta = {k: content.pop(k) for k in ("incident_id", "unit_id", "hospital_id", "eta")}
        meta |= {"acuity": body.acuity, "created_at": datetime.now(UTC).isoformat()}
        handoff = state.handoffs[handoff_id] = Stored(
            id=handoff_id,
            hospital_id=body.hospital_id,
            meta=meta,
            wrapped=sealing.wrap_data_key(
                data_key, hospital_public=pair.public, context=handoff_id.encode()
            ),
            sealed=sealing.seal(data_key, json.dumps(content).encode(), aad=handoff_id.encode()),
        )
        return {**state.board(handoff), **content}

    @app.post("/api/handoffs/{handoff_id}/send")
    async def send(handoff_id: str, who: Claims) -> dict[str, Any]:
        if who.role != "paramedic":
            raise HTTPException(403)
        handoff = handoff_of(handoff_id)
        if handoff.status != "draft":
            raise HTTPException(409)
        handoff.status = "sent"
        record = {**state.board(handoff), **state.open(handoff)}
        state.feed(handoff, "handoff", {"handoff": record})
        return state.board(handoff)

    @app.post("/api/handoffs/{handoff_id}/receipt")
    async def receipt(handoff_id: str, body: StatusIn, who: Claims) -> dict[str, Any]:
        handoff = handoff_of(handoff_id)
        if who.role != "clinician" or who.hospital_id != handoff.hospital_id:
            raise HTTPException(403)
        if handoff.status != "sent" or body.status != "acknowledged":
            raise HTTPException(409)
        handoff.status = "acknowledged"
        state.feed(handoff, "status", {"update": {"status_to": handoff.status}})
        return {**state.board(handoff), **state.open(handoff)}

    @app.websocket("/ws")
    async def websocket(ws: WebSocket) -> None:
        protocols = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
        bearer = next((p[7:] for p in protocols if p.startswith("bearer.")), "")
        await ws.accept(subprotocol="emsync.v1")
        try:
            conn = Connection(tokens.decode_access_token(bearer, secret=secret))
        except Exception:  # noqa: BLE001 - any failure is an authentication failure
            await ws.close(code=4401)
            return
        sender = asyncio.create_task(_pump(ws, conn))
        joined: list[str] = []
        try:
            conn.queue.put_nowait(json.dumps({"type": "ready"}))
            while True:
                msg = json.loads(await ws.receive_text())
                if msg["op"] == "ping":
                    conn.queue.put_nowait(json.dumps({"type": "pong"}))
                elif msg["op"] == "subscribe":
                    result = {}
                    for channel in msg["channels"]:
                        hospital = channel.partition(":")[2] or None
                        allowed = (
                            conn.claims.role == "paramedic"
                            if hospital is None
                            else conn.claims.hospital_id == hospital
                        )
                        if allowed:
                            state.channels.setdefault(channel, set()).add(conn)
                            joined.append(channel)
                        result[channel] = "ok" if allowed else "forbidden"
                    conn.queue.put_nowait(json.dumps({"type": "subscribed", "channels": result}))
        except WebSocketDisconnect:
            pass
        finally:
            for channel in joined:
                state.channels[channel].discard(conn)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    return app


async def _pump(ws: WebSocket, conn: Connection) -> None:
    while True:
        await ws.send_text(await conn.queue.get())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    app = build(args.secret)
    gc.freeze()  # as `emsync serve` settles its heap before serving (core/serving.py)
    # The settings `emsync serve` passes (cli.py), TLS and proxies aside.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        access_log=False,
        log_level="warning",
        ws_max_size=64 * 1024,
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
