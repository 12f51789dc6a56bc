"""The medical records agent: the person's history, allergies, medications and problems from
the registry's clinical record; allergy-medication conflicts flagged (chart medications and any
planned in this session); the device step's report filed on the chart.

Reading is repeatable; the one effect, the device report, is filed once per step key (the
registry's source key and the intake ledger, in one transaction).
"""

from __future__ import annotations

from typing import Any

from emsync.core.errors import NotFound
from emsync.core.uow import UnitOfWork
from emsync.intake.agents import arrival, chart_rules
from emsync.intake.agents.admission import person_index
from emsync.intake.agents.base import AgentDeps, Decision, StepInput, StepOutput
from emsync.intake.agents.inputs import expanded
from emsync.intake.records.service import once
from emsync.registry.clinical_schemas import AllergyIn, MedicationIn, ProblemIn
from emsync.registry.public import Chart, allergies, chart, drug_classes, file_device_report


def _summary(c: Chart) -> dict[str, Any]:
    return {
        "allergies": [
            {
                "id": e.id,
                "substance": e.content.substance,
                "severity": e.content.severity,
                "reaction": e.content.reaction,
                "status": e.content.status,
            }
            for e in c.allergies
            if isinstance(e.content, AllergyIn)
        ],
        "medications": [
            {
                "id": e.id,
                "substance": e.content.substance,
                "dose": e.content.dose,
                "status": e.content.status,
            }
            for e in c.medications
            if isinstance(e.content, MedicationIn)
        ],
        "problems": [
            {"id": e.id, "condition": e.content.condition, "status": e.content.status}
            for e in c.problems
            if isinstance(e.content, ProblemIn)
        ],
        "history": [
            {"at": t.at.isoformat(), "kind": t.kind, "title": t.title} for t in c.timeline[-20:]
        ],
        "device_reports_on_chart": len(c.device_reports),
    }


class MedicalRecordsAgent:
    name = "medical_records"
    clinical = True
    version = "1"

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput:
        step = await expanded(step, deps)
        person_id = arrival.person_id(step.previous, step.payload)
        if person_id is None:
            return StepOutput(
                "needs_review",
                {"person_id": None, "error": "no registry person for this session yet"},
                [Decision("medical-records-person", self.version, {}, "no person to read")],
            )
        index = person_index(deps)
        async with deps.sessions() as session:
            try:
                record = await chart(session=session, index=index, person_id=person_id)
            except NotFound:
                return StepOutput(
                    "needs_review",
                    {"person_id": person_id, "error": "the person is not in the registry"},
                    [
                        Decision(
                            "medical-records-person",
                            self.version,
                            {"person_id": person_id},
                            "not found",
                        )
                    ],
                )
        summary = _summary(record)
        recorded = [
            allergies.RecordedAllergy(id=a["id"], substance=a["substance"], severity=a["severity"])
            for a in summary["allergies"]
            if a["status"] == "active"
        ]
        # Allergies the crew heard of at the scene count too, until someone records them.
        recorded += chart_rules.reported(step.payload.get("reported_allergies") or [])
        current = [m["substance"] for m in summary["medications"] if m["status"] == "active"]
        planned = [str(m) for m in step.payload.get("planned_medications") or []]
        table = drug_classes()
        flagged = chart_rules.flag_conflicts(recorded, current, planned, table)
        decisions = [
            Decision(
                chart_rules.RULE,
                table.source[:80],
                {
                    "allergies": [a.substance for a in recorded],
                    "current": current,
                    "planned": planned,
                },
                f"{len(flagged)} conflict(s)" if flagged else "no conflict",
            )
        ]
        filed = await self._file_device_report(step, deps, person_id)
        if filed is not None:
            decisions.append(
                Decision(
                    "device-report-filed",
                    self.version,
                    {"device_id": filed.get("device_id")},
                    str(filed.get("entry_id")),
                )
            )
        output = {
            "person_id": record.person.id,
            **summary,
            "conflicts": [f.as_json() for f in flagged],
            "device_report": filed,
        }
        return StepOutput("needs_review" if flagged else "done", output, decisions)

    async def _file_device_report(
        self, step: StepInput, deps: AgentDeps, person_id: str
    ) -> dict[str, Any] | None:
        device = step.previous.get("smart_health_device", {})
        device_id = device.get("device_id")
        text = chart_rules.device_summary(device)
        if not isinstance(device_id, str) or text is None:
            return None
        index, now = person_index(deps), deps.clock()

        async def perform(uow: UnitOfWork) -> dict[str, Any]:
            # The ledger row commits with the entry: a re-run finds the ledger row first.
            entry = await file_device_report(
                uow=uow,
                index=index,
                person_id=person_id,
                device_id=device_id,
                summary=text,
                source_key=f"intake:{step.idempotency_key}:{device_id}",
                actor=step.actor or "intake:medical_records",
                now=now,
            )
            return {"device_id": device_id, "entry_id": entry.entry.id}

        return await once(
            sessions=deps.sessions,
            bus=deps.bus,
            key=step.idempotency_key,
            effect="device_report",
            perform=perform,
            now=now,
        )
