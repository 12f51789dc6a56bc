"""Concurrent stock movements per second, with the never-negative invariant checked at the end:
prints one JSON line.

    .venv/bin/python bench/inventory.py [--movements 2000] [--workers 16] [--items 5]
        [--locations 4] [--stock 100] [--backend sqlite --backend postgresql]
        [--pg-dsn postgresql://postgres@127.0.0.1/test]

Per backend: migrates a fresh database, receives `stock` units of `items` items at `locations`
locations (scarce enough that late takes meet empty shelves), then runs `movements`
random issues and transfers through `supply_service.move` (the API's use case: conditional
decrement, ledger rows, events) from `workers` concurrent tasks, each with its own session.
The baseline in the same run is the same movements from one worker. Afterwards: no stock row
is negative, and replaying the ledger gives exactly the stock table (nothing lost, nothing
doubled). Figures: movements per second (accepted and refused both count: each is a whole
transaction), the accepted share, and the ratio concurrent / sequential throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from emsync.core import migrate
from emsync.core.clock import utcnow
from emsync.core.db import create_engine, session_factory
from emsync.core.errors import Conflict
from emsync.core.events import EventBus
from emsync.core.metrics import Metrics
from emsync.core.settings import Settings
from emsync.core.uow import UnitOfWork
from emsync.emergency import supply_service
from emsync.emergency.ledger import LocationKind, MovementKind
from emsync.emergency.supply_schemas import ItemCreate, LocationCreate, MovementCreate

ACTOR = "bench:inventory"


async def _setup(url: str, items: int, locations: int, stock: int) -> tuple[list[str], list[str]]:
    engine = create_engine(Settings.model_validate({"env": "test", "database": {"url": url}}))
    sessions = session_factory(engine)
    bus = EventBus(metrics=Metrics(), attempts=1, backoff_seconds=0)
    item_ids, location_ids = [], []
    for n in range(locations):
        async with sessions() as s:
            loc = await supply_service.create_location(
                uow=UnitOfWork(s, bus),
                data=LocationCreate(name=f"Depot {n}", kind=LocationKind.WAREHOUSE),
                actor=ACTOR, now=utcnow(),
            )  # fmt: skip
            location_ids.append(loc.id)
    for n in range(items):
        async with sessions() as s:
            item = await supply_service.create_item(
                uow=UnitOfWork(s, bus),
                data=ItemCreate(sku=f"SKU-{n}", name=f"Item {n}", unit="each"),
                actor=ACTOR, now=utcnow(),
            )  # fmt: skip
            item_ids.append(item.id)
        for loc_id in location_ids:
            async with sessions() as s:
                await supply_service.move(
                    uow=UnitOfWork(s, bus),
                    data=MovementCreate(
                        kind=MovementKind.RECEIPT, item_id=item.id, quantity=stock,
                        to_location_id=loc_id,
                    ),
                    actor=ACTOR, now=utcnow(),
                )  # fmt: skip
    await engine.dispose()
    return item_ids, location_ids


def _plan(
    rng: random.Random, count: int, items: list[str], locations: list[str]
) -> list[MovementCreate]:
    out = []
    for _ in range(count):
        item = rng.choice(items)
        source = rng.choice(locations)
        quantity = rng.randint(1, 4)
        if rng.random() < 0.5:
            out.append(
                MovementCreate(
                    kind=MovementKind.ISSUE,
                    item_id=item,
                    quantity=quantity,
                    from_location_id=source,
                )
            )
        else:
            target = rng.choice([loc for loc in locations if loc != source])
            out.append(
                MovementCreate(
                    kind=MovementKind.TRANSFER,
                    item_id=item,
                    quantity=quantity,
                    from_location_id=source,
                    to_location_id=target,
                )
            )
    return out


async def _run(url: str, plan: list[MovementCreate], workers: int) -> dict[str, Any]:
    engine = create_engine(
        Settings.model_validate(
            {"env": "test", "database": {"url": url, "pool_size": workers, "max_overflow": 0}}
        )
    )
    sessions = session_factory(engine)
    bus = EventBus(metrics=Metrics(), attempts=1, backoff_seconds=0)
    queue: asyncio.Queue[MovementCreate] = asyncio.Queue()
    for m in plan:
        queue.put_nowait(m)
    outcome: Counter[str] = Counter()

    async def worker() -> None:
        while not queue.empty():
            movement = queue.get_nowait()
            async with sessions() as s:
                try:
                    await supply_service.move(
                        uow=UnitOfWork(s, bus), data=movement, actor=ACTOR, now=utcnow()
                    )
                    outcome["accepted"] += 1
                except Conflict:
                    outcome["refused"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return {
        "per_s": round(len(plan) / elapsed, 1),
        "accepted": outcome["accepted"],
        "refused": outcome["refused"],
    }


async def _check(url: str) -> dict[str, Any]:
    """Never negative, and the ledger replayed gives exactly the stock table."""
    engine = create_engine(Settings.model_validate({"env": "test", "database": {"url": url}}))
    async with engine.connect() as conn:
        minimum = await conn.scalar(text("SELECT min(quantity) FROM emergency_stock"))
        stock = {
            (r.item_id, r.location_id): r.quantity
            for r in await conn.execute(
                text(
                    "SELECT item_id, location_id, sum(quantity) AS quantity "
                    "FROM emergency_stock GROUP BY 1, 2"
                )
            )
        }
        replay: Counter[tuple[str, str]] = Counter()
        for r in await conn.execute(
            text(
                "SELECT item_id, from_location_id, to_location_id, quantity "
                "FROM emergency_movements"
            )
        ):
            if r.from_location_id:
                replay[(r.item_id, r.from_location_id)] -= r.quantity
            if r.to_location_id:
                replay[(r.item_id, r.to_location_id)] += r.quantity
        rows = await conn.scalar(text("SELECT count(*) FROM emergency_movements"))
    await engine.dispose()
    matches = all(stock.get(k, 0) == v for k, v in replay.items()) and all(
        replay.get(k, 0) == v for k, v in stock.items()
    )
    return {
        "min_quantity": int(minimum or 0),
        "ledger_rows": int(rows or 0),
        "ledger_matches_stock": matches,
    }


async def _fresh_pg(dsn: str, name: str) -> str:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


async def _drop_pg(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


def _backend(args: argparse.Namespace, backend: str, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, workers in (("sequential", 1), ("concurrent", args.workers)):
        name = f"emsync_bench_inventory_{label}"
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp / f'{label}.db'}"
        else:
            url = asyncio.run(_fresh_pg(args.pg_dsn, name))
        migrate.upgrade(url)
        items, locations = asyncio.run(_setup(url, args.items, args.locations, args.stock))
        plan = _plan(random.Random(7), args.movements, items, locations)
        out[label] = {**asyncio.run(_run(url, plan, workers)), **asyncio.run(_check(url))}
        if backend == "postgresql":
            asyncio.run(_drop_pg(args.pg_dsn, name))
    out["ratio_concurrent_to_sequential"] = round(
        out["concurrent"]["per_s"] / max(out["sequential"]["per_s"], 1e-9), 3
    )
    out["never_negative"] = all(out[k]["min_quantity"] >= 0 for k in ("sequential", "concurrent"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--movements", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--locations", type=int, default=4)
    parser.add_argument(
        "--stock", type=int, default=100, help="units of each item received at each location"
    )
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "bench": "emergency_inventory", "movements": args.movements, "workers": args.workers,
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backend or ["sqlite", "postgresql"]:
            result[backend] = _backend(args, backend, Path(tmp))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
