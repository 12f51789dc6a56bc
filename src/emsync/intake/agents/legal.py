"""The legal agent: reportable-case rules (data, per jurisdiction) applied to the arrival; when
any applies, a legal case record with its police-notification task, the authority to tell,
consent and capacity as recorded, and room for chain-of-custody notes on evidence.

Non-clinical: it never holds up care. One case per session, keyed by the step's idempotency
key: a re-run returns the same case.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from emsync.intake.agents import arrival, reportable
from emsync.intake.agents.base import AgentDeps, Decision, StepInput, StepOutput
from emsync.intake.agents.inputs import expanded
from emsync.intake.records import legal as cases
from emsync.intake.records.models import LegalCase

CONSENTS = ("given", "refused", "not_asked")
CAPACITIES = ("has_capacity", "lacks_capacity", "not_assessed")


def _choice(payload: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = payload.get(key)
    return value if value in allowed else default


def _output(case: LegalCase, repeated: bool = False) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "jurisdiction": case.jurisdiction,
        "rules": list(case.rules),
        "categories": list(case.categories),
        "police_task": case.police_task,
        "police_due_at": None if case.police_due_at is None else case.police_due_at.isoformat(),
        "consent": case.consent,
        "capacity": case.capacity,
        "repeated": repeated,
    }


class LegalAgent:
    name = "legal"
    clinical = False
    version = "1"

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput:
        step = await expanded(step, deps)
        book = reportable.rule_book()
        payload, now = step.payload, deps.clock()
        jurisdiction = arrival.text_field(payload, "jurisdiction") or book.default_jurisdiction
        if jurisdiction not in book.jurisdictions:
            unknown = Decision("legal-jurisdiction", book.version, {"j": jurisdiction}, "unknown")
            error = f"no legal rules for jurisdiction {jurisdiction!r}"
            return StepOutput("needs_review", {"case_id": None, "error": error}, [unknown])
        age = arrival.age(payload, now)
        findings = reportable.find_categories(
            book,
            texts=arrival.texts(payload),
            flags=arrival.flags(payload),
            age=age,
            dead_on_arrival=bool(payload.get("dead_on_arrival")),
        )
        consent = _choice(payload, "consent", CONSENTS, "not_asked")
        capacity = _choice(payload, "capacity", CAPACITIES, "not_assessed")
        found = reportable.obligations(
            book,
            jurisdiction,
            findings,
            consent=consent,
            capacity=capacity,
            now=now,
        )
        inputs = {
            "jurisdiction": jurisdiction,
            "flags": arrival.flags(payload),
            "age": age,
            "consent": consent,
            "capacity": capacity,
        }
        decisions = [
            Decision(
                f"reportable:{o.rule.id}",
                book.version,
                {**inputs, "shown_by": o.finding.evidence},
                f"{o.rule.category}: tell {o.rule.authority}; police {o.police_task}",
            )
            for o in found
        ]
        if not found:
            return StepOutput(
                "done",
                {"case_id": None, "jurisdiction": jurisdiction, "categories": []},
                [Decision("reportable-cases", book.version, inputs, "no reportable category")],
            )
        opened = await self._open(
            step, deps, jurisdiction, found, consent=consent, capacity=capacity, now=now
        )
        # A person confirms every new case (consent, capacity, the report itself).
        return StepOutput("done" if opened["repeated"] else "needs_review", opened, decisions)

    async def _open(
        self,
        step: StepInput,
        deps: AgentDeps,
        jurisdiction: str,
        found: list[reportable.Obligation],
        *,
        consent: str,
        capacity: str,
        now: datetime,
    ) -> dict[str, Any]:
        """The session's case, opened once under the step's key (a re-run returns it)."""
        async with deps.sessions() as session:
            existing = await cases.case_for_key(session, step.idempotency_key)
            if existing is not None:
                return _output(existing, repeated=True)
            try:
                case = await cases.open_case(
                    session=session,
                    keyring=deps.keyring,
                    key=step.idempotency_key,
                    session_id=str(step.session_id),
                    person_id=arrival.person_id(step.previous, step.payload),
                    jurisdiction=jurisdiction,
                    obligations=[reportable.as_json(o) for o in found],
                    police_task=reportable.police_task(found),
                    police_due_at=reportable.police_due(found),
                    consent=consent,
                    capacity=capacity,
                    circumstances="; ".join(arrival.texts(step.payload)) or None,
                    actor=step.actor or "intake:legal",
                    now=now,
                )
                await session.commit()
            except IntegrityError:
                await session.rollback()
                twin = await cases.case_for_key(session, step.idempotency_key)
                if twin is None:
                    raise
                return _output(twin, repeated=True)
        return _output(case)
