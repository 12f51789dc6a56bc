"""Candidate persons for a search or a new registration: who holds any of a set of blocking keys
(blind index entries), most shared keys first, merged-away records resolved to their survivor."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.registry import merging
from emsync.registry.index import PersonIndex
from emsync.registry.models import Person, PersonKey


def keys_query(by_kind: Mapping[str, Sequence[str]]) -> Select[str]:
    """Persons holding any of these blind keys (kind -> blind values).

    The lookup index is on (kind, blind), in that order. One `kind = ? AND blind IN (...)` per
    kind, OR-ed: SQLite plans a row-value `(kind, blind) IN (...)` as a scan of every key (80 ms
    at 100k persons), the OR form as one index search per term; PostgreSQL plans either well."""
    return select(PersonKey.person_id).where(
        or_(
            *(
                and_(PersonKey.kind == kind, PersonKey.blind.in_(blinds))
                for kind, blinds in by_kind.items()
            )
        )
    )


async def candidate_persons(
    session: AsyncSession, index: PersonIndex, keys: Iterable[tuple[str, str]], limit: int
) -> list[Person]:
    """Current (not merged-away) persons sharing any blocking key, most shared keys first."""
    by_kind: dict[str, list[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, []).append(index.blind(kind, value))
    if not by_kind:
        return []
    rows = await session.scalars(keys_query(by_kind).limit(limit * 4))
    counts: dict[str, int] = {}
    for pid in rows:
        counts[pid] = counts.get(pid, 0) + 1
    ranked = sorted(counts, key=lambda p: -counts[p])
    found = {p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(ranked)))}
    survivors: dict[str, None] = {}
    for pid in ranked:
        person = found.get(pid)
        if person is None:
            continue
        # Merged-away records resolve to their survivor (rare: one query each).
        current = pid if person.merged_into is None else await merging.survivor_of(session, pid)
        survivors[current] = None
        if len(survivors) >= limit:
            break
    missing = [s for s in survivors if s not in found]
    if missing:
        found.update(
            {p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(missing)))}
        )
    return [found[s] for s in survivors if s in found]
