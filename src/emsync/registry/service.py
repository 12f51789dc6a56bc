"""Person use cases: register (with matching), read, update. Personal fields are sealed on
write and opened on read; lookups go through the blind index (search: search.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.registry import identity, linkage, merging
from emsync.registry.candidates import candidate_persons
from emsync.registry.events import MatchReviewOpened, PersonRegistered, PersonUpdated
from emsync.registry.identity import Demographics, InvalidIdentity
from emsync.registry.index import PersonIndex
from emsync.registry.matching import decide, summarise
from emsync.registry.models import MatchReview, Person, PersonIdentifier, PersonKey
from emsync.registry.schemas import (
    CandidateRead,
    FieldComparison,
    IdentifierIn,
    IdentifierRead,
    IdentityUpdate,
    PersonIdentity,
    PersonRegistration,
    PersonSummary,
    RegisteredPerson,
    RegistrationResult,
)


def display_name(ident: PersonIdentity, sex: str | None, unknown: bool) -> str:
    name = " ".join(p for p in (ident.given_name, ident.family_name) if p)
    if name:
        return name
    if ident.birth_date is not None and ident.birth_date_estimated:
        age = f" ~{date.today().year - ident.birth_date.year}"
    else:
        age = ""
    return f"Unknown {sex or 'person'}{age}" if unknown or not name else name


def demographics(index: PersonIndex, ident: PersonIdentity, sex: str | None) -> Demographics:
    national = None
    address = ident.address
    return Demographics(
        given_name=identity.normalise_name(ident.given_name),
        family_name=identity.normalise_name(ident.family_name),
        dob=identity.dob_key(ident.birth_date, ident.birth_date_estimated),
        birth_year=ident.birth_date.year if ident.birth_date else None,
        sex=sex if sex in ("male", "female") else None,
        street=identity.normalise_name(address.line) if address else None,
        city=identity.normalise_name(address.city) if address else None,
        postcode=address.postcode.strip() if address and address.postcode else None,
        phone=identity.normalise_phone(ident.phone, index.phone_region),
        email=ident.email.lower() if ident.email else None,
        identifier=national,
    )


def summary(index: PersonIndex, p: Person, ident: PersonIdentity | None = None) -> PersonSummary:
    ident = ident or index.open_identity(p.id, p.identity_sealed)
    return PersonSummary(
        id=p.id,
        display_name=display_name(ident, p.sex, p.unknown),
        birth_date=ident.birth_date,
        birth_date_estimated=ident.birth_date_estimated,
        sex=p.sex,
        unknown=p.unknown,
        merged_into=p.merged_into,
    )


async def _identifiers(
    session: AsyncSession, index: PersonIndex, person_ids: Sequence[str]
) -> list[IdentifierRead]:
    rows = await session.scalars(
        select(PersonIdentifier)
        .where(PersonIdentifier.person_id.in_(person_ids))
        .order_by(PersonIdentifier.created_at, PersonIdentifier.id)
    )
    return [
        IdentifierRead(
            system=r.system,
            assigner=r.assigner or None,
            value=index.open(r.value_sealed, aad=f"person-identifier:{r.id}"),
        )
        for r in rows
    ]


async def read_person(session: AsyncSession, index: PersonIndex, p: Person) -> RegisteredPerson:
    ident = index.open_identity(p.id, p.identity_sealed)
    merged = await merging.merged_records(session, p.id)
    return RegisteredPerson(
        **ident.model_dump(),
        id=p.id,
        sex=p.sex,
        unknown=p.unknown,
        display_name=display_name(ident, p.sex, p.unknown),
        identifiers=await _identifiers(session, index, [p.id, *(m.id for m in merged)]),
        merged_into=p.merged_into,
        merged_records=[summary(index, m) for m in merged],
        created_by=p.created_by,
        created_at=p.created_at,
        updated_at=p.updated_at,
        version=p.version,
    )


async def get_person(
    *, session: AsyncSession, index: PersonIndex, person_id: str
) -> RegisteredPerson:
    return await read_person(session, index, await load(session, person_id))


async def load(session: AsyncSession, person_id: str) -> Person:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    return person


def compact_identifier(index: PersonIndex, ident: IdentifierIn, position: int) -> str:
    try:
        if ident.system == "national":
            return identity.check_national_id(ident.value, index.national_id_rule)
        return identity.compact_identifier(ident.value)
    except InvalidIdentity as exc:
        raise ValidationFailed(
            str(exc), errors=[{"field": f"identifiers.{position}.value", "message": str(exc)}]
        ) from exc


@dataclass(frozen=True, slots=True)
class _Prepared:
    identity: PersonIdentity
    demographics: Demographics
    identifiers: list[tuple[IdentifierIn, str]]  # (as given, compact)


def prepare(index: PersonIndex, data: PersonRegistration, now: datetime) -> _Prepared:
    """Validate and normalise a registration; raise ValidationFailed naming the field."""
    ident = PersonIdentity.model_validate(data.model_dump(include=set(PersonIdentity.model_fields)))
    if ident.birth_date is not None and ident.birth_date > now.date():
        raise ValidationFailed(
            "the date of birth is in the future",
            errors=[{"field": "birth_date", "message": "the date of birth is in the future"}],
        )
    if ident.birth_date is None and data.estimated_age_years is not None:
        ident.birth_date = date(now.year - data.estimated_age_years, 1, 1)
        ident.birth_date_estimated = True
    compact = [(i, compact_identifier(index, i, n)) for n, i in enumerate(data.identifiers)]
    try:
        demo = demographics(index, ident, data.sex)
    except InvalidIdentity as exc:
        raise ValidationFailed(
            str(exc), errors=[{"field": exc.field, "message": str(exc)}]
        ) from exc
    national = next((c for i, c in compact if i.system == "national"), None)
    demo = Demographics(**{**_as_dict(demo), "identifier": national})
    return _Prepared(identity=ident, demographics=demo, identifiers=compact)


def _as_dict(d: Demographics) -> dict[str, Any]:
    return {name: getattr(d, name) for name in Demographics.__slots__}


def with_identifier(d: Demographics, national: str | None) -> Demographics:
    return Demographics(**{**_as_dict(d), "identifier": national})


def identifier_blind(index: PersonIndex, system: str, assigner: str | None, compact: str) -> str:
    return index.blind(f"id:{system}:{assigner or ''}", compact)


def blocking_rows(index: PersonIndex, person_id: str, demo: Demographics) -> list[PersonKey]:
    return [
        PersonKey(person_id=person_id, kind=kind, blind=index.blind(kind, value))
        for kind, value in sorted(identity.blocking_keys(demo))
    ]


async def _insert_person(
    uow: UnitOfWork,
    index: PersonIndex,
    prepared: _Prepared,
    data: PersonRegistration,
    actor: str,
    now: datetime,
    skip_blinds: frozenset[str] = frozenset(),
) -> Person:
    person = Person(
        id=new_id(),
        unknown=data.unknown,
        sex=data.sex,
        created_by=actor,
        created_at=now,
        updated_at=now,
        identity_sealed=b"",
    )
    person.identity_sealed = index.seal_identity(person.id, prepared.identity)
    uow.session.add(person)
    for given, compact in prepared.identifiers:
        blind = identifier_blind(index, given.system, given.assigner, compact)
        if blind in skip_blinds:
            continue  # already the survivor's: one value belongs to one person
        row_id = new_id()
        uow.session.add(
            PersonIdentifier(
                id=row_id,
                person_id=person.id,
                system=given.system,
                assigner=given.assigner or "",
                blind=blind,
                created_at=now,
                value_sealed=index.seal(compact, aad=f"person-identifier:{row_id}"),
            )
        )
    uow.session.add_all(blocking_rows(index, person.id, prepared.demographics))
    await uow.session.flush()
    return person


async def _exact(
    session: AsyncSession, index: PersonIndex, prepared: _Prepared
) -> set[tuple[str, str]]:
    """Blind index entries of the identifiers given that some person already holds."""
    # (system, assigner, blind): the unique index's columns, in its order.
    triples = [
        (i.system, i.assigner or "", identifier_blind(index, i.system, i.assigner, c))
        for i, c in prepared.identifiers
    ]
    if not triples:
        return set()
    # OR-ed equalities rather than a row-value IN, which SQLite plans as a scan (see
    # candidates.keys_query).
    rows = await session.execute(
        select(PersonIdentifier.blind, PersonIdentifier.person_id).where(
            or_(
                *(
                    and_(
                        PersonIdentifier.system == system,
                        PersonIdentifier.assigner == assigner,
                        PersonIdentifier.blind == blind,
                    )
                    for system, assigner, blind in triples
                )
            )
        )
    )
    return {(b, p) for b, p in rows.all()}


async def register(
    *, uow: UnitOfWork, index: PersonIndex, data: PersonRegistration, actor: str, now: datetime
) -> RegistrationResult:
    """A new person record, matched first: an identifier someone holds links it to them
    (exact); otherwise the linkage model links, asks for review, or keeps it apart."""
    prepared = prepare(index, data, now)
    for attempt in (1, 2):
        try:
            result = await register_in(uow, index, prepared, data, actor, now)
            await uow.commit()
            return result
        except IntegrityError:
            # Someone registered the same identifier meanwhile: match again, now exactly.
            await uow.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def holder_of(session: AsyncSession, index: PersonIndex, prepared: _Prepared) -> str | None:
    """The person holding any of the identifiers given (Conflict if two different ones do)."""
    held = await _exact(session, index, prepared)
    owners = {await merging.survivor_of(session, owner) for _blind, owner in held}
    if len(owners) > 1:
        raise Conflict("the identifiers given belong to different persons")
    return owners.pop() if owners else None


async def register_in(
    uow: UnitOfWork,
    index: PersonIndex,
    prepared: _Prepared,
    data: PersonRegistration,
    actor: str,
    now: datetime,
) -> RegistrationResult:
    """Register within the caller's transaction (not committed)."""
    held = await _exact(uow.session, index, prepared)
    if held:
        survivor = await holder_of(uow.session, index, prepared)
        assert survivor is not None
        skip = frozenset(blind for blind, _owner in held)
        return await _register_exact(uow, index, prepared, data, actor, now, survivor, skip)
    candidates = await _candidates(uow.session, index, prepared) if data.match else []
    person = await _insert_person(uow, index, prepared, data, actor, now)
    best = next(iter(candidates), None)
    if best is not None and best.decision == "link":
        await merging.merge(
            uow=uow,
            survivor_id=best.person.id,
            merged_id=person.id,
            method="auto",
            reason="matched",
            weight=best.match_weight,
            actor=actor,
            now=now,
        )
        return await _result(uow, index, person, "auto", best.person.id, None, candidates)
    review_id = None
    for cand in (c for c in candidates[:3] if c.decision != "distinct"):
        review_id = review_id or await _open_review(uow, person.id, cand, now)
    decision = "review" if review_id else "created"
    return await _result(uow, index, person, decision, None, review_id, candidates)


