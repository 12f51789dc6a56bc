# ruff: noqa: ASYNC110, ASYNC210, ASYNC220, ASYNC240 - an orchestration script: blocking steps are deliberate
"""Telemetry ingest benchmark: Mosquitto on loopback → `emsync serve` (ingest + API) → WebSocket.

Prints one JSON line:
- `pipeline_readings_per_s`: QoS 1 readings drained from the broker through open, validate,
  NEWS2, encrypted batch insert and WebSocket push, counted at the WebSocket client;
- `bare_paho_msgs_per_s`: a paho subscriber that does nothing, drained the same way in the same
  run, and `ratio` = pipeline / bare;
- `latency_ms_p50` / `latency_ms_p99`: publish → WebSocket delivery at a fixed offered rate;
- `stored` / `published`: every accepted reading is in storage (nothing lost);
- `loop_lag_ms_p50` / `loop_lag_ms_p99`: the server's event-loop lag during the latency phase
  (from `emsync_event_loop_lag_seconds` in its /metrics, interpolated within buckets), and
  `server_cpu_s`: the server's CPU time over that phase (user + system; compare across runs on a
  busy machine rather than wall-clock figures);
- `server_batch_mean`: messages per ingest batch over that phase;
- `server_ingest_ms_p50` / `server_ingest_ms_p99`: the server's own part of the latency phase,
  from a message's receipt off the MQTT socket to stored and published on its event bus
  (`emsync_telemetry_ingest_latency_seconds`, interpolated within buckets): the rest of the
  end-to-end figure is the broker before it and the WebSocket push after it;
- `server_store_ms_p50` / `server_store_ms_p99`: of that, one batch's write
  (`emsync_telemetry_store_seconds`, per batch, interpolated the same way);
- with `--api-load`: 50 dashboard clients (bench/api.py's load: incident list and get, each
  authenticated) run against the same server through the latency phase, from another process;
  `api` is their requests/s, p50/p99 and errors.

Both drains use the same method: the consumer process is paused (SIGSTOP), N QoS 1 messages are
published and confirmed by the broker, the consumer resumes (SIGCONT), and the time until it has
everything is measured. That takes the publisher's speed out of the comparison.

    .venv/bin/python bench/ingest.py [--messages 20000] [--rate 2000] [--seconds 10]
    .venv/bin/python bench/ingest.py --latency-only [--profile FILE]  # the latency phase alone
    .venv/bin/python bench/ingest.py --latency-only --api-load  # ... with the dashboards busy
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import websockets  # noqa: E402
from bench import ingest_dashboards, spy  # noqa: E402
from bench import ingest_server as scrape  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: E402
from tests.mosquitto import Mosquitto, free_port  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from emsync.telemetry.simulator import (  # noqa: E402
    SimDevice,
    load_devices,
    save_devices,
    vitals_plaintext,
)

PASSWORD = "bench-admin-password"
# The server's own receipt (off the MQTT socket) -> stored and published, per message.
INGEST_LATENCY = "emsync_telemetry_ingest_latency_seconds"
STORE_SECONDS = "emsync_telemetry_store_seconds"  # one batch's write (absent before it existed)
VITALS = {"hr": 76, "spo2": 97, "rr": 15, "sbp": 122, "dbp": 77, "temp": 36.8, "avpu": "A"}


def _client(client_id: str, v5: bool = True) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
    )


def bare_subscriber(port: int, count: int) -> None:
    """Child process: subscribe (persistent session), print receipt times of all `count`."""
    got = 0
    done = threading.Event()
    last = 0.0
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="bench-bare",
        protocol=MQTTProtocolVersion.MQTTv5,
    )

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        nonlocal got, last
        got += 1
        if got >= count:
            last = time.time()
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, *_a: c.subscribe("bench/bare/+", qos=1)
    client.connect("127.0.0.1", port, keepalive=600)
    client.loop_start()
    print("ready", flush=True)
    done.wait(600)
    print(json.dumps({"last": last, "count": got}), flush=True)
    client.loop_stop()


def paced_publisher(port: int, keys: Path, rate: float, total: int) -> None:
    """Child process: publish `total` readings at `rate`/s, each stamped with its publish time."""
    devices = load_devices(keys)
    publisher = Publisher(port)
    # The devices are not what is measured: a collection here would hold a stamped reading back.
    gc.disable()
    interval = 1.0 / rate
    start = time.monotonic()
    info = None
    for i in range(total):
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        device = devices[i % len(devices)]
        topic, payload = device.seal(vitals_plaintext(VITALS, datetime.now(UTC)))
        info = publisher.client.publish(topic, payload, qos=1)
    offered = total / (time.monotonic() - start)
    if info is not None:
        info.wait_for_publish(120)
    print(json.dumps({"offered": offered}), flush=True)
    publisher.close()


class Publisher:
    def __init__(self, port: int) -> None:
        self.client = _client(f"bench-pub-{os.getpid()}")
        self.client.max_inflight_messages_set(2000)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port, keepalive=600)
        self.client.loop_start()

    def publish_all(self, messages: list[tuple[str, bytes]]) -> None:
        info = None
        for topic, payload in messages:
            info = self.client.publish(topic, payload, qos=1)
        if info is not None:
            info.wait_for_publish(600)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def sealed_batch(devices: list[SimDevice], n: int) -> list[tuple[str, bytes]]:
    now = datetime.now(UTC)
    return [devices[i % len(devices)].seal(vitals_plaintext(VITALS, now)) for i in range(n)]


async def ws_collect(
    url: str,
    token: str,
    channels: list[str],
    sink: list[tuple[float, str]],
    ready: asyncio.Event,
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
                now = time.time()
                # Only (arrival, publish time): keeping every reading's dict made this
                # process's own garbage collections long enough to show in the p99.
                sink.extend((now, reading["ts"]) for reading in msg["data"]["readings"])


async def wait_count(sink: list[Any], n: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while len(sink) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="emsync-bench-"))
    broker = Mosquitto(work / "mqtt")
    broker.start()
    http_port = free_port()
    env = {
        **os.environ,
        "EMSYNC_ENV": "development",
        "EMSYNC_DATA_DIR": str(work / "var"),
        "EMSYNC_PORT": str(http_port),
        "EMSYNC_MQTT__HOST": "127.0.0.1",
        "EMSYNC_MQTT__PORT": str(broker.port),
        "EMSYNC_MQTT__KEEPALIVE_SECONDS": "600",
        "EMSYNC_ADMIN_PASSWORD": PASSWORD,
        "EMSYNC_LOG_LEVEL": "WARNING",
        "EMSYNC_TELEMETRY__ALERT_HOLDOFF_SECONDS": "0",
    }
    if args.database:
        env["EMSYNC_DATABASE__URL"] = args.database
    stored_before = await _stored(work, args.database)
    if args.ingest_processes:
        # Scale profile (DESIGN §1): the API (and worker) in one process, N ingest processes
        # sharing the subscription ($share/...), WebSocket messages fanned out over Redis.
        env["EMSYNC_REDIS_URL"] = f"{args.redis}?channel=emsync:bench:{os.getpid()}"
        env["EMSYNC_MQTT__SHARED_SUBSCRIPTION"] = "true"
        server = _serve(env, work, "api", ["--role", "api", "--role", "worker"])
    else:
        server = _serve(env, work, "serve", [])
    ingesters: list[subprocess.Popen[bytes]] = []
    processes = [server]
    bare = (
        None
        if args.latency_only
        else subprocess.Popen(
            [sys.executable, __file__, "--bare", str(broker.port), str(args.messages)],
            stdout=subprocess.PIPE,
            text=True,
        )
    )
    try:
        api = f"http://127.0.0.1:{http_port}"
        for _ in range(600):
            try:
                if httpx.get(f"{api}/health", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        ingest_ports = [free_port() for _ in range(args.ingest_processes)]
        for i, ingest_port in enumerate(ingest_ports):
            # Started once the API process has migrated and written the shared secrets.
            ingest_env = {
                **env,
                "EMSYNC_PORT": str(ingest_port),
                "EMSYNC_MQTT__CLIENT_ID": f"emsync-bench-ingest-{i + 1}",
            }
            ingesters.append(
                _serve(ingest_env, work, f"ingest-{i + 1}", ["--role", "ingest", "--no-migrate"])
            )
        processes += ingesters
        from emsync.telemetry.cli import _provision

        devices = await asyncio.to_thread(
            _provision,
            api=api,
            username="admin",
            password=PASSWORD,
            patients=args.patients,
            prefix="bench-",
            algorithm="ascon-aead128",
        )
        token = httpx.post(
            f"{api}/api/auth/token", data={"username": "admin", "password": PASSWORD}
        ).json()["access_token"]
        sink: list[tuple[float, str]] = []
        ready = asyncio.Event()
        channels = [f"vitals:{d.patient_id}" for d in devices]
        collector = asyncio.create_task(
            ws_collect(f"ws://127.0.0.1:{http_port}/ws", token, channels, sink, ready)
        )
        await asyncio.wait_for(ready.wait(), 30)
        await scrape.connected(ingest_ports)
        # This process only stamps arrivals; its own collections (70-80 ms measured with
        # gc.callbacks once the sink held the drain) would be counted as EMsync's latency.
        # The server collects as usual.
        gc.collect()
        gc.disable()
        publisher = Publisher(broker.port)

        # Warm-up: caches, connections, the first NEWS2 alerts.
        await asyncio.to_thread(publisher.publish_all, sealed_batch(devices, 200))
        await wait_count(sink, 200, 60)

        pipeline_got = pipeline_s = 0.0
        result: dict[str, Any] = {}
        bare_s = 0.0
        if not args.latency_only:
            # 1. Pipeline drain.
            base = len(sink)
            batch = sealed_batch(devices, args.messages)
            profiler = _spy(args.profile, (ingesters or [server])[0].pid)
            for proc in processes:
                proc.send_signal(signal.SIGSTOP)
            await asyncio.to_thread(publisher.publish_all, batch)
            t_cont = time.time()
            for proc in processes:
                proc.send_signal(signal.SIGCONT)
            await wait_count(sink, base + args.messages, 300)
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(60)
            pipeline_s = sink[-1][0] - t_cont
            pipeline_got = len(sink) - base

            # 2. Bare paho drain, same method.
            assert bare is not None
            assert bare.stdout is not None
            bare.stdout.readline()  # "ready"
            await asyncio.sleep(0.5)
            bare.send_signal(signal.SIGSTOP)
            plain = [(f"bench/bare/{i % 50}", payload) for i, (_, payload) in enumerate(batch)]
            await asyncio.to_thread(publisher.publish_all, plain)
            t_cont_bare = time.time()
            bare.send_signal(signal.SIGCONT)
            result = json.loads(await asyncio.to_thread(bare.stdout.readline))
            bare_s = result["last"] - t_cont_bare

        # 3. Latency at a fixed offered rate; each reading's ts is its publish time.
        base = len(sink)
        total = int(args.rate * args.seconds)

        # The paced publisher is its own process, as devices are: sealing and publishing in
        # this one would hold the GIL away from the WebSocket receiver and stamp late arrivals.
        keys = work / "devices.json"
        save_devices(keys, devices)
        dashboards = None
        if args.api_load:
            dashboards = await asyncio.to_thread(
                ingest_dashboards.start,
                http_port,
                token,
                args.api_seed,
                args.api_clients,
                args.seconds,
            )
        profiler = _spy(args.profile, (ingesters or [server])[0].pid) if args.latency_only else None
        lag_before = scrape.buckets(http_port)
        ingest_before = scrape.buckets(http_port, INGEST_LATENCY)
        store_before = scrape.buckets(http_port, STORE_SECONDS)
        cpu_before = scrape.cpu_seconds(server.pid)
        batches_before = scrape.metric(http_port, "emsync_telemetry_batch_size_count") or 0.0
        if dashboards is not None and dashboards.stdin is not None:
            dashboards.stdin.write("go\n")
            dashboards.stdin.flush()
        paced = subprocess.Popen(
            [sys.executable, __file__, "--paced", *map(str, (broker.port, keys, args.rate, total))],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert paced.stdout is not None
        offered = json.loads(await asyncio.to_thread(paced.stdout.readline))["offered"]
        paced.wait(60)
        await wait_count(sink, base + total, 120)
        cpu_s = scrape.cpu_seconds(server.pid) - cpu_before
        batches = (
            scrape.metric(http_port, "emsync_telemetry_batch_size_count") or 0.0
        ) - batches_before
        lag = scrape.quantiles(scrape.buckets(http_port), lag_before)
        in_server = scrape.quantiles(scrape.buckets(http_port, INGEST_LATENCY), ingest_before)
        store = scrape.quantiles(scrape.buckets(http_port, STORE_SECONDS), store_before)
        api_result = None
        if dashboards is not None:
            assert dashboards.stdout is not None
            api_result = json.loads(await asyncio.to_thread(dashboards.stdout.readline))
            dashboards.wait(60)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        timeline = [
            (sent := datetime.fromisoformat(ts).timestamp(), (recv - sent) * 1000)
            for recv, ts in sink[base:]
        ]
        if args.latencies:
            Path(args.latencies).write_text(
                "".join(f"{sent:.6f} {ms:.3f}\n" for sent, ms in sorted(timeline))
            )
        latencies = sorted(ms for _, ms in timeline)
        publisher.close()
        collector.cancel()
        await asyncio.sleep(0.5)
        published = 200 + (0 if args.latency_only else args.messages) + total
        stored_after = await _stored(work, args.database)
        stored = None if stored_after is None else stored_after - (stored_before or 0)
        return {
            "bench": "telemetry_ingest",
            "mode": f"api+{len(ingesters)}x_ingest+redis" if ingesters else "single_process",
            "database": "postgresql" if args.database else "sqlite",
            "patients": args.patients,
            "messages": args.messages,
            "pipeline_readings_per_s": round(pipeline_got / pipeline_s, 1) if pipeline_s else None,
            "bare_paho_msgs_per_s": round(result["count"] / bare_s, 1) if bare_s else None,
            "ratio": round((pipeline_got / pipeline_s) / (result["count"] / bare_s), 3)
            if pipeline_s and bare_s
            else None,
            "latency_offered_per_s": round(offered, 1),
            "latency_ms_p50": round(statistics.median(latencies), 2) if latencies else None,
            "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 2)
            if latencies
            else None,
            "loop_lag_ms_p50": lag[0],
            "loop_lag_ms_p99": lag[1],
            "server_ingest_ms_p50": in_server[0],
            "server_ingest_ms_p99": in_server[1],
            "server_store_ms_p50": store[0],
            "server_store_ms_p99": store[1],
            "server_cpu_s": round(cpu_s, 2),
            # Messages per ingest batch in the latency phase: each batch has a fixed cost (a
            # hand-off to the writer, a transaction, the acknowledgements), paid per reading
            # when the batches are single messages.
            "server_batch_mean": round(total / batches, 1) if batches and not ingesters else None,
            "api_load": api_result,
            "ws_received": len(sink),
            # Readings each ingest process stored over the whole run: how the broker split them.
            "accepted_per_ingest_process": [
                scrape.metric(p, "emsync_telemetry_readings_accepted_total") for p in ingest_ports
            ],
            "published": published,
            "stored": stored,
            "lost": published - stored if stored is not None else None,
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        gc.enable()
        everything: list[subprocess.Popen[Any]] = [*processes, *([bare] if bare else [])]
        for proc in everything:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
                proc.wait(30)
        broker.stop()


def _serve(
    env: dict[str, str], work: Path, name: str, options: list[str]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "emsync", "serve", *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / f"{name}.log").open("wb"),
    )


async def _stored(work: Path, database: str | None) -> int | None:
    """Readings in storage (0 before the schema exists)."""
    if database:
        import asyncpg

        conn = await asyncpg.connect(database.replace("+asyncpg", ""))
        try:
            exists = await conn.fetchval("SELECT to_regclass('telemetry_readings') IS NOT NULL")
            return (
                int(await conn.fetchval("SELECT count(*) FROM telemetry_readings")) if exists else 0
            )
        finally:
            await conn.close()
    path = work / "var" / "emsync.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM telemetry_readings").fetchone()[0])


def _pin_ports() -> None:
    """`EMSYNC_BENCH_PORTS=LOW-HIGH`: take the broker's and servers' ports from that range (a
    shared machine where each user has one), instead of tests.ports' stretch for this pid."""
    span = os.environ.get("EMSYNC_BENCH_PORTS")
    if span:
        import itertools

        import tests.ports

        low, _, high = span.partition("-")
        tests.ports._NEXT = itertools.cycle(range(int(low), int(high) + 1))


