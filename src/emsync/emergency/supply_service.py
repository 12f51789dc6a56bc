"""Supplies: items, locations, the append-only movement ledger, requests and their fulfilment,
low-stock and expiry alerts.

Stock never goes negative: every take is one conditional UPDATE (`quantity >= :take`), so of
two concurrent issues of the last unit exactly one matches a row (PostgreSQL re-checks the
condition on the committed row version; SQLite has one writer), and the CHECK constraint
`quantity >= 0` refuses anything that would slip past. A movement that fails leaves nothing:
its stock changes and ledger rows share one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.db import dialect_insert
from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.emergency import activity, ledger, search_service
from emsync.emergency.events import StockLow, StockMoved
from emsync.emergency.ledger import MovementKind, RequestStatus
from emsync.emergency.models import Item, Movement, Stock, StockLocation, SupplyRequest
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

EXPIRY_WARN_DAYS = 30


async def create_location(
    *, uow: UnitOfWork, data: LocationCreate, actor: str, now: datetime
) -> LocationRead:
    session = uow.session
    if await session.scalar(select(StockLocation.id).where(StockLocation.name == data.name)):
        raise Conflict(f"a location named {data.name!r} exists", field="name")
    location = StockLocation(id=new_id(), shelter_id=None, **data.model_dump())
    session.add(location)
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="location",
        subject_id=location.id,
        action="created",
        detail=f"{data.kind.value} {data.name}",
    )
    await uow.commit()
    return LocationRead.model_validate(location)


async def list_locations(*, session: AsyncSession) -> list[LocationRead]:
    rows = await session.scalars(select(StockLocation).order_by(StockLocation.name))
    return [LocationRead.model_validate(r) for r in rows]


async def create_item(*, uow: UnitOfWork, data: ItemCreate, actor: str, now: datetime) -> ItemRead:
    session = uow.session
    if await session.scalar(select(Item.id).where(Item.sku == data.sku)):
        raise Conflict(f"an item with SKU {data.sku!r} exists", field="sku")
    item = Item(id=new_id(), created_at=now, **data.model_dump())
    session.add(item)
    await search_service.put(
        session,
        kind="item",
        ref_id=item.id,
        title=item.name,
        body=" ".join(filter(None, [item.sku, item.category, item.unit])),
        status=None,
        now=now,
    )
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="item",
        subject_id=item.id,
        action="created",
        detail=f"{item.sku} {item.name}",
    )
    await uow.commit()
    return ItemRead.model_validate(item)


async def list_items(*, session: AsyncSession) -> list[ItemRead]:
    totals = (
        select(Stock.item_id, func.sum(Stock.quantity).label("on_hand"))
        .group_by(Stock.item_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(Item, totals.c.on_hand)
            .outerjoin(totals, totals.c.item_id == Item.id)
            .order_by(Item.name)
        )
    ).all()
    out = []
    for item, on_hand in rows:
        read = ItemRead.model_validate(item)
        read.on_hand = int(on_hand or 0)
        out.append(read)
    return out


async def _require(
    session: AsyncSession, model: type[Item | StockLocation], ref: str, field: str
) -> None:
    if await session.get(model, ref) is None:
        raise NotFound(
            f"{field.removesuffix('_id').replace('_', ' ')} {ref} does not exist", field=field
        )


async def _take(
    session: AsyncSession, *, item_id: str, location_id: str, lot: str | None, quantity: int
) -> list[tuple[str, int, date | None]]:
    """Take `quantity` from a location: from one lot, or lots by first expiry (FEFO). Returns
    (lot, taken, expires_on) per lot; raises Conflict, leaving the caller to roll back."""
    query = select(Stock.lot, Stock.quantity, Stock.expires_on).where(
        Stock.item_id == item_id, Stock.location_id == location_id, Stock.quantity > 0
    )
    if lot is not None:
        query = query.where(Stock.lot == lot)
    lots = (
        await session.execute(
            query.order_by(Stock.expires_on.is_(None), Stock.expires_on, Stock.lot)
        )
    ).all()
    available = sum(q for _, q, _ in lots)
    if available < quantity:
        where = f" of lot {lot}" if lot is not None else ""
        raise Conflict(
            f"only {available}{where} on hand at this location; {quantity} requested",
            field="quantity",
        )
    plan: list[tuple[str, int, date | None]] = []
    left = quantity
    for lot_name, on_hand, expires in lots:
        if left == 0:
            break
        take = min(left, on_hand)
        plan.append((lot_name, take, expires))
        left -= take
    for lot_name, take, _ in plan:
        done = await session.execute(
            update(Stock)
            .where(
                Stock.item_id == item_id,
                Stock.location_id == location_id,
                Stock.lot == lot_name,
                Stock.quantity >= take,
            )
            .values(quantity=Stock.quantity - take)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            # Another movement took it between our read and this update.
            raise Conflict("the stock changed meanwhile: not enough on hand", field="quantity")
    return plan


async def _add(
    session: AsyncSession,
    *,
    item_id: str,
    location_id: str,
    lot: str,
    quantity: int,
    expires_on: date | None,
) -> None:
    statement = dialect_insert(session.get_bind().dialect.name)(Stock).values(
        item_id=item_id, location_id=location_id, lot=lot, quantity=quantity, expires_on=expires_on
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["item_id", "location_id", "lot"],
            set_={"quantity": Stock.quantity + statement.excluded.quantity},
        )
    )


async def _on_hand(session: AsyncSession, item_id: str) -> int:
    total = await session.scalar(select(func.sum(Stock.quantity)).where(Stock.item_id == item_id))
    return int(total or 0)


# Names the PostgreSQL advisory locks of stock movements (one per item, see _serialize_item).
_STOCK_LOCK_SPACE = 0x53544B  # "STK"


async def _serialize_item(session: AsyncSession, item_id: str) -> None:
    """On PostgreSQL, movements of one item take turns (a transaction-level advisory lock keyed by
    the item): a transfer A -> B and one B -> A would otherwise lock the two stock rows in
    opposite orders and deadlock (bench/inventory.py found it: DeadlockDetectedError at 16
    workers). Movements of different items still run in parallel. SQLite transactions already
    take the database's write lock at BEGIN."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=4).digest(), signed=True)
    await session.execute(
        select(func.pg_advisory_xact_lock(_STOCK_LOCK_SPACE, key)).execution_options(
            synchronize_session=False
        )
    )


