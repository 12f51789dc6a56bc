"""The admission agent: find or register the arriving person in the registry (exact identifier,
probabilistic link, review, or a new and possibly unknown patient), check identity and
insurance fields, take an ED bed from the bed board (zone by acuity), and report the ED's free
beds to the hospital register so the destination ranking sees them.

Registration, bed and the admission record commit in one transaction under the step's key: a
re-run finds the admission and changes nothing. The capacity report is an absolute count, so
repeating it is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import NotFound
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.hospitals import availability, report_availability
from emsync.intake.agents import arrival, identity_checks
from emsync.intake.agents.base import AgentDeps, Decision, StepInput, StepOutput
from emsync.intake.agents.inputs import expanded
from emsync.intake.records import beds
from emsync.intake.records import service as records
from emsync.intake.records.models import Admission, Bed
from emsync.registry.public import (
    PersonIndex,
    PersonRegistration,
    person_of_patient,
    register_arrival,
)

BED_WORKFLOWS = frozenset({"emergency", "emergency_device"})


@dataclass(frozen=True, slots=True)
class Match:
    person_id: str
    kind: str  # linked | exact | auto | review | created
    review_id: str | None
    decision: Decision


def person_index(deps: AgentDeps) -> PersonIndex:
    return deps.find(PersonIndex) or PersonIndex.from_settings(deps.settings, deps.keyring)


def _registration(person: Mapping[str, Any]) -> tuple[PersonRegistration, list[dict[str, Any]]]:
    """The registration, or an unknown-patient one and the invalid fields."""
    check = identity_checks.check(person)
    try:
        return PersonRegistration.model_validate(
            identity_checks.registration_fields(person, check)
        ), []
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        fallback = identity_checks.unknown_fields(person)
        return PersonRegistration.model_validate(fallback), errors


async def _take_a_bed(
    session: AsyncSession,
    step: StepInput,
    hospital_id: str,
    person_id: str,
    age: float | None,
    actor: str,
    now: Any,
) -> tuple[Bed | None, Decision]:
    acuity = arrival.acuity(step.previous)
    choice = beds.choose_beds(
        await records.free_beds(session=session, hospital_id=hospital_id), acuity=acuity, age=age
    )
    for candidate in choice.candidates:
        taken = await records.take_bed(
            session=session,
            bed_id=candidate.id,
            key=step.idempotency_key,
            session_id=str(step.session_id),
            person_id=person_id,
            acuity=acuity,
            actor=actor,
            now=now,
        )
        if taken is not None:
            bed = await session.get(Bed, candidate.id)
            inputs = {"acuity": acuity, "age": age, "zones": list(choice.zones)}
            return bed, Decision(
                beds.RULE,
                beds.VERSION,
                inputs,
                f"{candidate.zone} {candidate.label}: {choice.reason}",
            )
    inputs = {"acuity": acuity, "age": age, "zones": list(choice.zones)}
    return None, Decision(beds.RULE, beds.VERSION, inputs, choice.reason)


def _output(admission: Admission, bed: Bed | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "admission_id": admission.id,
        "person_id": admission.person_id,
        "match_decision": admission.match_decision,
        "review_id": admission.review_id,
        "bed": None if bed is None else {"id": bed.id, "zone": bed.zone, "label": bed.label},
        **extra,
    }


class AdmissionAgent:
    name = "admission"
    clinical = True
    version = "1"

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput:
        step = await expanded(step, deps)
        async with deps.sessions() as session:
            found = await self._recorded(session, step.idempotency_key)
            if found is not None:
                return found
            try:
                return await self._admit(UnitOfWork(session, deps.bus), step, deps)
            except IntegrityError:
                # A twin run of this step committed first: its admission is the one.
                await session.rollback()
                found = await self._recorded(session, step.idempotency_key)
                if found is None:
                    raise
                return found

    async def _recorded(self, session: AsyncSession, key: str) -> StepOutput | None:
        admission = await session.scalar(select(Admission).where(Admission.idempotency_key == key))
        if admission is None:
            return None
        bed = None if admission.bed_id is None else await session.get(Bed, admission.bed_id)
        return StepOutput("done", _output(admission, bed, {"repeated": True}), [])

    async def _admit(self, uow: UnitOfWork, step: StepInput, deps: AgentDeps) -> StepOutput:
        now, actor = deps.clock(), step.actor or "intake:admission"
        person = arrival.person(step.payload)
        check = identity_checks.check(person)
        match, invalid = await self._match(uow, step, deps, person, actor)
        decisions = [
            Decision(
                identity_checks.RULE,
                identity_checks.VERSION,
                {"fields": sorted(person)},
                check.result,
            ),
            match.decision,
        ]
        hospital_id = arrival.hospital_id(step.payload, step.hospital_id)
        bed: Bed | None = None
        wants_bed = step.workflow in BED_WORKFLOWS or bool(step.payload.get("needs_bed"))
        if hospital_id is not None and wants_bed:
            age = arrival.age(step.payload, now)
            bed, decision = await _take_a_bed(
                uow.session, step, hospital_id, match.person_id, age, actor, now
            )
            decisions.append(decision)
        admission = Admission(
            id=new_id(),
            idempotency_key=step.idempotency_key,
            session_id=str(step.session_id),
            hospital_id=hospital_id,
            person_id=match.person_id,
            match_decision=match.kind,
            review_id=match.review_id,
            bed_id=None if bed is None else bed.id,
            created_at=now,
        )
        uow.session.add(admission)
        await uow.commit()
        capacity = await self._report_capacity(deps, hospital_id, actor)
        if capacity is not None:
            decisions.append(capacity)
        review = match.kind == "review" or bool(invalid) or (wants_bed and bed is None)
        extra = {
            "unknown": check.unknown,
            "to_ask": [*check.missing, *check.insurance_missing],
            "invalid_fields": invalid,
            "insurance": list(person.get("insurance") or []),
        }
        return StepOutput(
            "needs_review" if review else "done", _output(admission, bed, extra), decisions
        )

    async def _match(
        self,
        uow: UnitOfWork,
        step: StepInput,
        deps: AgentDeps,
        person: Mapping[str, Any],
        actor: str,
    ) -> tuple[Match, list[dict[str, Any]]]:
        """The person the crew linked the incident patient to, else the registry's match of
        the identity given (a new, possibly unknown, person when nothing matches)."""
        patient_id = arrival.text_field(step.payload, "patient_id")
        linked = None if patient_id is None else await person_of_patient(uow.session, patient_id)
        if linked is not None:
            decision = Decision(
                "registry-link (crew linked the incident patient)",
                "registry",
                {"patient_id": patient_id},
                f"linked -> {linked}",
            )
            return Match(linked, "linked", None, decision), []
        data, invalid = _registration(person)
        result = await register_arrival(
            uow=uow, index=person_index(deps), data=data, actor=actor, now=deps.clock()
        )
        decision = Decision(
            "registry-match (exact identifier, Fellegi-Sunter linkage)",
            "registry",
            {"candidates": len(result.candidates)},
            result.decision + (f" -> {result.linked_to}" if result.linked_to else ""),
        )
        person_id = result.linked_to or result.person.id
        return Match(person_id, result.decision, result.review_id, decision), invalid

    async def _report_capacity(
        self, deps: AgentDeps, hospital_id: str | None, actor: str
    ) -> Decision | None:
        """The ED's free beds to the hospital register (its own transaction, after the bed)."""
        if hospital_id is None:
            return None
        async with deps.sessions() as session:
            free, total = await records.count_free(session=session, hospital_id=hospital_id)
            if total == 0:
                return None  # no bed board: the coordinator reports capacity by hand
            current = {h.id: h for h in await availability(session=session)}.get(hospital_id)
            if current is None:
                return Decision(
                    "ed-capacity", "1", {"hospital_id": hospital_id}, "not a registered hospital"
                )
            try:
                await report_availability(
                    uow=UnitOfWork(session, deps.bus),
                    hospital_id=hospital_id,
                    ed_beds_available=free,
                    diversion=current.diversion,
                    diversion_reason=None,
                    actor=actor,
                    now=deps.clock(),
                )
            except NotFound:
                return Decision(
                    "ed-capacity", "1", {"hospital_id": hospital_id}, "not a registered hospital"
                )
        return Decision(
            "ed-capacity", "1", {"free": free, "beds": total}, f"{free} ED beds available reported"
        )
