"""Escalation policies as data: who is paged in which order, on which channels, after how long,
for which triggers (at most one policy per trigger)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import Conflict, NotFound
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.notifications.models import Policy, Schedule
from emsync.notifications.schemas import PolicyCreate, PolicyRead
from emsync.notifications.service import check_users, invalid


def _policy_read(p: Policy) -> PolicyRead:
    return PolicyRead.model_validate(
        {
            "id": p.id,
            "name": p.name,
            "triggers": p.triggers,
            "steps": p.steps,
            "repeat": p.repeat,
            "repeat_after_seconds": p.repeat_after_seconds,
            "updated_at": p.updated_at,
        }
    )


async def list_policies(*, session: AsyncSession) -> list[PolicyRead]:
    return [_policy_read(p) for p in await session.scalars(select(Policy).order_by(Policy.name))]


async def _check_policy(session: AsyncSession, body: PolicyCreate, policy_id: str | None) -> None:
    for other in await session.scalars(select(Policy).where(Policy.id != (policy_id or ""))):
        clash = set(other.triggers) & set(body.triggers)
        if clash:
            raise Conflict(
                f"policy {other.name!r} already handles {sorted(clash)[0]}", field="triggers"
            )
    schedule_ids = {s for (s,) in (await session.execute(select(Schedule.id))).all()}
    for i, step in enumerate(body.steps):
        for j, target in enumerate(step.targets):
            if target.kind == "schedule" and target.ref not in schedule_ids:
                raise invalid(f"steps.{i}.targets.{j}.ref", f"no schedule {target.ref}")
            if target.kind == "user":
                await check_users(session, [target.ref], f"steps.{i}.targets.{j}.ref")
            if target.kind == "role" and target.ref not in {
                "admin",
                "dispatcher",
                "paramedic",
                "clinician",
                "hospital_coordinator",
                "emergency_manager",
            }:
                raise invalid(f"steps.{i}.targets.{j}.ref", f"no role {target.ref}")


async def create_policy(*, uow: UnitOfWork, body: PolicyCreate, now: datetime) -> PolicyRead:
    await _check_policy(uow.session, body, None)
    policy = Policy(
        id=new_id(),
        name=body.name,
        triggers=list(body.triggers),
        steps=[s.model_dump(mode="json") for s in body.steps],
        repeat=body.repeat,
        repeat_after_seconds=body.repeat_after_seconds,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(policy)
    try:
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise Conflict(f"a policy named {body.name!r} exists", field="name") from None
    return _policy_read(policy)


async def update_policy(
    *, uow: UnitOfWork, policy_id: str, body: PolicyCreate, now: datetime
) -> PolicyRead:
    policy = await uow.session.get(Policy, policy_id, with_for_update=True)
    if policy is None:
        raise NotFound(f"policy {policy_id} does not exist")
    await _check_policy(uow.session, body, policy_id)
    policy.name, policy.triggers = body.name, list(body.triggers)
    policy.steps = [s.model_dump(mode="json") for s in body.steps]
    policy.repeat, policy.repeat_after_seconds = body.repeat, body.repeat_after_seconds
    policy.updated_at = now
    try:
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise Conflict(f"a policy named {body.name!r} exists", field="name") from None
    return _policy_read(policy)


async def delete_policy(*, uow: UnitOfWork, policy_id: str) -> None:
    policy = await uow.session.get(Policy, policy_id)
    if policy is None:
        raise NotFound(f"policy {policy_id} does not exist")
    await uow.session.delete(policy)
    await uow.commit()
