"""Notification use cases: contact points and their verification, personal preferences, teams,
on-call schedules and overrides, escalation policies, and who is on call now. Pages (an
escalation in progress) are in paging.py; the outbox in outbox.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.public import user_directory
from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.notifications import addresses, oncall, outbox, signing, webhooks
from emsync.notifications.escalation import ChannelKind
from emsync.notifications.models import (
    ContactPoint,
    Override,
    Preference,
    Schedule,
    Team,
)
from emsync.notifications.schemas import (
    ContactPointCreate,
    ContactPointCreated,
    ContactPointRead,
    OnCallRead,
    OnCallShiftRead,
    OnCallTeamCreate,
    OnCallTeamRead,
    OverrideCreate,
    OverrideRead,
    PreferenceRead,
    PreferenceUpdate,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
)
from emsync.notifications.templates import DEFAULT_LANGUAGE

MAX_CODE_ATTEMPTS = 5
DEFAULT_CHANNELS = [ChannelKind.PUSH, ChannelKind.SMS, ChannelKind.EMAIL, ChannelKind.IN_APP]


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message}])


# ---------------------------------------------------------------- contact points


def _point_read(point: ContactPoint) -> ContactPointRead:
    return ContactPointRead(
        id=point.id,
        kind=point.kind,
        label=point.label,
        masked=point.masked,
        verified=point.verified_at is not None,
        verified_at=point.verified_at,
        created_at=point.created_at,
    )


async def list_contact_points(*, session: AsyncSession, user_id: str) -> list[ContactPointRead]:
    rows = await session.scalars(
        select(ContactPoint)
        .where(ContactPoint.user_id == user_id)
        .order_by(ContactPoint.created_at)
    )
    return [_point_read(p) for p in rows]


async def _own_point(session: AsyncSession, user_id: str, point_id: str) -> ContactPoint:
    point = await session.get(ContactPoint, point_id, with_for_update=True)
    if point is None or point.user_id != user_id:
        raise NotFound(f"contact point {point_id} does not exist")
    return point


async def add_contact_point(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    keys: outbox.Keys,
    user_id: str,
    body: ContactPointCreate,
    now: datetime,
    code_lifetime: timedelta,
) -> ContactPointCreated:
    """Store an address (sealed) and send it a verification code; it pages nobody until the
    code comes back."""
    kind = ChannelKind(body.kind)
    try:
        normalized = addresses.normalize(kind, body.address)
    except addresses.InvalidAddress as exc:
        raise invalid("address", str(exc)) from None
    digest = signing.address_digest(keys.address, kind.value, normalized)
    session = uow.session
    taken = await session.scalar(
        select(ContactPoint.id).where(
            ContactPoint.user_id == user_id,
            ContactPoint.kind == kind.value,
            ContactPoint.address_digest == digest,
        )
    )
    if taken is not None:
        raise Conflict("you already have this address", field="address", contact_point_id=taken)
    point_id = new_id()
    secret = webhooks.new_secret() if kind is ChannelKind.WEBHOOK else None
    point = ContactPoint(
        id=point_id,
        user_id=user_id,
        kind=kind.value,
        label=body.label or addresses.masked(kind, normalized),
        address_sealed=keyring.seal(normalized.encode(), aad=outbox.address_aad(point_id)),
        address_digest=digest,
        masked=addresses.masked(kind, normalized),
        secret_sealed=None
        if secret is None
        else keyring.seal(secret.encode(), aad=outbox.address_aad(f"{point_id}:secret")),
        code_attempts=0,
        created_at=now,
    )
    session.add(point)
    await session.flush()
    await _send_code(uow, keyring, keys, point, now, code_lifetime)
    await uow.commit()
    return ContactPointCreated(**_point_read(point).model_dump(), webhook_secret=secret)


async def _send_code(
    uow: UnitOfWork,
    keyring: Keyring,
    keys: outbox.Keys,
    point: ContactPoint,
    now: datetime,
    lifetime: timedelta,
) -> None:
    code = signing.new_code()
    point.code_digest = signing.code_digest(keys.code, code)
    point.code_expires_at = now + lifetime
    point.code_attempts = 0
    language = await _language(uow.session, point.user_id)
    await outbox.add(
        uow.session,
        keyring,
        outbox.NewNotification(
            channel=ChannelKind(point.kind),
            template="contact_verification",
            language=language,
            data={"code": code},
            idempotency_key=f"verify:{point.id}:{point.code_digest[:16]}",
            user_id=point.user_id,
            contact_point_id=point.id,
            urgent=True,
        ),
        now,
    )


async def resend_code(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    keys: outbox.Keys,
    user_id: str,
    point_id: str,
    now: datetime,
    code_lifetime: timedelta,
) -> ContactPointRead:
    point = await _own_point(uow.session, user_id, point_id)
    if point.verified_at is not None:
        raise Conflict("this contact point is verified already")
    await _send_code(uow, keyring, keys, point, now, code_lifetime)
    await uow.commit()
    return _point_read(point)


async def verify_contact_point(
    *, uow: UnitOfWork, keys: outbox.Keys, user_id: str, point_id: str, code: str, now: datetime
) -> ContactPointRead:
    point = await _own_point(uow.session, user_id, point_id)
    if point.verified_at is not None:
        return _point_read(point)
    if point.code_digest is None or point.code_expires_at is None or point.code_expires_at <= now:
        raise invalid("code", "the code has expired; ask for a new one")
    if point.code_attempts >= MAX_CODE_ATTEMPTS:
        raise invalid("code", "too many wrong codes; ask for a new one")
    if signing.code_digest(keys.code, code) != point.code_digest:
        point.code_attempts += 1
        await uow.commit()  # the wrong try counts, so codes cannot be guessed
        raise invalid("code", "the code is not right")
    point.verified_at = now
    point.code_digest = point.code_expires_at = None
    await uow.commit()
    return _point_read(point)


async def delete_contact_point(*, uow: UnitOfWork, user_id: str, point_id: str) -> None:
    point = await _own_point(uow.session, user_id, point_id)
    await uow.session.delete(point)
    await uow.commit()


async def send_test(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    user_id: str,
    point_id: str,
    sender: str,
    now: datetime,
) -> str:
    """The test-send button: one message through the real channel; returns its id."""
    point = await _own_point(uow.session, user_id, point_id)
    if point.verified_at is None:
        raise Conflict("verify this contact point first", field="contact_point_id")
    notification_id = await outbox.add(
        uow.session,
        keyring,
        outbox.NewNotification(
            channel=ChannelKind(point.kind),
            template="test_message",
            language=await _language(uow.session, user_id),
            data={"sender": sender},
            idempotency_key=f"test:{point.id}:{new_id()}",
            user_id=user_id,
            contact_point_id=point.id,
            subject_kind="test",
            subject_id=point.id,
            urgent=True,
        ),
        now,
    )
    await uow.commit()
    assert notification_id is not None
    return notification_id


# ---------------------------------------------------------------- preferences


async def _language(session: AsyncSession, user_id: str) -> str:
    pref = await session.get(Preference, user_id)
    return pref.language if pref is not None else DEFAULT_LANGUAGE


async def get_preferences(*, session: AsyncSession, user_id: str) -> PreferenceRead:
    pref = await session.get(Preference, user_id)
    if pref is None:
        return PreferenceRead(
            language="en", channels=DEFAULT_CHANNELS, quiet_off_duty=False, mute_after_logout=False
        )
    return PreferenceRead(
        language=pref.language,
        channels=[ChannelKind(c) for c in pref.channels],
        quiet_off_duty=pref.quiet_off_duty,
        mute_after_logout=pref.mute_after_logout,
    )


async def set_preferences(
    *, uow: UnitOfWork, user_id: str, body: PreferenceUpdate, now: datetime
) -> PreferenceRead:
    pref = await uow.session.get(Preference, user_id)
    channels = [c.value for c in body.channels]
    if ChannelKind.IN_APP.value not in channels:
        channels.append(ChannelKind.IN_APP.value)  # the dashboard always shows your pages
    if pref is None:
        pref = Preference(user_id=user_id, channels=channels, updated_at=now)
        uow.session.add(pref)
    pref.language, pref.channels = body.language, channels
    pref.quiet_off_duty, pref.mute_after_logout = body.quiet_off_duty, body.mute_after_logout
    pref.updated_at = now
    await uow.commit()
    return await get_preferences(session=uow.session, user_id=user_id)


# ---------------------------------------------------------------- teams and schedules


async def list_teams(*, session: AsyncSession) -> list[OnCallTeamRead]:
    rows = await session.scalars(select(Team).order_by(Team.name))
    return [
        OnCallTeamRead(id=t.id, name=t.name, kind=t.kind, description=t.description) for t in rows
    ]


async def create_team(*, uow: UnitOfWork, body: OnCallTeamCreate, now: datetime) -> OnCallTeamRead:
    team = Team(
        id=new_id(), name=body.name, kind=body.kind, description=body.description, created_at=now
    )
    uow.session.add(team)
    try:
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise Conflict(f"a team named {body.name!r} exists", field="name") from None
    return OnCallTeamRead(id=team.id, name=team.name, kind=body.kind, description=team.description)


async def check_users(session: AsyncSession, user_ids: Sequence[str], field: str) -> dict[str, str]:
    found = {e.id: e.username for e in await user_directory(session=session, user_ids=user_ids)}
    for i, user_id in enumerate(user_ids):
        if user_id not in found:
            raise invalid(f"{field}.{i}" if field == "members" else field, f"no user {user_id}")
    return found


def _rotation(schedule: Schedule) -> oncall.Rotation:
    return oncall.Rotation(
        start=schedule.rotation_start,
        shift=timedelta(seconds=schedule.shift_seconds),
        members=tuple(schedule.members),
    )


def _overrides(rows: Sequence[Override]) -> list[oncall.Override]:
    ordered = sorted(rows, key=lambda o: o.created_at)
    return [oncall.Override(o.user_id, o.starts_at, o.ends_at) for o in ordered]


async def _names(session: AsyncSession, ids: set[str]) -> dict[str, str]:
    return {e.id: e.username for e in await user_directory(session=session, user_ids=ids)}


def _shift_read(shift: oncall.Shift | None, names: dict[str, str]) -> OnCallShiftRead | None:
    if shift is None:
        return None
    return OnCallShiftRead(
        user_id=shift.user_id,
        username=names.get(shift.user_id, "(removed user)"),
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        override=shift.override,
    )


async def _schedule_read(session: AsyncSession, schedule: Schedule, now: datetime) -> ScheduleRead:
    rows = list(
        await session.scalars(
            select(Override).where(Override.schedule_id == schedule.id, Override.ends_at > now)
        )
    )
    overrides = _overrides(rows)
    rotation = _rotation(schedule)
    shifts = oncall.upcoming(rotation, overrides, now, 6)
    names = await _names(session, {*schedule.members, *(o.user_id for o in rows)})
    return ScheduleRead(
        id=schedule.id,
        team_id=schedule.team_id,
        name=schedule.name,
        rotation_start=schedule.rotation_start,
        shift_hours=schedule.shift_seconds / 3600,
        member_ids=list(schedule.members),
        member_names=[names.get(m, "(removed user)") for m in schedule.members],
        on_call=_shift_read(shifts[0] if shifts else None, names),
        upcoming=[s for s in (_shift_read(x, names) for x in shifts[1:]) if s is not None],
        overrides=[
            OverrideRead(
                id=o.id,
                user_id=o.user_id,
                username=names.get(o.user_id, "(removed user)"),
                starts_at=o.starts_at,
                ends_at=o.ends_at,
                reason=o.reason,
                created_by=o.created_by,
            )
            for o in sorted(rows, key=lambda o: o.starts_at)
        ],
    )


async def list_schedules(*, session: AsyncSession, now: datetime) -> list[ScheduleRead]:
    rows = await session.scalars(select(Schedule).order_by(Schedule.name))
    return [await _schedule_read(session, s, now) for s in rows]


async def get_schedule(*, session: AsyncSession, schedule_id: str, now: datetime) -> ScheduleRead:
    schedule = await session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} does not exist")
    return await _schedule_read(session, schedule, now)


async def create_schedule(*, uow: UnitOfWork, body: ScheduleCreate, now: datetime) -> ScheduleRead:
    session = uow.session
    if await session.get(Team, body.team_id) is None:
        raise invalid("team_id", f"no team {body.team_id}")
    await check_users(session, body.members, "members")
    schedule = Schedule(
        id=new_id(),
        team_id=body.team_id,
        name=body.name,
        rotation_start=body.rotation_start,
        shift_seconds=round(body.shift_hours * 3600),
        members=list(body.members),
        created_at=now,
        updated_at=now,
    )
    session.add(schedule)
    await uow.commit()
    return await _schedule_read(session, schedule, now)


async def update_schedule(
    *, uow: UnitOfWork, schedule_id: str, body: ScheduleUpdate, now: datetime
) -> ScheduleRead:
    session = uow.session
    schedule = await session.get(Schedule, schedule_id, with_for_update=True)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} does not exist")
    if body.members is not None:
        await check_users(session, body.members, "members")
        schedule.members = list(body.members)
    if body.name is not None:
        schedule.name = body.name
    if body.rotation_start is not None:
        schedule.rotation_start = body.rotation_start
    if body.shift_hours is not None:
        schedule.shift_seconds = round(body.shift_hours * 3600)
    schedule.updated_at = now
    await uow.commit()
    return await _schedule_read(session, schedule, now)


async def delete_schedule(*, uow: UnitOfWork, schedule_id: str) -> None:
    schedule = await uow.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} does not exist")
    await uow.session.delete(schedule)
    await uow.commit()


async def add_override(
    *, uow: UnitOfWork, schedule_id: str, body: OverrideCreate, actor: str, now: datetime
) -> ScheduleRead:
    session = uow.session
    schedule = await session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} does not exist")
    if body.ends_at <= now:
        raise invalid("ends_at", "the override would already be over")
    await check_users(session, [body.user_id], "user_id")
    session.add(
        Override(
            id=new_id(),
            schedule_id=schedule_id,
            user_id=body.user_id,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            reason=body.reason,
            created_by=actor,
            created_at=now,
        )
    )
    await uow.commit()
    return await _schedule_read(session, schedule, now)


async def delete_override(*, uow: UnitOfWork, schedule_id: str, override_id: str) -> None:
    result = await uow.session.execute(
        delete(Override).where(Override.id == override_id, Override.schedule_id == schedule_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"override {override_id} does not exist")
    await uow.commit()


async def on_call_now(*, session: AsyncSession, now: datetime) -> list[OnCallRead]:
    teams = {t.id: t for t in await session.scalars(select(Team))}
    schedules = list(await session.scalars(select(Schedule).order_by(Schedule.name)))
    overrides_by: dict[str, list[Override]] = {}
    for o in await session.scalars(select(Override).where(Override.ends_at > now)):
        overrides_by.setdefault(o.schedule_id, []).append(o)
    ids = {m for s in schedules for m in s.members} | {
        o.user_id for rows in overrides_by.values() for o in rows
    }
    names = await _names(session, ids)
    out = []
    for s in schedules:
        shifts = oncall.upcoming(_rotation(s), _overrides(overrides_by.get(s.id, [])), now, 2)
        team = teams.get(s.team_id)
        out.append(
            OnCallRead(
                schedule_id=s.id,
                schedule_name=s.name,
                team_id=s.team_id,
                team_name=team.name if team else "?",
                team_kind=team.kind if team else "other",
                on_call=_shift_read(shifts[0] if shifts else None, names),
                next_handover=shifts[0].ends_at if shifts else None,
                next=_shift_read(shifts[1] if len(shifts) > 1 else None, names),
            )
        )
    return out


async def on_call_users(
    *, session: AsyncSession, now: datetime, schedule_ids: Sequence[str] | None = None
) -> dict[str, str]:
    """schedule id -> the user on call there now (all schedules, or those named)."""
    query = select(Schedule)
    if schedule_ids is not None:
        query = query.where(Schedule.id.in_(list(schedule_ids)))
    schedules = list(await session.scalars(query))
    rows = await session.scalars(
        select(Override).where(
            Override.schedule_id.in_([s.id for s in schedules]),
            Override.starts_at <= now,
            Override.ends_at > now,
        )
    )
    by: dict[str, list[Override]] = {}
    for o in rows:
        by.setdefault(o.schedule_id, []).append(o)
    out = {}
    for s in schedules:
        shift = oncall.on_call(_rotation(s), _overrides(by.get(s.id, [])), now)
        if shift is not None:
            out[s.id] = shift.user_id
    return out
