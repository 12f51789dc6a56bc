"""Dispatch's map layers: units, open incidents, and the positions routes and coverage start
from (GeoJSON, no personal fields)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from emsync import hospitals, incidents
from emsync.core.clock import as_utc
from emsync.core.errors import NotFound
from emsync.dispatch.lifecycle import UnitStatus
from emsync.dispatch.recommendation import no_coordinates
from emsync.dispatch.service import list_units, load_unit, unit_position
from emsync.routing import (
    LatLon,
)

IncidentStatus = incidents.IncidentStatus
F64 = npt.NDArray[np.float64]


# ---- map layers -------------------------------------------------------------------------------


async def incident_position(*, session: AsyncSession, incident_id: str) -> LatLon:
    point = await incidents.incident_point(session=session, incident_id=incident_id)
    if point is None:
        raise NotFound(f"incident {incident_id} does not exist")
    if point.lat is None or point.lon is None:
        raise await no_coordinates(session, incident_id)
    return LatLon(point.lat, point.lon)


async def hospital_position(*, session: AsyncSession, hospital_id: str) -> LatLon:
    position = await hospitals.hospital_position(session=session, hospital_id=hospital_id)
    if position is None:
        raise NotFound(f"hospital {hospital_id} does not exist")
    return LatLon(*position)


def _feature(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


async def units_geojson(*, session: AsyncSession) -> dict[str, Any]:
    """Every unit at its last fix (or its station, `at_station: true`) as GeoJSON points."""
    features = []
    for u in await list_units(session=session):
        position, at_station = unit_position(u)
        features.append(
            _feature(
                position.lon,
                position.lat,
                {
                    "id": u.id,
                    "call_sign": u.call_sign,
                    "unit_type": u.unit_type,
                    "status": u.status,
                    "incident_id": u.incident_id,
                    "heading": u.heading,
                    "position_at": None if u.position_at is None else as_utc(u.position_at),
                    "at_station": at_station,
                },
            )
        )
    return {"type": "FeatureCollection", "features": features}


async def incidents_geojson(*, session: AsyncSession) -> dict[str, Any]:
    """Open incidents with coordinates as GeoJSON points (no personal fields)."""
    features = [
        _feature(
            p.lon,
            p.lat,
            {
                "id": p.id,
                "number": p.number,
                "status": p.status.value,
                "priority": p.priority,
                "chief_complaint": p.chief_complaint,
                "mci": p.mci,
            },
        )
        for p in await incidents.open_incident_points(session=session)
        if p.lat is not None and p.lon is not None
    ]
    return {"type": "FeatureCollection", "features": features}


# Statuses at which a unit has left its station for the scene and (later) the hospital.
AT_SCENE_OR_LATER = frozenset(
    {UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL}
)


async def unit_origin(*, session: AsyncSession, unit_id: str) -> LatLon:
    """Where a route for this unit starts: its GPS fix; without one, the scene once the crew has
    reported itself there (not the station it left), else its station."""
    unit = await load_unit(session, unit_id)
    if unit.lat is None and unit.incident_id and UnitStatus(unit.status) in AT_SCENE_OR_LATER:
        return await incident_position(session=session, incident_id=unit.incident_id)
    return unit_position(unit)[0]


async def available_positions(*, session: AsyncSession) -> list[LatLon]:
    return [
        unit_position(u)[0]
        for u in await list_units(session=session, statuses=[UnitStatus.AVAILABLE])
    ]
