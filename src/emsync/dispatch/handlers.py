"""Dispatch's reactions to other domains' events: a new or newly triaged incident without a unit
gets a ranked unit list; a cancelled or closed incident's units are released. (A GPS fix moving
a unit is telemetry's reaction, through the hook dispatch exports: `record_device_position`.)"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import NotFound, ValidationFailed
from emsync.core.events import Event
from emsync.core.runtime import Runtime
from emsync.dispatch import recommendation, service
from emsync.dispatch.crew import CrewCheck
from emsync.dispatch.events import DispatchRecommended
from emsync.incidents import IncidentStatus
from emsync.incidents.events import IncidentCreated, IncidentStatusChanged
from emsync.maps import RoadMapService
from emsync.triage.events import PatientTriaged

log = structlog.get_logger("emsync.dispatch")
TOP = 5


async def recommend_for_new_incident(runtime: Runtime, event: IncidentCreated) -> None:
    await _recommend_when_unassigned(runtime, event.incident_id, trigger=event.name)


async def recommend_after_triage(runtime: Runtime, event: PatientTriaged) -> None:
    await _recommend_when_unassigned(runtime, event.incident_id, trigger=event.name)


async def _recommend_when_unassigned(runtime: Runtime, incident_id: str, *, trigger: str) -> None:
    """For an incident without a unit: rank the units and push the list to dispatchers."""
    road_map = await runtime.get(RoadMapService).current()
    if road_map is None:
        return
    async with runtime.sessions() as session:
        if await recommendation.incident_has_unit(session=session, incident_id=incident_id):
            return
        try:
            ranking = await recommendation.rank_incident(
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


# A call ends by cancellation or by closing; either way no unit should stay tied to it.
_ENDED = frozenset({IncidentStatus.CANCELLED.value, IncidentStatus.CLOSED.value})


async def release_units_when_call_ends(
    runtime: Runtime, session: AsyncSession, event: IncidentStatusChanged
) -> Sequence[Event]:
    """In the cancelling or closing transaction: its units return to available with it, or
    neither (a closed call's unit left 'on scene' would drop out of every recommendation)."""
    if event.new not in _ENDED:
        return ()
    return await service.release_units_of_ended_call(
        session=session, incident_id=event.incident_id, actor=event.actor, now=runtime.clock()
    )
