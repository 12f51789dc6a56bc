"""Matching quality on labelled data: the pairs the registry would link, send to review or keep
apart, against the pairs that are truly one person."""

from __future__ import annotations

from emsync.registry import linkage
from emsync.registry.febrl import true_pairs
from emsync.registry.identity import Demographics
from emsync.registry.matching import PairCounts, Policy, decide, dob_relation


def evaluate(
    model: linkage.LinkageModel, records: list[tuple[str, Demographics]], policy: Policy
) -> PairCounts:
    truth = true_pairs([rec_id for rec_id, _ in records])
    df = linkage.frame(linkage.row(rec_id, d) for rec_id, d in records)
    linked: set[tuple[str, str]] = set()
    reviewed: set[tuple[str, str]] = set()
    dob_differs: set[tuple[str, str]] = set()
    for left, right, scored in model.predict(df, min_weight=policy.review_weight):
        pair = (left, right) if left < right else (right, left)
        outcome = decide(scored.match_weight, scored.levels, policy)
        if outcome == "link":
            linked.add(pair)
            if dob_relation(scored.levels.get("dob")) in ("typo", "different"):
                dob_differs.add(pair)
        elif outcome == "review":
            reviewed.add(pair)
    false_links = linked - truth
    return PairCounts(
        true_pairs=len(truth),
        linked=len(linked),
        linked_true=len(linked & truth),
        reviewed_true=len(reviewed & truth),
        reviewed=len(reviewed),
        false_links_dob_differs=len(false_links & dob_differs),
    )