async def _register_exact(
    uow: UnitOfWork,
    index: PersonIndex,
    prepared: _Prepared,
    data: PersonRegistration,
    actor: str,
    now: datetime,
    survivor: str,
    held: frozenset[str],
) -> RegistrationResult:
    """An identifier someone holds: the same person, unless both dates of birth are known and
    differ and the rest does not reach auto-link (a parent's id typed for the child): then a
    person reviews. The new record never takes the held identifier (one value, one person)."""
    holder = await load(uow.session, survivor)
    holder_ident = index.open_identity(holder.id, holder.identity_sealed)
    theirs = identity.dob_key(holder_ident.birth_date, holder_ident.birth_date_estimated)
    mine = prepared.demographics.dob
    person = await _insert_person(uow, index, prepared, data, actor, now, held)
    if mine is None or theirs is None or mine == theirs:
        await merging.merge(
            uow=uow,
            survivor_id=survivor,
            merged_id=person.id,
            method="exact",
            reason="identifier",
            weight=None,
            actor=actor,
            now=now,
        )
        return await _result(uow, index, person, "exact", survivor, None, [])
    [candidate] = await _score(uow.session, index, prepared, [holder])
    if candidate.decision == "link":
        await merging.merge(
            uow=uow,
            survivor_id=survivor,
            merged_id=person.id,
            method="exact",
            reason="identifier; date of birth differs",
            weight=candidate.match_weight,
            actor=actor,
            now=now,
        )
        return await _result(uow, index, person, "exact", survivor, None, [candidate])
    review_id = await _open_review(uow, person.id, candidate, now)
    return await _result(uow, index, person, "review", None, review_id, [candidate])


