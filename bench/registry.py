"""Person registry search latency at scale: prints one JSON line.

    .venv/bin/python bench/registry.py [--persons 100000] [--queries 300]
        [--backend sqlite --backend postgresql] [--pg-dsn postgresql://postgres@127.0.0.1/test]

Per backend (a fresh SQLite file, and a fresh PostgreSQL database), migrates and loads `persons`
synthetic persons the way the registry stores them (identity sealed, identifiers and blocking
keys as blind index entries), then times `queries` searches through `search.search` (the API's
code: blind-index lookup, opening sealed identities, ranking) by exact national id and by a
misspelt family name with the date of birth. The baseline, in the same run and database: a plain
table of the same persons in the clear with ordinary indexes, looked up by national id and by
(family name, date of birth) exactly. Figures: p50/p99 milliseconds and the ratio registry p99 /
baseline p99.
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from rich.progress import Progress
from sqlalchemy import insert, text
from stdnum import luhn

from emsync.core import migrate
from emsync.core.crypto import Keyring, generate_keyring_json
from emsync.core.db import create_engine, session_factory
from emsync.core.ids import new_id
from emsync.core.settings import Settings
from emsync.registry import identity, service
from emsync.registry import search as registry_search
from emsync.registry.index import PersonIndex
from emsync.registry.models import Person, PersonIdentifier, PersonKey
from emsync.registry.schemas import PersonIdentity

GIVEN = [
    "aino",
    "eero",
    "liisa",
    "matti",
    "juha",
    "anna",
    "maria",
    "mikko",
    "pekka",
    "sari",
    "timo",
    "laura",
    "elina",
    "jussi",
    "ville",
    "outi",
    "kaisa",
    "antti",
    "heikki",
    "riikka",
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "daniel",
    "nancy",
    "matthew",
    "lisa",
    "anthony",
    "betty",
    "mark",
    "sandra",
    "donald",
    "ashley",
    "steven",
    "kimberly",
    "paul",
    "emily",
]
SYLLABLES = [
    "vir",
    "ta",
    "nen",
    "kor",
    "ho",
    "mak",
    "ko",
    "lai",
    "ne",
    "hei",
    "kki",
    "la",
    "smi",
    "th",
    "jo",
    "hn",
    "son",
    "wil",
    "li",
    "ams",
    "bro",
    "wn",
]


def _family(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))


def _misspell(rng: random.Random, name: str) -> str:
    """One typing slip: a letter dropped, doubled or swapped with its neighbour."""
    i = rng.randrange(1, len(name) - 1)
    slip = rng.choice(("drop", "double", "swap"))
    if slip == "drop":
        return name[:i] + name[i + 1 :]
    if slip == "double":
        return name[:i] + name[i] + name[i:]
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def _persons(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = date(1930, 1, 1)
    return [
        {
            "given": rng.choice(GIVEN).title(),
            "family": _family(rng).title(),
            "dob": start + timedelta(days=rng.randrange(0, 90 * 365)),
            "sex": rng.choice(("female", "male")),
            "national": f"{i:09d}" + luhn.calc_check_digit(f"{i:09d}"),
        }
        for i in range(1, n + 1)
    ]


async def _load(
    sessions: Any, index: PersonIndex, people: list[dict[str, Any]], progress: Progress
) -> None:
    now = datetime.now(UTC)
    task = progress.add_task("load persons", total=len(people))
    for chunk_at in range(0, len(people), 2000):
        chunk = people[chunk_at : chunk_at + 2000]
        persons, idents, keys, plain = [], [], [], []
        for p in chunk:
            pid, iid = new_id(), new_id()
            ident = PersonIdentity(
                given_name=p["given"], family_name=p["family"], birth_date=p["dob"]
            )
            persons.append(
                {
                    "id": pid,
                    "unknown": False,
                    "sex": p["sex"],
                    "created_by": "bench",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                    "identity_sealed": index.seal_identity(pid, ident),
                }
            )
            idents.append(
                {
                    "id": iid,
                    "person_id": pid,
                    "system": "national",
                    "assigner": "",
                    "blind": service.identifier_blind(index, "national", None, p["national"]),
                    "value_sealed": index.seal(p["national"], aad=f"person-identifier:{iid}"),
                    "created_at": now,
                }
            )
            demo = service.with_identifier(service.demographics(index, ident, p["sex"]), None)
            keys.extend(
                {"person_id": pid, "kind": k.kind, "blind": k.blind}
                for k in service.blocking_rows(index, pid, demo)
            )
            plain.append(
                {
                    "id": pid,
                    "national": p["national"],
                    "family": p["family"].lower(),
                    "dob": p["dob"],
                }
            )
        async with sessions() as session:
            await session.execute(insert(Person), persons)
            await session.execute(insert(PersonIdentifier), idents)
            await session.execute(insert(PersonKey), keys)
            await session.execute(
                text(
                    "INSERT INTO bench_plain (id, national, family, dob) "
                    "VALUES (:id, :national, :family, :dob)"
                ),
                plain,
            )
            await session.commit()
        progress.advance(task, len(chunk))


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
    }


async def _time(call: Any, args: list[Any]) -> list[float]:
    out = []
    for a in args:
        started = time.perf_counter()
        await call(a)
        out.append(time.perf_counter() - started)
    return out


async def _bench(url: str, args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings.model_validate(
        {
            "env": "test",
            "database": {"url": url},
            "security": {"master_keys": generate_keyring_json()},
        }
    )
    engine = create_engine(settings)
    sessions = session_factory(engine)
    index = PersonIndex.from_settings(settings, Keyring.from_settings(settings))
    try:
        async with sessions() as session:
            await session.execute(
                text(
                    "CREATE TABLE bench_plain (id VARCHAR(36) PRIMARY KEY, national VARCHAR(20), "
                    "family VARCHAR(100), dob DATE)"
                )
            )
            await session.execute(
                text("CREATE UNIQUE INDEX ix_bench_national ON bench_plain (national)")
            )
            await session.execute(
                text("CREATE INDEX ix_bench_family_dob ON bench_plain (family, dob)")
            )
            await session.commit()
        people = _persons(args.persons, seed=7)
        await _load(sessions, index, people, progress)
        if url.startswith("postgresql"):
            async with sessions() as session:
                await session.execute(text("ANALYZE"))
                await session.commit()
        rng = random.Random(11)
        picks = [rng.choice(people) for _ in range(args.queries)]
        typos = [(_misspell(rng, p["family"]), p) for p in picks]

        async def exact(p: dict[str, Any]) -> None:
            async with sessions() as session:
                hits = await registry_search.search(
                    session=session,
                    index=index,
                    query=registry_search.SearchQuery(identifier=p["national"]),
                )
            assert len(hits) == 1

        found = 0

        async def fuzzy(case: tuple[str, dict[str, Any]]) -> None:
            nonlocal found
            typo, p = case
            async with sessions() as session:
                hits = await registry_search.search(
                    session=session,
                    index=index,
                    query=registry_search.SearchQuery(
                        family_name=typo, birth_date=p["dob"], limit=10
                    ),
                )
            found += any(
                identity.normalise_name(h.person.display_name.split(" ")[-1]) == p["family"].lower()
                for h in hits
            )

        async def plain_exact(p: dict[str, Any]) -> None:
            async with sessions() as session:
                row = await session.execute(
                    text("SELECT id, family, dob FROM bench_plain WHERE national = :n"),
                    {"n": p["national"]},
                )
                assert row.first() is not None

        async def plain_name_dob(p: dict[str, Any]) -> None:
            async with sessions() as session:
                rows = await session.execute(
                    text("SELECT id FROM bench_plain WHERE family = :f AND dob = :d"),
                    {"f": p["family"].lower(), "d": p["dob"]},
                )
                rows.all()

        for warm in (exact, plain_exact):
            await _time(warm, picks[:20])
        await _time(fuzzy, typos[:20])
        await _time(plain_name_dob, picks[:20])
        found = 0
        result = {
            "exact": _ms(await _time(exact, picks)),
            "fuzzy": _ms(await _time(fuzzy, typos)),
            "baseline_exact": _ms(await _time(plain_exact, picks)),
            "baseline_name_dob": _ms(await _time(plain_name_dob, picks)),
        }
        result["fuzzy_found_share"] = round(found / len(typos), 4)
        result["exact_p99_ratio"] = round(
            result["exact"]["p99_ms"] / result["baseline_exact"]["p99_ms"], 2
        )
        result["fuzzy_p99_ratio"] = round(
            result["fuzzy"]["p99_ms"] / result["baseline_name_dob"]["p99_ms"], 2
        )
        return result
    finally:
        await engine.dispose()


async def _pg_database(dsn: str) -> tuple[str, str]:
    name = f"emsync_bench_registry_{os.getpid()}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name}")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return name, f"{base}/{name}"


async def _pg_drop(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bench": "registry",
        "persons": args.persons,
        "queries": args.queries,
        "load_avg": round(os.getloadavg()[0], 2),
    }
    with Progress(transient=True) as progress:
        for backend in args.backend or ["sqlite", "postgresql"]:
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                    out[backend] = await _bench(url, args, progress)
            else:
                name, url = await _pg_database(args.pg_dsn)
                try:
                    out[backend] = await _bench(url, args, progress)
                finally:
                    await _pg_drop(args.pg_dsn, name)
    out["load_avg_after"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    print(json.dumps(asyncio.run(main(parser.parse_args()))), file=sys.stdout)
