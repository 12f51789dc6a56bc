"""Incidents list and get under concurrent load against a real `emsync serve` process.

For each backend (SQLite, PostgreSQL) it seeds incidents, then runs CLIENTS concurrent clients
for DURATION seconds on each workload and prints one JSON line: requests/s, p50 and p99 latency
and the server process's CPU ms per request (all threads; other work on a shared machine moves
it much less than the latencies).

The baseline, in the same run: a plain FastAPI + SQLAlchemy async app (bench/api_baseline.py,
same uvicorn settings) reading the same seeded table, one row by id and the newest 50, under the
same client load. EMsync's authenticated `GET /api/incidents/{id}` and `GET
/api/incidents?limit=50` and the baseline run in alternating halves of DURATION, and
`throughput_over_baseline` / `cpu_per_request_over_baseline` compare them. `/health` (no
database, no auth) is measured too.

The `me` workload (`GET /api/auth/me`: authentication and the account freshness check, nothing
else) measures what checking each request's account costs (issue #14). It runs twice in the same
run: with the principal cache as configured, and on a second server with the cache off
(`EMSYNC_AUTH__PRINCIPAL_CACHE_SECONDS=0`: one database read per request), so
`me_cached_over_uncached` is the cache's gain and `me_over_health` the whole auth cost.

    .venv/bin/python bench/api.py [--clients 50] [--duration 10] [--seed 500] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.live_server import admin_token, free_port, live_process, live_server

PG_ADMIN = os.environ.get("EMSYNC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load_raw(
    base: str,
    paths: list[str],
    headers: dict[str, str],
    clients: int,
    duration: float,
    pid: int | None = None,
) -> dict[str, Any]:
    """`clients` concurrent clients for `duration` s: latencies, errors, elapsed, and the CPU
    the server process `pid` used meanwhile."""
    latencies: list[float] = []
    # What went wrong, by status code or exception class: a count alone says nothing.
    errors: Counter[str] = Counter()
    # Idle connections are dropped after 2 s, before the server's own 5 s (uvicorn's
    # timeout_keep_alive): at httpx's default of 5 s a connection could be reused just as the
    # server closed it, an httpx.ReadError with nothing wrong on the server (httpx takes the
    # first free connection, so the last ones in its pool sit idle for seconds). Browsers retry
    # such a request on a fresh connection; this client does not.
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:
        await http.get(paths[0])  # connection and first-request costs outside the window
        deadline = time.perf_counter() + duration

        async def worker(n: int) -> None:
            rng = random.Random(n)
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await http.get(rng.choice(paths))
                    if response.status_code != 200:
                        errors[str(response.status_code)] += 1
                except httpx.TransportError as exc:  # a dropped connection on an overloaded machine
                    errors[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - started)

        cpu_before = cpu_seconds(pid) if pid is not None else 0.0
        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu_before if pid is not None else None
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed, "cpu": cpu}


def summarise(*runs: dict[str, Any]) -> dict[str, Any]:
    latencies = [x for run in runs for x in run["latencies"]]
    elapsed = sum(run["elapsed"] for run in runs)
    quantiles = statistics.quantiles(latencies, n=100)
    out: dict[str, Any] = {
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "requests": len(latencies),
        "errors": sum(sum(run["errors"].values()) for run in runs),
    }
    kinds = sum((run["errors"] for run in runs), Counter[str]())
    if kinds:
        out["error_kinds"] = dict(kinds)
    if all(run["cpu"] is not None for run in runs):
        out["server_cpu_ms_per_request"] = round(
            sum(run["cpu"] for run in runs) * 1000 / len(latencies), 3
        )
    return out


async def load(
    base: str,
    paths: list[str],
    headers: dict[str, str],
    clients: int,
    duration: float,
    pid: int | None = None,
) -> dict[str, Any]:
    return summarise(await load_raw(base, paths, headers, clients, duration, pid))


async def versus(
    emsync: tuple[str, list[str], dict[str, str], int],
    baseline: tuple[str, list[str], int],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The same load on EMsync and on the baseline app, in alternating halves (baseline,
    EMsync, baseline, EMsync), so that other work on a shared machine falls on both alike."""
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    half = args.duration / 2
    for _ in range(2):
        theirs.append(await load_raw(baseline[0], baseline[1], {}, args.clients, half, baseline[2]))
        ours.append(await load_raw(emsync[0], emsync[1], emsync[2], args.clients, half, emsync[3]))
    mine, base = summarise(*ours), summarise(*theirs)
    out = {
        "emsync": mine,
        "baseline": base,
        "throughput_over_baseline": round(mine["requests_per_s"] / base["requests_per_s"], 3),
    }
    if "server_cpu_ms_per_request" in mine and "server_cpu_ms_per_request" in base:
        out["cpu_per_request_over_baseline"] = round(
            mine["server_cpu_ms_per_request"] / base["server_cpu_ms_per_request"], 3
        )
    return out


