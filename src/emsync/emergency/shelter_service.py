"""Shelters: register, open/close, check-in and check-out of evacuees without overbooking,
occupancy over time, family reunification search over sealed names.

No overbooking: a check-in is one conditional UPDATE (`occupied < capacity`) on the shelter's
row. PostgreSQL re-checks that condition on the row version a concurrent check-in committed
(READ COMMITTED re-evaluation after the row lock), SQLite runs one writer at a time, and the
table's CHECK constraints refuse any count beyond capacity should a path ever skip the guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.emergency import activity, fts, search_service
from emsync.emergency.events import ShelterChanged
from emsync.emergency.ledger import LocationKind
from emsync.emergency.models import (
    Evacuee,
    EvacueeToken,
    OccupancySample,
    Shelter,
    StockLocation,
)
from emsync.emergency.shelter_schemas import (
    CheckIn,
    CheckInResult,
    EvacueeRead,
    OccupancyPoint,
    ShelterCreate,
    ShelterRead,
    ShelterStatus,
    ShelterUpdate,
)

_BLIND_INFO = b"emsync emergency evacuee blind index v1"


def blind_key(keyring: Keyring) -> bytes:
    """The blind index's HMAC key, derived from the keyring's first key: rotating the active
    sealing key leaves it unchanged, so existing tokens keep matching."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_BLIND_INFO).derive(
        keyring.keys[min(keyring.keys)]
    )


def _aad(evacuee_id: str, column: str) -> str:
    return f"emergency.evacuee.{evacuee_id}.{column}"


def shelter_read(s: Shelter, location_id: str | None = None) -> ShelterRead:
    read = ShelterRead.model_validate(s)
    read.location_id = location_id
    return read


def _changed(s: Shelter) -> ShelterChanged:
    return ShelterChanged(
        shelter_id=s.id,
        status=s.status,
        occupied_beds=s.occupied_beds,
        capacity_beds=s.capacity_beds,
        occupied_accessible=s.occupied_accessible,
        capacity_accessible=s.capacity_accessible,
        occupied_pets=s.occupied_pets,
        capacity_pets=s.capacity_pets,
    )


async def _index(session: AsyncSession, s: Shelter, now: datetime) -> None:
    body = " ".join(filter(None, [s.address, *s.amenities]))
    await search_service.put(
        session, kind="shelter", ref_id=s.id, title=s.name, body=body, status=s.status, now=now
    )


async def _load(session: AsyncSession, shelter_id: str) -> Shelter:
    shelter = await session.get(Shelter, shelter_id)
    if shelter is None:
        raise NotFound(f"shelter {shelter_id} does not exist")
    return shelter


async def _location_of(session: AsyncSession, shelter_id: str) -> str | None:
    return await session.scalar(
        select(StockLocation.id).where(StockLocation.shelter_id == shelter_id)
    )


def _sample(session: AsyncSession, s: Shelter, now: datetime) -> None:
    session.add(
        OccupancySample(
            shelter_id=s.id,
            at=now,
            beds=s.occupied_beds,
            accessible=s.occupied_accessible,
            pets=s.occupied_pets,
        )
    )


async def create_shelter(
    *, uow: UnitOfWork, data: ShelterCreate, actor: str, now: datetime
) -> ShelterRead:
    session = uow.session
    if await session.scalar(select(Shelter.id).where(Shelter.name == data.name)):
        raise Conflict(f"a shelter named {data.name!r} exists", field="name")
    shelter = Shelter(
        id=new_id(),
        occupied_beds=0,
        occupied_accessible=0,
        occupied_pets=0,
        created_at=now,
        updated_at=now,
        **data.model_dump(),
    )
    session.add(shelter)
    await session.flush()  # no ORM relationships: parents go in before rows that refer to them
    # Every shelter is also a stock location, so supplies can be moved to it.
    location = StockLocation(
        id=new_id(),
        name=f"Shelter: {data.name}"[:120],
        kind=LocationKind.SHELTER.value,
        shelter_id=shelter.id,
        lat=data.lat,
        lon=data.lon,
    )
    session.add(location)
    _sample(session, shelter, now)
    await _index(session, shelter, now)
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="shelter",
        subject_id=shelter.id,
        action="opened" if data.status is ShelterStatus.OPEN else "registered",
        detail=f"{data.name}: {data.capacity_beds} beds",
    )
    uow.record(_changed(shelter))
    await uow.commit()
    return shelter_read(shelter, location.id)


async def list_shelters(*, session: AsyncSession) -> list[ShelterRead]:
    rows = (
        await session.execute(
            select(Shelter, StockLocation.id)
            .outerjoin(StockLocation, StockLocation.shelter_id == Shelter.id)
            .order_by(Shelter.name)
        )
    ).all()
    return [shelter_read(s, loc) for s, loc in rows]


