"""Dispatch's reactions to other domains' events: a new or newly triaged incident without a unit
gets a ranked unit list; a cancelled or closed incident's units are released; a crew's assignment
is pushed to its unit's channel whenever the unit or its call changes. (A GPS fix moving a unit
is telemetry's reaction, through the hook dispatch exports: `record_device_position`.)"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import DomainError, NotFound, ValidationFailed
from emsync.core.events import Event
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.dispatch import crew_service, recommendation, service
from emsync.dispatch.crew import CrewCheck
from emsync.dispatch.events import (
    DestinationChosen,
    DispatchRecommended,
    UnitAssigned,
    UnitStatusChanged,
    UnitUpdated,
)
from emsync.incidents import IncidentStatus, unit_channel
from emsync.incidents.events import (
    IncidentCreated,
    IncidentStatusChanged,
    IncidentUpdated,
    PatientAdded,
)
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


async def push_crew_assignment(
    runtime: Runtime, event: UnitAssigned | UnitStatusChanged | UnitUpdated | DestinationChosen
) -> None:
    """A unit assigned, moved or sent to a hospital: its crew's new picture, live."""
    await _push_assignments(runtime, [event.unit_id])


async def push_crew_assignment_of_incident(
    runtime: Runtime, event: IncidentUpdated | IncidentStatusChanged | PatientAdded
) -> None:
    """The call changed (address, patients, status): every crew on it sees the change."""
    async with runtime.sessions() as session:
        units = await crew_service.units_on(session=session, incident_id=event.incident_id)
    await _push_assignments(runtime, units)


async def _push_assignments(runtime: Runtime, unit_ids: Sequence[str]) -> None:
    """Each unit's assignment (`CrewAssignment`, as GET /api/crew/assignment returns it to its
    crew) to `incidents:unit:<unit_id>`: only that unit's crew may subscribe."""
    hub = runtime.get(Hub)
    unit_ids = [u for u in unit_ids if hub.listened(unit_channel(u))]
    if not unit_ids:
        return  # no crew of these units is connected
    try:
        road_map = await runtime.get(RoadMapService).current()
    except DomainError:  # the map failed to load: the crew still sees the call (route_problem)
        road_map = None
    async with runtime.sessions() as session:
        for unit_id in unit_ids:
            try:
                view = await crew_service.assignment(
                    session=session,
                    keyring=runtime.keyring,
                    engine=None if road_map is None else road_map.engine,
                    unit_id=unit_id,
                )
            except NotFound:
                continue  # deleted meanwhile
            hub.publish(unit_channel(unit_id), "assignment", view.model_dump(mode="json"))
