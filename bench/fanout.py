"""Cross-process WebSocket fan-out through Redis: prints one JSON line.

    .venv/bin/python bench/fanout.py [--messages 20000] [--latency-messages 2000]

An api process (this one: uvicorn on loopback, a real WebSocket client) receives messages that
an ingest process (a child) publishes on its hub; they travel sealed through Redis pub/sub
(127.0.0.1:6379). The baseline, measured in the same run, is the same measure within one
process (embedded profile: the hub publishes straight to the WebSocket). Figures:
- `msgs_per_s`: messages published in bursts of `BURST` (the next burst once the client has
  all of the previous one), from the first publish to the last WebSocket receipt;
- `p50_ms`/`p99_ms`: publish -> WebSocket receipt latency at a paced `PACE_MS` interval
  (CLOCK_MONOTONIC is system-wide, so stamps compare across the two processes);
- `seq_choice`: raw Redis cost of the alternative seq design (a global per-channel `INCR`
  pipelined with each `PUBLISH`) against the chosen one (`PUBLISH` only);
- `seal_open_us`: AES-256-GCM seal + open of one typical vitals message.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import secrets
import socket
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from redis import asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from emsync.auth import tokens
from emsync.bootstrap import create_app
from emsync.core import migrate
from emsync.core.background import ProcessRole
from emsync.core.crypto import Keyring
from emsync.core.fanout import HubMessage, RedisFanout, open_message, seal_message
from emsync.core.realtime import Hub
from emsync.core.settings import Settings

CHANNEL = "vitals:bench-patient"
BURST = 500  # below the hub's per-subscriber queue limit (2000)
PACE_MS = 5.0
REDIS = "redis://127.0.0.1:6379/0"
READING = {"ts": "2025-01-01T12:00:00+00:00", "hr": 88, "spo2": 95, "rr": 18, "sbp": 118}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the bench set-up did not come up")
        await asyncio.sleep(0.01)


def payload(seq: int) -> dict[str, Any]:
    return {
        "patient_id": "bench-patient",
        "readings": [READING],
        "n": seq,
        "t": time.monotonic_ns(),
    }


async def publish_burst(hub: Hub, start: int, count: int) -> None:
    for n in range(start, start + count):
        hub.publish(CHANNEL, "vitals", payload(n))


async def publish_paced(hub: Hub, start: int, count: int) -> None:
    for n in range(start, start + count):
        hub.publish(CHANNEL, "vitals", payload(n))
        await asyncio.sleep(PACE_MS / 1000)


# ---- the publisher child (the ingest process) ------------------------------------------------


async def child() -> None:
    app = create_app(Settings(), roles=(ProcessRole.INGEST,))
    runtime = app.state.runtime
    async with app.router.lifespan_context(app):
        fanout = runtime.get(RedisFanout)
        await until(lambda: fanout.connected)
        hub = runtime.get(Hub)
        loop = asyncio.get_running_loop()
        print("ready", flush=True)
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            kind, start, count = line[0], int(line[1]), int(line[2])
            await (publish_burst if kind == "burst" else publish_paced)(hub, start, count)


# ---- the api process: WebSocket client and driver ---------------------------------------------


class Receiver:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.latencies_ms: list[float] = []

    async def take(self, count: int, *, record: bool) -> float:
        """Receive `count` messages; the monotonic time of the last one."""
        last = 0.0
        for _ in range(count):
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout=60))
            now = time.monotonic_ns()
            if record:
                self.latencies_ms.append((now - message["data"]["t"]) / 1e6)
            last = now / 1e9
        return last


Send = Callable[[str, int, int], Coroutine[Any, Any, None]]


async def measure(send: Send, receiver: Receiver, messages: int, paced: int) -> dict[str, float]:
    await send("burst", 0, BURST)  # warm-up
    await receiver.take(BURST, record=False)
    started = time.monotonic()
    for start in range(0, messages, BURST):
        await send("burst", start, BURST)
        finished = await receiver.take(BURST, record=False)
    rate = messages / (finished - started)
    sending = asyncio.create_task(send("paced", 0, paced))
    await receiver.take(paced, record=True)
    await sending
    lat = receiver.latencies_ms
    return {
        "msgs_per_s": round(rate),
        "p50_ms": round(percentile(lat, 50), 3),
        "p99_ms": round(percentile(lat, 99), 3),
    }


@contextlib.asynccontextmanager
async def api_process(settings: Settings) -> AsyncIterator[tuple[Any, ClientConnection]]:
    app = create_app(settings, roles=(ProcessRole.API,))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, ws="websockets-sansio", log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await until(lambda: server.started)
    token = tokens.issue_access_token(
        secret=settings.auth.secret_key.get_secret_value(),  # type: ignore[union-attr]
        user_id="bench",
        username="bench",
        role="clinician",
        hospital_id=None,
        now=datetime.now(UTC),
        lifetime=timedelta(hours=1),
    )
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws",
        subprotocols=["emsync.v1", f"bearer.{token}"],  # type: ignore[list-item]
        max_queue=None,
    )
    assert json.loads(await ws.recv())["type"] == "ready"
    await ws.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
    assert json.loads(await ws.recv())["type"] == "subscribed"
    try:
        yield app, ws
    finally:
        await ws.close()
        server.should_exit = True
        await task
        sock.close()


async def seq_choice(keyring: Keyring, messages: int) -> dict[str, float]:
    """PUBLISH alone against INCR + PUBLISH per message, both pipelined 256 at a time."""
    client = aioredis.from_url(REDIS)
    channel = f"emsync-bench-{os.getpid()}"
    sealed = seal_message(
        HubMessage(origin="o", channel=CHANNEL, type="vitals", data=payload(1), seq=1),
        keyring=keyring,
        redis_channel=channel,
    )

    async def run(with_incr: bool) -> float:
        started = time.perf_counter()
        for _ in range(0, messages, 256):
            pipe = client.pipeline(transaction=False)
            for _ in range(256):
                if with_incr:
                    pipe.incr(f"{channel}:seq:{CHANNEL}")
                pipe.publish(channel, sealed)
            await pipe.execute()
        return messages / (time.perf_counter() - started)

    try:
        publish_only = statistics.median([await run(False) for _ in range(3)])
        with_incr = statistics.median([await run(True) for _ in range(3)])
        await client.delete(f"{channel}:seq:{CHANNEL}")
    finally:
        await client.aclose()
    return {
        "publish_only_msgs_per_s": round(publish_only),
        "incr_and_publish_msgs_per_s": round(with_incr),
        "incr_throughput_ratio": round(with_incr / publish_only, 3),
    }


def seal_open_us(keyring: Keyring) -> float:
    message = HubMessage(origin="o", channel=CHANNEL, type="vitals", data=payload(1), seq=1)
    number = 5000
    spent = timeit.timeit(
        lambda: open_message(
            seal_message(message, keyring=keyring, redis_channel="c"),
            keyring=keyring,
            redis_channel="c",
        ),
        number=number,
    )
    return round(spent / number * 1e6, 2)


async def parent(workdir: Path, database: str, messages: int, paced: int) -> dict[str, Any]:
    master_keys = json.dumps({"1": base64.b64encode(secrets.token_bytes(32)).decode()})
    env = {
        "EMSYNC_ENV": "test",
        "EMSYNC_DATA_DIR": str(workdir),
        "EMSYNC_LOG_LEVEL": "WARNING",
        "EMSYNC_DATABASE__URL": database,
        "EMSYNC_AUTH__SECRET_KEY": secrets.token_urlsafe(48),
        "EMSYNC_SECURITY__MASTER_KEYS": master_keys,
        "EMSYNC_REDIS_URL": f"{REDIS}?channel=emsync-bench-{os.getpid()}",
    }
    embedded = Settings.model_validate(
        {
            "env": "test",
            "data_dir": workdir,
            "log_level": "WARNING",
            "database": {"url": database},
            "auth": {"secret_key": env["EMSYNC_AUTH__SECRET_KEY"]},
            "security": {"master_keys": master_keys},
        }
    )
    scale = embedded.model_copy(update={"redis_url": env["EMSYNC_REDIS_URL"]})

    async with api_process(embedded) as (app, ws):
        hub = app.state.runtime.get(Hub)

        async def local(kind: str, start: int, count: int) -> None:
            await (publish_burst if kind == "burst" else publish_paced)(hub, start, count)

        in_process = await measure(local, Receiver(ws), messages, paced)

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--publisher",
        env={**os.environ, **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    async with api_process(scale) as (app, ws):
        fanout = app.state.runtime.get(RedisFanout)
        await until(lambda: fanout.connected)
        while (line := await stdout.readline()).strip() != b"ready":
            assert line, "the publisher process exited before it was ready"

        async def remote(kind: str, start: int, count: int) -> None:
            stdin.write(f"{kind} {start} {count}\n".encode())
            await stdin.drain()

        cross = await measure(remote, Receiver(ws), messages, paced)
        stdin.write(b"quit\n")
        await stdin.drain()
        await proc.wait()
        not_sent = sum(
            sample.value
            for metric in fanout.metrics.not_sent.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )

    keyring = Keyring.from_json(master_keys)
    return {
        "bench": "fanout",
        "messages": messages,
        "burst": BURST,
        "latency_messages": paced,
        "pace_ms": PACE_MS,
        "in_process": in_process,
        "cross_process_redis": cross,
        "throughput_ratio": round(cross["msgs_per_s"] / in_process["msgs_per_s"], 3),
        "p50_ratio": round(cross["p50_ms"] / in_process["p50_ms"], 2),
        "p99_ratio": round(cross["p99_ms"] / in_process["p99_ms"], 2),
        "api_process_not_sent": not_sent,
        "seq_choice": await seq_choice(keyring, messages),
        "seal_open_us": seal_open_us(keyring),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--latency-messages", type=int, default=2_000)
    parser.add_argument("--publisher", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publisher:
        asyncio.run(child())
        return
    messages = max(BURST, args.messages // BURST * BURST)
    workdir = Path(tempfile.mkdtemp(prefix="emsync-bench-fanout-"))
    database = f"sqlite+aiosqlite:///{workdir / 'emsync.db'}"
    migrate.upgrade(database)
    figures = asyncio.run(parent(workdir, database, messages, args.latency_messages))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
