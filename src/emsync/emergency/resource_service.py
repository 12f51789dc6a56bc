"""Typed resources (fire engines, rescue, helicopters, command posts, generators, boats,
equipment), their assignment to incidents, the resources board, and mutual-aid requests.

Ambulances stay dispatch's units: the board lists them through `dispatch.unit_summaries`, the
one source of truth, and never stores a copy.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync import dispatch, incidents
from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.emergency import activity, search_service
from emsync.emergency.events import ResourceChanged
from emsync.emergency.models import MutualAidRequest, Resource
from emsync.emergency.resource_schemas import (
    MutualAidCreate,
    MutualAidRead,
    MutualAidRespond,
    MutualAidStatus,
    ResourceAssign,
    ResourceCreate,
    ResourceKind,
    ResourceRead,
    ResourceStatus,
    ResourceUpdate,
)

M = MutualAidStatus
# The mutual-aid lifecycle as a table: from each status, where a response may take it.
MUTUAL_AID_NEXT: dict[MutualAidStatus, frozenset[MutualAidStatus]] = {
    M.REQUESTED: frozenset({M.ACCEPTED, M.DECLINED, M.CANCELLED}),
    M.ACCEPTED: frozenset({M.FULFILLED, M.CANCELLED}),
    M.DECLINED: frozenset(),
    M.FULFILLED: frozenset(),
    M.CANCELLED: frozenset(),
}


async def _index(session: AsyncSession, r: Resource, now: datetime) -> None:
    body = " ".join(
        [r.kind.replace("_", " "), r.agency, r.home_name or "", *r.capabilities, r.notes or ""]
    )
    await search_service.put(
        session, kind="resource", ref_id=r.id, title=r.name, body=body, status=r.status, now=now
    )


async def _load(session: AsyncSession, resource_id: str, *, lock: bool = False) -> Resource:
    resource = await session.get(Resource, resource_id, with_for_update=lock)
    if resource is None:
        raise NotFound(f"resource {resource_id} does not exist")
    return resource


async def create_resource(
    *, uow: UnitOfWork, data: ResourceCreate, actor: str, now: datetime
) -> ResourceRead:
    session = uow.session
    if data.kind is ResourceKind.AMBULANCE:
        raise ValidationFailed(
            "ambulances are dispatch units: add them under Dispatch > Units", field="kind"
        )
    if await session.scalar(select(Resource.id).where(Resource.name == data.name)):
        raise Conflict(f"a resource named {data.name!r} exists", field="name")
    resource = Resource(
        id=new_id(),
        incident_id=None,
        created_at=now,
        updated_at=now,
        **{**data.model_dump(), "kind": data.kind.value, "status": data.status.value},
    )
    session.add(resource)
    await _index(session, resource, now)
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="resource",
        subject_id=resource.id,
        action="created",
        detail=f"{data.kind.value} {data.name}",
    )
    uow.record(
        ResourceChanged(
            resource_id=resource.id, status=resource.status, incident_id=None, actor=actor
        )
    )
    await uow.commit()
    return ResourceRead.model_validate(resource)


async def update_resource(
    *, uow: UnitOfWork, resource_id: str, data: ResourceUpdate, actor: str, now: datetime
) -> ResourceRead:
    session = uow.session
    resource = await _load(session, resource_id, lock=True)
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in ("home_name", "notes"):
            raise ValidationFailed(f"{name} cannot be null", field=name)
        setattr(resource, name, value.value if isinstance(value, ResourceStatus) else value)
    if resource.status != ResourceStatus.ASSIGNED and resource.incident_id is not None:
        resource.incident_id = None  # out of service or back available: released
    resource.updated_at = now
    await _index(session, resource, now)
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="resource",
        subject_id=resource.id,
        action="updated",
        detail=", ".join(f"{k}={v}" for k, v in changes.items()),
    )
    uow.record(
        ResourceChanged(
            resource_id=resource.id,
            status=resource.status,
            incident_id=resource.incident_id,
            actor=actor,
        )
    )
    await uow.commit()
    return ResourceRead.model_validate(resource)


async def assign_resource(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    resource_id: str,
    data: ResourceAssign,
    actor: str,
    now: datetime,
) -> ResourceRead:
    """Commit a resource to an incident (only when available) or release it."""
    session = uow.session
    resource = await _load(session, resource_id, lock=True)
    previous = resource.incident_id
    if data.incident_id is None:
        if previous is None:
            raise InvalidTransition(f"{resource.name} is not assigned")
        resource.incident_id, resource.status = None, ResourceStatus.AVAILABLE.value
        action, detail = "released", f"from incident {previous}"
    else:
        if resource.status != ResourceStatus.AVAILABLE:
            raise InvalidTransition(
                f"{resource.name} is {resource.status}, not available", field="incident_id"
            )
        # The incident must exist (incidents' public function; raises NotFound otherwise).
        await incidents.get_incident(session=session, keyring=keyring, incident_id=data.incident_id)
        resource.incident_id, resource.status = data.incident_id, ResourceStatus.ASSIGNED.value
        action, detail = "assigned", f"to incident {data.incident_id}"
    resource.updated_at = now
    await _index(session, resource, now)
    for subject, subject_id in (
        ("resource", resource.id),
        ("incident", data.incident_id or previous),
    ):
        assert subject_id is not None
        activity.record(
            session,
            at=now,
            actor=actor,
            subject=subject,
            subject_id=subject_id,
            action=f"resource_{action}" if subject == "incident" else action,
            detail=f"{resource.name} {detail}",
        )
    uow.record(
        ResourceChanged(
            resource_id=resource.id,
            status=resource.status,
            incident_id=resource.incident_id,
            actor=actor,
        )
    )
    await uow.commit()
    return ResourceRead.model_validate(resource)


def _ambulance(u: dispatch.UnitSummary) -> ResourceRead:
    return ResourceRead(
        id=u.unit_id,
        name=u.call_sign,
        kind=ResourceKind.AMBULANCE,
        agency="EMS",
        capabilities=[u.unit_type],
        home_name=u.station_name,
        home_lat=u.lat,
        home_lon=u.lon,
        status=u.status,
        incident_id=u.incident_id,
        notes=None,
        source="dispatch",
    )


async def board(
    *, session: AsyncSession, kind: ResourceKind | None = None, status: str | None = None
) -> list[ResourceRead]:
    """Every resource including dispatch's ambulances, by kind then name."""
    out: list[ResourceRead] = []
    if kind in (None, ResourceKind.AMBULANCE):
        out += [_ambulance(u) for u in await dispatch.unit_summaries(session=session)]
    if kind is not ResourceKind.AMBULANCE:
        query = select(Resource)
        if kind is not None:
            query = query.where(Resource.kind == kind.value)
        out += [ResourceRead.model_validate(r) for r in await session.scalars(query)]
    if status is not None:
        out = [r for r in out if r.status == status]
    return sorted(out, key=lambda r: (r.kind.value, r.name))


