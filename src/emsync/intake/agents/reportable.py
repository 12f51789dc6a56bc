"""Reportable cases, pure: which categories an arrival falls in (explicit flags, or words in the
complaint and mechanism not negated), and what the jurisdiction's rules require for each.

The rules are data (intake/data/legal_rules.json, its source stated there): categories with
their words, and per jurisdiction which authority is told, whether the police must be, may be
with consent, or need not be, how soon, and on what legal basis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Literal

PoliceDuty = Literal["required", "with_consent", "not_required"]
Consent = Literal["given", "refused", "not_asked"]
Capacity = Literal["has_capacity", "lacks_capacity", "not_assessed"]

# Words that, within the three words before a match, negate it ("no stab wound").
_NEGATIONS = frozenset({"no", "not", "denies", "denied", "without", "negative"})
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    label: str
    keywords: tuple[str, ...]
    age_below: float | None = None
    age_at_least: float | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: str
    authority: str
    police: PoliceDuty
    due_hours: float | None
    evidence: bool
    legal_basis: str


@dataclass(frozen=True, slots=True)
class RuleBook:
    source: str
    version: str
    default_jurisdiction: str
    categories: Mapping[str, Category]
    jurisdictions: Mapping[str, tuple[Rule, ...]]


@dataclass(frozen=True, slots=True)
class Finding:
    """A category the arrival falls in and what showed it (a flag, or the matched words)."""

    category: str
    evidence: str


@dataclass(frozen=True, slots=True)
class Obligation:
    rule: Rule
    finding: Finding
    police_task: Literal["to_do", "awaiting_consent", "best_interests_review", "not_required"]
    due_at: datetime | None


def load_rules(text: str) -> RuleBook:
    raw = json.loads(text)
    categories = {
        name: Category(
            name=name,
            label=spec["label"],
            keywords=tuple(k.lower() for k in spec["keywords"]),
            age_below=spec.get("age_below"),
            age_at_least=spec.get("age_at_least"),
        )
        for name, spec in raw["categories"].items()
    }
    jurisdictions = {
        code: tuple(Rule(**rule) for rule in spec["rules"])
        for code, spec in raw["jurisdictions"].items()
    }
    for code, rules in jurisdictions.items():
        unknown = {r.category for r in rules} - set(categories)
        if unknown:
            raise ValueError(f"{code}: rules for unknown categories {sorted(unknown)}")
    return RuleBook(
        source=raw["source"],
        version=raw["version"],
        default_jurisdiction=raw["default_jurisdiction"],
        categories=categories,
        jurisdictions=jurisdictions,
    )


@cache
def rule_book() -> RuleBook:
    text = resources.files("emsync.intake").joinpath("data/legal_rules.json").read_text()
    return load_rules(text)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _matches(tokens: Sequence[str], phrase: str) -> bool:
    """`phrase` occurs in `tokens` as whole words, not negated by the three words before."""
    words = _tokens(phrase)
    n = len(words)
    for i in range(len(tokens) - n + 1):
        if list(tokens[i : i + n]) == words and not _NEGATIONS & set(tokens[max(0, i - 3) : i]):
            return True
    return False


def _age_fits(category: Category, age: float | None) -> bool:
    if category.age_below is not None and (age is None or age >= category.age_below):
        return False
    return not (category.age_at_least is not None and (age is None or age < category.age_at_least))


def find_categories(
    book: RuleBook,
    *,
    texts: Iterable[str],
    flags: Iterable[str],
    age: float | None,
    dead_on_arrival: bool = False,
) -> list[Finding]:
    """Every category shown by an explicit flag (a clinician's or crew's), by the words of the
    complaint and mechanism, or by `dead_on_arrival`; age-bound categories (child, elder abuse)
    only within their ages. Sorted by category name, each once."""
    found: dict[str, Finding] = {}
    for flag in flags:
        if flag in book.categories:
            found.setdefault(flag, Finding(flag, "flag"))
    if dead_on_arrival:
        found.setdefault("death_on_arrival", Finding("death_on_arrival", "flag"))
    tokens = [t for text in texts for t in (*_tokens(text), "|")]
    for name, category in book.categories.items():
        if name in found or not _age_fits(category, age):
            continue
        hit = next((k for k in category.keywords if _matches(tokens, k)), None)
        if hit is not None:
            found[name] = Finding(name, f"words: {hit!r}")
    return [found[k] for k in sorted(found)]


def obligations(
    book: RuleBook,
    jurisdiction: str,
    findings: Sequence[Finding],
    *,
    consent: Consent | str,
    capacity: Capacity | str,
    now: datetime,
) -> list[Obligation]:
    """What the jurisdiction's rules require for each finding. A police report that needs
    consent waits for it; without capacity it goes to a best-interests review (the clinician
    decides), never silently to the police."""
    rules = {r.category: r for r in book.jurisdictions[jurisdiction]}
    out: list[Obligation] = []
    for finding in findings:
        rule = rules.get(finding.category)
        if rule is None:
            continue
        due = None if rule.due_hours is None else now + timedelta(hours=rule.due_hours)
        task: Literal["to_do", "awaiting_consent", "best_interests_review", "not_required"]
        if rule.police == "required":
            task = "to_do"
        elif rule.police == "not_required":
            task = "not_required"
        elif consent == "given":
            task = "to_do"
        elif capacity == "lacks_capacity":
            task = "best_interests_review"
        else:
            task = "awaiting_consent"
        out.append(Obligation(rule, finding, task, due if task == "to_do" else None))
    return out


_TASK_ORDER = ("to_do", "best_interests_review", "awaiting_consent", "not_required")


def police_task(found: Sequence[Obligation]) -> str:
    """The case's one police task: the most pressing of its obligations'."""
    return min((o.police_task for o in found), key=_TASK_ORDER.index, default="not_required")


def police_due(found: Sequence[Obligation]) -> datetime | None:
    return min((o.due_at for o in found if o.due_at is not None), default=None)


def as_json(o: Obligation) -> dict[str, Any]:
    return {
        "rule": o.rule.id,
        "category": o.rule.category,
        "authority": o.rule.authority,
        "police": o.rule.police,
        "police_task": o.police_task,
        "due_at": None if o.due_at is None else o.due_at.isoformat(),
        "evidence": o.rule.evidence,
        "legal_basis": o.rule.legal_basis,
        "shown_by": o.finding.evidence,
    }