async def get_shelter(*, session: AsyncSession, shelter_id: str) -> ShelterRead:
    shelter = await _load(session, shelter_id)
    return shelter_read(shelter, await _location_of(session, shelter_id))


def _status_after(s: Shelter) -> str:
    if s.status == ShelterStatus.CLOSED:
        return s.status
    no_room = s.occupied_beds >= s.capacity_beds and s.occupied_accessible >= s.capacity_accessible
    return ShelterStatus.FULL.value if no_room else ShelterStatus.OPEN.value


async def update_shelter(
    *, uow: UnitOfWork, shelter_id: str, data: ShelterUpdate, actor: str, now: datetime
) -> ShelterRead:
    session = uow.session
    shelter = await session.get(Shelter, shelter_id, with_for_update=True)
    if shelter is None:
        raise NotFound(f"shelter {shelter_id} does not exist")
    changes = data.model_dump(exclude_unset=True)
    for kind in ("beds", "accessible", "pets"):
        new = changes.get(f"capacity_{kind}")
        if new is not None and new < getattr(shelter, f"occupied_{kind}"):
            raise Conflict(
                f"capacity_{kind} {new} is below the {getattr(shelter, f'occupied_{kind}')} "
                "already checked in",
                field=f"capacity_{kind}",
            )
    for name, value in changes.items():
        if value is None and name not in ("address",):
            raise ValidationFailed(f"{name} cannot be null", field=name)
        setattr(shelter, name, value.value if isinstance(value, ShelterStatus) else value)
    if data.status is not ShelterStatus.CLOSED:
        shelter.status = _status_after(shelter)
    shelter.updated_at = now
    await _index(session, shelter, now)
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="shelter",
        subject_id=shelter.id,
        action="updated",
        detail=", ".join(f"{k}={v}" for k, v in changes.items()),
    )
    uow.record(_changed(shelter))
    await uow.commit()
    return shelter_read(shelter, await _location_of(session, shelter_id))


async def _why_refused(session: AsyncSession, shelter_id: str, data: CheckIn) -> Conflict:
    shelter = await _load(session, shelter_id)
    if shelter.status == ShelterStatus.CLOSED:
        return Conflict(f"shelter {shelter.name} is closed", field="shelter_id")
    if data.pets and shelter.occupied_pets + data.pets > shelter.capacity_pets:
        left = shelter.capacity_pets - shelter.occupied_pets
        return Conflict(f"shelter {shelter.name} has room for {left} more pets", field="pets")
    kind = "accessible beds" if data.accessible else "beds"
    return Conflict(f"shelter {shelter.name} is full: no {kind} left", field="accessible")


async def check_in(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    shelter_id: str,
    data: CheckIn,
    actor: str,
    now: datetime,
) -> CheckInResult:
    """Admit one evacuee (and their pets) or raise Conflict: never beyond capacity."""
    session = uow.session
    occupied, capacity = (
        (Shelter.occupied_accessible, Shelter.capacity_accessible)
        if data.accessible
        else (Shelter.occupied_beds, Shelter.capacity_beds)
    )
    taken = await session.execute(
        update(Shelter)
        .where(
            Shelter.id == shelter_id,
            Shelter.status != ShelterStatus.CLOSED.value,
            occupied < capacity,
            Shelter.occupied_pets + data.pets <= Shelter.capacity_pets,
        )
        .values({occupied: occupied + 1, Shelter.occupied_pets: Shelter.occupied_pets + data.pets})
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        error = await _why_refused(session, shelter_id, data)
        await uow.rollback()
        raise error
    shelter = await session.get(Shelter, shelter_id, populate_existing=True)
    assert shelter is not None
    shelter.status = _status_after(shelter)
    shelter.updated_at = now
    evacuee = _new_evacuee(keyring, shelter_id, data, actor, now)
    session.add(evacuee)
    await session.flush()
    key = blind_key(keyring)
    words = fts.blind_words(" ".join(filter(None, [data.name, data.family])))
    session.add_all(
        EvacueeToken(evacuee_id=evacuee.id, token=fts.blind_token(key, w)) for w in words
    )
    _sample(session, shelter, now)
    await _index(session, shelter, now)
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="shelter",
        subject_id=shelter_id,
        action="checked_in",
        detail=f"evacuee {evacuee.id}",
    )
    uow.record(_changed(shelter))
    await uow.commit()
    return CheckInResult(
        evacuee=_evacuee_read(keyring, evacuee, shelter.name),
        shelter=shelter_read(shelter, await _location_of(session, shelter_id)),
    )


