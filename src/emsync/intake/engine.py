"""The intake orchestrator: each session is a durable DBOS Transact workflow.

Why DBOS (docs/intake.md has the measured comparison): it checkpoints every step of a workflow
in a system database that may be SQLite (the embedded default, no new service) or PostgreSQL
(the scale profile), and recovers unfinished workflows when the process launches again. A step
is at least once across a crash, so every effect an agent writes carries the step's
idempotency key (unique constraint); our own step rows use a claim that the same run takes
again after a crash (intake.steps), so the pair gives each step's effects exactly once.

One session is one workflow (`intake:<session id>`) that takes its steps in order. Emergency
first: in `emergency` and `emergency_device`, a non-clinical step (legal, billing,
communication, scheduling) is handed to a workflow of its own (`intake:<session>:<agent>:a<n>`)
and the session's run goes straight on to the next clinical step; that step completes later,
with its own retries. Every step is retried with exponential backoff (durable sleeps), guarded
by a timeout and a circuit breaker per agent, and dead-lettered when its tries run out; a
clinician can force it again (intake.service).

DBOS is a process-wide singleton whose workflow functions are registered at import, so the
functions below reach the running engine through `_ACTIVE`, set while the engine runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from aiobreaker import CircuitBreaker, CircuitBreakerError, CircuitBreakerListener
from dbos import DBOS, DBOSConfig, SetWorkflowID
from sqlalchemy import event, select

from emsync.core.background import Periodic
from emsync.core.db import sqlite_file
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.intake import steps
from emsync.intake.agents.base import Agent, AgentDeps, StepOutput
from emsync.intake.metrics import CIRCUIT_LEVEL, IntakeMetrics
from emsync.intake.models import IntakeSession, IntakeStep
from emsync.intake.workflows import Move, SessionStatus, StepStatus, next_step

log = structlog.get_logger("emsync.intake")
S = StepStatus
BOARD_CHANNEL = "intake"
STOP_GRACE_SECONDS = 5
_ACTIVE: IntakeEngine | None = None


def _engine() -> IntakeEngine:
    if _ACTIVE is None:
        raise RuntimeError("the intake engine is not running in this process")
    return _ACTIVE


def session_workflow_id(session_id: str) -> str:
    return f"intake:{session_id}"


def beside_workflow_id(session_id: str, agent: str, attempts: int) -> str:
    # Derived from the step's tries so far: the session's run and a worker's poll that both
    # start the same queued step start one workflow (DBOS deduplicates by id).
    return f"intake:{session_id}:{agent}:a{attempts}"


# ---- the durable workflows (registered with DBOS at import) ----------------------------------


@DBOS.workflow(name="intake.session")
async def run_session(session_id: str) -> str:
    await _open(session_id)
    while True:
        move, agent = await _next(session_id)
        if move == Move.FINISH:
            break
        if move == Move.BESIDE:
            attempts = await _queue(session_id, agent)
            if attempts is not None:
                with SetWorkflowID(beside_workflow_id(session_id, agent, attempts)):
                    await DBOS.start_workflow_async(run_beside, session_id, agent)
            continue
        await _drive(session_id, agent, beside=False)
    return await _settle(session_id)


@DBOS.workflow(name="intake.beside")
async def run_beside(session_id: str, agent: str) -> str:
    """One step in a workflow of its own: emergency-first non-clinical steps, forced steps."""
    await _drive(session_id, agent, beside=True)
    return await _settle(session_id)


async def _drive(session_id: str, agent: str, *, beside: bool) -> None:
    """Try the step until it finishes; wait (durably) with backoff between tries; dead-letter
    it when its tries run out."""
    policy = _engine().policy(agent, beside=beside)
    workflow_id = DBOS.workflow_id or session_workflow_id(session_id)
    for attempt in range(policy.tries):
        outcome = await _attempt(session_id, agent, f"{workflow_id}#{attempt}", beside)
        if outcome != "retry":
            return
        if attempt + 1 < policy.tries:
            await DBOS.sleep_async(policy.backoff(attempt))
    await _dead_letter(session_id, agent)


@DBOS.step(name="intake.open")
async def _open(session_id: str) -> None:
    engine = _engine()
    await steps.open_session(engine.runtime.sessions, session_id, engine.runtime.clock())
    await engine.push(session_id)


@DBOS.step(name="intake.next")
async def _next(session_id: str) -> tuple[str, str]:
    workflow, states = await steps.step_states(_engine().runtime.sessions, session_id)
    chosen = next_step(workflow, states)
    return str(chosen.move), chosen.agent or ""


@DBOS.step(name="intake.queue")
async def _queue(session_id: str, agent: str) -> int | None:
    """Hand a pending step to its own run; its tries so far name that run (None: not pending
    any more, e.g. a clinician skipped it meanwhile)."""
    engine = _engine()
    moved = await steps.mark(
        engine.runtime.sessions,
        session_id=session_id,
        agent=agent,
        to=S.QUEUED,
        when=frozenset({S.PENDING}),
        now=engine.runtime.clock(),
    )
    if not moved:
        return None
    await engine.push(session_id)
    async with engine.runtime.sessions() as session:
        row = await session.get_one(IntakeStep, (session_id, agent))
        return row.attempts


@DBOS.step(name="intake.attempt")
async def _attempt(session_id: str, agent: str, run: str, beside: bool) -> str:
    return await _engine().attempt(session_id, agent, run, beside=beside)


@DBOS.step(name="intake.dead_letter")
async def _dead_letter(session_id: str, agent: str) -> None:
    engine = _engine()
    moved = await steps.mark(
        engine.runtime.sessions,
        session_id=session_id,
        agent=agent,
        to=S.DEAD_LETTER,
        when=frozenset({S.PENDING, S.QUEUED}),
        now=engine.runtime.clock(),
    )
    if moved:
        engine.metrics.dead_letters.labels(agent=agent).inc()
        log.error("intake step dead-lettered", session_id=session_id, agent=agent)
    await engine.push(session_id)


@DBOS.step(name="intake.settle")
async def _settle(session_id: str) -> str:
    engine = _engine()
    status = await steps.settle_session(engine.runtime.sessions, session_id, engine.runtime.clock())
    await engine.push(session_id)
    return status


# ---- the engine: a background service of the worker role --------------------------------------


class Policy:
    def __init__(self, tries: int, first: float, rate: float, timeout: float) -> None:
        self.tries, self.first, self.rate, self.timeout = tries, first, rate, timeout

    def backoff(self, attempt: int) -> float:
        return float(self.first * self.rate**attempt)


class _BreakerGauge(CircuitBreakerListener):  # type: ignore[misc]
    def __init__(self, metrics: IntakeMetrics, agent: str) -> None:
        self._gauge = metrics.circuit.labels(agent=agent)
        self._gauge.set(0)

    def state_change(self, breaker: Any, old: Any, new: Any) -> None:
        self._gauge.set(CIRCUIT_LEVEL.get(state_name(getattr(new, "state", new)), 0))


def state_name(state: Any) -> str:
    """closed, open or half-open, from aiobreaker's CircuitBreakerState."""
    return str(state.name).lower().replace("_", "-")