@contextlib.contextmanager
def baseline_server(database_url: str) -> Iterator[tuple[str, int]]:
    """bench/api_baseline.py on a free port over `database_url`: (base URL, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("api_baseline.py")), "--port", str(port),
         "--database-url", database_url],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the baseline app exited")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the baseline app did not start in time")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def seed(base: str, headers: dict[str, str], count: int) -> list[str]:
    ids = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        for n in range(count):
            body: dict[str, Any] = {
                "chief_complaint": f"seeded complaint {n} shortness of breath",
                "priority": 1 + n % 5,
                "lat": 60.16 + n * 1e-5,
                "lon": 24.93,
                "address": f"Street {n}",
                "callback_number": "+358 40 000 0000",
            }
            response = await http.post("/api/incidents", json=body)
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    extra: dict[str, str] = {}
    # EMSYNC_BENCH_DB_PREFIX: a shared PostgreSQL server keeps each user's databases apart.
    db_name = f"{os.environ.get('EMSYNC_BENCH_DB_PREFIX', 'emsync_bench')}_{os.getpid()}"
    if backend == "postgres":
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f"DROP DATABASE IF EXISTS {db_name}")
        await conn.execute(f"CREATE DATABASE {db_name}")
        await conn.close()
        # Both servers of a run share the database (PostgreSQL) or start fresh (SQLite files).
        base_dsn = PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://")
        extra["EMSYNC_DATABASE__URL"] = f"{base_dsn}/{db_name}"
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            live_process(Path(tmp), extra_env=extra, timeout=180) as (base, server),
        ):
            headers = {"Authorization": f"Bearer {admin_token(base)}"}
            ids = await seed(base, headers, args.seed)
            url = extra.get("EMSYNC_DATABASE__URL") or f"sqlite+aiosqlite:///{tmp}/emsync.db"
            with baseline_server(url) as (plain, plain_pid):
                health = await load(base, ["/health"], {}, args.clients, args.duration)
                gets = [f"/api/incidents/{i}" for i in ids]
                get = await versus(
                    (base, gets, headers, server.pid),
                    (plain, [g.removeprefix("/api") for g in gets], plain_pid),
                    args,
                )
                listing = await versus(
                    (base, ["/api/incidents?limit=50"], headers, server.pid),
                    (plain, ["/incidents?limit=50"], plain_pid),
                    args,
                )
            me = await load(base, ["/api/auth/me"], headers, args.clients, args.duration)
        uncached_env = {**extra, "EMSYNC_AUTH__PRINCIPAL_CACHE_SECONDS": "0"}
        with (
            tempfile.TemporaryDirectory() as tmp,
            live_server(Path(tmp), extra_env=uncached_env, timeout=180) as base,
        ):
            headers = {"Authorization": f"Bearer {admin_token(base)}"}
            me_uncached = await load(base, ["/api/auth/me"], headers, args.clients, args.duration)
    finally:
        if backend == "postgres":
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
            await conn.close()
    return {
        "backend": backend,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "health": health,
        "get": get,
        "list": listing,
        "me": me,
        "me_uncached": me_uncached,
        "me_over_health": round(me["requests_per_s"] / health["requests_per_s"], 3),
        "me_cached_over_uncached": round(me["requests_per_s"] / me_uncached["requests_per_s"], 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [await run_backend(b, args) for b in backends]
    print(
        json.dumps(
            {
                "bench": "api",
                "clients": args.clients,
                "duration_s": args.duration,
                "seeded": args.seed,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
