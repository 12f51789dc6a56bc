"""The triage agent's core: the existing KTAS model and NEWS2 on the arrival, device vitals
filling gaps, and nothing guessed when age or complaint is missing or a value is implausible."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

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
