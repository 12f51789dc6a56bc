"""Personnel, qualifications, teams, shifts, who is on duty, and unit crews from the roster.

No overlapping shifts for one person: on PostgreSQL the person's row is locked (`FOR UPDATE`)
before the overlap check, so two rosterings of one person queue, and an exclusion constraint on
`tstzrange(starts_at, ends_at)` refuses an overlap whatever the path; SQLite runs one writer
at a time, so the check and the insert cannot interleave.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.emergency import roster, search_service
from emsync.emergency.events import ShiftsRostered
from emsync.emergency.models import Person, Qualification, Shift, Team
from emsync.emergency.personnel_schemas import (
    OnDutyRead,
    PatternApply,
    PersonCreate,
    PersonRead,
    PersonUpdate,
    QualificationIn,
    QualificationRead,
    ShiftIn,
    ShiftRead,
    TeamCreate,
    TeamRead,
)


async def create_team(*, uow: UnitOfWork, data: TeamCreate) -> TeamRead:
    if await uow.session.scalar(select(Team.id).where(Team.name == data.name)):
        raise Conflict(f"a team named {data.name!r} exists", field="name")
    team = Team(id=new_id(), name=data.name)
    uow.session.add(team)
    await uow.commit()
    return TeamRead.model_validate(team)


async def list_teams(*, session: AsyncSession) -> list[TeamRead]:
    return [
        TeamRead.model_validate(t) for t in await session.scalars(select(Team).order_by(Team.name))
    ]


def _qualification_read(q: Qualification, today: date) -> QualificationRead:
    return QualificationRead(
        kind=roster.QualificationKind(q.kind),
        number=q.number,
        expires_on=q.expires_on,
        valid=q.expires_on is None or q.expires_on >= today,
    )


async def _qualifications(
    session: AsyncSession, person_ids: Sequence[str]
) -> dict[str, list[Qualification]]:
    out: dict[str, list[Qualification]] = defaultdict(list)
    if person_ids:
        rows = await session.scalars(
            select(Qualification)
            .where(Qualification.person_id.in_(person_ids))
            .order_by(Qualification.kind)
        )
        for q in rows:
            out[q.person_id].append(q)
    return out


def _person_read(p: Person, quals: Sequence[Qualification], today: date) -> PersonRead:
    return PersonRead(
        id=p.id,
        name=p.name,
        username=p.username,
        agency=p.agency,
        team_id=p.team_id,
        phone=p.phone,
        active=p.active,
        qualifications=[_qualification_read(q, today) for q in quals],
    )


async def _index(
    session: AsyncSession, p: Person, quals: Sequence[QualificationIn], now: datetime
) -> None:
    body = " ".join([p.agency, *(q.kind.value for q in quals), p.username or ""])
    await search_service.put(
        session,
        kind="person",
        ref_id=p.id,
        title=p.name,
        body=body,
        status="active" if p.active else "inactive",
        now=now,
    )


async def _check_team(session: AsyncSession, team_id: str | None) -> None:
    if team_id is not None and await session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} does not exist", field="team_id")


async def create_person(*, uow: UnitOfWork, data: PersonCreate, now: datetime) -> PersonRead:
    session = uow.session
    await _check_team(session, data.team_id)
    if data.username and await session.scalar(
        select(Person.id).where(Person.username == data.username)
    ):
        raise Conflict(f"username {data.username!r} is linked to another person", field="username")
    person = Person(
        id=new_id(),
        active=True,
        created_at=now,
        **data.model_dump(exclude={"qualifications"}),
    )
    session.add(person)
    await session.flush()  # before its qualifications (no ORM relationships)
    quals = _set_qualifications(session, person.id, data.qualifications)
    await _index(session, person, data.qualifications, now)
    await uow.commit()
    return _person_read(person, quals, now.date())


def _set_qualifications(
    session: AsyncSession, person_id: str, items: Sequence[QualificationIn]
) -> list[Qualification]:
    quals = [
        Qualification(
            id=new_id(),
            person_id=person_id,
            kind=q.kind.value,
            number=q.number,
            expires_on=q.expires_on,
        )
        for q in items
    ]
    session.add_all(quals)
    return quals


async def update_person(
    *, uow: UnitOfWork, person_id: str, data: PersonUpdate, now: datetime
) -> PersonRead:
    session = uow.session
    person = await session.get(Person, person_id, with_for_update=True)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    changes = data.model_dump(exclude_unset=True, exclude={"qualifications"})
    if "team_id" in changes:
        await _check_team(session, changes["team_id"])
    for name, value in changes.items():
        if value is None and name in ("name", "agency", "active"):
            raise ValidationFailed(f"{name} cannot be null", field=name)
        setattr(person, name, value)
    if data.qualifications is not None:
        await session.execute(delete(Qualification).where(Qualification.person_id == person_id))
        quals = _set_qualifications(session, person_id, data.qualifications)
        kinds = data.qualifications
    else:
        quals = (await _qualifications(session, [person_id]))[person_id]
        kinds = [QualificationIn(kind=roster.QualificationKind(q.kind)) for q in quals]
    await _index(session, person, kinds, now)
    await uow.commit()
    return _person_read(person, quals, now.date())


async def list_people(*, session: AsyncSession, today: date) -> list[PersonRead]:
    people = (await session.scalars(select(Person).order_by(Person.name))).all()
    quals = await _qualifications(session, [p.id for p in people])
    return [_person_read(p, quals[p.id], today) for p in people]


async def get_person(*, session: AsyncSession, person_id: str, today: date) -> PersonRead:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    return _person_read(person, (await _qualifications(session, [person_id]))[person_id], today)


# ---- shifts -----------------------------------------------------------------------------------


async def add_shifts(
    *, uow: UnitOfWork, person_id: str, shifts: Sequence[ShiftIn], actor: str
) -> list[ShiftRead]:
    """Roster one person: all shifts or none; Conflict naming the overlap."""
    session = uow.session
    person = await session.get(Person, person_id, with_for_update=True)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    windows = [roster.Window(s.starts_at, s.ends_at) for s in shifts]
    clash = roster.overlaps_within(windows)
    if clash is not None:
        raise Conflict(
            f"shifts[{clash[0]}] and shifts[{clash[1]}] overlap", field=f"shifts[{clash[1]}]"
        )
    lo, hi = min(w.starts_at for w in windows), max(w.ends_at for w in windows)
    existing = (
        await session.scalars(
            select(Shift).where(
                Shift.person_id == person_id, Shift.starts_at < hi, Shift.ends_at > lo
            )
        )
    ).all()
    for n, window in enumerate(windows):
        other = roster.first_overlap(
            window, [(s.id, roster.Window(s.starts_at, s.ends_at)) for s in existing]
        )
        if other is not None:
            raise Conflict(
                f"{person.name} is already on shift {other} then",
                field=f"shifts[{n}]" if len(windows) > 1 else "starts_at",
                shift_id=other,
            )
    rows = [
        Shift(id=new_id(), person_id=person_id, created_by=actor, **s.model_dump()) for s in shifts
    ]
    session.add_all(rows)
    try:
        await session.flush()
    except IntegrityError as error:
        # The exclusion constraint (PostgreSQL): an overlap committed by another path.
        await uow.rollback()
        raise Conflict(
            f"{person.name} already has an overlapping shift", field="starts_at"
        ) from error
    uow.record(ShiftsRostered(person_id=person_id, shift_ids=tuple(r.id for r in rows)))
    await uow.commit()
    return [_shift_read(r, person.name) for r in rows]


def _shift_read(s: Shift, name: str) -> ShiftRead:
    read = ShiftRead.model_validate(s)
    read.person_name = name
    return read


async def apply_pattern(
    *, uow: UnitOfWork, person_id: str, data: PatternApply, actor: str
) -> list[ShiftRead]:
    try:
        tz = ZoneInfo(data.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # "Europe" is a directory
        raise ValidationFailed(f"unknown time zone {data.timezone!r}", field="timezone") from error
    windows = roster.expand_pattern(
        [roster.PatternSlot(s.day, s.start, s.hours) for s in data.slots],
        cycle_days=data.cycle_days,
        first_day=data.first_day,
        days=data.days,
        tz=tz,
    )
    if not windows:
        raise ValidationFailed("the pattern gives no shifts in that period", field="slots")
    shifts = [
        ShiftIn(
            starts_at=w.starts_at, ends_at=w.ends_at, unit_id=data.unit_id, position=data.position
        )
        for w in windows
    ]
    return await add_shifts(uow=uow, person_id=person_id, shifts=shifts, actor=actor)


async def delete_shift(*, uow: UnitOfWork, shift_id: str) -> None:
    shift = await uow.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(f"shift {shift_id} does not exist")
    await uow.session.delete(shift)
    await uow.commit()


async def shifts_between(
    *, session: AsyncSession, start: datetime, end: datetime, person_id: str | None = None
) -> list[ShiftRead]:
    query = (
        select(Shift, Person.name)
        .join(Person, Person.id == Shift.person_id)
        .where(Shift.starts_at < end, Shift.ends_at > start)
    )
    if person_id is not None:
        query = query.where(Shift.person_id == person_id)
    rows = (await session.execute(query.order_by(Shift.starts_at, Person.name))).all()
    return [_shift_read(s, name) for s, name in rows]


async def on_duty(*, session: AsyncSession, at: datetime) -> list[OnDutyRead]:
    rows = (
        await session.execute(
            select(Shift, Person)
            .join(Person, Person.id == Shift.person_id)
            .where(Shift.starts_at <= at, Shift.ends_at > at, Person.active.is_(True))
            .order_by(Shift.unit_id, Person.name)
        )
    ).all()
    quals = await _qualifications(session, [p.id for _, p in rows])
    return [
        OnDutyRead(
            person_id=p.id,
            name=p.name,
            agency=p.agency,
            team_id=p.team_id,
            shift_id=s.id,
            ends_at=s.ends_at,
            unit_id=s.unit_id,
            resource_id=s.resource_id,
            position=s.position,
            qualifications=[_qualification_read(q, at.date()) for q in quals[p.id]],
        )
        for s, p in rows
    ]


async def unit_crews(
    *, session: AsyncSession, unit_ids: Sequence[str], at: datetime
) -> tuple[set[str], dict[str, list[roster.CrewMember]]]:
    """Which of the units are rostered at all, and each one's crew on shift at `at`."""
    if not unit_ids:
        return set(), {}
    rostered = {
        u
        for u in await session.scalars(
            select(Shift.unit_id).where(Shift.unit_id.in_(list(unit_ids))).distinct()
        )
        if u is not None
    }
    rows = (
        await session.execute(
            select(Shift.unit_id, Person)
            .join(Person, Person.id == Shift.person_id)
            .where(
                Shift.unit_id.in_(list(rostered)),
                Shift.starts_at <= at,
                Shift.ends_at > at,
                Person.active.is_(True),
            )
        )
    ).all()
    quals = await _qualifications(session, [p.id for _, p in rows])
    crews: dict[str, list[roster.CrewMember]] = defaultdict(list)
    for unit_id, p in rows:
        assert unit_id is not None  # only rostered units were asked for
        held: Mapping[str, date | None] = {q.kind: q.expires_on for q in quals[p.id]}
        crews[unit_id].append(roster.CrewMember(p.id, p.name, held))
    return rostered, crews


async def crew_problems(
    *, session: AsyncSession, units: Sequence[tuple[str, str]], at: datetime
) -> dict[str, str]:
    """Dispatch's crew port: for each rostered unit without a qualified crew on shift, why.

    Units never rostered are not judged (their crews are kept outside EMsync); once a unit has
    a shift in the roster, the roster decides.
    """
    rostered, crews = await unit_crews(session=session, unit_ids=[u for u, _ in units], at=at)
    out: dict[str, str] = {}
    for unit_id, unit_type in units:
        if unit_id not in rostered:
            continue
        problem = roster.crew_problem(unit_type, crews.get(unit_id, []), at.date())
        if problem is not None:
            out[unit_id] = problem
    return out
