"""Supply routes: items, locations, stock, the movement ledger, requests, stock alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.runtime import ReadSessionDep, RuntimeDep, UowDep
from emsync.emergency import supply_service as service
from emsync.emergency.ledger import RequestStatus
from emsync.emergency.supply_schemas import (
    ItemCreate,
    ItemRead,
    LocationCreate,
    LocationRead,
    MovementCreate,
    MovementRead,
    RequestCreate,
    RequestFulfil,
    RequestRead,
    StockAlertRead,
    StockRead,
)

router = APIRouter(prefix="/api/emergency", tags=["emergency: supplies"])
Reader = Annotated[Principal, requires(Perm.EMERGENCY_READ)]
Writer = Annotated[Principal, requires(Perm.EMERGENCY_WRITE)]


@router.get("/locations", response_model=list[LocationRead])
async def list_locations(session: ReadSessionDep, _: Reader) -> list[LocationRead]:
    return await service.list_locations(session=session)


@router.post("/locations", response_model=LocationRead, status_code=201)
async def create_location(
    body: LocationCreate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> LocationRead:
    return await service.create_location(
        uow=uow, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.get("/items", response_model=list[ItemRead])
async def list_items(session: ReadSessionDep, _: Reader) -> list[ItemRead]:
    return await service.list_items(session=session)


@router.post("/items", response_model=ItemRead, status_code=201)
async def create_item(
    body: ItemCreate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> ItemRead:
    return await service.create_item(
        uow=uow, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.get("/stock", response_model=list[StockRead])
async def stock(
    session: ReadSessionDep, _: Reader, location_id: str | None = None, item_id: str | None = None
) -> list[StockRead]:
    return await service.stock(session=session, location_id=location_id, item_id=item_id)


@router.get("/movements", response_model=list[MovementRead])
async def movements(
    session: ReadSessionDep, _: Reader, item_id: str | None = None, location_id: str | None = None
) -> list[MovementRead]:
    return await service.movements(session=session, item_id=item_id, location_id=location_id)


@router.post("/movements", response_model=list[MovementRead], status_code=201)
async def move(
    body: MovementCreate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> list[MovementRead]:
    """Receipt, issue, transfer or adjustment; 409 when it would take more than is on hand.
    One ledger row per lot touched (takes without a lot go first-expiry-first-out)."""
    return await service.move(uow=uow, data=body, actor=principal.audit_name, now=runtime.clock())


@router.get("/supply-requests", response_model=list[RequestRead])
async def list_requests(
    session: ReadSessionDep, _: Reader, status: RequestStatus | None = None
) -> list[RequestRead]:
    return await service.list_requests(session=session, status=status)


@router.post("/supply-requests", response_model=RequestRead, status_code=201)
async def create_request(
    body: RequestCreate, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> RequestRead:
    return await service.create_request(
        uow=uow, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.post("/supply-requests/{request_id}/fulfil", response_model=RequestRead)
async def fulfil_request(
    request_id: str, body: RequestFulfil, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> RequestRead:
    return await service.fulfil_request(
        uow=uow, request_id=request_id, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.post("/supply-requests/{request_id}/cancel", response_model=RequestRead)
async def cancel_request(
    request_id: str, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> RequestRead:
    return await service.cancel_request(
        uow=uow, request_id=request_id, actor=principal.audit_name, now=runtime.clock()
    )


@router.get("/stock-alerts", response_model=list[StockAlertRead])
async def stock_alerts(
    runtime: RuntimeDep, session: ReadSessionDep, _: Reader
) -> list[StockAlertRead]:
    """Items below their minimum, and lots expired or expiring within 30 days."""
    return await service.stock_alerts(session=session, today=runtime.clock().date())
