"""Finding a person in the registry: by identifier, by phone, or by name and date of birth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import ValidationFailed
from emsync.registry import identity, merging
from emsync.registry.candidates import candidate_persons
from emsync.registry.identity import Demographics, InvalidIdentity
from emsync.registry.index import PersonIndex
from emsync.registry.models import PersonIdentifier
from emsync.registry.schemas import (
    IdentifierIn,
    IdentifierSystem,
    PersonIdentity,
    SearchHit,
)
from emsync.registry.service import (
    compact_identifier,
    identifier_blind,
    load,
    summary,
)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    identifier: str | None = None
    system: IdentifierSystem = "national"
    assigner: str | None = None
    phone: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birth_date: date | None = None
    limit: int = 20


async def search(
    *, session: AsyncSession, index: PersonIndex, query: SearchQuery
) -> list[SearchHit]:
    if query.identifier:
        return await _search_identifier(session, index, query)
    if query.phone:
        try:
            phone = identity.normalise_phone(query.phone, index.phone_region)
        except InvalidIdentity as exc:
            raise ValidationFailed(
                str(exc), errors=[{"field": "phone", "message": str(exc)}]
            ) from exc
        persons = await candidate_persons(session, index, [("phone", phone or "")], query.limit)
        return [
            SearchHit(person=summary(index, p), score=1.0, matched_on=["phone"]) for p in persons
        ]
    if not (query.family_name or query.given_name or query.birth_date):
        raise ValidationFailed("search by identifier, phone, or name and/or date of birth")
    return await _search_name(session, index, query)


async def _search_identifier(
    session: AsyncSession, index: PersonIndex, query: SearchQuery
) -> list[SearchHit]:
    assert query.identifier is not None
    given = IdentifierIn.model_construct(
        system=query.system, value=query.identifier, assigner=query.assigner
    )
    try:
        compact = compact_identifier(index, given, 0)
    except ValidationFailed:
        return []  # not a valid id: nobody holds it
    owner = await session.scalar(
        select(PersonIdentifier.person_id).where(
            PersonIdentifier.system == query.system,
            PersonIdentifier.assigner == (query.assigner or ""),
            PersonIdentifier.blind
            == identifier_blind(index, query.system, query.assigner, compact),
        )
    )
    if owner is None:
        return []
    person = await load(session, await merging.survivor_of(session, owner))
    return [SearchHit(person=summary(index, person), score=1.0, matched_on=["identifier"])]


async def _search_name(
    session: AsyncSession, index: PersonIndex, query: SearchQuery
) -> list[SearchHit]:
    dob = identity.dob_key(query.birth_date, False)
    probe = Demographics(
        given_name=identity.normalise_name(query.given_name),
        family_name=identity.normalise_name(query.family_name),
        dob=dob,
        birth_year=query.birth_date.year if query.birth_date else None,
        sex=None,
        street=None,
        city=None,
        postcode=None,
        phone=None,
        email=None,
        identifier=None,
    )
    keys = {k for k in identity.blocking_keys(probe) if k[0] != "fam" or dob is None}
    persons = await candidate_persons(session, index, keys, index.max_candidates)
    hits = []
    for p in persons:
        ident = index.open_identity(p.id, p.identity_sealed)
        score, matched = _rank(probe, ident)
        if score > 0:
            hits.append(SearchHit(person=summary(index, p, ident), score=score, matched_on=matched))
    hits.sort(key=lambda h: -h.score)
    return hits[: query.limit]


def _rank(probe: Demographics, ident: PersonIdentity) -> tuple[float, list[str]]:
    """Search order (not a link decision): name similarity, plus the date of birth."""
    matched: list[str] = []
    parts: list[float] = []
    for field, mine in (("given_name", ident.given_name), ("family_name", ident.family_name)):
        wanted = getattr(probe, field)
        if wanted:
            sim = identity.name_similarity(wanted, identity.normalise_name(mine))
            parts.append(sim)
            if sim >= 0.85:
                matched.append(field)
    if probe.dob:
        same = identity.dob_key(ident.birth_date, False) == probe.dob
        near = ident.birth_date is not None and ident.birth_date.year == probe.birth_year
        parts.append(1.0 if same else 0.5 if near else 0.0)
        if same:
            matched.append("birth_date")
    if not parts or max(parts) < 0.7:
        return 0.0, []
    return round(sum(parts) / len(parts), 4), matched
