"""Incidents list and get under concurrent load against a real `emsync serve` process.

For each backend (SQLite, PostgreSQL) it seeds incidents, then runs CLIENTS concurrent clients
for DURATION seconds on each workload and prints one JSON line: requests/s, p50 and p99 latency,
and, as the same-run baseline, the same load on `/health` (no database, no auth) with the ratio.

The `me` workload (`GET /api/auth/me`: authentication and the account freshness check, nothing
else) measures what checking each request's account costs (issue #14). It runs twice in the same
run: with the principal cache as configured, and on a second server with the cache off
(`EMSYNC_AUTH__PRINCIPAL_CACHE_SECONDS=0`: one database read per request), so
`me_cached_over_uncached` is the cache's gain and `me_over_baseline` the whole auth cost.

    .venv/bin/python bench/api.py [--clients 50] [--duration 10] [--seed 500] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.live_server import admin_token, live_server

PG_ADMIN = os.environ.get("EMSYNC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def load(
    base: str, paths: list[str], headers: dict[str, str], clients: int, duration: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:
        deadline = time.perf_counter() + duration

        async def worker(n: int) -> None:
            nonlocal errors
            rng = random.Random(n)
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.get(rng.choice(paths))
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "requests": len(latencies),
        "errors": errors,
    }


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
    db_name = f"emsync_bench_{os.getpid()}"
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
            live_server(Path(tmp), extra_env=extra, timeout=180) as base,
        ):
            headers = {"Authorization": f"Bearer {admin_token(base)}"}
            ids = await seed(base, headers, args.seed)
            health = await load(base, ["/health"], {}, args.clients, args.duration)
            listing = await load(
                base,
                ["/api/incidents?limit=50", "/api/incidents?limit=20&q=breath&priority=2"],
                headers,
                args.clients,
                args.duration,
            )
            get = await load(
                base, [f"/api/incidents/{i}" for i in ids], headers, args.clients, args.duration
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
        "baseline_health": health,
        "list": listing,
        "get": get,
        "me": me,
        "me_uncached": me_uncached,
        "list_over_baseline": round(listing["requests_per_s"] / health["requests_per_s"], 3),
        "get_over_baseline": round(get["requests_per_s"] / health["requests_per_s"], 3),
        "me_over_baseline": round(me["requests_per_s"] / health["requests_per_s"], 3),
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
