"""A process that commits an incident and is SIGKILLed on the way (test_durable_events.py).

`python -m tests.integration.core.durable_child SPEC_JSON` where SPEC is
{"database_url", "data_dir", "events": {...settings.events...}, "kill": "before-relay" |
"after-handler"}:

- before-relay: killed between the incident's commit (its IncidentCreated in the outbox) and the
  relay handing it to the transport;
- after-handler: the test reaction `test.mark` commits its marker row (and its delivery record)
  and the process is killed before the reaction returns: nothing relayed or acknowledged.

It exits 3 if it was not killed within a minute (the test then fails on the exit code).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from asgi_lifespan import LifespanManager
from sqlalchemy import text

from emsync.bootstrap import create_app
from emsync.core.outbox import SealedEvent
from emsync.core.runtime import Runtime
from emsync.core.transport import Relay
from emsync.core.uow import UnitOfWork
from emsync.incidents import service as incidents
from emsync.incidents.events import IncidentCreated
from emsync.incidents.schemas import IncidentCreate
from tests.conftest import make_settings

MARKS = "durable_test_marks"
MARKER = "test.mark"


def install_marker(runtime: Runtime, *, kill_after_commit: bool = False) -> None:
    """A durable reaction to IncidentCreated that writes one row per run, in a unit of work (its
    delivery record commits with the row), as a domain's reaction would."""

    async def mark(event: IncidentCreated) -> None:
        async with runtime.sessions() as session:
            uow = UnitOfWork(session, runtime.bus)
            await session.execute(
                text(f"INSERT INTO {MARKS} (incident_id) VALUES (:id)"),  # noqa: S608
                {"id": event.incident_id},
            )
            await uow.commit()
        if kill_after_commit:
            os.kill(os.getpid(), signal.SIGKILL)

    runtime.bus.subscribe(IncidentCreated, mark, durable=True, name=MARKER)


async def commit_incident(runtime: Runtime) -> str:
    async with runtime.sessions() as session:
        read = await incidents.create_incident(
            uow=UnitOfWork(session, runtime.bus),
            keyring=runtime.keyring,
            data=IncidentCreate(chief_complaint="chest pain", priority=1, lat=60.17, lon=24.94),
            actor="durable-test",
            now=runtime.clock(),
        )
    return read.id


async def main(spec: dict[str, object]) -> int:
    settings = make_settings(
        str(spec["database_url"]), Path(str(spec["data_dir"])), events=spec["events"]
    )
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    install_marker(runtime, kill_after_commit=spec["kill"] == "after-handler")
    if spec["kill"] == "before-relay":

        async def die(_sealed: Sequence[SealedEvent]) -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        runtime.get(Relay).committed = die  # type: ignore[method-assign]
    async with LifespanManager(app, startup_timeout=120):
        await commit_incident(runtime)
        # The RabbitMQ consumer runs the reaction in its own task: wait for the kill there.
        try:
            await asyncio.wait_for(asyncio.Event().wait(), timeout=60)
        except TimeoutError:
            return 3
    return 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main(json.loads(sys.argv[1]))))
