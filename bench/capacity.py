"""Storage per reading, measured, and the capacity plan of deploy/README.md computed from it.

Real readings go through the real ingest pipeline (open, check, NEWS2, seal under the master
keyring, batch insert) into a migrated database, on SQLite and on PostgreSQL (partitioned table):
the bytes each reading takes there, table and indexes included, are measured, not estimated.
From them: readings/s, rows and storage per year for a region of N monitors, each sending one
reading every `--interval` seconds.

    .venv/bin/python bench/capacity.py [--readings 20000] [--interval 1]
        [--database postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
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
from asgi_lifespan import LifespanManager  # noqa: E402
from sqlalchemy import text  # noqa: E402
from tests.builders import auth_headers  # noqa: E402
from tests.conftest import make_settings  # noqa: E402
from tests.telemetry_support import NORMAL, provision  # noqa: E402

from emsync.auth.permissions import Role  # noqa: E402
from emsync.bootstrap import create_app  # noqa: E402
from emsync.core import migrate  # noqa: E402
from emsync.telemetry import envelope  # noqa: E402
from emsync.telemetry.pipeline import Inbound, Pipeline  # noqa: E402
from emsync.telemetry.simulator import vitals_plaintext  # noqa: E402

DEVICES = 20
SECONDS_PER_YEAR = 365.25 * 24 * 3600
REGIONS = (100, 500, 1000, 5000)

_PG_SIZE = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
WHERE c.oid = 'telemetry_readings'::regclass
   OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'telemetry_readings'::regclass)
"""


async def _size(settings: Any) -> int:
    if settings.is_sqlite:
        path = settings.database_url.split("///", 1)[1]
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            return int((pages - free) * size)
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        await conn.execute("VACUUM ANALYZE telemetry_readings")
        return int(await conn.fetchval(_PG_SIZE))
    finally:
        await conn.close()


async def measure(url: str, work: Path, readings: int) -> dict[str, Any]:
    await asyncio.to_thread(migrate.upgrade, url)
    settings = make_settings(url, work)
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://capacity") as client:
            headers = await auth_headers(app, client, Role.ADMIN)
            incident = await client.post(
                "/api/incidents",
                json={"chief_complaint": "capacity", "priority": 3, "lat": 60.17, "lon": 24.94},
                headers=headers,
            )
            devices = []
            for i in range(DEVICES):
                patient = await client.post(
                    f"/api/incidents/{incident.json()['id']}/patients",
                    json={"label": f"C{i}"},
                    headers=headers,
                )
                key, key_id, algorithm = await provision(
                    client, headers, f"cap-{i:03d}", patient_id=patient.json()["id"]
                )
                devices.append((f"cap-{i:03d}", key, key_id, algorithm))
        pipeline: Pipeline = app.state.runtime.get(Pipeline)
        before = await _size(settings)
        start = datetime.now(UTC) - timedelta(seconds=readings)
        counters = [0] * DEVICES
        batch: list[Inbound] = []
        for n in range(readings):
            d = n % DEVICES
            device_id, key, key_id, algorithm = devices[d]
            counters[d] += 1
            topic = envelope.topic_for(device_id, "vitals")
            payload = envelope.seal(
                topic=topic, algorithm=algorithm, key=key, key_id=key_id, counter=counters[d],
                plaintext=vitals_plaintext(NORMAL, start + timedelta(seconds=n)),
            )  # fmt: skip
            batch.append(Inbound(topic, payload, time.monotonic()))
            if len(batch) == 500:
                await pipeline.handle(batch)
                batch = []
        if batch:
            await pipeline.handle(batch)
        async with app.state.runtime.engine.connect() as conn:
            stored = int(await conn.scalar(text("SELECT count(*) FROM telemetry_readings")))
        after = await _size(settings)
    return {"stored": stored, "bytes_per_reading": round((after - before) / stored, 1)}


def plan(bytes_per_reading: float, interval: float) -> list[dict[str, Any]]:
    rows = []
    for monitors in REGIONS:
        per_s = monitors / interval
        per_year = per_s * SECONDS_PER_YEAR
        rows.append(
            {
                "monitors": monitors,
                "readings_per_s": round(per_s, 1),
                "rows_per_year": round(per_year),
                "gb_per_year": round(per_year * bytes_per_reading / 1e9, 1),
            }
        )
    return rows


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="emsync-capacity-"))
    sqlite = await measure(f"sqlite+aiosqlite:///{work / 'cap.db'}", work / "s", args.readings)
    name = f"emsync_capacity_{os.getpid()}"
    admin = await asyncpg.connect(args.database)
    await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        base = args.database.rpartition("/")[0]
        url = f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
        postgres = await measure(url, work / "p", args.readings)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    return {
        "benchmark": "capacity",
        "readings": args.readings,
        "interval_s": args.interval,
        "sqlite_bytes_per_reading": sqlite["bytes_per_reading"],
        "postgresql_bytes_per_reading": postgres["bytes_per_reading"],
        "plan_postgresql": plan(postgres["bytes_per_reading"], args.interval),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    print(json.dumps(asyncio.run(run(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
