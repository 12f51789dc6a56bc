"""Intake orchestration benchmark: prints JSON lines.

    .venv/bin/python bench/intake.py [--database sqlite|postgres] [--sessions 40]
        [--concurrency 10] [--rounds 4] [--kill-sessions 100] [--pg-prefix emsync_bench]

1. `emergency` sessions end to end through the durable orchestrator (DBOS Transact, in-process
   engine) against the same eight agents called in-process in the seed's order without it, in
   the same run on the same database: sessions per second, and p50/p99 time to the clinical
   steps done (triage + admission + medical_records), and process CPU per session (all
   threads). Both are warmed up first (one session each: imports, caches, DBOS's launch; then
   `--concurrency` sessions each: the connection pool).
   Target: orchestration overhead <= 25 %. `--rounds` rounds of one phase each, the side that
   runs first alternating (the database grows with every phase), the bed board and the slots
   freed before every phase (a phase that finds fewer free beds or slots does less work per
   session): a JSON line per round, then a summary with the spread of the rounds' overheads
   (the figure against the target is the median; the spread says what it is worth). With an
   even number of rounds the order is A B B A ..., so a cost that grows steadily with the
   database (the same patient arrives every time: each phase costs more than the one before
   it) cancels out of `cpu_overhead_pooled`, the overhead of all rounds' CPU together.
   A fair comparison: the baseline gives each agent what the engine gives it (the payload,
   the earlier steps' outputs, the actor and the hospital), both sides' agents do the same
   registry work (the same person matched and admitted again each session), and every round
   checks that they ended alike (`same_outcomes`: each agent's done and needs_review counts).
2. `--kill-sessions` sessions in flight in a real `emsync serve --role worker` subprocess that
   is killed with SIGKILL after a third of the steps and started again: all complete, each
   step's effects counted once in the database (admissions, legal cases, notifications).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update
from tests.builders import auth_headers
from tests.conftest import PG_ADMIN_DSN, make_settings
from tests.intake_kill import (
    api_only,
    begin_sessions,
    kill_hard,
    start_worker,
    stop,
    tally,
    wait_until,
    worker_env,
)
from tests.integration.intake.conftest import EMERGENCY, arrival, make_ed, run_workflow

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core import migrate
from emsync.core.serving import settle_heap
from emsync.intake import service
from emsync.intake.agents import AGENTS, AgentDeps, StepInput, StepOutput
from emsync.intake.engine import IntakeEngine
from emsync.intake.models import IntakeSession, IntakeStep
from emsync.intake.records.models import Bed, BedAssignment, Slot
from emsync.intake.workflows import CLINICAL_PATH, SessionStatus

TARGET_OVERHEAD = 0.25
# The name of each PostgreSQL database made (`<prefix>_<8 hex>`, dropped after): --pg-prefix.
pg_prefix = "emsync_bench"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@asynccontextmanager
async def database(kind: str, folder: Path) -> AsyncIterator[str]:
    """A fresh, migrated database of `kind`."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
        return
    name = f"{pg_prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f"CREATE DATABASE {name}")
    url = f"{PG_ADMIN_DSN.rpartition('/')[0]}/{name}".replace(
        "postgresql://", "postgresql+asyncpg://"
    )
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def baseline(deps: AgentDeps, payload: dict[str, Any], n: int, c: int) -> dict[str, Any]:
    """The agents in the seed's order, in-process, no orchestrator: `n` sessions, `c` at a
    time. The clinical time is taken when triage, admission and medical_records are all done
    (legal runs before medical_records in this order); the rest runs after it."""
    gate = asyncio.Semaphore(c)
    clinical: list[float] = []
    outcomes: Counter[tuple[str, str]] = Counter()

    async def one() -> None:
        async with gate:
            sid, t0 = uuid.uuid4(), time.perf_counter()
            done: dict[str, StepOutput] = {}
            for name in EMERGENCY:
                step = StepInput(
                    session_id=sid,
                    workflow="emergency",
                    agent=name,
                    payload=payload,
                    previous={k: v.output for k, v in done.items()},
                    idempotency_key=StepInput.key_for(sid, name),
                    # As the engine gives them (steps._take): the session's actor and hospital.
                    actor="bench",
                    hospital_id=payload["hospital_id"],
                )
                done[name] = await AGENTS[name].run(step, deps)
                outcomes[(name, done[name].outcome)] += 1
                if name == last_clinical:
                    clinical.append(time.perf_counter() - t0)

    last_clinical = max(CLINICAL_PATH, key=EMERGENCY.index)
    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "sessions_per_s": n / wall,
        "cpu_per_session": cpu / n,
        "clinical": clinical,
        "outcomes": outcomes,
    }


