"""Emergency routes: the sub-areas' routers, one search, the activity log, the map layers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.auth.public import actor_names
from emsync.core.errors import ValidationFailed
from emsync.core.runtime import ReadSessionDep, RuntimeDep, UowDep
from emsync.emergency import (
    activity,
    alert_api,
    alert_service,
    csv_service,
    edxl_service,
    fts,
    hazard_service,
    personnel_api,
    resource_api,
    resource_service,
    search_service,
    shelter_api,
    shelter_service,
    supply_api,
)
from emsync.emergency.schemas import (
    ActivityRead,
    SearchHitRead,
    SearchResults,
    SegmentRead,
)

router = APIRouter(prefix="/api/emergency", tags=["emergency"])
map_router = APIRouter(prefix="/api/map", tags=["map"])
routers = (
    router,
    map_router,
    resource_api.router,
    personnel_api.router,
    shelter_api.router,
    supply_api.router,
    alert_api.router,
)
Reader = Annotated[Principal, requires(Perm.EMERGENCY_READ)]
Writer = Annotated[Principal, requires(Perm.EMERGENCY_WRITE)]
CsvKind = Literal["resources", "personnel", "shelters", "supplies"]
MAX_CSV_BYTES = 5_000_000
# Who may see each kind of hit: the permission that guards the record's own routes.
_KIND_PERM = {
    "incident": Perm.INCIDENTS_READ,
    "unit": Perm.UNITS_READ,
    **dict.fromkeys(("resource", "person", "shelter", "item", "alert"), Perm.EMERGENCY_READ),
}


@router.get("/search", response_model=SearchResults)
async def search(
    session: ReadSessionDep,
    runtime: RuntimeDep,
    principal: Reader,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    kind: Annotated[list[str] | None, Query()] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    """Incidents, units, resources, personnel, shelters, supplies and alerts, ranked, with
    prefix and typo tolerance and highlighted segments; evacuees (kind `evacuee`) by name
    through the blind index, for roles that may read them."""
    wanted = [k for k in (kind or list(_KIND_PERM)) if k in _KIND_PERM]
    allowed = [k for k in wanted if principal.can(_KIND_PERM[k])]
    hits = (
        [
            SearchHitRead(
                kind=h.kind,
                ref_id=h.ref_id,
                title=h.title,
                status=h.status,
                score=h.score,
                title_segments=[SegmentRead(text=s.text, match=s.match) for s in h.title_segments],
                snippet=[SegmentRead(text=s.text, match=s.match) for s in h.snippet],
            )
            for h in await search_service.search(
                session, query=q, kinds=allowed, status=status, limit=limit
            )
        ]
        if allowed
        else []
    )
    if (kind is None or "evacuee" in kind) and principal.can(Perm.EVACUEES_READ) and len(q) >= 2:
        for e in await shelter_service.find_evacuees(
            session=session, keyring=runtime.keyring, query=q, limit=limit
        ):
            words = [w for w in q.casefold().split() if w]
            segments = [
                SegmentRead(text=s.text, match=s.match) for s in fts.highlight(e.name, words)
            ]
            hits.append(
                SearchHitRead(
                    kind="evacuee",
                    ref_id=e.id,
                    title=e.name,
                    status="present" if e.checked_out_at is None else "left",
                    score=0.0,
                    title_segments=segments,
                    snippet=[SegmentRead(text=f"at {e.shelter_name}", match=False)],
                )
            )
    return SearchResults(query=q, hits=hits)


@router.get("/activity", response_model=list[ActivityRead])
async def activity_log(
    session: ReadSessionDep,
    _: Reader,
    subject: Annotated[str, Query(pattern="^(" + "|".join(activity.SUBJECTS) + ")$")],
    subject_id: Annotated[str | None, Query(max_length=36)] = None,
) -> list[ActivityRead]:
    """The operational log of one incident, resource, shelter... (newest first)."""
    rows = await activity.entries(session=session, subject=subject, subject_id=subject_id)
    names = await actor_names(session=session, actors={r.actor for r in rows})
    return [
        ActivityRead.model_validate(r).model_copy(update={"actor_name": names.get(r.actor)})
        for r in rows
    ]


class ImportResult(BaseModel):
    kind: str
    imported: int


@router.get("/csv/{kind}", response_class=Response)
async def export_csv(
    kind: CsvKind, runtime: RuntimeDep, session: ReadSessionDep, _: Reader, bom: bool = False
) -> Response:
    """CSV for a spreadsheet: ISO dates, `;` inside list cells, `bom=true` for Excel."""
    now = runtime.clock()
    body = await csv_service.export_csv(session=session, kind=kind, bom=bom, now=now)
    name = f"emsync-{kind}-{now.date().isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/csv/{kind}", response_model=ImportResult, status_code=201)
async def import_csv(
    kind: CsvKind,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Writer,
    file: Annotated[UploadFile, File(description="UTF-8 CSV (BOM allowed), , or ; separated")],
) -> ImportResult:
    """All rows or none: 422 with `errors` naming each bad row and column."""
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise ValidationFailed(f"the file is larger than {MAX_CSV_BYTES} bytes", field="file")
    count = await csv_service.import_csv(
        uow=uow, kind=kind, data=data, actor=principal.audit_name, now=runtime.clock()
    )
    return ImportResult(kind=kind, imported=count)


@router.get("/edxl-have", response_class=Response)
async def export_have(
    session: ReadSessionDep, _: Annotated[Principal, requires(Perm.HOSPITALS_READ)]
) -> Response:
    """Hospitals' capacity, ED status and diversion as EDXL-HAVE 1.0."""
    return Response(await edxl_service.export_have(session=session), media_type="application/xml")


