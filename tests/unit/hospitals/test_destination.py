"""Destination rules: capability for the condition, capacity, diversion, with reasons."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from emsync.hospitals.destination import (
    Capability,
    Condition,
    HospitalCandidate,
    capabilities_of,
    conditions_from_complaint,
    rank_destinations,
    required_capabilities,
)

STROKE = frozenset({Capability.STROKE_CENTRE})


def hospital(
    name: str, eta_s: float, caps: frozenset[Capability] = STROKE, **extra: object
) -> HospitalCandidate:
    return HospitalCandidate(
        hospital_id=name.lower(),
        name=name,
        eta_s=eta_s,
        capabilities=caps,
        **extra,  # type: ignore[arg-type]
    )


def test_complaints_map_to_conditions_and_capabilities() -> None:
    assert conditions_from_complaint("Sudden facial droop and slurred speech") == {Condition.STROKE}
    assert conditions_from_complaint("STEMI on 12-lead ECG") == {Condition.STEMI}
    assert conditions_from_complaint("chest pain radiating to left arm") == frozenset()
    assert conditions_from_complaint("Pedestrian struck by car, multiple injuries") == {
        Condition.MAJOR_TRAUMA
    }
    assert conditions_from_complaint("scalded with boiling water") == {Condition.BURNS}
    assert conditions_from_complaint("shortness of breath") == frozenset()
    assert required_capabilities({Condition.BURNS}, age_years=6) == {
        Capability.BURNS,
        Capability.PAEDIATRICS,
    }
    assert required_capabilities((), age_years=16) == frozenset()


def test_only_level_1_and_2_trauma_centres_take_major_trauma() -> None:
    flags = {"stroke_centre": False, "pci": False, "burns": False, "paediatrics": False}
    assert Capability.TRAUMA_CENTRE in capabilities_of(trauma_level=2, **flags)
    assert Capability.TRAUMA_CENTRE not in capabilities_of(trauma_level=3, **flags)


def test_a_stroke_goes_to_the_nearest_stroke_centre_not_the_nearest_ed() -> None:
    ranking = rank_destinations(
        [hospital("Near ED", 120.0, frozenset()), hospital("Stroke Unit", 600.0)], STROKE
    )
    assert [r.name for r in ranking.ranked] == ["Stroke Unit"]
    assert ranking.ranked[0].reason.startswith("stroke centre, 10 min 00 s by road")
    (near,) = ranking.excluded
    assert near.reason == "no stroke centre"
    assert near.missing == (Capability.STROKE_CENTRE,)


def test_a_hospital_on_diversion_is_ranked_after_every_open_one() -> None:
    ranking = rank_destinations(
        [
            hospital("Diverted", 100.0, diversion=True),
            hospital("Full", 300.0, ed_beds_available=0),
            hospital("Open", 500.0, ed_beds_available=4),
        ],
        STROKE,
    )
    assert [r.name for r in ranking.ranked] == ["Open", "Full", "Diverted"]
    assert "4 ED beds free" in ranking.ranked[0].reason
    assert "ED full (0 beds)" in ranking.ranked[1].reason
    assert "on diversion: ranked after the 2 open hospital(s)" in ranking.ranked[2].reason


def test_diversion_is_first_only_when_no_other_can_take_the_patient_and_says_so() -> None:
    ranking = rank_destinations(
        [hospital("Diverted", 100.0, diversion=True), hospital("Near ED", 50.0, frozenset())],
        STROKE,
    )
    assert ranking.best is not None
    assert ranking.best.name == "Diverted"
    assert "on diversion, but no other reachable hospital can take the patient" in (
        ranking.best.reason
    )


def test_without_any_capable_hospital_the_nearest_eds_are_ranked_and_say_it() -> None:
    ranking = rank_destinations(
        [hospital("Far ED", 900.0, frozenset()), hospital("Near ED", 300.0, frozenset())], STROKE
    )
    assert [r.name for r in ranking.ranked] == ["Near ED", "Far ED"]
    assert "no reachable hospital has a stroke centre: nearest ED instead" in (
        ranking.ranked[0].reason
    )
    assert ranking.ranked[0].missing == (Capability.STROKE_CENTRE,)


def test_unreachable_and_non_emergency_hospitals_are_excluded() -> None:
    ranking = rank_destinations(
        [
            hospital("Clinic", 10.0, emergency_department=False),
            hospital("Island", math.inf),
            hospital("Open", 400.0),
        ],
        STROKE,
    )
    assert [r.name for r in ranking.ranked] == ["Open"]
    assert {r.name: r.reason for r in ranking.excluded} == {
        "Clinic": "no emergency department",
        "Island": "unreachable on the road graph",
    }


caps = st.frozensets(st.sampled_from(list(Capability)))


@given(
    st.lists(
        st.builds(
            hospital,
            name=st.text("ABCDEFG", min_size=1, max_size=3),
            eta_s=st.one_of(st.floats(1, 5000), st.just(math.inf)),
            caps=caps,
            diversion=st.booleans(),
            ed_beds_available=st.one_of(st.none(), st.integers(0, 5)),
        ),
        max_size=10,
        unique_by=lambda h: h.name,
    ),
    caps,
)
def test_diversion_is_never_first_while_an_open_capable_hospital_is_reachable(
    hospitals: list[HospitalCandidate], required: frozenset[Capability]
) -> None:
    ranking = rank_destinations(hospitals, required)
    listed = sorted(r.hospital_id for r in (*ranking.ranked, *ranking.excluded))
    assert listed == sorted(h.hospital_id for h in hospitals)
    open_capable = [
        h
        for h in hospitals
        if not h.diversion and math.isfinite(h.eta_s) and required <= h.capabilities
    ]
    if open_capable:
        assert ranking.best is not None
        assert not ranking.best.diversion
    if ranking.best is not None and ranking.best.diversion:
        assert "no other reachable hospital can take the patient" in ranking.best.reason
