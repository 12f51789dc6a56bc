"""A durable event delivered by the process that committed it (the in-process transport) reaches
its reactions as its unit of work recorded it: not sealed, opened and decoded again in between.
An event delivered later (the relay's catch-up, a redelivery) is opened from its payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
from fastapi import FastAPI

from emsync.core import outbox
from emsync.core.crypto import KeyringError
from emsync.core.events import Event
from emsync.core.runtime import Runtime
from emsync.core.transport import Relay
from emsync.core.uow import UnitOfWork

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeHappened(Event):
    name: ClassVar[str] = "test.probe_happened"
    probe_id: str
    marks: tuple[str, ...]


def _subscribe(runtime: Runtime) -> list[ProbeHappened]:
    seen: list[ProbeHappened] = []

    async def react(event: ProbeHappened) -> None:
        seen.append(event)

    runtime.bus.subscribe(ProbeHappened, react, durable=True, name="test.probe")
    return seen


@sqlite_only  # the in-process transport (PostgreSQL's tests run RabbitMQ's)
async def test_a_committed_event_reaches_its_durable_reaction_as_recorded(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    seen = _subscribe(runtime)
    event = ProbeHappened(probe_id="p-1", marks=("a", "b"))
    async with runtime.sessions() as session:
        uow = UnitOfWork(session, runtime.bus)
        uow.record(event)
        await uow.commit()
    assert len(seen) == 1
    assert seen[0] is event  # the recorded object: nothing opened or decoded for it


@sqlite_only
async def test_an_event_delivered_later_is_opened_from_its_payload(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    seen = _subscribe(runtime)
    durability = runtime.get(Relay).durability
    event = ProbeHappened(probe_id="p-2", marks=("c",))
    sealed = durability.seal(event)
    await durability.deliver(sealed, redelivery=False)
    assert seen == [event]
    assert seen[0] is not event  # equal, decoded from the sealed payload
    # And a payload that does not open is not delivered as some event in hand.
    forged = outbox.SealedEvent(sealed.event_id, sealed.event_type, sealed.payload_sealed[:-1])
    with pytest.raises(KeyringError):
        await durability.deliver(forged, redelivery=False)
    assert len(seen) == 1
