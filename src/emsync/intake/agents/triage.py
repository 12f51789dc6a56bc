"""The triage agent: the existing triage module (KTAS acuity model with its safety rule, NEWS2,
the paediatric pathway under 16) on what is known at arrival, with the bound device's newest
vitals filling what the crew did not record, and the device step's deterioration risk.

Triage writes nothing outside its step output: a re-run recomputes the same result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from emsync.core.errors import ValidationFailed
from emsync.intake.agents import arrival
from emsync.intake.agents.base import AgentDeps, Decision, StepInput, StepOutput
from emsync.intake.agents.inputs import expanded
from emsync.triage.assess import TriageAssessment, TriageInputs, assess
from emsync.triage.features import Mode
from emsync.triage.ktas import ArrivalMode
from emsync.triage.news2 import Acvpu

NEWS2_VERSION = "RCP NEWS2 (2017)"
_FLAGS = ("injury", "pain", "on_oxygen")


def merged_vitals(
    payload: Mapping[str, Any], device: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The crew's vitals, and the device's newest for any the crew did not record; with where
    each value came from (for the decision)."""
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    crew = arrival.vitals(payload)
    latest = device.get("latest_vitals") or {}
    for key in (*arrival.VITAL_KEYS, "on_oxygen", "consciousness"):
        if crew.get(key) is not None:
            values[key], source[key] = crew[key], "crew"
        elif isinstance(latest, Mapping) and latest.get(key) is not None:
            values[key], source[key] = latest[key], "device"
    return values, source


def triage_inputs(
    payload: Mapping[str, Any], vitals: Mapping[str, Any], age: float
) -> TriageInputs:
    """Raises ValueError for a value the triage module cannot take (an unknown AVPU letter)."""
    mode = payload.get("arrival_mode")
    return TriageInputs(
        age=age,
        sex=arrival.sex(payload),  # type: ignore[arg-type]
        chief_complaint=arrival.complaint(payload) or "",
        arrival_mode=ArrivalMode(mode) if mode else ArrivalMode.PUBLIC_AMBULANCE,
        injury=bool(payload.get("injury")),
        consciousness=Acvpu(vitals.get("consciousness") or "A"),
        pain=bool(payload.get("pain")),
        nrs_pain=payload.get("nrs_pain"),
        sbp=vitals.get("sbp"),
        dbp=vitals.get("dbp"),
        hr=vitals.get("hr"),
        rr=vitals.get("rr"),
        temp=vitals.get("temp"),
        spo2=vitals.get("spo2"),
        on_oxygen=bool(vitals.get("on_oxygen")),
    )


def explain(
    result: TriageAssessment,
    inputs: Mapping[str, Any],
    source: Mapping[str, str],
) -> tuple[dict[str, Any], list[Decision]]:
    """The step output and its decisions, from the assessment (pure)."""
    decisions = [
        Decision(
            rule=f"ktas-acuity-model ({result.pathway}, {result.scale})",
            version=result.model_version,
            inputs={**inputs, "vital_sources": dict(source)},
            result=f"KTAS {result.level} (most likely {result.most_likely_level})",
        )
    ]
    if result.safety_rule:
        decisions.append(Decision("ktas-safety-rule", result.model_version, {}, result.safety_rule))
    news2: dict[str, Any] | None = None
    if result.news2 is not None:
        news2 = {"total": result.news2.total, "band": result.news2.band.value}
        decisions.append(
            Decision(
                "news2",
                NEWS2_VERSION,
                {k: inputs.get(k) for k in ("rr", "spo2", "on_oxygen", "sbp", "hr", "temp")},
                f"NEWS2 {result.news2.total} ({result.news2.band.value})",
            )
        )
    output = {
        "level": result.level,
        "most_likely_level": result.most_likely_level,
        "probabilities": {str(k): round(v, 4) for k, v in result.probabilities.items()},
        "news2": news2,
        "pathway": result.pathway,
        "scale": result.scale,
        "model_version": result.model_version,
        "safety_rule": result.safety_rule,
        "reasons": list(result.reasons),
        "explanation": [
            {"feature": c.feature, "value": c.value, "contribution": round(c.contribution, 4)}
            for c in result.explanation[:5]
        ],
        "vital_sources": dict(source),
    }
    return output, decisions


def _deterioration(device: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[Decision]]:
    risk = device.get("deterioration")
    if not isinstance(risk, Mapping) or risk.get("probability") is None:
        return None, []
    return dict(risk), [
        Decision(
            "deterioration-risk",
            str(risk.get("model_version", "")),
            {"hours_observed": risk.get("hours_observed")},
            f"risk {float(risk['probability']):.0%}",
        )
    ]


class TriageAgent:
    name = "triage"
    clinical = True
    version = "1"

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput:
        step = await expanded(step, deps)
        return await asyncio.to_thread(self.assess, step, deps.clock())

    def assess(self, step: StepInput, now: datetime) -> StepOutput:
        """The pure core (CPU only): about a millisecond of model, off the event loop."""
        payload = step.payload
        device = step.previous.get("smart_health_device", {})
        vitals, source = merged_vitals(payload, device)
        age = arrival.age(payload, now)
        missing = [
            n
            for n, v in (("age", age), ("chief_complaint", arrival.complaint(payload)))
            if v is None
        ]
        risk, risk_decisions = _deterioration(device)
        if missing:
            # The model needs both; a person triages by hand (nothing is guessed).
            return StepOutput(
                "needs_review",
                {"level": None, "missing": missing, "vitals": vitals, "deterioration": risk},
                [
                    Decision("ktas-inputs", self.version, {"missing": missing}, "triage by hand"),
                    *risk_decisions,
                ],
            )
        assert age is not None
        try:
            inputs = triage_inputs(payload, vitals, age)
            result = assess(inputs, Mode.FIELD)
        except (ValueError, ValidationFailed) as exc:
            errors = getattr(exc, "extra", {}).get("errors") or [{"message": str(exc)}]
            return StepOutput(
                "needs_review",
                {"level": None, "errors": errors, "vitals": vitals, "deterioration": risk},
                [Decision("triage-validation", self.version, {"vitals": vitals}, str(exc))],
            )
        described = {
            "age": age,
            "sex": inputs.sex,
            "chief_complaint": inputs.chief_complaint,
            "arrival_mode": inputs.arrival_mode.value,
            "consciousness": inputs.consciousness.value,
            **{k: vitals.get(k) for k in (*arrival.VITAL_KEYS, "on_oxygen")},
        }
        output, decisions = explain(result, described, source)
        output["deterioration"] = risk
        return StepOutput("done", output, [*decisions, *risk_decisions])