def _new_evacuee(
    keyring: Keyring, shelter_id: str, data: CheckIn, actor: str, now: datetime
) -> Evacuee:
    evacuee_id = new_id()

    def seal(column: str, value: str | None) -> bytes | None:
        return keyring.seal_text(value, aad=_aad(evacuee_id, column))

    name = seal("name", data.name)
    assert name is not None
    return Evacuee(
        id=evacuee_id,
        shelter_id=shelter_id,
        name_sealed=name,
        family_sealed=seal("family", data.family),
        birth_year_sealed=seal(
            "birth_year", None if data.birth_year is None else str(data.birth_year)
        ),
        needs_sealed=seal("needs", data.needs),
        accessible=data.accessible,
        pets=data.pets,
        checked_in_at=now,
        checked_in_by=actor,
    )


def _evacuee_read(keyring: Keyring, e: Evacuee, shelter_name: str) -> EvacueeRead:
    def opened(column: str, sealed: bytes | None) -> str | None:
        return keyring.open_text(sealed, aad=_aad(e.id, column))

    year = opened("birth_year", e.birth_year_sealed)
    return EvacueeRead(
        id=e.id,
        shelter_id=e.shelter_id,
        shelter_name=shelter_name,
        name=opened("name", e.name_sealed) or "",
        family=opened("family", e.family_sealed),
        birth_year=None if year is None else int(year),
        needs=opened("needs", e.needs_sealed),
        accessible=e.accessible,
        pets=e.pets,
        checked_in_at=e.checked_in_at,
        checked_in_by=e.checked_in_by,
        checked_out_at=e.checked_out_at,
        checked_out_by=e.checked_out_by,
    )


async def check_out(
    *, uow: UnitOfWork, keyring: Keyring, evacuee_id: str, actor: str, now: datetime
) -> EvacueeRead:
    session = uow.session
    evacuee = await session.get(Evacuee, evacuee_id, with_for_update=True)
    if evacuee is None:
        raise NotFound(f"evacuee {evacuee_id} does not exist")
    if evacuee.checked_out_at is not None:
        raise Conflict(f"evacuee {evacuee_id} has already checked out")
    shelter = await session.get(Shelter, evacuee.shelter_id, with_for_update=True)
    assert shelter is not None
    if evacuee.accessible:
        shelter.occupied_accessible -= 1
    else:
        shelter.occupied_beds -= 1
    shelter.occupied_pets -= evacuee.pets
    shelter.status = _status_after(shelter)
    shelter.updated_at = now
    evacuee.checked_out_at, evacuee.checked_out_by = now, actor
    _sample(session, shelter, now)
    await _index(session, shelter, now)
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="shelter",
        subject_id=shelter.id,
        action="checked_out",
        detail=f"evacuee {evacuee.id}",
    )
    uow.record(_changed(shelter))
    await uow.commit()
    return _evacuee_read(keyring, evacuee, shelter.name)


async def evacuees(
    *, session: AsyncSession, keyring: Keyring, shelter_id: str, present_only: bool = True
) -> list[EvacueeRead]:
    shelter = await _load(session, shelter_id)
    query = select(Evacuee).where(Evacuee.shelter_id == shelter_id)
    if present_only:
        query = query.where(Evacuee.checked_out_at.is_(None))
    rows = (await session.scalars(query.order_by(Evacuee.checked_in_at))).all()
    return [_evacuee_read(keyring, e, shelter.name) for e in rows]


async def find_evacuees(
    *, session: AsyncSession, keyring: Keyring, query: str, limit: int = 50
) -> list[EvacueeRead]:
    """Family reunification: evacuees whose name or household matches every word (whole or
    as a prefix of 3+ letters), found through keyed blind-index tokens only."""
    groups = fts.blind_query(blind_key(keyring), query)
    if not groups:
        return []
    ids = None
    for group in groups:
        found = set(
            await session.scalars(
                select(EvacueeToken.evacuee_id).where(EvacueeToken.token.in_(group)).distinct()
            )
        )
        ids = found if ids is None else ids & found
        if not ids:
            return []
    assert ids is not None
    rows = (
        await session.execute(
            select(Evacuee, Shelter.name)
            .join(Shelter, Shelter.id == Evacuee.shelter_id)
            .where(Evacuee.id.in_(sorted(ids)[: limit * 4]))
            .order_by(Evacuee.checked_in_at.desc())
            .limit(limit)
        )
    ).all()
    return [_evacuee_read(keyring, e, name) for e, name in rows]


async def occupancy(
    *, session: AsyncSession, shelter_id: str, since: datetime | None = None
) -> list[OccupancyPoint]:
    await _load(session, shelter_id)
    query = select(OccupancySample).where(OccupancySample.shelter_id == shelter_id)
    if since is not None:
        query = query.where(OccupancySample.at >= since)
    rows: Sequence[OccupancySample] = (
        await session.scalars(query.order_by(OccupancySample.id))
    ).all()
    return [
        OccupancyPoint(at=r.at, beds=r.beds, accessible=r.accessible, pets=r.pets) for r in rows
    ]


async def count_present(*, session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Evacuee).where(Evacuee.checked_out_at.is_(None))
        )
        or 0
    )
