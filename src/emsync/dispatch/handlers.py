"""Dispatch's reactions to other domains' events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from emsync.core.errors import NotFound, ValidationFailed
from emsync.core.runtime import Runtime
from emsync.dispatch import service
from emsync.dispatch.crew import CrewCheck
from emsync.dispatch.events import DispatchRecommended
from emsync.dispatch.roadmap import RoadMapService

log = structlog.get_logger("emsync.dispatch")
TOP = 5


def recommend_when_unassigned(
    runtime: Runtime, *, trigger: str
) -> Callable[[str], Awaitable[None]]:
    """For an incident without a unit: rank the units and push the list to dispatchers."""

    async def react(incident_id: str) -> None:
        road_map = await runtime.get(RoadMapService).current()
        if road_map is None:
            return
        async with runtime.sessions() as session:
            if await service.incident_has_unit(session=session, incident_id=incident_id):
                return
            try:
                ranking = await service.rank_incident(
                    session=session,
                    engine=road_map.engine,
                    incident_id=incident_id,
                    crew=runtime.find(CrewCheck),
                    at=runtime.clock(),
                )
            except (ValidationFailed, NotFound) as error:
                # No coordinates yet, or off the map: the dispatcher sees the call without a list.
                log.info("no dispatch recommendation", incident_id=incident_id, why=error.detail)
                return
        await runtime.bus.publish(
            DispatchRecommended(
                incident_id=incident_id,
                urgency=ranking.urgency,
                trigger=trigger,
                ranked=tuple(
                    {
                        "unit_id": r.unit_id,
                        "call_sign": r.call_sign,
                        "unit_type": r.unit_type.value,
                        "rank": r.rank,
                        "eta_s": None if r.eta_s is None else round(r.eta_s, 1),
                        "reason": r.reason,
                    }
                    for r in ranking.ranked_units(TOP)
                ),
                excluded_count=len(ranking.rows.excluded),
            )
        )

    return react