async def _open_review(uow: UnitOfWork, person_id: str, cand: CandidateRead, now: datetime) -> str:
    review = MatchReview(
        id=new_id(),
        person_id=person_id,
        candidate_id=cand.person.id,
        match_weight=cand.match_weight,
        match_probability=cand.match_probability,
        comparison=cand.fields.model_dump(),
        status="open",
        created_at=now,
    )
    uow.session.add(review)
    uow.record(
        MatchReviewOpened(review_id=review.id, person_id=person_id, candidate_id=cand.person.id)
    )
    return review.id


async def _result(
    uow: UnitOfWork,
    index: PersonIndex,
    person: Person,
    decision: str,
    linked_to: str | None,
    review_id: str | None,
    candidates: list[CandidateRead],
) -> RegistrationResult:
    await uow.session.flush()
    await uow.session.refresh(person)
    uow.record(
        PersonRegistered(
            person_id=person.id, decision=decision, linked_to=linked_to, actor=person.created_by
        )
    )
    return RegistrationResult(
        decision=decision,
        person=await read_person(uow.session, index, person),
        linked_to=linked_to,
        review_id=review_id,
        candidates=candidates,
    )


async def _candidates(
    session: AsyncSession, index: PersonIndex, prepared: _Prepared
) -> list[CandidateRead]:
    persons = await candidate_persons(
        session, index, identity.blocking_keys(prepared.demographics), index.max_candidates
    )
    return await _score(session, index, prepared, persons)


