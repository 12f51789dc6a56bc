"""Intake's reactions to other domains' events (registered in bootstrap.REACTIONS)."""

from __future__ import annotations

from emsync.core.runtime import Runtime
from emsync.handoffs.events import HandoffStatusChanged
from emsync.intake import service
from emsync.intake.agents import AGENTS
from emsync.intake.engine import IntakeEngine

ARRIVED = "arrived"


async def start_emergency_on_arrival(runtime: Runtime, event: HandoffStatusChanged) -> None:
    """An ambulance patient at the door: an `emergency` session with the handoff's ids (the
    agents read its sealed content). Once per handoff, however often the event is delivered."""
    if event.new != ARRIVED:
        return
    engine = runtime.find(IntakeEngine)
    agents = engine.agents if engine is not None else AGENTS
    running = engine is not None and engine.running
    async with runtime.sessions() as session:
        started = await service.start_claimed(
            session=session,
            keyring=runtime.keyring,
            workflow="emergency",
            payload={
                "handoff_id": event.handoff_id,
                "incident_id": event.incident_id,
                "unit_id": event.unit_id,
                "arrival_mode": "public_ambulance",
            },
            clinical={name: agent.clinical for name, agent in agents.items()},
            actor=None,
            hospital_id=event.hospital_id,
            now=runtime.clock(),
            source_key=f"handoff:{event.handoff_id}",
            claim=running,
        )
    if engine is not None and running:
        await engine.begin(started.row.id, started.first, started.opened)
