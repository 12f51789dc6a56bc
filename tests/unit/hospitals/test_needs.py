"""What the patient needs from a hospital: one test per criterion of the 2021 CDC/ACS field
triage guideline, BE-FAST, the ECG, the override, and the ranking that uses them."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from emsync.hospitals.destination import (
    Capability,
    Condition,
    HospitalCandidate,
    capabilities_of,
    rank_destinations,
)
from emsync.hospitals.needs import BeFastSign, ClinicalPicture, EcgFinding, assess_needs
from emsync.incidents.schemas import BeFastSign as IncidentBeFast
from emsync.incidents.schemas import EcgFinding as IncidentEcg
from emsync.incidents.schemas import SuspectedCondition

RED = Capability.TRAUMA_CENTRE
YELLOW = Capability.TRAUMA_CENTRE_ANY


def needs_of(**picture: Any) -> tuple[frozenset[Capability], list[str]]:
    result = assess_needs(ClinicalPicture(**picture))
    return result.capabilities, [n.criterion for n in result.needs if n.applied]


# ---- red: injury patterns ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "criterion"),
    [
        ("stabbed in the chest", "red.injury.penetrating"),
        ("gunshot wound to the neck", "red.injury.penetrating"),
        ("penetrating injury to the thigh", "red.injury.penetrating"),
        ("head injury with suspected skull fracture", "red.injury.skull"),
        ("skull deformity after assault", "red.injury.skull"),
        ("diving accident, spinal injury with no movement in legs", "red.injury.spine"),
        ("fell, cannot feel his legs", "red.injury.spine"),
        ("crushed by tractor, flail chest", "red.injury.chest_wall"),
        ("suspected pelvic fracture after crash", "red.injury.pelvis"),
        ("fractured left femur and right humerus", "red.injury.long_bones"),
        ("bilateral femur fractures", "red.injury.long_bones"),
        ("leg crushed under machinery: crushed leg, pulseless", "red.injury.extremity"),
        ("degloving injury of the arm", "red.injury.extremity"),
        ("traumatic amputation of the leg below the knee", "red.injury.amputation"),
        ("arterial bleeding, tourniquet applied", "red.injury.bleeding"),
        ("uncontrolled bleeding from scalp wound", "red.injury.bleeding"),
    ],
)
def test_each_red_injury_pattern_needs_a_level_1_2_trauma_centre(text: str, criterion: str) -> None:
    caps, criteria = needs_of(complaint=text)
    assert RED in caps
    assert YELLOW not in caps  # level 1-2 is the stricter need
    assert criterion in criteria


def test_distal_penetrating_injury_and_finger_amputation_are_not_red() -> None:
    assert needs_of(complaint="stab wound to the hand")[0] == frozenset()
    assert needs_of(complaint="finger amputation with a saw")[0] == frozenset()


# ---- red: mental status and vital signs (an injured patient) ---------------------------------


@pytest.mark.parametrize(
    ("vitals", "criterion"),
    [
        ({"gcs_motor": 5}, "red.vitals.commands"),
        ({"consciousness": "P"}, "red.vitals.commands"),
        ({"rr": 8}, "red.vitals.rr"),
        ({"rr": 32}, "red.vitals.rr"),
        ({"spo2": 88}, "red.vitals.spo2"),
        ({"sbp": 85, "age_years": 40}, "red.vitals.sbp"),
        ({"sbp": 105, "age_years": 70}, "red.vitals.sbp"),
        ({"sbp": 75, "age_years": 4}, "red.vitals.sbp"),  # < 70 + 2 x 4 = 78
        ({"sbp": 100, "hr": 120, "age_years": 40}, "red.vitals.shock_index"),
    ],
)
def test_each_vital_sign_criterion_of_an_injured_patient_is_red(
    vitals: dict[str, Any], criterion: str
) -> None:
    caps, criteria = needs_of(complaint="fell down stairs", injured=True, **vitals)
    assert RED in caps
    assert criterion in criteria


def test_respiratory_support_is_red() -> None:
    assert "red.vitals.support" in needs_of(complaint="crash victim, intubated on scene")[1]


def test_vital_signs_within_the_limits_are_not_red() -> None:
    caps, _ = needs_of(
        complaint="twisted ankle", injured=True, gcs_motor=6, rr=16, spo2=97, sbp=125, hr=80
    )
    assert caps == frozenset()
    # SBP 105 is red at 70, not at 40; SpO2 88 on oxygen is not "room air".
    assert needs_of(complaint="fall", injured=True, sbp=105, age_years=40)[0] == frozenset()
    assert needs_of(complaint="fall", injured=True, spo2=88, on_oxygen=True)[0] == frozenset()


def test_vital_signs_of_a_medical_patient_are_not_trauma_criteria() -> None:
    assert needs_of(complaint="shortness of breath", sbp=80, rr=34)[0] == frozenset()


# ---- yellow: mechanism of injury and EMS judgment ------------------------------------------


@pytest.mark.parametrize(
    ("picture", "criterion"),
    [
        ({"complaint": "car crash, driver ejected"}, "yellow.mechanism.crash_ejection"),
        (
            {"complaint": "car crash with intrusion into the cabin"},
            "yellow.mechanism.crash_intrusion",
        ),
        ({"complaint": "car crash, driver trapped"}, "yellow.mechanism.crash_entrapment"),
        ({"complaint": "collision, passenger died at scene"}, "yellow.mechanism.crash_death"),
        (
            {"complaint": "car crash, eCall vehicle telemetry severe"},
            "yellow.mechanism.crash_telemetry",
        ),
        (
            {"complaint": "car crash, unrestrained child", "age_years": 6},
            "yellow.mechanism.crash_child",
        ),
        ({"complaint": "thrown from a motorcycle"}, "yellow.mechanism.rider"),
        ({"complaint": "fell off her horse"}, "yellow.mechanism.rider"),
        ({"complaint": "pedestrian struck by a bus"}, "yellow.mechanism.pedestrian"),
        ({"complaint": "cyclist hit by a car"}, "yellow.mechanism.pedestrian"),
        ({"complaint": "fall from 5 m scaffold"}, "yellow.mechanism.fall"),
        ({"complaint": "fell from 15 feet"}, "yellow.mechanism.fall"),
        ({"complaint": "fall from third floor balcony"}, "yellow.mechanism.fall"),
        ({"complaint": "Fall from ladder, head injury"}, "yellow.mechanism.fall"),
        (
            {"complaint": "slipped and fell, hit head", "age_years": 82},
            "yellow.judgment.low_fall_head",
        ),
        (
            {"complaint": "toddler fell off sofa, head impact", "age_years": 2},
            "yellow.judgment.low_fall_head",
        ),
        ({"complaint": "fall at home, head wound, on warfarin"}, "yellow.judgment.anticoagulant"),
        ({"complaint": "car crash, 30 weeks pregnant"}, "yellow.judgment.pregnancy"),
        ({"complaint": "house fire, burns and fall from window"}, "yellow.judgment.burns"),
        ({"complaint": "injured infant, suspected abuse"}, "yellow.judgment.abuse"),
    ],
)
def test_each_yellow_criterion_needs_a_trauma_centre_of_any_level(
    picture: dict[str, Any], criterion: str
) -> None:
    caps, criteria = needs_of(**picture)
    assert YELLOW in caps
    assert criterion in criteria


def test_a_low_fall_of_an_adult_is_not_a_criterion() -> None:
    caps, criteria = needs_of(complaint="fell from a 2 m ladder", age_years=40)
    assert caps == frozenset()
    assert criteria == []


def test_an_unspecified_crash_asks_instead_of_guessing() -> None:
    result = assess_needs(ClinicalPicture(complaint="car crash"))
    assert result.capabilities == frozenset()
    assert any("ejection" in q and "entrapment" in q for q in result.questions)


def test_red_supersedes_yellow() -> None:
    caps, criteria = needs_of(complaint="fall from 6 m roof, suspected pelvic fracture")
    assert caps == {RED}
    assert criteria == ["red.injury.pelvis"]


# ---- stroke, STEMI, burns, children ----------------------------------------------------------


@pytest.mark.parametrize("sign", list(BeFastSign))
def test_each_befast_sign_needs_a_stroke_centre(sign: BeFastSign) -> None:
    result = assess_needs(ClinicalPicture(complaint="unwell", befast=frozenset({sign})))
    assert result.capabilities == {Capability.STROKE_CENTRE}
    assert sign.value in result.needs[0].reason


@pytest.mark.parametrize("ecg", [EcgFinding.STEMI, EcgFinding.STEMI_EQUIVALENT])
def test_a_stemi_on_the_ecg_needs_pci(ecg: EcgFinding) -> None:
    assert needs_of(complaint="chest pain", ecg=ecg)[0] == {Capability.PCI}


def test_chest_pain_without_stemi_on_the_ecg_needs_no_pci() -> None:
    assert needs_of(complaint="chest pain", ecg=EcgFinding.NON_DIAGNOSTIC)[0] == frozenset()
    # The ECG decides, not the word: "STEMI?" with a normal ECG is not a PCI need.
    assert needs_of(complaint="?STEMI", ecg=EcgFinding.NORMAL)[0] == frozenset()
    asked = assess_needs(ClinicalPicture(complaint="chest pain")).questions
    assert any("12-lead ECG" in q for q in asked)


def test_complaint_words_still_count_and_children_need_paediatrics() -> None:
    assert needs_of(complaint="slurred speech")[0] == {Capability.STROKE_CENTRE}
    assert needs_of(complaint="scalded child", age_years=3)[0] == {
        Capability.BURNS,
        Capability.PAEDIATRICS,
    }


# ---- the override ------------------------------------------------------------------------------


def test_a_set_condition_replaces_the_rules_and_keeps_their_reasons() -> None:
    result = assess_needs(
        ClinicalPicture(complaint="fall from ladder", set_conditions=frozenset({Condition.STROKE}))
    )
    assert result.overridden
    assert result.capabilities == {Capability.STROKE_CENTRE}
    replaced = [n for n in result.needs if not n.applied]
    assert [n.criterion for n in replaced] == ["yellow.mechanism.fall"]
    nothing = assess_needs(
        ClinicalPicture(complaint="fall from ladder", set_conditions=frozenset())
    )
    assert nothing.capabilities == frozenset()


def test_the_incident_vocabulary_matches_the_rules() -> None:
    assert set(get_args(SuspectedCondition)) == {c.value for c in Condition}
    assert set(get_args(IncidentBeFast)) == {s.value for s in BeFastSign}
    assert set(get_args(IncidentEcg)) == {e.value for e in EcgFinding}


# ---- the ranking uses it -------------------------------------------------------------------


def test_a_level_1_trauma_centre_beats_a_nearer_clinic_for_a_ladder_fall() -> None:
    centre = HospitalCandidate(
        "meilahti",
        "Meilahti (level 1)",
        600.0,
        capabilities_of(
            trauma_level=1, stroke_centre=True, pci=True, burns=False, paediatrics=False
        ),
    )
    clinic = HospitalCandidate(
        "clinic",
        "Kamppi clinic",
        120.0,
        capabilities_of(
            trauma_level=None, stroke_centre=False, pci=False, burns=False, paediatrics=False
        ),
        emergency_department=True,
    )
    needs = assess_needs(ClinicalPicture(complaint="Fall from ladder, head injury"))
    ranking = rank_destinations([clinic, centre], needs.capabilities)
    assert ranking.best is not None
    assert ranking.best.hospital_id == "meilahti"
    assert [r.hospital_id for r in ranking.excluded] == ["clinic"]
    assert "trauma centre" in ranking.excluded[0].reason