async def _score(
    session: AsyncSession, index: PersonIndex, prepared: _Prepared, persons: Sequence[Person]
) -> list[CandidateRead]:
    """The linkage model's weight for each candidate, best first, with the decision."""
    if not persons:
        return []
    opened = {p.id: index.open_identity(p.id, p.identity_sealed) for p in persons}
    nationals = await _nationals(session, index, [p.id for p in persons])
    rows = [
        linkage.row(
            p.id, with_identifier(demographics(index, opened[p.id], p.sex), nationals.get(p.id))
        )
        for p in persons
    ]
    scored = await index.score(linkage.row("new", prepared.demographics), rows)
    by_id = {p.id: p for p in persons}
    return [
        CandidateRead(
            person=summary(index, by_id[s.unique_id], opened[s.unique_id]),
            match_weight=round(s.match_weight, 3),
            match_probability=round(s.match_probability, 6),
            decision=decide(s.match_weight, s.levels, index.policy),
            fields=FieldComparison(**summarise(s.levels)),
        )
        for s in scored
    ]


async def _nationals(
    session: AsyncSession, index: PersonIndex, person_ids: list[str]
) -> dict[str, str]:
    """Each person's (first) national id, opened: one query for all candidates."""
    rows = await session.scalars(
        select(PersonIdentifier)
        .where(PersonIdentifier.person_id.in_(person_ids), PersonIdentifier.system == "national")
        .order_by(PersonIdentifier.created_at)
    )
    out: dict[str, str] = {}
    for r in rows:
        out.setdefault(r.person_id, index.open(r.value_sealed, aad=f"person-identifier:{r.id}"))
    return out


async def national_of(session: AsyncSession, index: PersonIndex, person_id: str) -> str | None:
    row = await session.scalar(
        select(PersonIdentifier)
        .where(PersonIdentifier.person_id == person_id, PersonIdentifier.system == "national")
        .limit(1)
    )
    return None if row is None else index.open(row.value_sealed, aad=f"person-identifier:{row.id}")


async def update_person(
    *,
    uow: UnitOfWork,
    index: PersonIndex,
    person_id: str,
    data: IdentityUpdate,
    actor: str,
    now: datetime,
) -> RegisteredPerson:
    person = await load(uow.session, person_id)
    if person.version != data.version:
        raise Conflict(f"person {person_id} changed since version {data.version}; reload it")
    create = PersonRegistration(**data.identity.model_dump(), sex=data.sex)
    prepared = prepare(index, create, now)
    national = await national_of(uow.session, index, person_id)
    demo = Demographics(**{**_as_dict(prepared.demographics), "identifier": national})
    person.identity_sealed = index.seal_identity(person.id, prepared.identity)
    person.sex = data.sex
    person.updated_at = now
    await uow.session.execute(delete(PersonKey).where(PersonKey.person_id == person_id))
    uow.session.add_all(blocking_rows(index, person_id, demo))
    try:
        await uow.session.flush()
    except StaleDataError as exc:
        raise Conflict(f"person {person_id} changed meanwhile; reload it") from exc
    uow.record(PersonUpdated(person_id=person_id, actor=actor))
    read = await read_person(uow.session, index, person)
    await uow.commit()
    return read
