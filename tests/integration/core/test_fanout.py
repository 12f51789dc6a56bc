"""Cross-process WebSocket fan-out through the real Redis: two apps of one deployment (an api
process serving WebSockets on loopback, an ingest process) share one Redis channel."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from emsync.auth import tokens
from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.background import ProcessRole
from emsync.core.fanout import RedisFanout
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.telemetry.artefact_windows import ArtefactWindows
from emsync.telemetry.events import VitalsReceived
from emsync.telemetry.live_risk import RiskWatch
from emsync.telemetry.schemas import VitalsPush, VitalsReading
from tests.builders import insert_account
from tests.conftest import TEST_SECRET, _require_service, make_settings
from tests.live_server import HTTP_TIMEOUT_S
from tests.ports import free_port

pytestmark = pytest.mark.redis

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
_channels = itertools.count()


def runtime_of(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


def fanout_of(app: FastAPI) -> RedisFanout:
    return runtime_of(app).get(RedisFanout)


async def settled(app: FastAPI) -> None:
    """The readings' other readers (live risk, the artefact judge) publish from tasks of their
    own, off the ingest path: wait for them before a marker closes a step."""
    await runtime_of(app).get(RiskWatch).settled()
    await runtime_of(app).get(ArtefactWindows).settled()


def hub_of(app: FastAPI) -> Hub:
    return runtime_of(app).get(Hub)


def clinician_token() -> str:
    return tokens.issue_access_token(
        secret=TEST_SECRET,
        user_id="clinician-test",
        username="clinician-test",
        role=Role.CLINICIAN.value,
        hospital_id=None,
        now=datetime.now(UTC),
        lifetime=timedelta(minutes=30),
    )


def unique_redis_url(port: int = REDIS_PORT) -> str:
    """Each test its own Redis channel, so parallel runs on one Redis never hear each other."""
    return f"redis://{REDIS_HOST}:{port}/0?channel=emsync-test-{os.getpid()}-{next(_channels)}"


@pytest.fixture
def shared_redis() -> str:
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _require_service("Redis", exc)
    return unique_redis_url()


@pytest.fixture
def deployment(sqlite_template: Path, tmp_path: Path) -> Callable[[str], Settings]:
    """Settings of one deployment (one database) whose processes use the given Redis URL."""
    database = tmp_path / "emsync.db"
    shutil.copyfile(sqlite_template, database)

    def settings(redis_url: str) -> Settings:
        return make_settings(f"sqlite+aiosqlite:///{database}", tmp_path, redis_url=redis_url)

    return settings


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a state the system reaches by itself (a bound, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while not condition():
        assert loop.time() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def api_process(settings: Settings) -> AsyncIterator[tuple[FastAPI, str]]:
    """The api role on a free loopback port (real uvicorn, real WebSockets)."""
    app = create_app(settings, roles=(ProcessRole.API,))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, ws="websockets-sansio", log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started, "the api process started")
        await insert_account(runtime_of(app), user_id="clinician-test", role=Role.CLINICIAN)
        yield app, f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def ingest_process(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings, roles=(ProcessRole.INGEST,))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


async def subscribe(address: str, channel: str) -> ClientConnection:
    ws = await connect(
        f"ws://{address}/ws",
        subprotocols=["emsync.v1", f"bearer.{clinician_token()}"],  # type: ignore[list-item]
        open_timeout=HTTP_TIMEOUT_S,
    )
    assert json.loads(await ws.recv())["type"] == "ready"
    await ws.send(json.dumps({"op": "subscribe", "channels": [channel]}))
    assert json.loads(await ws.recv()) == {"type": "subscribed", "channels": {channel: "ok"}}
    return ws


async def receive(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [json.loads(await asyncio.wait_for(ws.recv(), timeout=15)) for _ in range(count)]


async def receive_until(ws: ClientConnection, last_type: str) -> list[dict[str, Any]]:
    messages = [json.loads(await asyncio.wait_for(ws.recv(), timeout=15))]
    while messages[-1]["type"] != last_type:
        messages.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=15)))
    return messages


T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def vitals(hr: int) -> VitalsReceived:
    # As the pipeline hands readings on: stored values with their time.
    ts = (T0 + timedelta(seconds=hr)).isoformat()
    return VitalsReceived(patient_id="p1", device_id="monitor-1", readings=({"ts": ts, "hr": hr},))


async def test_vitals_handled_in_ingest_reach_the_api_process_once_in_order(
    shared_redis: str, deployment: Callable[[str], Settings]
) -> None:
    settings = deployment(shared_redis)
    async with api_process(settings) as (api, address), ingest_process(settings) as ingest:
        await until(lambda: fanout_of(api).connected and fanout_of(ingest).connected, "connected")
        ws = await subscribe(address, "vitals:p1")

        for hr in (71, 72, 73, 74, 75):
            await runtime_of(ingest).bus.publish(vitals(hr))
        # A last message after them: any duplicate of the five would arrive before it.
        await settled(ingest)
        hub_of(ingest).publish("vitals:p1", "end", {})

        messages = await receive_until(ws, "end")
        # The ingest process's other readers of the readings (the live risk score, the window
        # artefact judge) publish on the same channel: distinct message types, in the same order.
        pushed = [m for m in messages if m["type"] == "vitals"]
        assert [m["data"]["readings"][0]["hr"] for m in pushed] == [71, 72, 73, 74, 75]
        assert {m["type"] for m in messages} <= {"vitals", "risk", "artefacts", "end"}
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
        # The history's reading schema, the same on both paths (issue 15, item 2).
        assert VitalsPush.model_validate(pushed[0]["data"]) == VitalsPush(
            patient_id="p1",
            device_id="monitor-1",
            readings=[VitalsReading(ts=T0 + timedelta(seconds=71), device_id="monitor-1", hr=71)],
        )
        assert fanout_of(api).metrics.received._value.get() == len(messages)
        await ws.close()


async def test_a_process_does_not_deliver_its_own_message_twice(
    shared_redis: str, deployment: Callable[[str], Settings]
) -> None:
    settings = deployment(shared_redis)
    async with api_process(settings) as (api, address), ingest_process(settings) as ingest:
        await until(lambda: fanout_of(api).connected and fanout_of(ingest).connected, "connected")
        ws = await subscribe(address, "vitals:p1")

        for n in (1, 2, 3):
            hub_of(api).publish("vitals:p1", "own", {"n": n})
        # Once Redis has taken the three, their echo reaches the api process before anything
        # published later: the other process's message closes the window.
        await until(lambda: fanout_of(api).metrics.sent._value.get() == 3, "own messages sent")
        hub_of(ingest).publish("vitals:p1", "other", {"n": 4})

        messages = await receive(ws, 4)
        assert [(m["type"], m["data"]["n"], m["seq"]) for m in messages] == [
            ("own", 1, 1),
            ("own", 2, 2),
            ("own", 3, 3),
            ("other", 4, 4),
        ]
        assert fanout_of(api).metrics.received._value.get() == 1
        await ws.close()


async def test_with_redis_unreachable_local_push_and_the_api_keep_working(
    deployment: Callable[[str], Settings],
) -> None:
    settings = deployment(unique_redis_url(port=free_port()))  # nothing listens there
    async with api_process(settings) as (api, address):
        ws = await subscribe(address, "vitals:p1")
        await runtime_of(api).bus.publish(vitals(71), vitals(72))
        await settled(api)
        hub_of(api).publish("vitals:p1", "end", {})

        messages = await receive_until(ws, "end")
        pushed = [m for m in messages if m["type"] == "vitals"]
        assert [m["data"]["readings"][0]["hr"] for m in pushed] == [71, 72]
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=HTTP_TIMEOUT_S) as http:
            assert (await http.get("/health/ready")).status_code == 200
            exposition = (await http.get("/metrics")).text
        not_sent = f'emsync_fanout_not_sent_total{{reason="redis_unavailable"}} {len(messages)}.0'
        assert not_sent in exposition
        assert "emsync_fanout_connected 0.0" in exposition
        assert not fanout_of(api).connected
        await ws.close()


class RedisServer:
    """A private redis-server on a free loopback port, to stop and start under the apps."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(500):
            with contextlib.suppress(redis.RedisError):
                redis.Redis(host=REDIS_HOST, port=self.port, socket_connect_timeout=1).ping()
                return
            if self._proc.poll() is not None:
                raise RuntimeError("redis-server exited")
            time.sleep(0.01)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    try:
        server.start()
    except (FileNotFoundError, RuntimeError, TimeoutError) as exc:
        _require_service("redis-server", exc)
    yield server
    server.stop()


