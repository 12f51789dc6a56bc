"""Merge, unmerge and the review queue. A merge moves no row: the merged person points at the
survivor (`merged_into`) and every read of the survivor gathers the records merged into it, so
nothing of either is lost and unmerge (clearing the pointer) restores both exactly."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import Conflict, NotFound
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.registry.events import MatchReviewDecided, PersonsMerged, PersonUnmerged
from emsync.registry.models import MatchReview, Merge, Person
from emsync.registry.schemas import MergeRead

_MAX_CHAIN = 64


async def survivor_of(session: AsyncSession, person_id: str) -> str:
    """The current record a person id resolves to (itself unless merged away)."""
    current = person_id
    for _ in range(_MAX_CHAIN):
        nxt = await session.scalar(select(Person.merged_into).where(Person.id == current))
        if nxt is None:
            return current
        current = nxt
    raise Conflict(f"person {person_id}: merge chain longer than {_MAX_CHAIN}")


async def merged_records(session: AsyncSession, person_id: str) -> list[Person]:
    """Every record merged into this person, directly or through another merged record."""
    found: list[Person] = []
    frontier = [person_id]
    while frontier:
        rows = list(
            await session.scalars(
                select(Person).where(Person.merged_into.in_(frontier)).order_by(Person.created_at)
            )
        )
        found.extend(rows)
        frontier = [r.id for r in rows]
        if len(found) > 10_000:
            raise Conflict(f"person {person_id}: too many merged records")
    return found


async def record_ids(session: AsyncSession, person_id: str) -> list[str]:
    """The person and the records merged into it: whose entries and links a chart shows."""
    return [person_id, *(p.id for p in await merged_records(session, person_id))]


async def merge(
    *,
    uow: UnitOfWork,
    survivor_id: str,
    merged_id: str,
    method: str,
    reason: str,
    weight: float | None,
    actor: str,
    now: datetime,
) -> Merge:
    session = uow.session
    survivor = await session.get(Person, survivor_id)
    merged = await session.get(Person, merged_id)
    if survivor is None or merged is None:
        missing = survivor_id if survivor is None else merged_id
        raise NotFound(f"person {missing} does not exist")
    if survivor.merged_into is not None:
        raise Conflict(f"person {survivor_id} was merged into {survivor.merged_into}; use that")
    if merged.merged_into is not None:
        raise Conflict(f"person {merged_id} is already merged into {merged.merged_into}")
    if survivor_id == merged_id:
        raise Conflict("a person cannot be merged into itself")
    merged.merged_into = survivor_id
    merged.updated_at = now
    row = Merge(
        id=new_id(),
        survivor_id=survivor_id,
        merged_id=merged_id,
        method=method,
        reason=reason,
        match_weight=weight,
        merged_by=actor,
        merged_at=now,
    )
    session.add(row)
    # Reviews between the two are settled by the merge.
    await session.execute(
        update(MatchReview)
        .where(
            MatchReview.status == "open",
            or_(
                (MatchReview.person_id == merged_id) & (MatchReview.candidate_id == survivor_id),
                (MatchReview.person_id == survivor_id) & (MatchReview.candidate_id == merged_id),
            ),
        )
        .values(status="merged", decided_by=actor, decided_at=now)
    )
    await session.flush()
    uow.record(
        PersonsMerged(
            merge_id=row.id,
            survivor_id=survivor_id,
            merged_id=merged_id,
            method=method,
            actor=actor,
        )
    )
    return row


def merge_read(m: Merge) -> MergeRead:
    return MergeRead.model_validate(m, from_attributes=True)


async def merge_persons(
    *, uow: UnitOfWork, survivor_id: str, merged_id: str, reason: str, actor: str, now: datetime
) -> MergeRead:
    row = await merge(
        uow=uow,
        survivor_id=survivor_id,
        merged_id=merged_id,
        method="manual",
        reason=reason,
        weight=None,
        actor=actor,
        now=now,
    )
    read = merge_read(row)
    await uow.commit()
    return read


async def unmerge(
    *, uow: UnitOfWork, merge_id: str, reason: str, actor: str, now: datetime
) -> MergeRead:
    session = uow.session
    row = await session.get(Merge, merge_id)
    if row is None:
        raise NotFound(f"merge {merge_id} does not exist")
    if row.unmerged_at is not None:
        raise Conflict(f"merge {merge_id} was already undone")
    merged = await session.get(Person, row.merged_id)
    if merged is None or merged.merged_into != row.survivor_id:
        raise Conflict(f"merge {merge_id} is no longer in effect")
    merged.merged_into = None
    merged.updated_at = now
    row.unmerged_at, row.unmerged_by, row.unmerge_reason = now, actor, reason
    await session.flush()
    uow.record(
        PersonUnmerged(
            merge_id=row.id, survivor_id=row.survivor_id, merged_id=row.merged_id, actor=actor
        )
    )
    read = merge_read(row)
    await uow.commit()
    return read


async def merges_of(*, session: AsyncSession, person_id: str) -> list[MergeRead]:
    rows = await session.scalars(
        select(Merge)
        .where(or_(Merge.survivor_id == person_id, Merge.merged_id == person_id))
        .order_by(Merge.merged_at.desc())
    )
    return [merge_read(m) for m in rows]


async def decide_review(
    *,
    uow: UnitOfWork,
    review_id: str,
    same_person: bool,
    reason: str,
    actor: str,
    now: datetime,
) -> str:
    review = await uow.session.get(MatchReview, review_id)
    if review is None:
        raise NotFound(f"review {review_id} does not exist")
    if review.status != "open":
        raise Conflict(f"review {review_id} was already decided ({review.status})")
    if same_person:
        survivor = await survivor_of(uow.session, review.candidate_id)
        await merge(
            uow=uow,
            survivor_id=survivor,
            merged_id=review.person_id,
            method="review",
            reason=reason,
            weight=review.match_weight,
            actor=actor,
            now=now,
        )
        review.status = "merged"
    else:
        review.status = "distinct"
    review.decided_by, review.decided_at = actor, now
    uow.record(MatchReviewDecided(review_id=review.id, status=review.status, actor=actor))
    await uow.commit()
    return review.status