def circuit_of(breaker: CircuitBreaker) -> str:
    return state_name(breaker.current_state)


class IntakeEngine:
    """Starts and recovers the durable runs; runs one attempt of a step for them."""

    name = "intake-engine"

    def __init__(self, runtime: Runtime, agents: Mapping[str, Agent]) -> None:
        self.runtime = runtime
        self.metrics = runtime.get(IntakeMetrics)
        self.deps = AgentDeps.from_runtime(runtime)
        self.use(agents)
        self._launched = False
        self._launch_lock = asyncio.Lock()
        # Runs this process started: a poll does not ask DBOS for them again.
        self._begun: set[str] = set()
        config = runtime.settings.intake_engine
        self._poll = Periodic("intake-poll", lambda: config.poll_seconds, self.poll)

    def use(self, agents: Mapping[str, Agent]) -> None:
        """The agents to run, each behind its own circuit breaker (before `start`)."""
        config = self.runtime.settings.intake_engine
        self.agents = agents
        self.breakers = {
            name: CircuitBreaker(
                fail_max=config.breaker_failures,
                timeout_duration=timedelta(seconds=config.breaker_reset_seconds),
                listeners=[_BreakerGauge(self.metrics, name)],
                name=name,
            )
            for name in agents
        }

    def clinical(self) -> dict[str, bool]:
        """Which agents are clinical (never held up in an emergency)."""
        return {name: agent.clinical for name, agent in self.agents.items()}

    # -- lifecycle

    @property
    def running(self) -> bool:
        """Started in this process (an API-only process leaves its sessions to a worker)."""
        return _ACTIVE is self

    async def start(self) -> None:
        global _ACTIVE
        if _ACTIVE is not None and _ACTIVE is not self:
            # DBOS is process-wide: a second app in the same process (tests, an embedding
            # host) leaves intake to the engine already running, whose sessions share the
            # database; it must not fail the whole app's start-up.
            log.warning("intake_engine_already_running_in_this_process")
            return
        _ACTIVE = self
        # Launch (and recover) only where there is work: most processes never run intake.
        if await self._unfinished():
            await self.launch()
        await self._poll.start()

    async def stop(self) -> None:
        global _ACTIVE
        if _ACTIVE is not self:
            return  # never started (another engine runs in this process)
        await self._poll.stop()
        if self._launched:
            # Let the runs in progress finish their current step (a run cut off inside a
            # database call leaves its connection open); DBOS recovers the rest at launch.
            await asyncio.to_thread(
                partial(DBOS.destroy, workflow_completion_timeout_sec=STOP_GRACE_SECONDS)
            )
            self._launched = False
            # DBOS made its thread pool this loop's default executor and has shut it down: a
            # loop that goes on (tests, the benchmark) needs a live one for to_thread.
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
        _ACTIVE = None

    async def launch(self) -> None:
        async with self._launch_lock:
            if self._launched:
                return
            DBOS(config=dbos_config(self.runtime))
            # From the event loop's thread: DBOS then runs recovered workflows on this loop,
            # where the app's database connections live.
            DBOS.launch()
            self._launched = True

    async def _unfinished(self) -> bool:
        async with self.runtime.sessions() as session:
            found = await session.scalar(
                select(IntakeSession.id)
                .where(IntakeSession.status.in_([SessionStatus.PENDING, SessionStatus.RUNNING]))
                .limit(1)
            )
            return found is not None

    # -- starting runs

    async def begin(self, session_id: str) -> None:
        """Start (or find) the session's durable run."""
        await self.launch()
        workflow_id = session_workflow_id(session_id)
        with SetWorkflowID(workflow_id):
            await DBOS.start_workflow_async(run_session, session_id)
        self._begun.add(workflow_id)

    async def run_beside(self, session_id: str, agent: str, attempts: int) -> None:
        await self.launch()
        workflow_id = beside_workflow_id(session_id, agent, attempts)
        with SetWorkflowID(workflow_id):
            await DBOS.start_workflow_async(run_beside, session_id, agent)
        self._begun.add(workflow_id)

    async def poll(self) -> None:
        """Start what other processes (the API role) began: new sessions, forced steps."""
        async with self.runtime.read_sessions() as session:
            fresh = list(
                await session.scalars(
                    select(IntakeSession.id).where(IntakeSession.status == SessionStatus.PENDING)
                )
            )
            queued = (
                await session.execute(
                    select(IntakeStep.session_id, IntakeStep.agent, IntakeStep.attempts).where(
                        IntakeStep.status == S.QUEUED, IntakeStep.claimed_by.is_(None)
                    )
                )
            ).all()
        for session_id in fresh:
            if session_workflow_id(session_id) not in self._begun:
                await self.begin(session_id)
        for session_id, agent, attempts in queued:
            if beside_workflow_id(session_id, agent, attempts) not in self._begun:
                await self.run_beside(session_id, agent, attempts)

    # -- one attempt of one step

    def policy(self, agent: str, *, beside: bool) -> Policy:
        config = self.runtime.settings.intake_engine
        tries = config.beside_attempts if beside else config.attempts
        return Policy(
            tries=config.agent_attempts.get(agent, tries),
            first=config.backoff_seconds,
            rate=config.backoff_rate,
            timeout=config.agent_timeouts.get(agent, config.timeout_seconds),
        )

    async def attempt(self, session_id: str, agent: str, run: str, *, beside: bool) -> str:
        """ "finished" (done, needs review, or not this run's to do) or "retry"."""
        runtime = self.runtime
        claim = await steps.claim(
            runtime.sessions,
            runtime.keyring,
            session_id=session_id,
            agent=agent,
            run=run,
            now=runtime.clock(),
        )
        if claim is None:
            return "finished"
        await self.push(session_id)
        started_at, t0 = runtime.clock(), time.perf_counter()
        implementation = self.agents.get(agent)
        result: StepOutput | None = None
        outcome: str
        try:
            if implementation is None:
                raise LookupError(f"no agent named {agent}")
            result = await self._call(implementation, claim, beside=beside)
            outcome, error = result.outcome, ""
        except CircuitBreakerError:
            outcome, error = "circuit_open", "CircuitBreakerError"
        except TimeoutError:
            outcome, error = "timeout", "TimeoutError"
        except Exception as exc:  # noqa: BLE001 - any agent failure is logged, retried, dead-lettered
            outcome, error = "failed", type(exc).__name__
        elapsed = time.perf_counter() - t0
        self.metrics.runs.labels(agent=agent, outcome=outcome).inc()
        self.metrics.latency.labels(agent=agent).observe(elapsed)
        version = getattr(implementation, "version", "?")
        if result is not None:
            await steps.record_result(
                runtime.sessions,
                runtime.keyring,
                claim_=claim,
                agent_version=version,
                result=result,
                started_at=started_at,
                duration_ms=elapsed * 1000,
                now=runtime.clock(),
            )
            await steps.settle_session(runtime.sessions, session_id, runtime.clock())
            await self.push(session_id)
            return "finished"
        self.metrics.failures.labels(agent=agent).inc()
        # The class name only: an exception's message may carry patient data.
        log.warning("intake step failed", session_id=session_id, agent=agent, error=error)
        await steps.record_failure(
            runtime.sessions,
            runtime.keyring,
            claim_=claim,
            agent_version=version,
            outcome=outcome,
            error=error,
            back_to=S.QUEUED if beside else S.PENDING,
            started_at=started_at,
            duration_ms=elapsed * 1000,
            now=runtime.clock(),
        )
        await self.push(session_id)
        return "retry"

    async def _call(self, agent: Agent, claim: steps.Claim, *, beside: bool) -> StepOutput:
        policy = self.policy(agent.name, beside=beside)

        async def run() -> StepOutput:
            return await asyncio.wait_for(agent.run(claim.step, self.deps), policy.timeout)

        if claim.forced:
            # A clinician forced it: the person decided, not the breaker.
            return await run()
        breaker = self.breakers.get(agent.name)
        if breaker is None:
            return await run()
        result: StepOutput = await breaker.call_async(run)
        return result

    # -- live view

    async def push(self, session_id: str) -> None:
        hub = self.runtime.find(Hub)
        if hub is None:
            return
        async with self.runtime.read_sessions() as session:
            row = await session.get(IntakeSession, session_id)
            if row is None:
                return
            data = {
                "session_id": session_id,
                "workflow": row.workflow,
                "status": row.status,
                "steps": [
                    dict(steps.summary(s)) for s in await steps.load_steps(session, session_id)
                ],
            }
        hub.publish(BOARD_CHANNEL, "intake.session", data)
        hub.publish(f"{BOARD_CHANNEL}:{session_id}", "intake.session", data)


