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
with its own retries. Every step is retried with exponential backoff (ending at a time read from
the failed try's row: a run takes no DBOS step), guarded by a timeout and a circuit breaker per
agent, and dead-lettered when its tries run out; a clinician can force it again
(intake.service).

DBOS is a process-wide singleton whose workflow functions are registered at import, so the
functions below reach the running engine through `_ACTIVE`, set while the engine runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiobreaker import CircuitBreaker, CircuitBreakerError
from dbos import DBOS, SetWorkflowID
from sqlalchemy import select

from emsync.core.background import Periodic
from emsync.core.clock import as_utc
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.intake import rows, steps
from emsync.intake.agents.base import Agent, AgentDeps, StepOutput
from emsync.intake.breakers import BreakerGauge, Policy
from emsync.intake.metrics import IntakeMetrics
from emsync.intake.models import IntakeSession, IntakeStep
from emsync.intake.steps import beside_workflow_id
from emsync.intake.workers import Workers, dbos_config, executor_id, migrate_system_database
from emsync.intake.workflows import Move, SessionStatus, StepStatus

log = structlog.get_logger("emsync.intake")
S = StepStatus
BOARD_CHANNEL = "intake"
STOP_GRACE_SECONDS = 5
_ACTIVE: IntakeEngine | None = None
# An agent's call made ahead of its run's first record (IntakeEngine.begin): when it started
# (clock, perf_counter), and its result or what it raised.
Called = tuple[datetime, float, StepOutput | Exception]


def _engine() -> IntakeEngine:
    if _ACTIVE is None:
        raise RuntimeError("the intake engine is not running in this process")
    return _ACTIVE


def session_workflow_id(session_id: str) -> str:
    return f"intake:{session_id}"


# ---- the durable workflows (registered with DBOS at import) ----------------------------------


@DBOS.workflow(name="intake.session")
async def run_session(session_id: str) -> str:
    run = f"{DBOS.workflow_id or session_workflow_id(session_id)}#0"
    engine = _engine()
    while True:
        # Not a DBOS step (its checkpoint pair was most of what DBOS still cost a session):
        # the step rows say where a replay resumes (IntakeEngine.advance), and a run takes no
        # DBOS step at all, so a replay never meets a checkpoint its code would not take.
        move, agent, outcome = await engine.advance(session_id, run)
        if move == Move.FINISH:
            # The first tries of the non-clinical steps it began beside the clinical ones:
            # awaited here (a replay reads them from the step rows), and their retries handed
            # to workflows of their own, before this run may end.
            await engine.finish_first_tries(session_id)
            return outcome
        if outcome == "retry":
            await _drive(session_id, agent, beside=False, first=1)


@DBOS.workflow(name="intake.beside")
async def run_beside(session_id: str, agent: str, first: int = 0) -> str:
    """One step in a workflow of its own: the retries of an emergency's non-clinical step
    (its first try was the session run's, `first` 1), a forced step, a step a poll found."""
    return await _drive(session_id, agent, beside=True, first=first)


async def _drive(session_id: str, agent: str, *, beside: bool, first: int) -> str:
    """Try the step from try `first` until it finishes; wait with backoff between tries (until
    a time derived from the failed try's row: it survives a restart, as a durable sleep did,
    without a checkpoint); dead-letter it when its tries run out."""
    engine = _engine()
    policy = engine.policy(agent, beside=beside)
    workflow_id = DBOS.workflow_id or session_workflow_id(session_id)
    for attempt in range(first, policy.tries):
        if attempt > 0:
            await engine.back_off(
                session_id, agent, f"{workflow_id}#{attempt - 1}", policy.backoff(attempt - 1)
            )
        # Not a DBOS step: the step row says what a try did, so a replay finds its outcome
        # there (steps.claim).
        run = f"{workflow_id}#{attempt}"
        outcome = await engine.attempt(session_id, agent, run, beside=beside)
        if outcome != "retry":
            return outcome
    return await engine.dead_letter(session_id, agent, workflow_id)


# ---- the engine: a background service of the worker role --------------------------------------


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
        self._detached: set[asyncio.Task[Any]] = set()
        # First tries of non-clinical steps begun beside each session's run, in this process.
        self._first_tries: dict[str, set[asyncio.Task[None]]] = {}
        # Their results, for the session run's next write (steps.Held), not one write each.
        self._held: dict[str, list[steps.Held]] = {}
        # What each session's run opened (its payload, earlier results), until the run ends.
        self._opened: dict[str, steps.Opened] = {}
        # The claims written with a session's start, for its run's first move; its agent's call.
        self._first: dict[str, steps.Advance] = {}
        self._early: dict[str, asyncio.Task[Called]] = {}
        config = runtime.settings.intake_engine
        # Caps on the steps running at once in this worker (clinical, and beside them): the
        # waiting happens before a claim and outside the agent's timeout.
        self._gates = {
            False: asyncio.Semaphore(config.concurrency),
            True: asyncio.Semaphore(config.beside_concurrency),
        }
        self._poll = Periodic("intake-poll", lambda: config.poll_seconds, self.poll)
        # Heartbeats; takes over the runs of a dead worker (several workers on one database).
        self.workers = Workers(runtime, executor_id(runtime.settings), self.launch)

    def use(self, agents: Mapping[str, Agent]) -> None:
        """The agents to run, each behind its own circuit breaker (before `start`)."""
        config = self.runtime.settings.intake_engine
        self.agents = agents
        self.breakers = {
            name: CircuitBreaker(
                fail_max=config.breaker_failures,
                timeout_duration=timedelta(seconds=config.breaker_reset_seconds),
                listeners=[BreakerGauge(self.metrics, name)],
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
        await self.workers.start()  # before a launch: no run of this worker's id has no row
        # Launch (and recover) only where there is work: most processes never run intake.
        if await self._unfinished():
            await self.launch()
        await self._poll.start()

    async def stop(self) -> None:
        global _ACTIVE
        if _ACTIVE is not self:
            return  # never started (another engine runs in this process)
        await self._poll.stop()
        await self.workers.stop()
        if self._detached:
            await asyncio.wait(set(self._detached), timeout=STOP_GRACE_SECONDS)
        if self._launched:
            # DBOS's pool, the loop's default executor, dies in destroy: the loop gets its own
            # before and after (a run ending meanwhile sets DBOS's back). Runs finish their step
            # (one cut off in a database call leaves it open); the rest recover at launch.
            loop, own = asyncio.get_running_loop(), ThreadPoolExecutor()
            loop.set_default_executor(own)
            await asyncio.to_thread(
                DBOS.destroy, workflow_completion_timeout_sec=STOP_GRACE_SECONDS
            )
            self._launched = False
            loop.set_default_executor(own)
        _ACTIVE = None

    async def launch(self) -> None:
        async with self._launch_lock:
            if self._launched:
                return
            config = dbos_config(self.runtime)
            # Migrate off the event loop first: on PostgreSQL DBOS builds its indexes with
            # CREATE INDEX CONCURRENTLY, which waits for every open transaction, including the
            # app's own on this loop, which a launch blocking the loop would never let finish.
            await asyncio.to_thread(migrate_system_database, config)
            DBOS(config={**config, "run_migrations": False})
            # From the event loop's thread: DBOS then runs recovered workflows on this loop,
            # where the app's database connections live.
            DBOS.launch()
            self._launched = True
            await self.workers.adopt_own()

    async def _unfinished(self) -> bool:
        async with self.runtime.sessions() as session:
            found = await session.scalar(
                select(IntakeSession.id)
                .where(IntakeSession.status.in_([SessionStatus.PENDING, SessionStatus.RUNNING]))
                .limit(1)
            )
            return found is not None

    # -- starting runs

    async def begin(
        self,
        session_id: str,
        first: steps.Advance | None = None,
        opened: steps.Opened | None = None,
    ) -> None:
        """Start (or find) the session's durable run. `first`: the claims its start wrote
        (service.start_claimed), which the run takes up without a transaction of its own;
        should DBOS not run it here, its run finds them in the rows as its own."""
        await self.launch()
        workflow_id = session_workflow_id(session_id)
        if first is not None:
            self._first[session_id] = first
            self._opened[session_id] = {} if opened is None else opened
            if first.claim is not None:
                # Its agent runs while DBOS writes the run's start (~1.5-2 ms): the run records it
                # only once DBOS holds the run, so until then the session is pending (a crash
                # leaves it to a poll's run, which takes the claim again; effects by key).
                self._early[session_id] = self._spawn(self._early_call(first.claim))
        self._begun.add(workflow_id)
        try:
            with SetWorkflowID(workflow_id):
                await DBOS.start_workflow_async(run_session, session_id)
        except BaseException:
            # No run begun here takes them up (a poll's run takes the claims from the rows).
            self._first.pop(session_id, None)
            self._early.pop(session_id, None)
            raise

    async def run_beside(
        self, session_id: str, agent: str, attempts: int, *, first: int = 0
    ) -> None:
        await self.launch()
        workflow_id = beside_workflow_id(session_id, agent, attempts)
        await self._start_beside(workflow_id, session_id, agent, first)

    async def _start_beside(
        self, workflow_id: str, session_id: str, agent: str, first: int
    ) -> None:
        with SetWorkflowID(workflow_id):
            await DBOS.start_workflow_async(run_beside, session_id, agent, first)
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

    async def back_off(self, session_id: str, agent: str, failed: str, seconds: float) -> None:
        """Wait out the backoff after try `failed` (`<workflow id>#<n>`): until `seconds` after
        its row handed the step back. Nothing to wait for when the row shows a later try or
        none waiting (a replay after a crash, where that wait was served before)."""
        async with self.runtime.read_sessions() as session:
            found = await rows.read_step(await session.connection(), session_id, agent)
        # The backoff starts when try `failed` handed the step back, if it was the last try made
        # and the step still waits for the next.
        waiting = found is not None and found.status in {S.PENDING, S.QUEUED}
        if found is None or not waiting or found.claimed_by != failed:
            return
        since = as_utc(found.updated_at)
        left = (since - self.runtime.clock()).total_seconds() + seconds
        if left > 0:
            await asyncio.sleep(min(left, seconds))

    async def dead_letter(self, session_id: str, agent: str, workflow: str) -> str:
        """The step's tries (`workflow`'s) ran out. Not a DBOS step: a replay dead-letters it
        again, which changes nothing (only a step still waiting moves) and counts nothing
        twice."""
        moved, board = await steps.dead_letter(
            self.runtime.sessions,
            session_id=session_id,
            agent=agent,
            now=self.runtime.clock(),
            workflow=workflow,
        )
        if moved:
            self.metrics.dead_letters.labels(agent=agent).inc()
            log.error("intake step dead-lettered", session_id=session_id, agent=agent)
        self.publish(board)
        return "dead_letter"

    async def advance(self, session_id: str, run: str) -> tuple[str, str, str]:
        """The session's run from where it stands: each inline step's agent in turn (each under
        the clinical cap), one transaction per step (its result and the next claim together),
        until nothing is left for this run (FINISH, with the session's status) or a try failed
        ("retry", with its agent: the caller backs off durably and tries again)."""
        runtime = self.runtime
        # The claims written with the session's start (begin): its run's first move, taken up
        # without a transaction of its own.
        own = run == steps.session_run(session_id)
        first = self._first.pop(session_id, None) if own else None
        early = self._early.pop(session_id, None) if own else None
        if early is not None:
            await asyncio.wait({early})  # outside the cap: the call holds a turn of its own
        step: steps.Advance | None = None
        while True:
            async with self._gates[False]:
                if step is None:
                    step = first or await steps.advance(
                        runtime.sessions,
                        runtime.keyring,
                        session_id=session_id,
                        run=run,
                        now=runtime.clock(),
                        held=self._held.pop(session_id, []),
                        opened=self._opened.setdefault(session_id, {}),
                    )
                    self._follow(session_id, step)
                if step.move == Move.FINISH:
                    return str(step.move), "", step.status
                if step.claim is None:  # a replay: its try failed before the crash
                    return str(step.move), step.agent, "retry"
                outcome, after = await self._execute(
                    step.claim, beside=False, then=run, early=early if step is first else None
                )
            if after is None:
                return str(step.move), step.agent, outcome
            self._follow(session_id, after)
            step = after

    def _follow(self, session_id: str, step: steps.Advance) -> None:
        """Push the board and begin the first tries that `step` claimed beside the run."""
        if step.board is not None:
            self.publish(step.board)
        for claim in step.beside:
            task = self._spawn(self._first_try(claim))
            self._first_tries.setdefault(session_id, set()).add(task)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task of its own (a fresh context: no part of a DBOS workflow's), awaited at stop."""
        task = asyncio.get_running_loop().create_task(work, context=contextvars.Context())
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)
        return task

    async def _early_call(self, claim: steps.Claim) -> Called:
        """The run's first agent, called from its start as `_execute` calls it: when, and its
        result or what it raised (`_execute` raises it again, and logs and counts it)."""
        async with self._gates[False]:
            started_at, t0 = self.runtime.clock(), time.perf_counter()
            try:
                return started_at, t0, await self._call_agent(claim, beside=False)
            except Exception as exc:  # noqa: BLE001 - handed to _execute, which handles it
                return started_at, t0, exc

    async def _first_try(self, claim: steps.Claim) -> None:
        async with self._gates[True]:
            _outcome, after = await self._execute(claim, beside=True, hold=True)
        if after is not None and after.board is not None:
            self.publish(after.board)

    async def finish_first_tries(self, session_id: str) -> None:
        """Wait for the first tries begun beside the session's run, then, from the step rows
        (the same after a crash, when no task is left), make a first try that was running when
        the process died, and start the retries' workflow of one that failed (a second start
        of it is a no-op). Only then may the session's run end: the tries are in its care."""
        begun = self._first_tries.pop(session_id, set())
        if begun:
            await asyncio.gather(*begun, return_exceptions=True)
        runtime, held = self.runtime, self._held.pop(session_id, [])
        self._opened.pop(session_id, None)
        if held:  # their results, and what is left, in one transaction
            board, left = await steps.record_held(
                runtime.sessions,
                runtime.keyring,
                session_id=session_id,
                held=held,
                now=runtime.clock(),
            )
            self.publish(board)
        else:
            left = await steps.first_tries(runtime.sessions, session_id)
        for agent, workflow_id in left:
            outcome = await self.attempt(session_id, agent, f"{workflow_id}#0", beside=True)
            if outcome == "retry":
                # Not a child of the session's run (its start would cost it two checkpoints).
                start = self._start_beside(workflow_id, session_id, agent, 1)
                await asyncio.get_running_loop().create_task(start, context=contextvars.Context())

    async def attempt(self, session_id: str, agent: str, run: str, *, beside: bool) -> str:
        """ "finished" (done, needs review, or not this run's to do) or "retry"."""
        async with self._gates[beside]:
            return await self._attempt(session_id, agent, run, beside=beside)

    async def _attempt(self, session_id: str, agent: str, run: str, *, beside: bool) -> str:
        runtime = self.runtime
        claim = await steps.claim(
            runtime.sessions,
            runtime.keyring,
            session_id=session_id,
            agent=agent,
            run=run,
            now=runtime.clock(),
            opened=self._opened.get(session_id),
        )
        if isinstance(claim, str):
            return claim
        if claim.board is not None:
            self.publish(claim.board)
        outcome, after = await self._execute(claim, beside=beside)
        if after is not None and after.board is not None:
            self.publish(after.board)
        return outcome

    async def _execute(
        self,
        claim: steps.Claim,
        *,
        beside: bool,
        then: str | None = None,
        hold: bool = False,
        early: asyncio.Task[Called] | None = None,
    ) -> tuple[str, steps.Advance | None]:
        """Run the claimed step's agent once (or take `early`'s call of it) and record what
        happened: ("finished", what the record returned: with `then`, the run's next step,
        claimed in the same transaction) or ("retry", None). `hold` (a first try beside the
        session's run): a result is left for the run's next write. The run's own writes (not
        `beside`) write what it holds."""
        runtime = self.runtime
        session_id, agent = str(claim.step.session_id), claim.step.agent
        started_at, t0 = runtime.clock(), time.perf_counter()
        implementation = self.agents.get(agent)
        result: StepOutput | None = None
        outcome: str
        try:
            if early is not None:
                started_at, t0, called = await early
                if isinstance(called, Exception):
                    raise called
                result = called
            else:
                result = await self._call_agent(claim, beside=beside)
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
        held = [] if beside else self._held.pop(session_id, [])
        if result is not None and hold:
            done = steps.Held(claim, version, result, started_at, elapsed * 1000, runtime.clock())
            self._held.setdefault(session_id, []).append(done)
            return "finished", None
        if result is not None:
            after = await steps.record_result(
                runtime.sessions,
                runtime.keyring,
                claim_=claim,
                agent_version=version,
                result=result,
                started_at=started_at,
                duration_ms=elapsed * 1000,
                now=runtime.clock(),
                then=then,
                held=held,
                opened=self._opened.get(session_id),
            )
            return "finished", after
        self.metrics.failures.labels(agent=agent).inc()
        # The class name only: an exception's message may carry patient data.
        log.warning("intake step failed", session_id=session_id, agent=agent, error=error)
        board = await steps.record_failure(
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
            held=held,
        )
        self.publish(board)
        return "retry", None

    async def _call_agent(self, claim: steps.Claim, *, beside: bool) -> StepOutput:
        implementation = self.agents.get(claim.step.agent)
        if implementation is None:
            raise LookupError(f"no agent named {claim.step.agent}")
        return await self._call(implementation, claim, beside=beside)

    async def _call(self, agent: Agent, claim: steps.Claim, *, beside: bool) -> StepOutput:
        policy = self.policy(agent.name, beside=beside)

        async def run() -> StepOutput:
            async with asyncio.timeout(policy.timeout):  # wait_for made a task per call
                return await agent.run(claim.step, self.deps)

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
        """Read the session and push it (after a change made outside the engine's runs)."""
        if self.runtime.find(Hub) is None:
            return
        async with self.runtime.read_sessions() as session:
            row = await session.get(IntakeSession, session_id)
            if row is None:
                return
            board = steps.board_of(row, await steps.load_steps(session, session_id))
        self.publish(board)

    def publish(self, board: steps.Board) -> None:
        """Push a session's steps, from rows a run already holds (no read)."""
        hub = self.runtime.find(Hub)
        if hub is None:
            return
        data = board.data()
        hub.publish(BOARD_CHANNEL, "intake.session", data)
        hub.publish(f"{BOARD_CHANNEL}:{board.session_id}", "intake.session", data)
