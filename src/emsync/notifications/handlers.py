"""Notifications' reactions to other domains, each a typed function of the event's class.

They run in the transaction of their cause (`EventBus.subscribe_in_transaction`): a page is
committed with the alert or overdue handoff that opened it, or not at all, so a crash between
the two can lose neither. They return the events their writes caused, published after commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.clock import Clock
from emsync.core.crypto import Keyring
from emsync.core.events import Event
from emsync.handoffs.events import (
    HandoffAcknowledged,
    HandoffAcknowledgementOverdue,
    HandoffRedirected,
)
from emsync.notifications import paging
from emsync.telemetry.events import AlertChanged

ALERT = "telemetry.alert"
HANDOFF = "handoff"


def page_on_alert(
    keyring: Keyring,
) -> Callable[[AsyncSession, AlertChanged], Awaitable[Sequence[Event]]]:
    """A raised alert opens a page (or joins its patient's open one); a worse level reopens it;
    acknowledging or resolving the alert stops it. Escalation itself is the policy's."""

    async def react(session: AsyncSession, event: AlertChanged) -> Sequence[Event]:
        if event.change in ("raised", "level_raised"):
            cause = paging.Cause(
                trigger=f"telemetry.alert.{event.kind}",
                subject_kind=ALERT,
                subject_id=event.alert_id,
                group=event.patient_id,
                template="clinical_alert",
                # No name or values: the patient's short reference and the alert's level only.
                data={
                    "level": event.level,
                    "kind": event.kind,
                    "patient_ref": event.patient_id[:8],
                },
                idempotency_key=f"{ALERT}:{event.alert_id}:{event.change}:{event.level}",
            )
            return await paging.open_page(
                session=session,
                keyring=keyring,
                cause=cause,
                now=event.at,
                reopen=event.change == "level_raised",
            )
        if event.change == "acknowledged":
            return await paging.acknowledge_subject(
                session=session,
                subject_kind=ALERT,
                subject_id=event.alert_id,
                by=event.actor,
                now=event.at,
            )
        if event.change == "resolved":
            return await paging.resolve_subject(
                session=session, subject_kind=ALERT, subject_id=event.alert_id, now=event.at
            )
        return []

    return react


def page_on_overdue_handoff(
    keyring: Keyring, clock: Clock
) -> Callable[[AsyncSession, HandoffAcknowledgementOverdue], Awaitable[Sequence[Event]]]:
    """The hospital has not acknowledged a sent handoff in time: page the dispatch on-call."""

    async def react(session: AsyncSession, event: HandoffAcknowledgementOverdue) -> Sequence[Event]:
        cause = paging.Cause(
            trigger="handoffs.ack_overdue",
            subject_kind=HANDOFF,
            subject_id=event.handoff_id,
            group=event.handoff_id,
            template="handoff_overdue",
            data={
                "hospital_ref": event.hospital_id[:8],
                "minutes": max(1, round(event.overdue_seconds / 60)),
            },
            idempotency_key=f"{HANDOFF}:{event.handoff_id}:overdue:{event.sent_at}",
        )
        return await paging.open_page(session=session, keyring=keyring, cause=cause, now=clock())

    return react


def stop_on_handoff_acknowledged(
    clock: Clock,
) -> Callable[[AsyncSession, HandoffAcknowledged | HandoffRedirected], Awaitable[Sequence[Event]]]:
    """Acknowledged (or sent elsewhere, which starts a new sending): the page is resolved."""

    async def react(
        session: AsyncSession, event: HandoffAcknowledged | HandoffRedirected
    ) -> Sequence[Event]:
        return await paging.resolve_subject(
            session=session, subject_kind=HANDOFF, subject_id=event.handoff_id, now=clock()
        )

    return react
