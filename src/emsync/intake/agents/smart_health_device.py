"""The smart health device agent: the session's device (the existing telemetry devices and
their keys), whether it is bound to a patient, its connectivity and battery, the patient's
newest vitals from it, and an emergency check (NEWS2 and the deterioration model's risk).

It only reads: binding and registration go through telemetry's own routes. `emergency_check`
is the same check on demand (POST /api/intake/devices/{device_id}/emergency-check).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from emsync.core.errors import NotFound
from emsync.intake.agents import arrival, device_status
from emsync.intake.agents.base import AgentDeps, Decision, StepInput, StepOutput
from emsync.intake.agents.inputs import expanded
from emsync.telemetry.live_risk import ChartedSeries, RiskWatch
from emsync.telemetry.public import (
    DeviceState,
    device_state,
    devices_of_patient,
    recent_vitals,
)
from emsync.triage import registry as triage_models

VITALS_WINDOW = timedelta(hours=6)


def _score(readings: list[tuple[datetime, dict[str, Any]]]) -> dict[str, Any] | None:
    """The deterioration model on the readings as hourly charted means (CPU work)."""
    series = ChartedSeries()
    for ts, values in readings:
        series.add(ts, values)
    charted = series.readings()
    if not charted:
        return None
    model = triage_models.deterioration_model()
    return {
        "probability": round(model.score(charted), 4),
        "hours_observed": round(series.hours, 2),
        "model_version": model.version,
        "source": "on demand",
    }


async def _risk(
    deps: AgentDeps,
    patient_id: str,
    readings: list[tuple[datetime, dict[str, Any]]],
    age: float | None,
) -> dict[str, Any] | None:
    if age is not None and age < 16:
        return None  # the adult ICU model does not apply to children (Bedside PEWS does)
    watch = deps.find(RiskWatch)
    live = watch.latest(patient_id) if watch is not None else None
    if live is not None:
        return {**live.as_message(), "source": "live"}
    return await asyncio.to_thread(_score, readings) if readings else None


async def emergency_check(
    deps: AgentDeps, device_id: str, *, age: float | None = None
) -> tuple[dict[str, Any], list[Decision]]:
    """The device's state and its patient's newest vitals, NEWS2 and deterioration risk.
    Raises NotFound for an unknown device."""
    now = deps.clock()
    async with deps.sessions() as session:
        state: DeviceState = await device_state(
            session=session, keyring=deps.keyring, device_id=device_id
        )
        readings = (
            []
            if state.patient_id is None
            else await recent_vitals(
                session=session,
                keyring=deps.keyring,
                patient_id=state.patient_id,
                since=now - VITALS_WINDOW,
            )
        )
    link = device_status.connectivity(state.last_seen_at, now)
    charge, battery = device_status.battery(state.status)
    latest, latest_at = device_status.latest_values(readings)
    scored = device_status.scoring_values(readings)
    score = device_status.news2_of(scored)
    flags = device_status.artefacts_of(readings)
    risk = None if state.patient_id is None else await _risk(deps, state.patient_id, readings, age)
    output = {
        "device_id": state.id,
        "type": state.type,
        "label": state.label,
        "bound": state.patient_id is not None,
        "patient_id": state.patient_id,
        "revoked": state.revoked_at is not None,
        "connectivity": link,
        "last_seen_at": None if state.last_seen_at is None else state.last_seen_at.isoformat(),
        "battery_pct": charge,
        "battery": battery,
        "signal": state.status.get("signal"),
        "latest_vitals": latest,
        "artefacts": flags,
        "latest_at": None if latest_at is None else latest_at.isoformat(),
        "news2": score,
        "deterioration": risk,
    }
    decisions = [
        Decision(
            device_status.RULE,
            device_status.VERSION,
            {"last_seen_at": output["last_seen_at"], "battery_pct": charge},
            f"{link}, battery {battery}",
        )
    ]
    if score is not None:
        decisions.append(
            Decision(
                "news2",
                "RCP NEWS2 (2017)",
                scored,
                f"NEWS2 {score['total']} ({score['band']})"
                + "".join(
                    f"; {name} {latest[name]} probable artefact ({kind})"
                    for name, kind in flags.items()
                ),
            )
        )
    if risk is not None:
        decisions.append(
            Decision(
                "deterioration-risk",
                str(risk.get("model_version")),
                {"hours_observed": risk.get("hours_observed"), "source": risk.get("source")},
                f"risk {float(risk['probability']):.0%}",
            )
        )
    return output, decisions


class SmartHealthDeviceAgent:
    name = "smart_health_device"
    clinical = True
    version = "1"

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput:
        step = await expanded(step, deps)
        device_id = arrival.text_field(step.payload, "device_id")
        patient_id = arrival.text_field(step.payload, "patient_id")
        if device_id is None and patient_id is not None:
            # The monitor the crew bound to the patient in the ambulance.
            async with deps.sessions() as session:
                bound = await devices_of_patient(session=session, patient_id=patient_id)
            device_id = bound[0] if bound else None
        if device_id is None:
            return StepOutput(
                "done",
                {"device_id": None, "bound": False},
                [
                    Decision(
                        device_status.RULE, device_status.VERSION, {}, "no device in this session"
                    )
                ],
            )
        try:
            output, decisions = await emergency_check(
                deps, device_id, age=arrival.age(step.payload, deps.clock())
            )
        except NotFound:
            return StepOutput(
                "needs_review",
                {"device_id": device_id, "error": "no such device"},
                [
                    Decision(
                        device_status.RULE,
                        device_status.VERSION,
                        {"device_id": device_id},
                        "unknown device",
                    )
                ],
            )
        attention = (
            output["revoked"]
            or output["connectivity"] in ("offline", "never")
            or output["battery"] == "critical"
        )
        return StepOutput("needs_review" if attention else "done", output, decisions)
