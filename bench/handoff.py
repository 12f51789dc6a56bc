"""Handoff round trip over a real server: prints one JSON line.

    .venv/bin/python bench/handoff.py [--hospitals 100] [--rounds 5] [--rate R] [--database-url URL]
        [--profile FILE] [--factory]

Starts the server as `emsync serve` does (`--factory`: bare `uvicorn --factory`, as before) on a
free loopback port (SQLite in a temporary directory unless a database URL is given), connects every
hospital's WebSocket (`handoffs:<hospital_id>`) and one crew board (`handoffs`), then `rounds`
times, for every hospital (all at once: the burst; or with `--rate`, one handoff every 1/R s to each
hospital in turn: a regional load): the crew creates the handoff (it is sealed for the hospital) and
sends it; the hospital receives it live and acknowledges it over
HTTP; the clock stops when the crew board shows the handoff acknowledged. Every crew and every
hospital desk has its own HTTP client, as their devices would. Baselines measured in the same
run: a WebSocket echo (`ping`/`pong`) on the same connections under the same concurrency, and
the bare seal + open of one handoff in process; and, run right after ours unless
`--no-baseline`, the same clients and rounds against a bare FastAPI app doing the same round trip
in memory with the same sealing (`bench/handoff_baseline.py`): the stack's own floor. Also
printed: the server process's CPU time per round trip, which the load of other processes on a
shared machine moves much less.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import spy  # noqa: E402

from emsync.auth import tokens  # noqa: E402
from emsync.auth.models import User  # noqa: E402
from emsync.core import migrate  # noqa: E402
from emsync.handoffs import sealing  # noqa: E402

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
LIMITS = httpx.Limits(keepalive_expiry=4.0)


def account_id(role: str, hospital_id: str | None = None) -> str:
    return f"bench-{role}-{hospital_id}"


def token(role: str, hospital_id: str | None = None) -> str:
    return tokens.issue_access_token(
        secret=SECRET,
        user_id=account_id(role, hospital_id),
        username=account_id(role, hospital_id),
        role=role,
        hospital_id=hospital_id,
        now=datetime.now(UTC),
        lifetime=timedelta(hours=2),
    )


def handoff_body(incident_id: str, hospital_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "incident_id": incident_id,
        "unit_id": "MEDIC-1",
        "hospital_id": hospital_id,
        "eta": (now + timedelta(minutes=12)).isoformat(),
        "acuity": 2,
        "news2": 7,
        "crew": ["Paramedic A", "EMT B"],
        "content": {
            "patient": {"name": "Bench Patient", "age_years": 64, "sex": "male"},
            "time_of_onset": (now - timedelta(minutes=40)).isoformat(),
            "mechanism": "chest pain radiating to the left arm",
            "injuries": ["suspected STEMI"],
            "signs": [
                {"ts": now.isoformat(), "hr": 112, "spo2": 93, "rr": 22, "sbp": 98, "dbp": 60}
            ],
            "treatment": [{"kind": "medication", "name": "aspirin", "dose_value": 300,
                           "dose_unit": "mg"}],
        },
    }  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def seal_open_baseline(samples: int = 2000) -> list[float]:
    """In-process cost of sealing one handoff body for a hospital and opening it again."""
    pair = sealing.generate_key_pair()
    body = json.dumps(handoff_body("i", "h")).encode()
    out = []
    for n in range(samples):
        started = time.perf_counter()
        data_key = sealing.new_data_key()
        wrapped = sealing.wrap_data_key(data_key, hospital_public=pair.public, context=b"h:%d" % n)
        sealed = sealing.seal(data_key, body, aad=b"c")
        key = sealing.unwrap_data_key(wrapped, hospital_private=pair.private, context=b"h:%d" % n)
        sealing.open_sealed(key, sealed, aad=b"c")
        out.append(time.perf_counter() - started)
    return out


async def open_ws(address: str, bearer: str, channel: str) -> ClientConnection:
    ws = await connect(
        f"ws://{address}/ws",
        subprotocols=["emsync.v1", f"bearer.{bearer}"],  # type: ignore[list-item]
        max_queue=None,
    )
    assert json.loads(await ws.recv())["type"] == "ready"
    await ws.send(json.dumps({"op": "subscribe", "channels": [channel]}))
    reply = json.loads(await ws.recv())
    assert reply["channels"][channel] == "ok", reply
    return ws


def hospital_ids(args: argparse.Namespace) -> list[str]:
    return [f"bench-h{n:03d}" for n in range(args.hospitals)]


async def enrol_accounts(url: str, hospitals: list[str]) -> None:
    """The accounts the bench's tokens name: every token is checked against its account, and a
    token for no account is refused (issue #14). No password logs in as any of them."""
    engine = create_async_engine(url)
    accounts = [("paramedic", None), ("admin", None), *(("clinician", h) for h in hospitals)]
    async with async_sessionmaker(engine)() as session:
        for role, hospital_id in accounts:  # merge: a reused --database-url has them already
            await session.merge(
                User(
                    id=account_id(role, hospital_id),
                    username=account_id(role, hospital_id),
                    password_hash="!",
                    role=role,
                    hospital_id=hospital_id,
                    active=True,
                    created_at=datetime.now(UTC),
                    auth_version=0,
                )
            )
        await session.commit()
    await engine.dispose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    address = f"127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="emsync-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'emsync.db'}"
    migrate.upgrade(url)
    asyncio.run(enrol_accounts(url, hospital_ids(args)))
    env = {
        **os.environ,
        "EMSYNC_ENV": "test",
        "EMSYNC_DATA_DIR": str(workdir),
        "EMSYNC_DATABASE__URL": url,
        "EMSYNC_AUTH__SECRET_KEY": SECRET,
        "EMSYNC_SECURITY__MASTER_KEYS": json.dumps(
            {"1": base64.b64encode(os.urandom(32)).decode()}
        ),
        "EMSYNC_LOG_LEVEL": "WARNING",
    }
    if args.factory:  # how this bench served the app before (issue #16's first figures)
        command = [
            "-m", "uvicorn", "--factory", "emsync.app:create_app", "--host", "127.0.0.1",
            "--port", str(port), "--ws", "websockets-sansio", "--log-level", "warning",
            "--no-access-log", "--timeout-keep-alive", "600",
        ]  # fmt: skip
    else:
        # As a deployment serves it: `emsync serve` settles the heap (gc.freeze) and sets the
        # GIL's switch interval before serving (core/serving.py), which `--factory` skipped.
        command = ["-m", "emsync", "serve", "--no-migrate"]
        env |= {"EMSYNC_HOST": "127.0.0.1", "EMSYNC_PORT": str(port)}
    server = subprocess.Popen([sys.executable, *command], env=env, stdout=subprocess.DEVNULL)
    try:
        result = asyncio.run(measure(args, address, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.no_baseline:
        return result
    try:
        return result | bare_baseline(args, result)
    except Exception as exc:  # noqa: BLE001 - ours is measured: print it without the baseline
        print(f"bare baseline failed: {exc!r}", file=sys.stderr)
        return result | {"baseline_bare_error": type(exc).__name__}


def bare_baseline(args: argparse.Namespace, ours: dict[str, Any]) -> dict[str, Any]:
    """The same clients and rounds against bench/handoff_baseline.py (bare FastAPI, in memory,
    the same sealing), run right after ours: what of the round trip's CPU and latency the stack
    itself costs on this machine, and ours as a multiple of it."""
    port = free_port()
    script = str(Path(__file__).with_name("handoff_baseline.py"))
    server = subprocess.Popen(
        [sys.executable, script, "--port", str(port), "--secret", SECRET],
        stdout=subprocess.DEVNULL,
    )
    try:
        unprofiled = argparse.Namespace(**{**vars(args), "profile": None})
        bare = asyncio.run(measure(unprofiled, f"127.0.0.1:{port}", server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
    figures = {
        "cpu": "server_cpu_ms_per_round_trip",
        "p50": "round_trip_p50_ms",
        "p99": "round_trip_p99_ms",
    }
    return {
        **{f"baseline_bare_{name}_ms": bare[key] for name, key in figures.items()},
        **{
            f"ratio_{name}_vs_bare": round(ours[key] / bare[key], 2)
            for name, key in figures.items()
            if bare[key]
        },
    }


def cpu_seconds(pid: int, tid: int | None = None) -> float | None:
    """User + system CPU time the process has used so far (Linux /proc; None elsewhere); of
    its thread `tid` only, when given (the main thread's id is the pid)."""
    stat = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        fields = Path(stat).read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(args: argparse.Namespace, address: str, server_pid: int) -> dict[str, Any]:
    crew = {"Authorization": f"Bearer {token('paramedic')}"}
    hospitals = hospital_ids(args)
    # One client per crew and per hospital desk, as in the field (each is its own device): a
    # single shared httpx pool spends CPU per request on every connection it holds, and with
    # 200 connections that bookkeeping, in this process, became most of the measured time.
    # A connection idle for 4 s is dropped on this side first: `emsync serve` closes one idle for
    # 5 s (uvicorn's keep-alive), and a request sent on it just then fails with ReadError.
    lanes = {
        (side, h): httpx.AsyncClient(base_url=f"http://{address}", timeout=60, limits=LIMITS)
        for side in ("crew", "desk")
        for h in hospitals
    }
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://{address}", timeout=60, limits=LIMITS)
        )
        for lane in lanes.values():
            await stack.enter_async_context(lane)
        for _ in range(1200):
            try:
                if (await http.get("/health")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the server did not become healthy within 120 s")
        created = await http.post(
            "/api/incidents",
            json={
                "chief_complaint": "bench",
                "priority": 2,
                "lat": 60.17,
                "lon": 24.94,
                "callback_number": "+358 40 123 4567",
            },
            headers=crew,
        )
        assert created.status_code == 201, created.text
        incident = created.json()
        # Enrol every hospital (its first key pair) outside the measured rounds.
        for hospital_id in hospitals:
            await http.post(
                f"/api/handoffs/hospital-keys/{hospital_id}",
                headers={"Authorization": f"Bearer {token('admin')}"},
            )
        board = await open_ws(address, token("paramedic"), "handoffs")
        sockets = {
            h: await open_ws(address, token("clinician", h), f"handoffs:{h}") for h in hospitals
        }
        acknowledged: dict[str, asyncio.Future[float]] = {}
        pongs: dict[str, asyncio.Queue[float]] = {h: asyncio.Queue() for h in hospitals}

        async def watch_board() -> None:
            async for raw in board:
                message = json.loads(raw)
                # The board gets each changed handoff as listed (its routing metadata).
                data = message.get("data") or {}
                if message.get("type") == "board" and data.get("status") == "acknowledged":
                    future = acknowledged.get(data["id"])
                    if future is not None and not future.done():
                        future.set_result(time.perf_counter())

        async def hospital_desk(hospital_id: str) -> None:
            headers = {"Authorization": f"Bearer {token('clinician', hospital_id)}"}
            async for raw in sockets[hospital_id]:
                message = json.loads(raw)
                if message.get("type") == "pong":
                    pongs[hospital_id].put_nowait(time.perf_counter())
                elif message.get("type") == "handoff":
                    handoff_id = message["data"]["handoff_id"]
                    for attempt in range(3):
                        try:
                            response = await lanes["desk", hospital_id].post(
                                f"/api/handoffs/{handoff_id}/receipt",
                                json={"status": "acknowledged"},
                                headers=headers,
                            )
                            break
                        except httpx.TransportError:
                            if attempt == 2:
                                raise
                    # 409: an earlier attempt got through before its connection dropped.
                    assert response.status_code in (200, 409), response.text

        listeners = [asyncio.create_task(watch_board())]
        listeners += [asyncio.create_task(hospital_desk(h)) for h in hospitals]
        round_trips: list[float] = []
        echoes: list[float] = []

        async def one_round(hospital_id: str) -> None:
            lane = lanes["crew", hospital_id]
            started = time.perf_counter()
            created = await lane.post(
                "/api/handoffs", json=handoff_body(incident["id"], hospital_id), headers=crew
            )
            assert created.status_code == 201, created.text
            handoff_id = created.json()["id"]
            done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            acknowledged[handoff_id] = done
            sent = await lane.post(f"/api/handoffs/{handoff_id}/send", headers=crew)
            assert sent.status_code == 200, sent.text
            round_trips.append(await asyncio.wait_for(done, timeout=120) - started)

        async def one_echo(hospital_id: str) -> None:
            started = time.perf_counter()
            await sockets[hospital_id].send(json.dumps({"op": "ping"}))
            echoes.append(await asyncio.wait_for(pongs[hospital_id].get(), timeout=60) - started)

        server_cpu = loop_cpu = client_cpu = 0.0
        profiler = spy.record(args.profile, server_pid, rate=250, nonblocking=False)
        with Progress(transient=True) as progress:
            task = progress.add_task("handoff rounds", total=args.rounds * 2)
            for _ in range(args.rounds):
                await asyncio.gather(*(one_echo(h) for h in hospitals))
                progress.advance(task)
                cpu_before = cpu_seconds(server_pid)
                client_before = time.process_time()
                loop_before = cpu_seconds(server_pid, server_pid)
                if args.rate is None:  # every hospital at once: the burst
                    await asyncio.gather(*(one_round(h) for h in hospitals))
                else:  # one handoff every 1/rate s, to each hospital in turn
                    await paced(hospitals, one_round, args.rate)
                cpu_after = cpu_seconds(server_pid)
                client_cpu += time.process_time() - client_before
                loop_after = cpu_seconds(server_pid, server_pid)
                if cpu_before is not None and cpu_after is not None:
                    server_cpu += cpu_after - cpu_before
                if loop_before is not None and loop_after is not None:
                    loop_cpu += loop_after - loop_before
                progress.advance(task)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        for ws in [board, *sockets.values()]:
            await ws.close()
    seal_open = seal_open_baseline()
    p50, p99 = percentile(round_trips, 0.5), percentile(round_trips, 0.99)
    echo_p50, echo_p99 = percentile(echoes, 0.5), percentile(echoes, 0.99)
    return {
        "bench": "handoff",
        "hospitals": args.hospitals,
        "rounds": args.rounds,
        "mode": "burst" if args.rate is None else "paced",
        "offered_per_s": args.rate,
        "samples": len(round_trips),
        "database": "postgresql" if args.database_url else "sqlite",
        "served_by": "uvicorn --factory" if args.factory else "emsync serve",
        "round_trip_p50_ms": round(p50 * 1e3, 2),
        "round_trip_p99_ms": round(p99 * 1e3, 2),
        "round_trip_mean_ms": round(statistics.fmean(round_trips) * 1e3, 2),
        "baseline_ws_echo_p50_ms": round(echo_p50 * 1e3, 2),
        "baseline_ws_echo_p99_ms": round(echo_p99 * 1e3, 2),
        "ratio_p50_vs_ws_echo": round(p50 / echo_p50, 1),
        "ratio_p99_vs_ws_echo": round(p99 / echo_p99, 1),
        "baseline_seal_open_p50_us": round(percentile(seal_open, 0.5) * 1e6, 1),
        "ratio_p50_vs_seal_open": round(p50 / percentile(seal_open, 0.5), 0),
        # The server's own CPU per round trip (all its threads): on a shared machine the load
        # of others moves the latencies, much less this figure.
        "server_cpu_ms_per_round_trip": round(server_cpu * 1e3 / len(round_trips), 2),
        # Of it, the event loop's thread (the rest: SQLite's connection threads, the GC, ...).
        "server_loop_cpu_ms_per_round_trip": round(loop_cpu * 1e3 / len(round_trips), 2),
        # This bench's own CPU (the 200 clients): on a 2-core machine it competes with the server,
        # so the latencies of a server far below it are the clients' as much as its own.
        "client_cpu_ms_per_round_trip": round(client_cpu * 1e3 / len(round_trips), 2),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


async def paced(
    hospitals: list[str], one_round: Callable[[str], Coroutine[Any, Any, None]], rate: float
) -> None:
    """Start a round trip every 1/rate s (each to the next hospital) and wait for all of them."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks: list[asyncio.Task[None]] = []
    for i, hospital_id in enumerate(hospitals):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one_round(hospital_id)))
    await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hospitals", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="paced: one handoff every 1/RATE s across the hospitals (default: all at once)",
    )
    parser.add_argument(
        "--factory",
        action="store_true",
        help="serve with `uvicorn --factory emsync.app:create_app` as this bench did before, "
        "not as `emsync serve` does (no settled heap, uvicorn's sans-I/O WebSockets)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the bare-stack baseline (bench/handoff_baseline.py) run after ours",
    )
    parser.add_argument(
        "--profile",
        help="write py-spy collapsed stacks of the server during the rounds to this file "
        "(py-spy: in the dev install)",
    )
    args = parser.parse_args()
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
