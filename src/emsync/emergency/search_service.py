"""One search over emergency records, incidents and units: PostgreSQL full text (a generated
`tsvector`, prefix lexemes, `pg_trgm` word similarity for typos) or SQLite FTS5 (prefix queries,
bm25, typo candidates from the index's own vocabulary) behind the same two calls.

Writers call `put`/`drop` inside their own transaction, so the index commits or rolls back with
the record. Sealed personal fields never reach this table (see shelter_service's blind index).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.emergency import fts
from emsync.emergency.models import SearchDoc

KINDS = ("incident", "unit", "resource", "person", "shelter", "item", "alert")
_TOP = 0x10FFFF


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    ref_id: str
    title: str
    status: str | None
    score: float
    title_segments: list[fts.Segment]
    snippet: list[fts.Segment]


async def put(
    session: AsyncSession,
    *,
    kind: str,
    ref_id: str,
    title: str,
    body: str,
    status: str | None,
    now: datetime,
) -> None:
    """Add or replace one record's entry (in the caller's transaction)."""
    existing = await session.scalar(
        select(SearchDoc).where(SearchDoc.kind == kind, SearchDoc.ref_id == ref_id)
    )
    if existing is None:
        session.add(
            SearchDoc(
                kind=kind,
                ref_id=ref_id,
                title=title[:300],
                body=body,
                status=status,
                updated_at=now,
            )
        )
        return
    existing.title, existing.body, existing.status = title[:300], body, status
    existing.updated_at = now


async def drop(session: AsyncSession, *, kind: str, ref_id: str) -> None:
    await session.execute(
        delete(SearchDoc).where(SearchDoc.kind == kind, SearchDoc.ref_id == ref_id)
    )


async def search(
    session: AsyncSession,
    *,
    query: str,
    kinds: Sequence[str] = (),
    status: str | None = None,
    limit: int = 20,
) -> list[Hit]:
    words = fts.terms(query)
    if not words:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows, matched = await _postgresql(session, words, kinds, status, limit)
    else:
        rows, matched = await _sqlite(session, words, kinds, status, limit)
    return [
        Hit(
            kind=r.kind,
            ref_id=r.ref_id,
            title=r.title,
            status=r.status,
            score=round(float(r.score), 4),
            title_segments=fts.highlight(r.title, matched, limit=300),
            snippet=fts.highlight(r.body, matched),
        )
        for r in rows
    ]


def _filters(kinds: Sequence[str], status: str | None, params: dict[str, Any]) -> str:
    sql = ""
    if kinds:
        names = []
        for n, kind in enumerate(kinds):
            params[f"k{n}"] = kind
            names.append(f":k{n}")
        sql += f" AND d.kind IN ({', '.join(names)})"
    if status is not None:
        params["status"] = status
        sql += " AND d.status = :status"
    return sql


async def _sqlite(
    session: AsyncSession, words: list[str], kinds: Sequence[str], status: str | None, limit: int
) -> tuple[Sequence[Any], list[str]]:
    groups: list[list[str]] = []
    for word in words:
        group = [word]
        if not await _vocabulary_has_prefix(session, word):
            group += fts.corrections(word, await _vocabulary_near(session, word))
        groups.append(group)
    params: dict[str, Any] = {"match": fts.fts5_match(groups), "limit": limit}
    sql = (
        "SELECT d.kind, d.ref_id, d.title, d.body, d.status, "
        "-bm25(emergency_search_fts, 4.0, 1.0) AS score "
        "FROM emergency_search_fts JOIN emergency_search_docs d "
        "ON d.id = emergency_search_fts.rowid WHERE emergency_search_fts MATCH :match"
        + _filters(kinds, status, params)
        + " ORDER BY score DESC, d.id LIMIT :limit"
    )
    rows = (await session.execute(text(sql), params)).all()
    return rows, [w for g in groups for w in g]


async def _vocabulary_has_prefix(session: AsyncSession, word: str) -> bool:
    found = await session.scalar(
        text("SELECT term FROM emergency_search_vocab WHERE term >= :lo AND term < :hi LIMIT 1"),
        {"lo": word, "hi": word + chr(_TOP)},
    )
    return found is not None


async def _vocabulary_near(session: AsyncSession, word: str) -> list[str]:
    """Indexed words of a similar length sharing the first letter (a typo in the first letter
    is not corrected: the candidate set would be the whole vocabulary)."""
    budget = fts.typo_budget(word)
    if budget == 0:
        return []
    rows = await session.scalars(
        text(
            "SELECT term FROM emergency_search_vocab WHERE term >= :lo AND term < :hi "
            "AND length(term) BETWEEN :short AND :long"
        ),
        {
            "lo": word[0],
            "hi": word[0] + chr(_TOP),
            "short": len(word) - budget,
            "long": len(word) + budget,
        },
    )
    return list(rows)


async def _postgresql(
    session: AsyncSession,
    words: list[str],
    kinds: Sequence[str],
    status: str | None,
    limit: int,
) -> tuple[Sequence[Any], list[str]]:
    # As on SQLite: each word matches as a prefix lexeme, or (a word the index does not hold)
    # through its closest indexed words by trigram similarity (pg_trgm, GIN-indexed), checked
    # by edit distance; every word's group must match. The tsvector's GIN index does the rest.
    groups: list[list[str]] = []
    for word in words:
        group = [word]
        has_prefix = await session.scalar(
            text("SELECT 1 FROM emergency_search_terms WHERE term >= :lo AND term < :hi LIMIT 1"),
            {"lo": word, "hi": word + chr(_TOP)},
        )
        if has_prefix is None and fts.typo_budget(word):
            near = await session.scalars(
                text(
                    "SELECT term FROM emergency_search_terms WHERE term % :w "
                    "ORDER BY similarity(term, :w) DESC LIMIT 20"
                ),
                {"w": word},
            )
            group += fts.corrections(word, list(near))
        groups.append(group)
    params: dict[str, Any] = {"q": fts.tsquery(groups), "limit": limit}
    sql = (
        "SELECT d.kind, d.ref_id, d.title, d.body, d.status, ts_rank(d.tsv, q) AS score "
        "FROM emergency_search_docs d, to_tsquery('simple', :q) q WHERE d.tsv @@ q"
        + _filters(kinds, status, params)
        + " ORDER BY score DESC, d.id LIMIT :limit"
    )
    rows = (await session.execute(text(sql), params)).all()
    return rows, [w for g in groups for w in g]