async def _movable_item(session: AsyncSession, data: MovementCreate) -> Item:
    """The movement's item, once the movement is valid and every place it names exists."""
    problem = ledger.movement_problem(
        data.kind, from_id=data.from_location_id, to_id=data.to_location_id, quantity=data.quantity
    )
    if problem is not None:
        raise ValidationFailed(problem[1], field=problem[0])
    if data.expires_on is not None and data.kind is not MovementKind.RECEIPT:
        raise ValidationFailed("expires_on goes with receipts only", field="expires_on")
    item = await session.get(Item, data.item_id)
    if item is None:
        raise NotFound(f"item {data.item_id} does not exist", field="item_id")
    for field in ("from_location_id", "to_location_id"):
        ref = getattr(data, field)
        if ref is not None:
            await _require(session, StockLocation, ref, field)
    return item


async def _apply(
    uow: UnitOfWork, data: MovementCreate, *, actor: str, now: datetime, request_id: str | None
) -> list[Movement]:
    """The movement's stock changes and ledger rows, in the caller's transaction."""
    session = uow.session
    item = await _movable_item(session, data)
    await _serialize_item(session, item.id)
    if data.from_location_id is not None:
        parts = await _take(
            session,
            item_id=item.id,
            location_id=data.from_location_id,
            lot=data.lot,
            quantity=data.quantity,
        )
    else:
        parts = [(data.lot or "", data.quantity, data.expires_on)]
    if data.to_location_id is not None:
        for lot, quantity, expires in parts:
            await _add(
                session,
                item_id=item.id,
                location_id=data.to_location_id,
                lot=lot,
                quantity=quantity,
                expires_on=expires,
            )
    movements = [
        Movement(
            at=now,
            kind=data.kind.value,
            item_id=item.id,
            lot=lot,
            from_location_id=data.from_location_id,
            to_location_id=data.to_location_id,
            quantity=quantity,
            request_id=request_id,
            actor=actor,
            note=data.note,
        )
        for lot, quantity, _ in parts
    ]
    session.add_all(movements)
    await session.flush()
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="item",
        subject_id=item.id,
        action=data.kind.value,
        detail=f"{data.quantity} {item.unit}",
    )
    for m in movements:
        uow.record(
            StockMoved(
                movement_id=m.id,
                item_id=item.id,
                kind=m.kind,
                quantity=m.quantity,
                from_location_id=m.from_location_id,
                to_location_id=m.to_location_id,
            )
        )
    if data.from_location_id is not None and item.min_stock > 0:
        on_hand = await _on_hand(session, item.id)
        if on_hand < item.min_stock:
            uow.record(StockLow(item_id=item.id, on_hand=on_hand, minimum=item.min_stock))
    return movements


async def move(
    *, uow: UnitOfWork, data: MovementCreate, actor: str, now: datetime
) -> list[MovementRead]:
    """Record a movement (one ledger row per lot touched) or change nothing."""
    try:
        movements = await _apply(uow, data, actor=actor, now=now, request_id=None)
    except (Conflict, NotFound, ValidationFailed):
        await uow.rollback()
        raise
    await uow.commit()
    return [MovementRead.model_validate(m) for m in movements]


async def stock(
    *, session: AsyncSession, location_id: str | None = None, item_id: str | None = None
) -> list[StockRead]:
    query = (
        select(Stock, Item, StockLocation)
        .join(Item, Item.id == Stock.item_id)
        .join(StockLocation, StockLocation.id == Stock.location_id)
        .where(Stock.quantity > 0)
    )
    if location_id is not None:
        query = query.where(Stock.location_id == location_id)
    if item_id is not None:
        query = query.where(Stock.item_id == item_id)
    rows = (await session.execute(query.order_by(Item.name, StockLocation.name, Stock.lot))).all()
    return [
        StockRead(
            item_id=i.id,
            sku=i.sku,
            item_name=i.name,
            unit=i.unit,
            location_id=loc.id,
            location_name=loc.name,
            lot=s.lot,
            expires_on=s.expires_on,
            quantity=s.quantity,
        )
        for s, i, loc in rows
    ]


