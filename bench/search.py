"""Emergency search latency at scale: prints one JSON line.

    .venv/bin/python bench/search.py [--records 100000] [--queries 300]
        [--backend sqlite --backend postgresql] [--pg-dsn postgresql://postgres@127.0.0.1/test]

Per backend (a fresh SQLite file, and a fresh PostgreSQL database), migrates, loads `records`
mixed records (incidents, units, resources, people, shelters, items, alerts) into the search index
through its own triggers and generated columns, then times `queries` searches through
`search_service.search` (the API's code: prefix, typo tolerance, ranking, highlighting) and,
as the baseline in the same run, a plain substring scan (`ILIKE '%word%'`, LIKE on SQLite) for
the same first words. Queries mix whole words, prefixes and one-letter typos. Figures: p50/p99
milliseconds of each and the ratio search p99 / scan p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from rich.progress import Progress
from sqlalchemy import insert, text

from emsync.core import migrate
from emsync.core.db import create_engine, session_factory
from emsync.core.settings import Settings
from emsync.emergency import search_service
from emsync.emergency.models import SearchDoc

KINDS = ("incident", "unit", "resource", "person", "shelter", "item", "alert")
DOMAIN = [
    "flood",
    "fire",
    "evacuation",
    "shelter",
    "blanket",
    "water",
    "generator",
    "ambulance",
    "paramedic",
    "rescue",
    "boat",
    "helicopter",
    "earthquake",
    "storm",
    "chemical",
    "spill",
    "casualty",
    "triage",
    "hospital",
    "school",
    "church",
    "stadium",
    "warehouse",
    "station",
    "bridge",
    "river",
    "harbour",
    "ferry",
    "tunnel",
    "highway",
    "power",
    "outage",
    "medication",
    "insulin",
    "oxygen",
    "stretcher",
    "tent",
    "cot",
    "food",
    "kitchen",
    "shower",
    "heating",
    "cooling",
    "pets",
    "accessible",
    "wheelchair",
    "ladder",
    "pump",
    "hose",
    "radio",
    "satellite",
    "command",
    "volunteer",
    "nurse",
    "physician",
    "driver",
    "coordinator",
]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    letters = "abcdefghijklmnoprstuvy"
    words = set(DOMAIN)
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 10))))
    return sorted(words)


def _records(rng: random.Random, vocab: list[str], count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    # Zipf-like: a few words are everywhere, most are rare (as in real text).
    weights = [1 / (n + 1) for n in range(len(vocab))]
    out = []
    for n in range(count):
        title = " ".join(rng.choices(vocab, weights, k=rng.randint(2, 5))).capitalize()
        body = " ".join(rng.choices(vocab, weights, k=rng.randint(8, 30)))
        out.append(
            {
                "kind": KINDS[n % len(KINDS)],
                "ref_id": f"r{n:07d}",
                "title": f"{title} {n}",
                "body": body,
                "status": rng.choice(("open", "active", "available", None)),
                "updated_at": now,
            }
        )
    return out


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word))  # not the first letter (see search_service)
    return word[:i] + word[i + 1 :]


def _queries(rng: random.Random, vocab: list[str], count: int) -> list[str]:
    out = []
    for n in range(count):
        word = rng.choice(DOMAIN if n % 2 else vocab[: len(vocab) // 4])
        shape = n % 3
        if shape == 1 and len(word) > 4:
            word = word[: max(3, len(word) - 3)]  # a prefix
        elif shape == 2 and len(word) > 5:
            word = _typo(rng, word)  # a typo
        out.append(word if n % 5 else f"{word} {rng.choice(DOMAIN)}")
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)


async def _load(url: str, records: list[dict[str, Any]], progress: Progress, label: str) -> float:
    engine = create_engine(Settings.model_validate({"env": "test", "database": {"url": url}}))
    sessions = session_factory(engine)
    task = progress.add_task(f"{label}: load", total=len(records))
    started = time.perf_counter()
    batch = 2000
    for start in range(0, len(records), batch):
        async with sessions() as session:
            await session.execute(insert(SearchDoc), records[start : start + batch])
            await session.commit()
        progress.advance(task, min(batch, len(records) - start))
    async with engine.connect() as conn:  # fresh statistics for the planner
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    await engine.dispose()
    return time.perf_counter() - started


async def _measure(url: str, queries: list[str], progress: Progress, label: str) -> dict[str, Any]:
    engine = create_engine(Settings.model_validate({"env": "test", "database": {"url": url}}))
    sessions = session_factory(engine)
    pg = engine.dialect.name == "postgresql"
    # The baseline: a substring scan (SQLite's LIKE is case-insensitive for ASCII already).
    scan = text(
        "SELECT kind, ref_id, title FROM emergency_search_docs "
        "WHERE (title || ' ' || body) ILIKE :p LIMIT 20"
        if pg
        else "SELECT kind, ref_id, title FROM emergency_search_docs "
        "WHERE (title || ' ' || body) LIKE :p LIMIT 20"
    )
    search_s, scan_s, hits = [], [], []
    task = progress.add_task(f"{label}: queries", total=len(queries))
    async with sessions() as session:
        for q in queries[:10]:  # warm caches and prepared statements
            await search_service.search(session, query=q)
        for q in queries:
            t0 = time.perf_counter()
            found = await search_service.search(session, query=q, limit=20)
            search_s.append(time.perf_counter() - t0)
            hits.append(len(found))
            t0 = time.perf_counter()
            (await session.execute(scan, {"p": f"%{q.split()[0]}%"})).all()
            scan_s.append(time.perf_counter() - t0)
            progress.advance(task)
    await engine.dispose()
    return {
        "search_p50_ms": _pct(search_s, 0.5),
        "search_p99_ms": _pct(search_s, 0.99),
        "scan_p50_ms": _pct(scan_s, 0.5),
        "scan_p99_ms": _pct(scan_s, 0.99),
        "p99_ratio_search_to_scan": round(_pct(search_s, 0.99) / max(_pct(scan_s, 0.99), 1e-6), 3),
        "queries_with_hits": sum(1 for h in hits if h),
        "mean_hits": round(statistics.fmean(hits), 1),
    }


async def _pg_database(dsn: str, name: str) -> str:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def _drop(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(22)
    vocab = _vocabulary(rng, 20_000)
    records = _records(rng, vocab, args.records)
    queries = _queries(rng, vocab, args.queries)
    result: dict[str, Any] = {
        "bench": "emergency_search", "records": args.records, "queries": args.queries,
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, Progress(transient=True) as progress:
        for backend in args.backend:
            name = "emsync_bench_search"
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'search.db'}"
            else:
                url = asyncio.run(_pg_database(args.pg_dsn, name))
            migrate.upgrade(url)
            load_s = asyncio.run(_load(url, records, progress, backend))
            figures = asyncio.run(_measure(url, queries, progress, backend))
            result[backend] = {"load_s": round(load_s, 1), **figures}
            if backend == "postgresql":
                asyncio.run(_drop(args.pg_dsn, name))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--backend", action="append", choices=("sqlite", "postgresql"), default=None
    )
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    args.backend = args.backend or ["sqlite", "postgresql"]
    print(json.dumps(run(args)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
