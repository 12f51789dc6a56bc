"""The scheduling agent: the follow-up the arrival needs (the clinician's request, else the
complaint table) booked in the earliest fitting slot of that specialty, never double-booked
(a slot is claimed by a conditional UPDATE; the loser of a race tries the next slot), and
exportable as .ics.

Non-clinical. The booking carries the step's idempotency key: a re-run returns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from emsync.intake.agents import arrival
from emsync.intake.agents.base import AgentDeps, Decision, StepInput, StepOutput
from emsync.intake.agents.inputs import expanded
from emsync.intake.records import calendar
from emsync.intake.records import scheduling as bookings
from emsync.intake.records.schemas import BookingRead

HORIZON = timedelta(days=60)


def requested(payload: Mapping[str, Any]) -> calendar.FollowUp | None:
    asked = payload.get("follow_up")
    if not isinstance(asked, Mapping) or not isinstance(asked.get("specialty"), str):
        return None
    days = asked.get("within_days")
    kind = asked.get("kind") if asked.get("kind") in ("follow_up", "specialist") else "follow_up"
    return calendar.FollowUp(
        specialty=str(asked["specialty"]),
        within_days=int(days) if isinstance(days, int) and 0 < days <= 365 else 14,
        kind=str(kind),
        reason="asked for by the clinician",
    )


def _output(b: BookingRead, repeated: bool = False) -> dict[str, Any]:
    return {
        "booking_id": b.id,
        "specialty": b.slot.specialty,
        "kind": b.slot.kind,
        "starts_at": b.slot.starts_at.isoformat(),
        "ends_at": b.slot.ends_at.isoformat(),
        "clinician": b.slot.clinician_name,
        "location": b.slot.location,
        "ics": f"/api/intake/bookings/{b.id}/calendar.ics",
        "repeated": repeated,
    }


class SchedulingAgent:
    name = "scheduling"
    clinical = False
    version = "1"

    async def run(self, step: StepInput, deps: AgentDeps) -> StepOutput:
        step = await expanded(step, deps)
        now, key = deps.clock(), step.idempotency_key
        need = calendar.follow_up_for(arrival.texts(step.payload), requested(step.payload))
        decision = Decision(
            calendar.FOLLOW_UP_RULE,
            calendar.FOLLOW_UP_VERSION,
            {"requested": requested(step.payload) is not None},
            f"{need.specialty} within {need.within_days} days ({need.reason})",
        )
        async with deps.sessions() as session:
            existing = await bookings.booking_for_key(session, key)
            if existing is not None:
                read = await bookings.booking_read(session, existing)
                return StepOutput("done", _output(read, repeated=True), [decision])
            free = await bookings.open_slots(
                session=session, specialty=need.specialty, start=now, end=now + HORIZON
            )
            offered = calendar.offer(
                [
                    calendar.OpenSlot(
                        s.id,
                        s.clinician_id,
                        s.clinician_name,
                        s.specialty,
                        s.kind,
                        s.starts_at,
                        s.ends_at,
                        s.location,
                    )
                    for s in free
                ],
                need=need,
                now=now,
            )
            for slot in offered:
                try:
                    booking = await bookings.claim_slot(
                        session=session,
                        slot_id=slot.id,
                        key=key,
                        reason=f"{need.kind.replace('_', '-')}: {need.reason}",
                        person_id=arrival.person_id(step.previous, step.payload),
                        session_id=str(step.session_id),
                        actor=step.actor or "intake:scheduling",
                        now=now,
                    )
                    if booking is None:
                        continue  # taken meanwhile: the next one
                    await session.commit()
                except IntegrityError:
                    await session.rollback()
                    booking = await bookings.booking_for_key(session, key)
                    if booking is None:
                        raise
                read = await bookings.booking_read(session, booking)
                late = slot.starts_at > now + timedelta(days=need.within_days)
                note = " (later than asked: nothing sooner)" if late else ""
                return StepOutput(
                    "needs_review" if late else "done",
                    _output(read),
                    [
                        decision,
                        Decision(
                            "earliest-free-slot",
                            "1",
                            {"offered": len(offered)},
                            f"{slot.starts_at.isoformat()} with {slot.clinician_name}{note}",
                        ),
                    ],
                )
        return StepOutput(
            "needs_review",
            {
                "booking_id": None,
                "specialty": need.specialty,
                "error": "no free slot in the next 60 days",
            },
            [decision],
        )
