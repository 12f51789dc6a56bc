"""What a match weight means for a pair of records: link, ask a person, or keep apart. Pure.

The weight is the Fellegi-Sunter log2 Bayes factor the linkage model computes; the rules on top
of it are the safety net the weight alone does not give: two records whose dates of birth are
both known and differ are never linked without a person deciding, however well names, address
and phone agree (twins, a parent and child of the same name at the same address), unless an
identifier agrees exactly as well (the date was typed wrong: 19810312 for 19810321).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Outcome = Literal["link", "review", "distinct"]


class Agreement(StrEnum):
    AGREE = "agree"
    NEAR = "near"
    DISAGREE = "disagree"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Policy:
    auto_link_weight: float
    review_weight: float
    identifier_overrides_dob: bool


@dataclass(frozen=True, slots=True)
class FieldLevel:
    """One comparison's outcome: splink's gamma (-1 unknown, 0 disagree, top = exact)."""

    gamma: int
    top: int

    @property
    def agreement(self) -> Agreement:
        if self.gamma < 0:
            return Agreement.UNKNOWN
        if self.gamma == self.top:
            return Agreement.AGREE
        if self.gamma == 0:
            return Agreement.DISAGREE
        return Agreement.NEAR


# The dates of birth differ by one edit (one digit, or two swapped) at this gamma of the
# date comparison: see linkage.COMPARISONS.
DOB_TYPO_GAMMA = 2


def dob_relation(level: FieldLevel | None) -> Literal["same", "typo", "different", "unknown"]:
    if level is None or level.gamma < 0:
        return "unknown"
    if level.gamma == level.top:
        return "same"
    if level.gamma == DOB_TYPO_GAMMA:
        return "typo"
    return "different"


def decide(weight: float, levels: Mapping[str, FieldLevel], policy: Policy) -> Outcome:
    if weight < policy.review_weight:
        return "distinct"
    if weight < policy.auto_link_weight:
        return "review"
    if dob_relation(levels.get("dob")) in ("same", "unknown"):
        return "link"
    # The dates of birth differ: only an identifier that agrees exactly, for someone of the
    # same given name, may outweigh that (a date typed wrong, day and month swapped). Family
    # name, address and phone never do: a parent's id typed for their child agrees on all.
    identifier, given = levels.get("identifier"), levels.get("given_name")
    if (
        policy.identifier_overrides_dob
        and identifier is not None
        and identifier.agreement is Agreement.AGREE
        and given is not None
        and given.agreement in (Agreement.AGREE, Agreement.NEAR)
    ):
        return "link"
    return "review"


def summarise(levels: Mapping[str, FieldLevel]) -> dict[str, list[str]]:
    """Field names by agreement, for the reviewer (names of fields, never their values)."""
    out: dict[str, list[str]] = {a.value: [] for a in Agreement}
    for name, level in levels.items():
        out[level.agreement.value].append(name)
    return out


@dataclass(frozen=True, slots=True)
class PairCounts:
    true_pairs: int
    linked: int
    linked_true: int
    reviewed_true: int
    reviewed: int
    false_links_dob_differs: int

    @property
    def precision(self) -> float:
        return self.linked_true / self.linked if self.linked else 1.0

    @property
    def recall(self) -> float:
        return self.linked_true / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "true_pairs": self.true_pairs,
            "linked_pairs": self.linked,
            "linked_true_pairs": self.linked_true,
            "false_links": self.linked - self.linked_true,
            "false_links_with_different_dob": self.false_links_dob_differs,
            "review_pairs": self.reviewed,
            "true_pairs_sent_to_review": self.reviewed_true,
            "share_of_true_pairs_to_review": round(
                self.reviewed_true / self.true_pairs if self.true_pairs else 0.0, 4
            ),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }
