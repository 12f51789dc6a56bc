"""The billing agent: a cost estimate with its lines from the fee schedule and the payer from
the coverage rules (both data, sources stated). Non-clinical and never a blocker: a missing
insurance detail is a flag for the billing office, and the step is always `done`.

It writes nothing outside its step output (a re-run recomputes the same estimate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emsync.intake.agents import arrival, costing
from emsync.intake.agents.base import AgentDeps, Decision, StepInput, StepOutput
from emsync.intake.agents.inputs import expanded


def _insurance(step: StepInput) -> list[Mapping[str, Any]]:
    admitted = step.previous.get("admission", {}).get("insurance")
    if isinstance(admitted, list) and admitted:
        return [i for i in admitted if isinstance(i, Mapping)]
    given = arrival.person(step.payload).get("insurance")
    return [i for i in given if isinstance(i, Mapping)] if isinstance(given, list) else []


class BillingAgent:
    name = "billing"
    clinical = False
    version = "1"

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput:
        step = await expanded(step, deps)
        t = costing.tables()
        age = arrival.age(step.payload, deps.clock())
        admitted = bool(step.payload.get("admitted"))
        follow_up = bool(step.previous.get("scheduling", {}).get("booking_id")) or bool(
            step.payload.get("follow_up")
        )
        insurance = _insurance(step)
        estimate = costing.estimate(
            t, age=age, admitted=admitted, follow_up=follow_up, insurance=insurance
        )
        decisions = [
            Decision(
                "fee-schedule",
                t.fee_version,
                {"age": age, "admitted": admitted, "follow_up": follow_up},
                f"{len(estimate.lines)} line(s), total {estimate.total} {t.currency}",
            ),
            Decision(
                "coverage-rules",
                t.coverage_version,
                {"payers": [str(i.get("payer", "")) for i in insurance]},
                f"{estimate.payer.kind}: billed to {estimate.payer.billed_to}",
            ),
        ]
        return StepOutput("done", costing.as_json(estimate, t.currency), decisions)