async def get_resource(*, session: AsyncSession, resource_id: str) -> ResourceRead:
    return ResourceRead.model_validate(await _load(session, resource_id))


# ---- mutual aid -------------------------------------------------------------------------------


async def request_mutual_aid(
    *, uow: UnitOfWork, data: MutualAidCreate, actor: str, now: datetime
) -> MutualAidRead:
    if data.requesting_agency == data.providing_agency:
        raise ValidationFailed(
            "an agency cannot request mutual aid from itself", field="providing_agency"
        )
    request = MutualAidRequest(
        id=new_id(),
        status=M.REQUESTED.value,
        resource_ids=[],
        created_at=now,
        updated_at=now,
        updated_by=actor,
        **{**data.model_dump(), "resource_kind": data.resource_kind.value},
    )
    uow.session.add(request)
    if data.incident_id is not None:
        activity.record(
            uow.session,
            at=now,
            actor=actor,
            subject="incident",
            subject_id=data.incident_id,
            action="mutual_aid_requested",
            detail=f"{data.quantity} {data.resource_kind.value} from {data.providing_agency}",
        )
    await uow.commit()
    return MutualAidRead.model_validate(request)


async def respond_mutual_aid(
    *, uow: UnitOfWork, request_id: str, data: MutualAidRespond, actor: str, now: datetime
) -> MutualAidRead:
    session = uow.session
    request = await session.get(MutualAidRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound(f"mutual-aid request {request_id} does not exist")
    current = MutualAidStatus(request.status)
    if data.status not in MUTUAL_AID_NEXT[current]:
        raise InvalidTransition(
            f"a {current.value} request cannot become {data.status.value}", field="status"
        )
    for n, resource_id in enumerate(data.resource_ids):
        if await session.get(Resource, resource_id) is None:
            raise NotFound(f"resource {resource_id} does not exist", field=f"resource_ids[{n}]")
    request.status, request.updated_at, request.updated_by = data.status.value, now, actor
    if data.resource_ids:
        request.resource_ids = list(data.resource_ids)
    if data.note is not None:
        request.note = data.note
    await uow.commit()
    return MutualAidRead.model_validate(request)


async def list_mutual_aid(*, session: AsyncSession) -> list[MutualAidRead]:
    rows = await session.scalars(
        select(MutualAidRequest).order_by(MutualAidRequest.created_at.desc())
    )
    return [MutualAidRead.model_validate(r) for r in rows]
