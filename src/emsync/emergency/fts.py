"""Search queries (pure): terms from what a person typed, the FTS5 MATCH expression and the
PostgreSQL tsquery for them, typo candidates by edit distance, highlighting as text segments, and
the keyed blind-index tokens for sealed names.

Highlighting returns segments (text, matched) rather than markup, so the dashboard renders
user text only as text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_TERMS = 8
MIN_PREFIX = 2
_WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Évacué' -> 'evacue' (what both indexes compare)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def terms(query: str) -> list[str]:
    """Words of the query, folded, deduplicated in order, at most MAX_TERMS."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(fold(query)):
        seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


def fts5_match(groups: Sequence[Sequence[str]]) -> str:
    """FTS5 MATCH: every group must match (AND); within one, any alternative (OR); the typed
    word also as a prefix. Terms are quoted, so no FTS5 operator can come from user input."""
    parts = []
    for group in groups:
        alts = []
        for n, term in enumerate(group):
            quoted = '"' + term.replace('"', '""') + '"'
            alts.append(quoted + "*" if n == 0 and len(term) >= MIN_PREFIX else quoted)
        parts.append("(" + " OR ".join(alts) + ")")
    return " AND ".join(parts)


def tsquery(groups: Sequence[Sequence[str]]) -> str:
    """to_tsquery('simple', ...) text of the same shape: (a:* | b) & (c:* | d)."""

    def lexeme(term: str, prefix: bool) -> str:
        # Only word characters reach here (terms() splits on \\w), quoted to be safe anyway.
        quoted = "'" + term.replace("'", "''").replace("\\", "") + "'"
        return quoted + (":*" if prefix else "")

    return " & ".join(
        "(" + " | ".join(lexeme(t, n == 0 and len(t) >= MIN_PREFIX) for n, t in enumerate(g)) + ")"
        for g in groups
    )


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, or limit + 1 when beyond it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
            best = min(best, cur[j])
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def typo_budget(term: str) -> int:
    """Edits tolerated: none under 4 letters, one up to 7, two beyond (as search engines do)."""
    if len(term) < 4:
        return 0
    return 1 if len(term) <= 7 else 2


def corrections(term: str, vocabulary: Iterable[str], limit: int = 3) -> list[str]:
    """Indexed words within the term's typo budget, closest first."""
    budget = typo_budget(term)
    if budget == 0:
        return []
    scored = []
    for word in vocabulary:
        if word == term:
            continue
        d = edit_distance(term, word, budget)
        if d <= budget:
            scored.append((d, word))
    scored.sort()
    return [w for _, w in scored[:limit]]


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    match: bool


def highlight(text: str, words: Iterable[str], *, limit: int = 240) -> list[Segment]:
    """`text` cut to about `limit` characters around the first match, split into segments where
    a word starting with any of `words` is marked."""
    folded_words = [w for w in words if w]
    spans: list[tuple[int, int]] = []
    for m in _WORD.finditer(text):
        token = fold(m.group())
        if any(token.startswith(w) for w in folded_words):
            spans.append(m.span())
    start = 0
    if len(text) > limit and spans:
        start = max(0, min(spans[0][0] - limit // 4, len(text) - limit))
    end = min(len(text), start + limit)
    out: list[Segment] = []
    if start > 0:
        out.append(Segment("…", False))
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        if s > pos:
            out.append(Segment(text[pos:s], False))
        out.append(Segment(text[max(s, pos) : min(e, end)], True))
        pos = min(e, end)
    if pos < end:
        out.append(Segment(text[pos:end], False))
    if end < len(text):
        out.append(Segment("…", False))
    return out


# ---- blind index ------------------------------------------------------------------------------

BLIND_TOKEN_BYTES = 16
BLIND_MIN_PREFIX = 3


def blind_words(text: str) -> list[str]:
    """Words of a name as the blind index keys them: folded, prefixes from 3 letters, so
    'Virtanen' is found by 'virt' (a prefix leaks its length class; full words stay hidden)."""
    out: dict[str, None] = {}
    for word in _WORD.findall(fold(text)):
        out.setdefault(word, None)
        for n in range(BLIND_MIN_PREFIX, len(word)):
            out.setdefault(word[:n] + "\u2026", None)  # a prefix never equals a whole word
    return list(out)


def blind_token(key: bytes, word: str) -> bytes:
    """HMAC-SHA256(key, word) truncated: equality-searchable, not reversible without the key."""
    return hmac.new(key, word.encode(), hashlib.sha256).digest()[:BLIND_TOKEN_BYTES]


def blind_query(key: bytes, query: str) -> list[tuple[bytes, ...]]:
    """Per query word, the tokens that match it (the whole word, or the word as a prefix);
    a record matches when it has one token of every group."""
    return [
        (blind_token(key, w), blind_token(key, w + "\u2026"))
        if len(w) >= BLIND_MIN_PREFIX
        else (blind_token(key, w),)
        for w in terms(query)
    ]
