"""Reportable-case rules: each category found by its flag or words (not when negated, not
outside its ages), and each jurisdiction's duty for it, consent and capacity included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from emsync.intake.agents import reportable

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
BOOK = reportable.rule_book()


def categories(
    text: str = "", *, flags: tuple[str, ...] = (), age: float | None = 40, doa: bool = False
) -> list[str]:
    found = reportable.find_categories(
        BOOK, texts=[text], flags=flags, age=age, dead_on_arrival=doa
    )
    return [f.category for f in found]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("stabbed in the abdomen outside a bar", "stab_wound"),
        ("knife wound to left forearm", "stab_wound"),
        ("GSW to the thigh", "gunshot_wound"),
        ("bullet wound, right shoulder", "gunshot_wound"),
        ("assaulted, punched in the face", "assault"),
        ("bitten by a dog while jogging", "dog_bite"),
        ("RTC, driver, airbag deployed", "road_traffic_collision"),
        ("pedestrian struck by van", "road_traffic_collision"),
        ("found with no signs of life", "death_on_arrival"),
    ],
)
def test_each_category_is_found_by_its_words(text: str, category: str) -> None:
    assert category in categories(text)


def test_a_negated_mention_is_not_a_finding() -> None:
    assert categories("fell from a ladder, no stab wound, denies assault") == []


def test_words_inside_other_words_do_not_match() -> None:
    # "nai" (non-accidental injury) must not fire inside "naive", nor "rta" inside "aorta".
    assert categories("naive patient, aorta normal on scan", age=5) == []


def test_child_abuse_is_only_for_children_and_elder_abuse_only_for_the_old() -> None:
    assert categories("suspected abuse", age=4) == ["child_abuse_suspected"]
    assert categories("suspected abuse", age=80) == ["elder_abuse_suspected"]
    assert categories("suspected abuse", age=40) == []
    assert categories("suspected abuse", age=None) == []


def test_flags_and_dead_on_arrival_need_no_words() -> None:
    assert categories(flags=("stab_wound", "not_a_category")) == ["stab_wound"]
    assert categories(doa=True) == ["death_on_arrival"]


def test_every_jurisdiction_has_a_rule_with_a_legal_basis_for_every_category() -> None:
    for code, rules in BOOK.jurisdictions.items():
        assert {r.category for r in rules} == set(BOOK.categories), code
        assert all(r.legal_basis for r in rules), code


def duty(jurisdiction: str, text: str, **kw: str) -> list[reportable.Obligation]:
    findings = reportable.find_categories(BOOK, texts=[text], flags=(), age=30)
    return reportable.obligations(
        BOOK,
        jurisdiction,
        findings,
        consent=kw.get("consent", "not_asked"),
        capacity=kw.get("capacity", "not_assessed"),
        now=NOW,
    )


def test_a_stab_wound_in_england_is_reported_to_police_within_the_hour() -> None:
    [o] = duty("GB-ENG", "stab wound to chest")
    assert (o.rule.id, o.police_task, o.due_at) == (
        "GB-ENG-stab-wound",
        "to_do",
        NOW + timedelta(hours=1),
    )


def test_a_stab_wound_in_finland_waits_for_consent_then_is_reported() -> None:
    [waiting] = duty("FI", "stab wound to chest")
    assert waiting.police_task == "awaiting_consent"
    assert waiting.due_at is None
    [given] = duty("FI", "stab wound to chest", consent="given")
    assert given.police_task == "to_do"
    [no_capacity] = duty("FI", "stab wound to chest", capacity="lacks_capacity")
    assert no_capacity.police_task == "best_interests_review"


def test_a_dog_bite_goes_to_the_health_officer_in_california_not_the_police() -> None:
    [o] = duty("US-CA", "dog bite to hand")
    assert (o.rule.authority, o.police_task) == ("health_officer", "not_required")


def test_the_case_task_is_the_most_pressing_and_due_the_soonest() -> None:
    found = duty("GB-ENG", "stabbed and punched, assaulted by two men")
    assert {o.rule.category for o in found} == {"stab_wound", "assault"}
    assert reportable.police_task(found) == "to_do"
    assert reportable.police_due(found) == NOW + timedelta(hours=1)


def test_rules_for_an_unknown_category_are_refused_at_load() -> None:
    text = (
        '{"source": "s", "version": "1", "default_jurisdiction": "X", "categories": {}, '
        '"jurisdictions": {"X": {"rules": [{"id": "r", "category": "nope", "authority": "a", '
        '"police": "required", "due_hours": 0, "evidence": false, "legal_basis": "b"}]}}}'
    )
    with pytest.raises(ValueError, match="unknown categories"):
        reportable.load_rules(text)
