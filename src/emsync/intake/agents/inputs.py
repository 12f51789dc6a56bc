"""A step's input with what the session points to read in: an arrival started from a handoff
carries only its ids (the orchestrator keeps the session payload small and free of copies of
sealed records), so the agents read the handoff here, as the receiving hospital sees it.
"""

from __future__ import annotations

from dataclasses import replace

from emsync.core.errors import NotFound
from emsync.handoffs.public import arrival_record
from emsync.intake.agents import arrival
from emsync.intake.agents.base import AgentDeps, StepInput


async def expanded(step: StepInput, deps: AgentDeps) -> StepInput:
    """The step with the handoff's facts under its own payload (its own values win); the step
    unchanged when there is no handoff, or it is gone (the agents then work with what is
    given and say what is missing)."""
    handoff_id = arrival.text_field(step.payload, "handoff_id")
    if handoff_id is None:
        return step
    async with deps.sessions() as session:
        try:
            record = await arrival_record(
                session=session, keyring=deps.keyring, handoff_id=handoff_id
            )
        except NotFound:
            return step
    derived = arrival.from_handoff(record.model_dump(mode="json"))
    return replace(step, payload=arrival.merged(step.payload, derived))