def _spy(path: str | None, pid: int) -> subprocess.Popen[bytes] | None:
    # Sampled without pausing the server: paused 500 times a second it is another, saturated
    # process (--latency-only --api-load: 7 API requests/s and p99 3.4 s at machine load 4.5,
    # against 37/s and 0.4 s sampled without pausing at load 8).
    return spy.record(path, pid, rate=500, nonblocking=True)


def main() -> None:
    _pin_ports()
    if len(sys.argv) == 4 and sys.argv[1] == "--bare":
        bare_subscriber(int(sys.argv[2]), int(sys.argv[3]))
        return
    if len(sys.argv) == 6 and sys.argv[1] == "--paced":
        paced_publisher(int(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--profile",
        help="write py-spy collapsed stacks of the server during the drain (the latency phase "
        "with --latency-only) to this file "
        "(py-spy: in the dev install)",
    )
    parser.add_argument(
        "--ingest-processes",
        type=int,
        default=0,
        help="scale profile: `serve --role api --role worker` plus this many `--role ingest` "
        "processes on a shared subscription, fanned out over Redis (needs --database "
        "postgresql+asyncpg://...); 0: one `emsync serve` with every role",
    )
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="skip both drains: only the fixed-rate latency phase (with --profile, py-spy "
        "samples the server during it)",
    )
    parser.add_argument(
        "--latencies",
        help="write each reading of the latency phase as `publish_time latency_ms` to this file "
        "(to see whether the tail is periodic stalls or spread out)",
    )
    parser.add_argument(
        "--api-load",
        action="store_true",
        help="during the latency phase, bench/api.py's dashboard load (incident list and get, "
        "authenticated) runs against the same server from another process",
    )
    parser.add_argument("--api-clients", type=int, default=50, help="with --api-load")
    parser.add_argument("--api-seed", type=int, default=200, help="incidents seeded for it")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis for fan-out")
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite under a temp dir)")
    args = parser.parse_args()
    if args.ingest_processes and not (args.database or "").startswith("postgresql"):
        parser.error("--ingest-processes needs --database postgresql+asyncpg://...")
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
