"""Hospitals' reaction to the road map (not an event of the bus: the map loads once, when the
process starts or first routes): the map's hospitals join the registry."""

from __future__ import annotations

from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.hospitals import service
from emsync.routing import RoadMap


async def import_map_hospitals(runtime: Runtime, road_map: RoadMap) -> None:
    """Hospitals the loaded map knows and the registry does not yet: added, never overwriting."""
    async with runtime.sessions() as session:
        await service.import_map_hospitals(
            uow=UnitOfWork(session, runtime.bus),
            hospitals=road_map.hospitals,
            actor="system:map-import",
            now=runtime.clock(),
        )
