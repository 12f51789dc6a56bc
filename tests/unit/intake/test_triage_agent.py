"""The triage agent's core: the existing KTAS model and NEWS2 on the arrival, device vitals
filling gaps, and nothing guessed when age or complaint is missing or a value is implausible."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from emsync.intake.agents import arrival
from emsync.intake.agents.base import StepInput
from emsync.intake.agents.triage import TriageAgent

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def step(payload: dict[str, Any], previous: dict[str, Any] | None = None) -> StepInput:
    sid = uuid4()
    return StepInput(sid, "emergency", "triage", payload, previous or {}, f"{sid}:triage")


ARRIVAL = {
    "age": 34,
    "sex": "male",
    "chief_complaint": "stab wound to abdomen",
    "injury": True,
    "vitals": {"hr": 128, "rr": 26, "spo2": 93, "sbp": 88, "dbp": 50, "temp": 36.4},
}


def test_an_arrival_is_triaged_with_ktas_and_news2_and_explained() -> None:
    out = TriageAgent().assess(step(ARRIVAL), NOW)
    assert out.outcome == "done"
    assert out.output["level"] in (1, 2)
    # rr 26 -> 3, spo2 93 -> 2, sbp 88 -> 3, hr 128 -> 2, alert, air, temp 36.4 -> 0
    assert out.output["news2"] == {"total": 10, "band": "high"}
    rules = [d.rule for d in out.decisions]
    assert rules[0].startswith("ktas-acuity-model")
    assert "news2" in rules
    assert out.decisions[0].inputs["chief_complaint"] == "stab wound to abdomen"


def test_device_vitals_fill_what_the_crew_did_not_record() -> None:
    payload = {**ARRIVAL, "vitals": {"hr": 128}}
    device = {
        "smart_health_device": {
            "latest_vitals": {"hr": 70, "rr": 26, "spo2": 93, "sbp": 88, "temp": 36.4},
            "deterioration": {"probability": 0.31, "model_version": "m1", "hours_observed": 2},
        }
    }
    out = TriageAgent().assess(step(payload, device), NOW)
    assert out.output["vital_sources"] == {
        "hr": "crew",
        "rr": "device",
        "spo2": "device",
        "sbp": "device",
        "temp": "device",
    }
    assert out.output["deterioration"]["probability"] == 0.31
    assert any(d.rule == "deterioration-risk" for d in out.decisions)


def test_without_age_or_complaint_nothing_is_guessed() -> None:
    out = TriageAgent().assess(step({"vitals": {"hr": 80}}), NOW)
    assert out.outcome == "needs_review"
    assert out.output["level"] is None
    assert out.output["missing"] == ["age", "chief_complaint"]


def test_an_implausible_value_is_sent_to_a_person_with_the_field_named() -> None:
    out = TriageAgent().assess(step({**ARRIVAL, "vitals": {"hr": 900}}), NOW)
    assert out.outcome == "needs_review"
    assert out.output["level"] is None
    assert "hr" in str(out.output["errors"])


def test_age_comes_from_the_registered_birth_date() -> None:
    payload = {k: v for k, v in ARRIVAL.items() if k != "age"} | {
        "person": {"birth_date": "1990-12-07"}
    }
    out = TriageAgent().assess(step(payload), NOW)
    assert out.decisions[0].inputs["age"] == 35.0


def test_a_handoff_becomes_the_session_input_with_its_own_values_winning() -> None:
    record = {
        "patient_id": "p1",
        "hospital_id": "h1",
        "content": {
            "patient": {"name": "Eero Ilmari Mäki", "age_years": 64, "sex": "male"},
            "mechanism": "stabbed in the thigh",
            "treatment": [
                {"kind": "medication", "name": "morphine"},
                {"kind": "procedure", "name": "IV"},
            ],
        },
        "picture": {
            "injuries": ["stab wound right thigh"],
            "latest_signs": {
                "hr": 120, "rr": 22, "spo2": 94, "sbp": 100, "dbp": 60, "o2": True, "avpu": "V",
            },
            "allergies": ["penicillin"],
        },
    }  # fmt: skip
    derived = arrival.from_handoff(record)
    assert derived["person"] == {"given_name": "Eero", "family_name": "Ilmari Mäki", "sex": "male"}
    assert (derived["age"], derived["chief_complaint"]) == (64, "stabbed in the thigh")
    assert derived["vitals"] == {"hr": 120, "spo2": 94, "rr": 22, "sbp": 100, "dbp": 60,
                                 "on_oxygen": True, "consciousness": "V"}  # fmt: skip
    assert derived["planned_medications"] == ["morphine"]
    assert derived["reported_allergies"] == ["penicillin"]
    given = {"vitals": {"hr": 130}, "person": {"birth_date": "1962-01-01"}, "age": 63}
    both = arrival.merged(given, derived)
    assert both["vitals"]["hr"] == 130
    assert both["vitals"]["rr"] == 22
    assert both["person"]["given_name"] == "Eero"
    assert both["age"] == 63


def test_an_unnamed_patient_with_an_age_band_is_an_estimated_age() -> None:
    derived = arrival.from_handoff({"content": {"patient": {"age_band": "70-80"}}})
    assert derived["person"] == {"estimated_age_years": 75}
    assert derived["age"] == 75
