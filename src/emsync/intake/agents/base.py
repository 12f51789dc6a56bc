"""The contract between the intake orchestrator and its eight agents.

The orchestrator (intake.engine) owns sessions, retries, timeouts and circuit breakers; an agent
owns one step's work. An agent is a small class with a pure core (a function from plain values
to a result and its `Decision`s) and an I/O shell (`run`) that reads what the core needs and
writes the step's effects. Every outbound effect an agent writes (a legal case, a booking, a
bed assignment, a notification) carries `step.idempotency_key` under a unique constraint, so a
run repeated after a crash finds its earlier effect and creates nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.core.clock import Clock
from emsync.core.crypto import Keyring
from emsync.core.events import EventBus
from emsync.core.settings import Settings
from emsync.core.uow import UnitOfWork

T = TypeVar("T")

Outcome = Literal["done", "needs_review"]


@dataclass(frozen=True)
class StepInput:
    """One step of one session, as the orchestrator hands it to the agent."""

    session_id: UUID
    workflow: str
    agent: str
    # The session's input: an arrival's handoff id, person fields, complaint, vitals, device id.
    payload: Mapping[str, Any]
    # Outputs of the session's earlier completed steps, by agent name.
    previous: Mapping[str, Mapping[str, Any]]
    # f"{session_id}:{agent}": every outbound effect is stored under it (unique constraint).
    idempotency_key: str
    # Who started the session (an account id) when a person did; None for an automatic arrival.
    actor: str | None = None
    # The hospital whose ED receives the patient (bed board, capacity, on-call staff).
    hospital_id: str | None = None

    @staticmethod
    def key_for(session_id: UUID, agent: str) -> str:
        return f"{session_id}:{agent}"


@dataclass(frozen=True)
class Decision:
    """One explainable decision: the rule or model (and its version) and exactly the inputs
    it looked at, so a reviewer can replay it."""

    rule: str
    version: str
    inputs: Mapping[str, Any]
    result: str


@dataclass(frozen=True)
class StepOutput:
    """`done`, or `needs_review` when a person must look (an unmatched patient, a conflict)."""

    outcome: Outcome
    output: dict[str, Any]
    decisions: list[Decision] = field(default_factory=list)


@dataclass(frozen=True)
class AgentDeps:
    """What agents need from the running app; built once from the Runtime by `from_runtime`.

    `services` is the Runtime's typed service lookup (the telemetry device cache, the person
    index...), so agents reach the same instances as the rest of the app.
    """

    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    settings: Settings
    keyring: Keyring
    clock: Clock
    services: ServiceLookup | None = None

    def uow(self, session: AsyncSession) -> UnitOfWork:
        """A unit of work on `session` whose events go to the app's bus after commit."""
        return UnitOfWork(session, self.bus)

    def find(self, kind: type[T]) -> T | None:
        return None if self.services is None else self.services.find(kind)

    @classmethod
    def from_runtime(cls, runtime: RuntimeLike) -> AgentDeps:
        return cls(
            sessions=runtime.sessions,
            bus=runtime.bus,
            settings=runtime.settings,
            keyring=runtime.keyring,
            clock=runtime.clock,
            services=runtime,
        )


class ServiceLookup(Protocol):
    def find(self, kind: type[T]) -> T | None: ...


class RuntimeLike(ServiceLookup, Protocol):
    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def bus(self) -> EventBus: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def keyring(self) -> Keyring: ...
    @property
    def clock(self) -> Clock: ...


class Agent(Protocol):
    """One of the eight intake agents. `clinical` agents are on the emergency path: the
    orchestrator never lets a non-clinical one (legal, billing, communication, scheduling)
    block them."""

    name: str
    clinical: bool
    version: str

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput: ...
