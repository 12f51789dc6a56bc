# ruff: noqa: ASYNC110, ASYNC210 - an orchestration script: blocking steps are deliberate
"""Scale-out with real processes: 2 api + worker + N ingest on PostgreSQL, Redis and Mosquitto,
the ingest partitioned by device (crc32 of the id, EMSYNC_MQTT__PARTITION_*; no shared
subscription), N = 1 then N = 2 in the same run.

For each N: a fresh database and broker; api-1 (api + worker roles), api-2 (api), N ingest
processes; a WebSocket client on each api process subscribed to every patient. The ingest
processes are paused (SIGSTOP), M sealed QoS 1 readings are published and confirmed by the
broker, the ingest processes resume, and the time until BOTH WebSocket clients have every
reading is the drain time (so it includes the Redis fan-out to the api process that did not
store it). Checked each time: every reading stored exactly once, and each WebSocket client got
each reading exactly once, whichever api process it is on.

Prints one JSON line; `ratio_2_vs_1` is the figure to compare (on a 2-core machine the broker,
PostgreSQL, Redis, the api processes and this script share the cores with the ingest).

    .venv/bin/python bench/scaleout.py [--messages 20000] [--patients 40]
        [--database postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import websockets  # noqa: E402
from bench.ingest import PASSWORD, VITALS, Publisher, _connected, _serve  # noqa: E402
from tests.mosquitto import Mosquitto, free_port  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from emsync.telemetry.simulator import SimDevice, vitals_plaintext  # noqa: E402

Seen = list[tuple[str, str]]  # (device id, reading ts) per WebSocket message reading


async def _collect(
    url: str, token: str, channels: list[str], sink: Seen, ready: asyncio.Event
) -> None:
    async with websockets.connect(
        url,
        subprotocols=[Subprotocol("emsync.v1"), Subprotocol(f"bearer.{token}")],
        max_queue=None,
        ping_timeout=120,
    ) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": channels}))
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("type") == "subscribed":
                ready.set()
            elif msg.get("type") == "vitals":
                device = msg["data"]["device_id"]
                sink.extend((device, r["ts"]) for r in msg["data"]["readings"])


def _batch(devices: list[SimDevice], n: int, start: datetime) -> list[tuple[str, bytes]]:
    """n readings, each with its own timestamp, so each is recognisable at the client."""
    return [
        devices[i % len(devices)].seal(vitals_plaintext(VITALS, start + timedelta(microseconds=i)))
        for i in range(n)
    ]


async def _wait(sinks: list[Seen], n: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while min(len(s) for s in sinks) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def one_run(args: argparse.Namespace, n_ingest: int, work: Path) -> dict[str, Any]:
    base, _, _ = args.database.rpartition("/")
    name = f"emsync_scale_{os.getpid()}_{n_ingest}"
    await _admin(args.database, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    dsn = f"{base}/{name}"
    broker = Mosquitto(work / f"mqtt-{n_ingest}")
    broker.start()
    ports = [free_port() for _ in range(2 + n_ingest)]
    env = {
        **os.environ,
        "EMSYNC_ENV": "development",
        "EMSYNC_DATA_DIR": str(work / "var"),
        "EMSYNC_DATABASE__URL": dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        "EMSYNC_REDIS_URL": f"{args.redis}?channel=emsync:scale:{os.getpid()}:{n_ingest}",
        "EMSYNC_MQTT__HOST": "127.0.0.1",
        "EMSYNC_MQTT__PORT": str(broker.port),
        "EMSYNC_MQTT__KEEPALIVE_SECONDS": "600",
        "EMSYNC_MQTT__PARTITION_COUNT": str(n_ingest),
        "EMSYNC_ADMIN_PASSWORD": PASSWORD,
        "EMSYNC_LOG_LEVEL": "WARNING",
    }
    procs: list[subprocess.Popen[bytes]] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        procs.append(
            _serve({**env, "EMSYNC_PORT": str(ports[0])}, work, f"api1-{n_ingest}",
                   ["--role", "api", "--role", "worker"])
        )  # fmt: skip
        api = f"http://127.0.0.1:{ports[0]}"
        for _ in range(1200):
            try:
                if httpx.get(f"{api}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        procs.append(
            _serve({**env, "EMSYNC_PORT": str(ports[1])}, work, f"api2-{n_ingest}",
                   ["--role", "api", "--no-migrate"])
        )  # fmt: skip
        ingesters = []
        for i in range(n_ingest):
            ingest_env = {
                **env,
                "EMSYNC_PORT": str(ports[2 + i]),
                "EMSYNC_MQTT__CLIENT_ID": f"emsync-scale-ingest-{i}",
                "EMSYNC_MQTT__PARTITION_INDEX": str(i),
            }
            ingesters.append(
                _serve(ingest_env, work, f"ingest{i}-{n_ingest}",
                       ["--role", "ingest", "--no-migrate"])
            )  # fmt: skip
        procs += ingesters
        from emsync.telemetry.cli import _provision

        devices = await asyncio.to_thread(
            _provision, api=api, username="admin", password=PASSWORD, patients=args.patients,
            prefix=f"scale{n_ingest}-", algorithm="ascon-aead128",
        )  # fmt: skip
        token = httpx.post(
            f"{api}/api/auth/token", data={"username": "admin", "password": PASSWORD}
        ).json()["access_token"]
        channels = [f"vitals:{d.patient_id}" for d in devices]
        sinks: list[Seen] = [[], []]
        for port, sink in zip(ports[:2], sinks, strict=True):
            for _ in range(600):  # api-2 may still be starting
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).is_success:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            ready = asyncio.Event()
            tasks.append(
                asyncio.create_task(
                    _collect(f"ws://127.0.0.1:{port}/ws", token, channels, sink, ready)
                )
            )
            await asyncio.wait_for(ready.wait(), 30)
        await _connected(ports[2:])
        publisher = Publisher(broker.port)
        warm = _batch(devices, 200, datetime.now(UTC) - timedelta(seconds=30))
        await asyncio.to_thread(publisher.publish_all, warm)
        await _wait(sinks, 200, 120)
        batch = _batch(devices, args.messages, datetime.now(UTC))
        for proc in ingesters:
            proc.send_signal(signal.SIGSTOP)
        await asyncio.to_thread(publisher.publish_all, batch)
        resumed = time.monotonic()
        for proc in ingesters:
            proc.send_signal(signal.SIGCONT)
        total = 200 + args.messages
        await _wait(sinks, total, 600)
        seconds = time.monotonic() - resumed
        publisher.close()
        conn = await asyncpg.connect(dsn)
        try:
            stored, distinct = await conn.fetchrow(
                "SELECT count(*), count(DISTINCT (device_id, key_id, counter, idx)) "
                "FROM telemetry_readings"
            )
        finally:
            await conn.close()
        each_once = all(len(s) == len(set(s)) == total for s in sinks)
        return {
            "ingest_processes": n_ingest,
            "readings_per_s": round(args.messages / seconds),
            "drain_seconds": round(seconds, 2),
            "stored": int(stored),
            "stored_once": int(stored) == int(distinct) == total,
            "ws_clients_each_once": each_once,
            "ws_received": [len(s) for s in sinks],
        }
    finally:
        for task in tasks:
            task.cancel()
        for proc in procs:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        broker.stop()
        await _admin(args.database, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="emsync-scaleout-"))
    one = await one_run(args, 1, work)
    two = await one_run(args, 2, work)
    return {
        "benchmark": "scaleout",
        "messages": args.messages,
        "patients": args.patients,
        "ingest_1_readings_per_s": one["readings_per_s"],
        "ingest_2_readings_per_s": two["readings_per_s"],
        "ratio_2_vs_1": round(two["readings_per_s"] / one["readings_per_s"], 2),
        "stored_once": one["stored_once"] and two["stored_once"],
        "ws_clients_each_once": one["ws_clients_each_once"] and two["ws_clients_each_once"],
        "runs": [one, two],
        "load": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    print(json.dumps(asyncio.run(run(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
