"""Registry routes: register, search, read and update persons; merge, unmerge, review queue.
Clinical entries, links and the chart are in clinical_api."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.runtime import ReadSessionDep, RuntimeDep, UowDep
from emsync.registry import clinical_api, merging, search, service
from emsync.registry.index import PersonIndex
from emsync.registry.models import MatchReview, Person
from emsync.registry.schemas import (
    FieldComparison,
    IdentityUpdate,
    MergeRead,
    MergeRequest,
    PersonRegistration,
    RegisteredPerson,
    RegistrationResult,
    ReviewDecision,
    ReviewRead,
    SearchHit,
    UnmergeRequest,
)

router = APIRouter(prefix="/api/persons", tags=["registry"])
review_router = APIRouter(prefix="/api/registry", tags=["registry"])


def index_of(runtime: RuntimeDep) -> PersonIndex:
    return runtime.get(PersonIndex)


@router.post("", response_model=RegistrationResult, status_code=201)
async def register_person(
    body: PersonRegistration,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_WRITE)],
    response: Response,
) -> RegistrationResult:
    """Register a person, matched first: `decision` says whether the record was linked to an
    existing person (`exact` by identifier, `auto` by the linkage model), sent to `review`, or
    `created` as a new person. An unknown patient needs nothing but `unknown: true`."""
    result = await service.register(
        uow=uow,
        index=index_of(runtime),
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
    if result.linked_to is not None:
        response.headers["Location"] = f"/api/persons/{result.linked_to}"
    return result


@router.get("", response_model=list[SearchHit])
async def search_persons(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _principal: Annotated[Principal, requires(Perm.PERSONS_READ)],
    identifier: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    system: Literal["national", "mrn", "passport", "other"] = "national",
    assigner: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    phone: Annotated[str | None, Query(min_length=3, max_length=40)] = None,
    given_name: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    family_name: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    birth_date: date | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[SearchHit]:
    """By identifier (exact), phone (exact), or name and/or date of birth (fuzzy: spelling
    variants of a name meet through phonetic keys). Merged-away records resolve to the person."""
    return await search.search(
        session=session,
        index=index_of(runtime),
        query=search.SearchQuery(
            identifier=identifier,
            system=system,
            assigner=assigner,
            phone=phone,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            limit=limit,
        ),
    )


@router.get("/{person_id}", response_model=RegisteredPerson)
async def get_person(
    person_id: str,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _principal: Annotated[Principal, requires(Perm.PERSONS_READ)],
) -> RegisteredPerson:
    return await service.get_person(session=session, index=index_of(runtime), person_id=person_id)


@router.put("/{person_id}", response_model=RegisteredPerson)
async def update_person(
    person_id: str,
    body: IdentityUpdate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_WRITE)],
) -> RegisteredPerson:
    return await service.update_person(
        uow=uow,
        index=index_of(runtime),
        person_id=person_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.post("/{person_id}/merges", response_model=MergeRead, status_code=201)
async def merge_into(
    person_id: str,
    body: MergeRequest,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_MERGE)],
) -> MergeRead:
    """Merge `merged_id` into this person. Nothing moves: unmerge restores both exactly."""
    return await merging.merge_persons(
        uow=uow,
        survivor_id=person_id,
        merged_id=body.merged_id,
        reason=body.reason,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.get("/{person_id}/merges", response_model=list[MergeRead])
async def list_merges(
    person_id: str,
    session: ReadSessionDep,
    _principal: Annotated[Principal, requires(Perm.PERSONS_READ)],
) -> list[MergeRead]:
    return await merging.merges_of(session=session, person_id=person_id)


@review_router.post("/merges/{merge_id}/undo", response_model=MergeRead)
async def unmerge(
    merge_id: str,
    body: UnmergeRequest,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_MERGE)],
) -> MergeRead:
    return await merging.unmerge(
        uow=uow,
        merge_id=merge_id,
        reason=body.reason,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@review_router.get("/reviews", response_model=list[ReviewRead])
async def list_reviews(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _principal: Annotated[Principal, requires(Perm.PERSONS_MERGE)],
    status: Literal["open", "merged", "distinct"] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ReviewRead]:
    """The grey zone: pairs the linkage model was unsure of, oldest first."""
    index = index_of(runtime)
    rows = list(
        await session.scalars(
            select(MatchReview)
            .where(MatchReview.status == status)
            .order_by(MatchReview.created_at, MatchReview.id)
            .limit(limit)
        )
    )
    ids = {r.person_id for r in rows} | {r.candidate_id for r in rows}
    persons = {p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(ids)))}
    return [
        ReviewRead(
            id=r.id,
            person=service.summary(index, persons[r.person_id]),
            candidate=service.summary(index, persons[r.candidate_id]),
            match_weight=r.match_weight,
            match_probability=r.match_probability,
            fields=FieldComparison(**r.comparison),
            status=r.status,
            created_at=r.created_at,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
        )
        for r in rows
    ]


@review_router.post("/reviews/{review_id}/decision", response_model=ReviewRead)
async def decide_review(
    review_id: str,
    body: ReviewDecision,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.PERSONS_MERGE)],
) -> ReviewRead:
    """Same person: the new record is merged into the candidate. Not: both stay apart."""
    await merging.decide_review(
        uow=uow,
        review_id=review_id,
        same_person=body.same_person,
        reason=body.reason,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
    async with runtime.read_sessions() as session:
        review = await session.get(MatchReview, review_id)
        assert review is not None
        index = index_of(runtime)
        person = await service.load(session, review.person_id)
        candidate = await service.load(session, review.candidate_id)
        return ReviewRead(
            id=review.id,
            person=service.summary(index, person),
            candidate=service.summary(index, candidate),
            match_weight=review.match_weight,
            match_probability=review.match_probability,
            fields=FieldComparison(**review.comparison),
            status=review.status,
            created_at=review.created_at,
            decided_by=review.decided_by,
            decided_at=review.decided_at,
        )


routers = (router, review_router, clinical_api.router, clinical_api.patient_router)