@router.post("/edxl-have", response_model=edxl_service.HaveImportResult)
async def import_have(
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HOSPITALS_WRITE)],
    file: Annotated[UploadFile, File(description="EDXL-HAVE 1.0 XML from another system")],
) -> edxl_service.HaveImportResult:
    """Apply another system's report to the hospitals it names; unknown ones are listed."""
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise ValidationFailed(f"the file is larger than {MAX_CSV_BYTES} bytes", field="file")
    return await edxl_service.import_have(
        uow=uow, data=data, actor=principal.audit_name, now=runtime.clock()
    )


def _point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


@map_router.get("/shelters")
async def shelters_layer(session: ReadSessionDep, _: Reader) -> dict[str, Any]:
    """Shelters as GeoJSON points with status and occupancy."""
    shelters = await shelter_service.list_shelters(session=session)
    return {
        "type": "FeatureCollection",
        "features": [
            _point(s.lon, s.lat, s.model_dump(mode="json", exclude={"lat", "lon"}))
            for s in shelters
        ],
    }


@map_router.get("/resources")
async def resources_layer(session: ReadSessionDep, _: Reader) -> dict[str, Any]:
    """Resources (typed resources at home or assigned; ambulances where they are)."""
    board = await resource_service.board(session=session)
    return {
        "type": "FeatureCollection",
        "features": [
            _point(
                r.home_lon, r.home_lat, r.model_dump(mode="json", exclude={"home_lat", "home_lon"})
            )
            for r in board
        ],
    }


@map_router.get("/alert-areas")
async def alert_areas_layer(
    runtime: RuntimeDep, session: ReadSessionDep, _: Reader
) -> dict[str, Any]:
    """Active public alerts' areas: polygons, and circles as points with `radius_km`."""
    alerts = await alert_service.list_alerts(session=session, active_only=True, now=runtime.clock())
    return alert_service.geojson(alerts)


@map_router.get("/hazards")
async def hazards_layer(session: ReadSessionDep, _: Reader) -> dict[str, Any]:
    """Features of every hazard feed (earthquakes, others' CAP alert areas)."""
    return await hazard_service.layer(session=session)