async def movements(
    *,
    session: AsyncSession,
    item_id: str | None = None,
    location_id: str | None = None,
    limit: int = 200,
) -> list[MovementRead]:
    query = select(Movement)
    if item_id is not None:
        query = query.where(Movement.item_id == item_id)
    if location_id is not None:
        query = query.where(
            (Movement.from_location_id == location_id) | (Movement.to_location_id == location_id)
        )
    rows: Sequence[Movement] = (
        await session.scalars(query.order_by(Movement.id.desc()).limit(limit))
    ).all()
    return [MovementRead.model_validate(m) for m in rows]


async def create_request(
    *, uow: UnitOfWork, data: RequestCreate, actor: str, now: datetime
) -> RequestRead:
    session = uow.session
    await _require(session, Item, data.item_id, "item_id")
    await _require(session, StockLocation, data.to_location_id, "to_location_id")
    request = SupplyRequest(
        id=new_id(),
        status=RequestStatus.OPEN.value,
        fulfilled_quantity=0,
        requested_by=actor,
        created_at=now,
        updated_at=now,
        **data.model_dump(),
    )
    session.add(request)
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="request",
        subject_id=request.id,
        action="requested",
        detail=f"{data.quantity} of item {data.item_id}",
    )
    await uow.commit()
    return RequestRead.model_validate(request)


async def fulfil_request(
    *, uow: UnitOfWork, request_id: str, data: RequestFulfil, actor: str, now: datetime
) -> RequestRead:
    """Send stock toward a request: a transfer tagged with the request, never beyond it."""
    session = uow.session
    request = await session.get(SupplyRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound(f"request {request_id} does not exist")
    if request.status not in (RequestStatus.OPEN, RequestStatus.PARTIAL):
        raise Conflict(f"request {request_id} is {request.status}", field="status")
    remaining = request.quantity - request.fulfilled_quantity
    quantity = data.quantity or remaining
    if quantity > remaining:
        raise ValidationFailed(f"only {remaining} remain on this request", field="quantity")
    transfer = MovementCreate(
        kind=MovementKind.TRANSFER,
        item_id=request.item_id,
        quantity=quantity,
        from_location_id=data.from_location_id,
        to_location_id=request.to_location_id,
        lot=data.lot,
        note=f"request {request.id}",
    )
    try:
        await _apply(uow, transfer, actor=actor, now=now, request_id=request.id)
    except (Conflict, NotFound, ValidationFailed):
        await uow.rollback()
        raise
    request.fulfilled_quantity += quantity
    request.status = ledger.request_status_after(
        requested=request.quantity, fulfilled=request.fulfilled_quantity
    ).value
    request.updated_at = now
    await uow.commit()
    return RequestRead.model_validate(request)


async def cancel_request(
    *, uow: UnitOfWork, request_id: str, actor: str, now: datetime
) -> RequestRead:
    session = uow.session
    request = await session.get(SupplyRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound(f"request {request_id} does not exist")
    if request.status in (RequestStatus.FULFILLED, RequestStatus.CANCELLED):
        raise Conflict(f"request {request_id} is already {request.status}", field="status")
    request.status, request.updated_at = RequestStatus.CANCELLED.value, now
    activity.record(
        session, at=now, actor=actor, subject="request", subject_id=request.id, action="cancelled"
    )
    await uow.commit()
    return RequestRead.model_validate(request)


async def list_requests(
    *, session: AsyncSession, status: RequestStatus | None = None
) -> list[RequestRead]:
    query = select(SupplyRequest)
    if status is not None:
        query = query.where(SupplyRequest.status == status.value)
    rows = await session.scalars(query.order_by(SupplyRequest.created_at.desc()))
    return [RequestRead.model_validate(r) for r in rows]


async def stock_alerts(*, session: AsyncSession, today: date) -> list[StockAlertRead]:
    out: list[ledger.StockAlert] = []
    for item in await list_items(session=session):
        found = ledger.low_stock(
            item_id=item.id,
            name=item.name,
            unit=item.unit,
            on_hand=item.on_hand,
            minimum=item.min_stock,
        )
        if found is not None:
            out.append(found)
    rows = (
        await session.execute(
            select(Stock, Item.name)
            .join(Item, Item.id == Stock.item_id)
            .where(Stock.expires_on.is_not(None), Stock.quantity > 0)
        )
    ).all()
    for s, name in rows:
        found = ledger.expiry(
            item_id=s.item_id,
            name=name,
            location_id=s.location_id,
            lot=s.lot,
            expires_on=s.expires_on,
            quantity=s.quantity,
            today=today,
            warn_days=EXPIRY_WARN_DAYS,
        )
        if found is not None:
            out.append(found)
    return [
        StockAlertRead(kind=a.kind, item_id=a.item_id, location_id=a.location_id, message=a.message)
        for a in out
    ]
