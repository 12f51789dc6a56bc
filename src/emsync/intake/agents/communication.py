"""The communication agent: the family (the person's emergency contacts) and the on-call ED
staff told of the arrival through the notifications outbox, in the patient's language where a
template exists; the delivery state of each message in the output.

Non-clinical. The outbox's unique idempotency key (the step's key plus recipient) makes a
re-run queue nothing twice; the worker delivers, and the output reads where each stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from emsync.core.errors import NotFound, ValidationFailed
from emsync.core.uow import UnitOfWork
from emsync.intake.agents import arrival, messages
from emsync.intake.agents.admission import person_index
from emsync.intake.agents.base import AgentDeps, Decision, StepInput, StepOutput
from emsync.intake.agents.inputs import expanded
from emsync.notifications import TEMPLATES, ChannelKind, Recipient, enqueue
from emsync.notifications.public import DeliveryState, delivery_states, on_call_for
from emsync.notifications.templates import LANGUAGES
from emsync.registry.public import chart

STAFF_TEAM_KINDS = ("ed",)
TEMPLATE = "notice"


async def _identity(step: StepInput, deps: AgentDeps) -> dict[str, Any]:
    """The person's identity: as given, completed from the registry when admitted."""
    given = arrival.person(step.payload)
    person_id = arrival.person_id(step.previous, step.payload)
    if person_id is None or given.get("emergency_contacts"):
        return given
    async with deps.sessions() as session:
        try:
            record = await chart(session=session, index=person_index(deps), person_id=person_id)
        except NotFound:
            return given
    return {**record.person.model_dump(mode="json"), **given}


def _name(person: Mapping[str, Any]) -> str:
    return str(person.get("given_name") or "Your relative")


class CommunicationAgent:
    name = "communication"
    clinical = False
    version = "1"

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput:
        step = await expanded(step, deps)
        assert set(TEMPLATES[TEMPLATE].fields) == {"title", "body"}
        person = await _identity(step, deps)
        language = messages.language_for(person.get("language"), LANGUAGES)
        region = messages.region_of(person, arrival.text_field(step.payload, "jurisdiction"))
        contacts, skipped = messages.reachable(person.get("emergency_contacts") or [], region)
        hospital = str(step.payload.get("hospital_name") or "the hospital")
        family = messages.family_message(language, name=_name(person), hospital=hospital)
        bed = step.previous.get("admission", {}).get("bed") or {}
        staff = messages.staff_message(
            level=arrival.acuity(step.previous),
            bed=bed.get("label") if isinstance(bed, Mapping) else None,
            legal=bool(step.previous.get("legal", {}).get("case_id")),
            conflicts=len(step.previous.get("medical_records", {}).get("conflicts") or []),
        )
        states, on_call = await self._queue(
            step, deps, contacts, skipped, family=family, staff=staff, language=language
        )
        family_states = [s for s in states if s.user_id is None]
        output = {
            "language": language,
            "family": [_state(s) for s in family_states],
            "staff": [_state(s) for s in states if s.user_id is not None],
            "on_call_teams": sorted({team for team, _ in on_call}),
            "not_reached": skipped,
        }
        decisions = [
            Decision(
                messages.RULE,
                messages.VERSION,
                {
                    "contacts": len(contacts) + len(skipped),
                    "language_asked": person.get("language"),
                    "on_call": len(on_call),
                },
                f"family: {len(family_states)} message(s) in {language}; "
                f"staff: {len(output['staff'])}",
            )
        ]
        # Nobody in the family reachable: a person phones (the step still completes).
        return StepOutput("done" if family_states else "needs_review", output, decisions)

    async def _queue(
        self,
        step: StepInput,
        deps: AgentDeps,
        contacts: list[messages.Contact],
        skipped: list[str],
        *,
        family: dict[str, str],
        staff: dict[str, str],
        language: str,
    ) -> tuple[list[DeliveryState], list[tuple[str, str]]]:
        """Queue the family's SMS and the on-call staff's notice in one transaction (the
        outbox's keys make a re-run queue nothing twice); then where every message stands."""
        now, key = deps.clock(), step.idempotency_key
        async with deps.sessions() as session:
            uow = UnitOfWork(session, deps.bus)
            queue = partial(
                enqueue,
                uow=uow,
                keyring=deps.keyring,
                template=TEMPLATE,
                subject_kind="intake_session",
                subject_id=str(step.session_id),
                now=now,
            )
            for contact in contacts:
                try:
                    await queue(
                        recipients=[
                            Recipient.at(ChannelKind.SMS, contact.phone, language=language)
                        ],
                        data=family,
                        idempotency_key=f"{key}:family",
                    )
                except ValidationFailed as exc:
                    skipped.append(f"contact {contact.index}: {exc.detail}")
            on_call = await on_call_for(session=session, now=now, team_kinds=STAFF_TEAM_KINDS)
            if on_call:
                await queue(
                    recipients=[Recipient.user(user_id) for _team, user_id in on_call],
                    data=staff,
                    idempotency_key=f"{key}:staff",
                    urgent=True,
                )
            await uow.commit()
            return await delivery_states(session=session, idempotency_key=key), on_call


def _state(s: DeliveryState) -> dict[str, Any]:
    return {
        "user_id": s.user_id,
        "channel": s.channel,
        "language": s.language,
        "status": s.status,
        "reason": s.status_reason,
    }
