"""What other domains may read of incidents without their personal fields: where an incident is,
how urgent, its status; and the site read model dispatch joins with its units. Reads only: a
change goes through the incidents service (`transition`, `record_triage`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Row, Subquery, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.incidents.lifecycle import IncidentStatus
from emsync.incidents.models import Incident, Patient

_CLOSED = {IncidentStatus.CLOSED, IncidentStatus.CANCELLED}


@dataclass(frozen=True, slots=True)
class IncidentPoint:
    """An incident on the map: no caller, callback number or notes."""

    id: str
    number: int
    status: IncidentStatus
    priority: int
    chief_complaint: str
    lat: float | None
    lon: float | None
    mci: bool


_POINT = select(
    Incident.id,
    Incident.number,
    Incident.status,
    Incident.priority,
    Incident.chief_complaint,
    Incident.lat,
    Incident.lon,
    Incident.mci,
)


def _point(
    row: Row[str, int, str, int, str, float | None, float | None, bool],
) -> IncidentPoint:
    return IncidentPoint(
        id=row.id,
        number=row.number,
        status=IncidentStatus(row.status),
        priority=row.priority,
        chief_complaint=row.chief_complaint,
        lat=row.lat,
        lon=row.lon,
        mci=bool(row.mci),
    )


async def incident_point(*, session: AsyncSession, incident_id: str) -> IncidentPoint | None:
    row = (await session.execute(_POINT.where(Incident.id == incident_id))).first()
    return None if row is None else _point(row)


async def incident_status(*, session: AsyncSession, incident_id: str) -> IncidentStatus | None:
    status = await session.scalar(select(Incident.status).where(Incident.id == incident_id))
    return None if status is None else IncidentStatus(status)


async def open_incident_points(*, session: AsyncSession) -> list[IncidentPoint]:
    """Incidents not closed or cancelled that have coordinates, by number."""
    rows = await session.execute(
        _POINT.where(
            Incident.status.in_([s.value for s in IncidentStatus if s not in _CLOSED]),
            Incident.lat.is_not(None),
            Incident.lon.is_not(None),
        ).order_by(Incident.number)
    )
    return [_point(r) for r in rows]


def site_of(incident_id: ColumnElement[str] | str) -> Subquery:
    """The incident's site as a one-row subquery (`priority`, `lat`, `lon`, and `acuity`: the
    most urgent triaged patient's, or NULL), for a caller that joins it in its own query (the
    dispatch recommendation reads it beside every unit in one round trip)."""
    incident_id = incident_id if isinstance(incident_id, ColumnElement) else literal(incident_id)
    acuity = (
        select(func.min(Patient.acuity)).where(Patient.incident_id == incident_id)
    ).scalar_subquery()
    return (
        select(Incident.priority, Incident.lat, Incident.lon, acuity.label("acuity"))
        .where(Incident.id == incident_id)
        .subquery("incident_site")
    )