def dbos_config(runtime: Runtime) -> DBOSConfig:
    settings = runtime.settings
    url = settings.intake_engine.system_database_url or system_database_url(
        settings.database_url, settings.data_dir
    )
    config: DBOSConfig = {
        "name": "emsync-intake",
        "system_database_url": url,
        "executor_id": settings.intake_engine.executor_id,
        "log_level": "WARNING",
    }
    if url.startswith("sqlite"):
        config["system_database_engine"] = _sqlite_engine(url)
    return config


def system_database_url(app_url: str, data_dir: Path) -> str:
    """Beside the app's database: a `-workflows` SQLite file next to it, or the same PostgreSQL
    database (DBOS keeps its tables in schema `dbos`)."""
    file = sqlite_file(app_url)
    if file is not None:
        path = Path(file)
        return f"sqlite:///{path.with_name(path.stem + '-workflows.sqlite')}"
    if app_url.startswith("sqlite"):  # in memory
        return f"sqlite:///{data_dir / 'intake-workflows.sqlite'}"
    return (
        sa.make_url(app_url)
        .set(drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


def _sqlite_engine(url: str) -> sa.Engine:
    """WAL and synchronous=NORMAL, as the app's own SQLite: measured 71 → 593 checkpointed
    steps/s (docs/intake.md); a process killed with -9 loses nothing committed in WAL mode."""
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=30000",
            "foreign_keys=ON",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    return engine