async def step_outcomes(runtime: Any, ids: list[str]) -> Counter[tuple[str, str]]:
    """How many of the sessions' steps ended in each (agent, status): the orchestrated side's
    counterpart of the baseline's agent outcomes (done, needs_review)."""
    async with runtime.read_sessions() as session:
        found = await session.execute(
            select(IntakeStep.agent, IntakeStep.status).where(IntakeStep.session_id.in_(ids))
        )
        return Counter((str(agent), str(status)) for agent, status in found.all())


async def clinical_path_times(runtime: Any, ids: list[str]) -> list[float]:
    async with runtime.sessions() as session:
        started = dict(
            (
                await session.execute(
                    select(IntakeSession.id, IntakeSession.created_at).where(
                        IntakeSession.id.in_(ids)
                    )
                )
            ).all()
        )
        done: dict[str, Any] = {}
        for sid, finished in (
            await session.execute(
                select(IntakeStep.session_id, IntakeStep.finished_at).where(
                    IntakeStep.session_id.in_(ids), IntakeStep.agent.in_(list(CLINICAL_PATH))
                )
            )
        ).all():
            if finished is not None:
                done[sid] = max(done.get(sid, finished), finished)
    return [(done[s] - started[s]).total_seconds() for s in ids if s in done]


async def orchestrated(app: Any, payload: dict[str, Any], n: int, c: int) -> dict[str, Any]:
    """The same sessions through the durable engine, `c` in flight at a time."""
    runtime = app.state.runtime
    engine = runtime.get(IntakeEngine)
    gate = asyncio.Semaphore(c)
    ids: list[str] = []
    waiting: dict[str, asyncio.Event] = {}

    async def one() -> None:
        async with gate:
            async with runtime.sessions() as session:
                started = await service.start_claimed(
                    session=session,
                    keyring=runtime.keyring,
                    workflow="emergency",
                    payload=payload,
                    clinical=engine.clinical(),
                    actor="bench",
                    hospital_id=payload["hospital_id"],
                    now=runtime.clock(),
                    claim=True,  # as the API and an arrival do where the engine runs
                )
            sid = started.row.id
            ids.append(sid)
            waiting[sid] = finished = asyncio.Event()
            await engine.begin(sid, started.first, started.opened)
            await finished.wait()

    over = {SessionStatus.COMPLETED, SessionStatus.ATTENTION}
    publish = engine.publish

    def seen(board: Any) -> None:
        # The engine pushes each session's board after every change it makes (from rows its
        # transaction holds): the end is seen there, at no cost to the database. A poll of
        # the sessions every 0.1 s cost the orchestrated run ~4 ms of CPU per session here,
        # which the in-process baseline does not pay.
        publish(board)
        if board.status in over and board.session_id in waiting:
            waiting.pop(board.session_id).set()

    engine.publish = seen  # type: ignore[method-assign]

    async def watch() -> None:
        # A slow fallback (a board missed would leave its session waiting), one query for
        # all sessions in flight. Coarse: the latencies come from the steps' own timestamps.
        while True:
            await asyncio.sleep(1.0)
            if not waiting:
                continue
            async with runtime.read_sessions() as session:
                ended = list(
                    await session.scalars(
                        select(IntakeSession.id).where(
                            IntakeSession.id.in_(list(waiting)),
                            IntakeSession.status.in_(list(over)),
                        )
                    )
                )
            for sid in ended:
                if sid in waiting:
                    waiting.pop(sid).set()

    watcher = asyncio.create_task(watch())
    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    watcher.cancel()
    engine.publish = publish  # type: ignore[method-assign]
    return {
        "sessions_per_s": n / wall,
        "cpu_per_session": cpu / n,
        "clinical": await clinical_path_times(runtime, ids),
        "outcomes": await step_outcomes(runtime, ids),
    }


