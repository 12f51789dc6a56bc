"""In-transaction reactions on both databases: an isolated one (the default) fails alone in its
savepoint and the cause commits; one with `isolated=False` runs without a savepoint and its
failure fails the cause, so nothing of it commits. Savepoints are sent as plain SQL
(`core.db.savepoints_as_plain_sql`) and still roll back what they cover."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.permissions import Role
from emsync.core.events import Event
from emsync.core.reactions import Stage, on
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.incidents.models import IncidentDestination
from tests.builders import auth_headers, incident_body


@dataclass(frozen=True, slots=True, kw_only=True)
class Probed(Event):
    name = "test.probed"
    incident_id: str


def destination(incident_id: str, source: str) -> IncidentDestination:
    return IncidentDestination(
        incident_id=incident_id, source=source, hospital_id="hosp-probe", at=datetime.now(UTC)
    )


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_statement(*args: Any) -> None:
        seen.append(str(args[2]).split()[0].upper())

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)


async def destinations(runtime: Runtime, incident_id: str) -> list[str]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(IncidentDestination.source).where(IncidentDestination.incident_id == incident_id)
        )
        return sorted(rows)


async def _incident(app: FastAPI, client: httpx.AsyncClient) -> str:
    """An incident for the destinations to refer to (their foreign key)."""
    crew = await auth_headers(app, client, Role.DISPATCHER)
    created = await client.post("/api/incidents", json=incident_body(), headers=crew)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_an_isolated_reaction_fails_alone_and_one_with_its_cause_fails_the_cause(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime = app.state.runtime
    bus = runtime.bus

    async def records(session: AsyncSession, probe: Probed) -> Sequence[Event]:
        session.add(destination(probe.incident_id, "with-cause"))
        await session.flush()
        return ()

    async def breaks(session: AsyncSession, probe: Probed) -> Sequence[Event]:
        session.add(destination(probe.incident_id, "isolated"))
        await session.flush()
        raise RuntimeError("bug in an isolated reaction")

    bus.subscribe_in_transaction(Probed, records, isolated=False)
    bus.subscribe_in_transaction(Probed, breaks)
    incident_id = await _incident(app, client)

    # The isolated reaction's failure rolls back its own write only, in its savepoint (sent as
    # plain SQL), is dead-lettered, and the cause commits with the other reaction's write.
    with statements(runtime) as seen:
        async with runtime.sessions() as session:
            uow = UnitOfWork(session, bus)
            uow.record(Probed(incident_id=incident_id))
            await uow.commit()
    assert await destinations(runtime, incident_id) == ["with-cause"]
    assert seen.count("SAVEPOINT") == 1
    assert seen.count("ROLLBACK") == 1
    assert bus.dead_letters[-1].error == "RuntimeError('bug in an isolated reaction')"


async def test_a_reaction_with_its_cause_that_fails_fails_the_cause(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime = app.state.runtime
    bus = runtime.bus

    async def breaks(session: AsyncSession, probe: Probed) -> Sequence[Event]:
        session.add(destination(probe.incident_id, "with-cause"))
        await session.flush()
        raise RuntimeError("the cause must not commit without this")

    bus.subscribe_in_transaction(Probed, breaks, isolated=False)
    incident_id = await _incident(app, client)
    dead_before = len(bus.dead_letters)
    with statements(runtime) as seen:
        async with runtime.sessions() as session:
            uow = UnitOfWork(session, bus)
            session.add(destination(incident_id, "the-cause"))  # the cause's own write
            uow.record(Probed(incident_id=incident_id))
            with pytest.raises(RuntimeError, match="must not commit"):
                await uow.commit()
    assert await destinations(runtime, incident_id) == []  # neither the cause nor the reaction
    assert "SAVEPOINT" not in seen
    assert len(bus.dead_letters) == dead_before  # the failure is the cause's, not a dead letter


def test_only_a_reaction_in_the_transaction_can_fail_its_cause() -> None:
    async def after(_runtime: Runtime, _event: Probed) -> None:
        return None

    with pytest.raises(ValueError, match="cause"):
        on(Probed, run=after, isolated=False)
    assert on(Probed, run=after, stage=Stage.IN_TRANSACTION, isolated=False).policy.endswith(
        "a failure fails the cause"
    )
