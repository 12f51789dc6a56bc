"""The dispatch recommendation: every unit ranked or excluded for an incident by road ETA, in
one database round trip, one snap per unit position and one many-to-one road query."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from emsync import incidents
from emsync.core.crypto import Keyring
from emsync.core.errors import NotFound, ValidationFailed
from emsync.dispatch.crew import CrewCheck
from emsync.dispatch.lifecycle import UnitStatus
from emsync.dispatch.models import Unit
from emsync.dispatch.ranking import (
    RankedRows,
    RankedUnit,
    UnitColumns,
    UnitType,
    rank_rows,
    urgency_of,
)
from emsync.dispatch.schemas import (
    RecommendationRead,
)
from emsync.routing import (
    LatLon,
    RoutingEngine,
)

IncidentStatus = incidents.IncidentStatus
F64 = npt.NDArray[np.float64]


# ---- recommendation ---------------------------------------------------------------------------


async def no_coordinates(session: AsyncSession, incident_id: str) -> ValidationFailed:
    """The error for an incident known only by its address, in the dispatcher's words (its
    number, not its id) and saying how to fix it."""
    point = await incidents.incident_point(session=session, incident_id=incident_id)
    number = f"#{point.number}" if point is not None else "this incident"
    return ValidationFailed(
        f"incident {number} has only an address, no map position yet: click its place on "
        "the map (or set lat/lon) so units and hospitals can be ranked by road time",
        incident_id=incident_id,
    )


@dataclass(frozen=True, slots=True)
class IncidentSite:
    id: str
    position: LatLon
    urgency: int


async def incident_site(
    *, session: AsyncSession, keyring: Keyring, incident_id: str
) -> IncidentSite:
    """Where the incident is and how urgent (priority and triaged patients' acuity).

    One read of the incident's position and its patients' acuity, no personal fields, so the
    recommendation costs one round trip here (`keyring` is unused; kept for callers' symmetry).
    """
    del keyring
    site = incidents.site_of(incident_id)
    row = (await session.execute(select(site))).first()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    if row.lat is None or row.lon is None:
        raise await no_coordinates(session, incident_id)
    urgency = urgency_of(int(row.priority), [row.acuity])
    return IncidentSite(incident_id, LatLon(float(row.lat), float(row.lon)), urgency)


# The recommendation's one read: the incident's site (incidents' read model: position,
# priority, most urgent acuity) beside every unit's ranking columns (no ORM objects). The outer
# join keeps the site row when there are no units.
_units = Unit.__table__
_site = incidents.site_of(bindparam("incident_id"))
_SITE_AND_UNITS = (
    select(
        _units.c.id,
        _units.c.call_sign,
        _units.c.unit_type,
        _units.c.status,
        _units.c.lat,
        _units.c.lon,
        _units.c.station_lat,
        _units.c.station_lon,
        _site.c.priority,
        _site.c.lat,
        _site.c.lon,
        _site.c.acuity,
    )
    .select_from(_site.outerjoin(_units, true()))
    .order_by(_units.c.call_sign)
)


@dataclass(frozen=True, slots=True)
class UnitRanking:
    """Every unit ranked or excluded for an incident, as columns and row numbers."""

    site: IncidentSite
    units: UnitColumns
    rows: RankedRows

    @property
    def urgency(self) -> int:
        return self.rows.urgency

    def ranked_units(self, limit: int | None = None) -> list[RankedUnit]:
        """The first `limit` ranked units (all when None) as values."""
        u, rows = self.units, self.rows
        return [
            RankedUnit(
                u.unit_id[i],
                u.call_sign[i],
                UnitType(u.unit_type[i]),
                UnitStatus(u.status[i]),
                float(u.eta_s[i]),
                n,
                reason,
            )
            for n, (i, reason) in enumerate(
                zip(rows.ranked[:limit], rows.ranked_reasons[:limit], strict=True), start=1
            )
        ]


def _etas(
    engine: RoutingEngine, site: IncidentSite, lat: F64, lon: F64
) -> tuple[F64, list[str | None]]:
    """Road seconds from each position to the incident, each snapped once; a position off
    the map gets inf and its reason instead of failing the others."""
    try:
        destination = engine.snap(site.position)
    except NotFound as error:
        raise ValidationFailed(f"incident {site.id} is off the road map: {error.detail}") from error
    snaps = engine.locate(lat, lon)
    problems: list[str | None] = [None] * lat.shape[0]
    for i in np.flatnonzero(~snaps.found).tolist():
        reason = engine.off_map_reason(float(lat[i]), float(lon[i]))
        problems[i] = f"position is off the road map ({reason})"
    return engine.travel_times_to_snapped(snaps, destination), problems


async def rank_incident(
    *,
    session: AsyncSession,
    engine: RoutingEngine,
    incident_id: str,
    crew: CrewCheck | None = None,
    at: datetime | None = None,
) -> UnitRanking:
    """Every unit ranked or excluded for the incident by road ETA: one database round trip,
    one snap per unit position, one many-to-one query, the rules over columns."""
    result = await session.execute(_SITE_AND_UNITS, {"incident_id": incident_id})
    rows = result.all()
    if not rows:
        raise NotFound(f"incident {incident_id} does not exist")
    first = rows[0]
    priority, site_lat, site_lon, acuity = first[8:]
    if site_lat is None or site_lon is None:
        raise await no_coordinates(session, incident_id)
    site = IncidentSite(
        incident_id, LatLon(float(site_lat), float(site_lon)), urgency_of(int(priority), [acuity])
    )
    if first[0] is None:  # the outer join's row when there are no units
        rows = []
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    unit_id, call_sign, unit_type, status, lat_col, lon_col, station_lat, station_lon = columns[:8]
    fix_lat = np.array(lat_col, dtype=np.float64)  # None (no GPS fix yet) becomes NaN
    from_station = np.isnan(fix_lat)
    lat = np.where(from_station, np.array(station_lat, dtype=np.float64), fix_lat)
    lon = np.where(from_station, np.array(station_lon, dtype=np.float64), np.array(lon_col, float))
    available = np.flatnonzero(np.array(status, dtype=object) == UnitStatus.AVAILABLE.value)
    seconds = np.full(len(rows), math.inf)
    problems: list[str | None] = [None] * len(rows)
    found, found_problems = _etas(engine, site, lat[available], lon[available])
    seconds[available] = found
    for i, problem in zip(available.tolist(), found_problems, strict=True):
        problems[i] = problem
    crew_problem: list[str | None] | None = None
    if crew is not None and at is not None:
        uncrewed = await crew(
            session=session, units=[(unit_id[i], unit_type[i]) for i in available], at=at
        )
        crew_problem = [uncrewed.get(u) for u in unit_id]
    units = UnitColumns(
        unit_id=unit_id,
        call_sign=call_sign,
        unit_type=unit_type,
        status=status,
        eta_s=seconds,
        from_station=from_station,
        location_problem=problems,
        crew_problem=crew_problem,
    )
    return UnitRanking(site, units, rank_rows(units, urgency=site.urgency))


async def recommend(
    *,
    session: AsyncSession,
    keyring: Keyring,
    engine: RoutingEngine,
    incident_id: str,
    crew: CrewCheck | None = None,
    at: datetime | None = None,
) -> RecommendationRead:
    """The recommendation as the API returns it (`keyring` is unused: no personal fields)."""
    del keyring
    ranking = await rank_incident(
        session=session, engine=engine, incident_id=incident_id, crew=crew, at=at
    )
    return recommendation_read(ranking)


def recommendation_read(ranking: UnitRanking) -> RecommendationRead:
    """The API's shape, validated in one call instead of one model per unit."""
    u, rows = ranking.units, ranking.rows
    eta = u.eta_s.tolist()
    ranked = [
        {
            "unit_id": u.unit_id[i],
            "call_sign": u.call_sign[i],
            "unit_type": u.unit_type[i],
            "status": u.status[i],
            "rank": n,
            "eta_s": round(eta[i], 1),
            "reason": reason,
        }
        for n, (i, reason) in enumerate(zip(rows.ranked, rows.ranked_reasons, strict=True), 1)
    ]
    excluded = [
        {
            "unit_id": u.unit_id[i],
            "call_sign": u.call_sign[i],
            "unit_type": u.unit_type[i],
            "status": u.status[i],
            "rank": None,
            "eta_s": None if unit_eta is None else round(unit_eta, 1),
            "reason": reason,
        }
        for i, reason, unit_eta in zip(
            rows.excluded, rows.excluded_reasons, rows.excluded_etas, strict=True
        )
    ]
    return RecommendationRead.model_validate(
        {
            "incident_id": ranking.site.id,
            "urgency": rows.urgency,
            "als_required": rows.als_required,
            "incident_position": (ranking.site.position.lat, ranking.site.position.lon),
            "ranked": ranked,
            "excluded": excluded,
        }
    )


async def incident_has_unit(*, session: AsyncSession, incident_id: str) -> bool:
    found = await session.scalar(select(Unit.id).where(Unit.incident_id == incident_id).limit(1))
    return found is not None