async def free_board(runtime: Any, hospital_id: str) -> None:
    """Every bed of the ED available and every slot open again, as at the first phase: the
    admission agent reads the free beds and the scheduling agent the open slots, so a phase
    run on a fuller board would do less work per session than the one before it."""
    async with runtime.sessions() as session, session.begin():
        beds = select(Bed.id).where(Bed.hospital_id == hospital_id).scalar_subquery()
        await session.execute(
            update(BedAssignment)
            .where(BedAssignment.bed_id.in_(beds), BedAssignment.released_at.is_(None))
            .values(released_at=runtime.clock())
        )
        await session.execute(
            update(Bed).where(Bed.hospital_id == hospital_id).values(status="available")
        )
        await session.execute(update(Slot).values(booking_id=None))


def one_round(n: int, c: int, first: str, base: dict[str, Any], orch: dict[str, Any]) -> dict:
    p50_b, p50_o = statistics.median(base["clinical"]), statistics.median(orch["clinical"])
    return {
        "bench": "intake.throughput",
        "sessions": n,
        "concurrency": c,
        "first": first,
        "baseline_sessions_per_s": round(base["sessions_per_s"], 2),
        "orchestrated_sessions_per_s": round(orch["sessions_per_s"], 2),
        "baseline_clinical_p50_ms": round(p50_b * 1000, 1),
        "baseline_clinical_p99_ms": round(pct(base["clinical"], 0.99) * 1000, 1),
        "orchestrated_clinical_p50_ms": round(p50_o * 1000, 1),
        "orchestrated_clinical_p99_ms": round(pct(orch["clinical"], 0.99) * 1000, 1),
        "clinical_p50_overhead": round(p50_o / p50_b - 1, 3),
        "throughput_overhead": round(base["sessions_per_s"] / orch["sessions_per_s"] - 1, 3),
        # Process CPU (every thread) per session: less sensitive to the machine's load than
        # wall time; a run bound by CPU has throughput_overhead close to cpu_overhead.
        "baseline_cpu_ms_per_session": round(base["cpu_per_session"] * 1000, 2),
        "orchestrated_cpu_ms_per_session": round(orch["cpu_per_session"] * 1000, 2),
        "cpu_overhead": round(orch["cpu_per_session"] / base["cpu_per_session"] - 1, 3),
        # A fair comparison: both sides' agents ended the same way (done or needs_review, by
        # agent, over the round's sessions), so neither did less work than the other.
        "same_outcomes": base["outcomes"] == orch["outcomes"],
        "load_1min": round(os.getloadavg()[0], 2),
    }


