"""Rebuilding the blind index: after the key it derives from changes (`registry.
blind_index_key_id`), or the blocking keys' definition does, every entry is recomputed from the
sealed values. Runs in batches, each its own transaction; safe to repeat."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.registry import service
from emsync.registry.index import PersonIndex
from emsync.registry.models import Person, PersonIdentifier, PersonKey


async def _national(session: AsyncSession, index: PersonIndex, person_id: str) -> str | None:
    return await service.national_of(session, index, person_id)


async def reindex(
    sessions: async_sessionmaker[AsyncSession],
    index: PersonIndex,
    *,
    batch: int = 500,
    progress: Callable[[int], None] = lambda _n: None,
) -> int:
    """Recompute every person's blocking keys and identifiers' blind entries; returns persons."""
    done = 0
    after = ""
    while True:
        async with sessions() as session:
            persons = list(
                await session.scalars(
                    select(Person).where(Person.id > after).order_by(Person.id).limit(batch)
                )
            )
            if not persons:
                return done
            for person in persons:
                await _reindex_person(session, index, person)
            await session.commit()
        done += len(persons)
        after = persons[-1].id
        progress(len(persons))


async def _reindex_person(session: AsyncSession, index: PersonIndex, person: Person) -> None:
    for ident in await session.scalars(
        select(PersonIdentifier).where(PersonIdentifier.person_id == person.id)
    ):
        value = index.open(ident.value_sealed, aad=f"person-identifier:{ident.id}")
        ident.blind = service.identifier_blind(index, ident.system, ident.assigner, value)
    ident_doc = index.open_identity(person.id, person.identity_sealed)
    demo = service.demographics(index, ident_doc, person.sex)
    demo = service.with_identifier(demo, await _national(session, index, person.id))
    await session.execute(delete(PersonKey).where(PersonKey.person_id == person.id))
    session.add_all(service.blocking_rows(index, person.id, demo))