async def test_after_a_redis_restart_fan_out_resumes_and_the_client_sees_the_gap(
    private_redis: RedisServer, deployment: Callable[[str], Settings]
) -> None:
    settings = deployment(unique_redis_url(port=private_redis.port))
    async with api_process(settings) as (api, address), ingest_process(settings) as ingest:
        both = (fanout_of(api), fanout_of(ingest))
        await until(lambda: all(f.connected for f in both), "connected")
        ws = await subscribe(address, "vitals:p1")
        # Each step ends with a marker: the readings' other messages (risk, artefacts) come too.
        await runtime_of(ingest).bus.publish(vitals(71))
        await settled(ingest)
        hub_of(ingest).publish("vitals:p1", "mark", {})
        first = await receive_until(ws, "mark")

        private_redis.stop()
        await until(lambda: not any(f.connected for f in both), "the outage noticed")
        await runtime_of(ingest).bus.publish(vitals(72))  # lost to the api process
        await settled(ingest)
        await runtime_of(api).bus.publish(vitals(73))  # local push goes on
        await settled(api)
        hub_of(api).publish("vitals:p1", "mark", {})
        during = await receive_until(ws, "mark")

        private_redis.start()
        await until(lambda: all(f.connected for f in both), "reconnected")
        await runtime_of(ingest).bus.publish(vitals(74))
        await settled(ingest)
        hub_of(ingest).publish("vitals:p1", "mark", {})
        after = await receive_until(ws, "mark")

        seen = first + during + after
        got = [m["data"]["readings"][0]["hr"] for m in seen if m["type"] == "vitals"]
        assert got == [71, 73, 74]
        seqs = [m["seq"] for m in seen]
        # What the ingest process published during the outage never arrived: the seq skips
        # it (and only it), so the client refetches the channel.
        assert seqs[: len(first + during)] == list(range(1, len(first + during) + 1))
        assert seqs[len(first + during)] > len(first + during) + 1
        assert seqs[len(first + during) :] == list(
            range(seqs[len(first + during)], seqs[len(first + during)] + len(after))
        )
        not_sent = fanout_of(ingest).metrics.not_sent.labels("redis_unavailable")
        assert not_sent._value.get() == seqs[len(first + during)] - len(first + during) - 1
        assert fanout_of(api).metrics.missed._value.get() == 1
        await ws.close()