def summary(kind: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds' figures side by side: median, lowest and highest of each."""

    def spread(key: str) -> dict[str, float]:
        values = [r[key] for r in rounds]
        return {
            "median": round(statistics.median(values), 3),
            "min": min(values),
            "max": max(values),
        }

    cpu_b = sum(r["baseline_cpu_ms_per_session"] for r in rounds)
    cpu_o = sum(r["orchestrated_cpu_ms_per_session"] for r in rounds)
    return {
        "bench": "intake.throughput.summary",
        "database": kind,
        "rounds": len(rounds),
        "sessions_per_side_per_round": rounds[0]["sessions"],
        "agents": sorted(AGENTS),
        "cpu_overhead": spread("cpu_overhead"),
        # Every round's CPU together: the overhead of the means.
        "cpu_overhead_pooled": round(cpu_o / cpu_b - 1, 3),
        "baseline_cpu_ms_per_session": spread("baseline_cpu_ms_per_session"),
        "orchestrated_cpu_ms_per_session": spread("orchestrated_cpu_ms_per_session"),
        "throughput_overhead": spread("throughput_overhead"),
        "clinical_p50_overhead": spread("clinical_p50_overhead"),
        "same_outcomes": all(r["same_outcomes"] for r in rounds),
        "target_overhead": TARGET_OVERHEAD,
        "load_1min": round(os.getloadavg()[0], 2),
    }


async def throughput(kind: str, folder: Path, n: int, c: int, rounds: int) -> dict[str, Any]:
    async with database(kind, folder) as url:
        settings = make_settings(
            url, folder, notifications={"poll_seconds": 3600, "wake_on_page": False}
        )
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                admin = await auth_headers(app, client, Role.ADMIN)
                beds = tuple((f"B{i}", "majors", False) for i in range(2 * n + 4))
                ed = await make_ed(app, client, admin, slots=2 * n + 4, beds=beds)
            payload = arrival(ed)
            runtime = app.state.runtime
            deps = AgentDeps.from_runtime(runtime)
            await run_workflow(deps, payload)  # warm-up: imports, caches
            # The orchestrator's warm-up, as the agents' above: DBOS's launch (its system
            # database's migrations and threads: ~55 ms of CPU on SQLite, ~175 ms on PostgreSQL,
            # once per process) and its statements' first compilation, which the timed sessions
            # were charged with (1-4 ms each of 40). One session; the ED has a bed and a slot
            # for it.
            await orchestrated(app, payload, 1, 1)
            # Then both sides once at the rounds' concurrency: the connection pool grows to what
            # `c` sessions at a time hold. Without it the first timed phase (the baseline's, in
            # round 0) opened ~10 connections (a thread, the file and its pragmas each), a cost
            # of neither side that was charged to the baseline.
            for warm in (baseline(deps, payload, c, c), orchestrated(app, payload, c, c)):
                await free_board(runtime, ed.hospital_id)
                await warm
            # As `emsync serve` does once started (core.serving): what start-up and the
            # warm-ups allocated is frozen out of the collector's walks. Without it a full
            # collection walked the imported libraries' objects, ~400 ms of CPU here, charged
            # to whichever phase it fell in (~10 ms per session of 40: gc.callbacks).
            settle_heap()
            results: list[dict[str, Any]] = []
            for number in range(rounds):
                # Alternate which side runs first: the database grows with every phase (an
                # admission, a legal case, notifications... per session).
                first = "baseline" if number % 2 == 0 else "orchestrated"
                measured: dict[str, dict[str, Any]] = {}
                for side in (
                    ("baseline", "orchestrated")
                    if number % 2 == 0
                    else ("orchestrated", "baseline")
                ):
                    await free_board(runtime, ed.hospital_id)
                    measured[side] = await (
                        baseline(deps, payload, n, c)
                        if side == "baseline"
                        else orchestrated(app, payload, n, c)
                    )
                line = {
                    "database": kind,
                    "round": number,
                    **one_round(n, c, first, measured["baseline"], measured["orchestrated"]),
                }
                print(json.dumps(line), flush=True)
                results.append(line)
    return summary(kind, results)


async def kill_run(kind: str, folder: Path, n: int) -> dict[str, Any]:
    async with database(kind, folder) as url:
        settings = make_settings(url, folder)
        async with api_only(settings) as (app, client):
            runtime = app.state.runtime
            _ed, ids = await begin_sessions(app, client, n)
            env, log = worker_env(url, folder), folder / "worker.log"
            steps = 8 * n
            t0 = time.perf_counter()
            worker = start_worker(env, log)
            try:
                await wait_until(runtime, worker, steps=steps // 3, log=log, within=1800)
                before = await tally(runtime, ids)
                kill_hard(worker)
                worker = start_worker(env, log)
                await wait_until(runtime, worker, steps=steps, log=log, within=1800)
            finally:
                stop(worker)
            wall = time.perf_counter() - t0
            counted = await tally(runtime, ids)
    ok = counted.exactly_once
    return {
        "bench": "intake.kill",
        "database": kind,
        "sessions_in_flight": n,
        "attempts_at_kill": before.attempts,
        **counted.as_dict(),
        "exactly_once": ok,
        "wall_s": round(wall, 1),
        "load_1min": round(os.getloadavg()[0], 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--kill-sessions", type=int, default=100)
    parser.add_argument(
        "--pg-prefix",
        default=pg_prefix,
        help="PostgreSQL: the databases' name prefix (on EMSYNC_TEST_PG_DSN's server)",
    )
    args = parser.parse_args()
    globals()["pg_prefix"] = args.pg_prefix
    with tempfile.TemporaryDirectory(prefix="emsync-bench-intake-") as tmp:
        folder = Path(tmp)
        (folder / "a").mkdir()
        (folder / "b").mkdir()
        if args.sessions:
            result = await throughput(
                args.database, folder / "a", args.sessions, args.concurrency, args.rounds
            )
            print(json.dumps(result), flush=True)
        if args.kill_sessions:
            print(json.dumps(await kill_run(args.database, folder / "b", args.kill_sessions)))


if __name__ == "__main__":
    asyncio.run(main())
