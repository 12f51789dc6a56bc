"""Notifications' reactions to other domains, each a typed function of the event's class.

They run in the transaction of their cause (`EventBus.subscribe_in_transaction`): a page is
committed with the alert or overdue handoff that opened it, or not at all, so a crash between
the two can lose neither. They return the events their writes caused, published after commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.events import Event
from emsync.core.runtime import Runtime
from emsync.handoffs.events import (
    HandoffAcknowledged,
    HandoffAcknowledgementOverdue,
    HandoffRedirected,
)
from emsync.notifications import paging
from emsync.notifications.events import PageAcknowledged, PageEscalated, PageEvent, PageOpened
from emsync.notifications.metrics import NotificationMetrics
from emsync.notifications.worker import NotificationWorker
from emsync.telemetry.events import AlertChanged

ALERT = "telemetry.alert"
HANDOFF = "handoff"


async def page_on_alert(
    runtime: Runtime, session: AsyncSession, event: AlertChanged
) -> Sequence[Event]:
    """A raised alert opens a page (or joins its patient's open one); a worse level reopens it;
    acknowledging or resolving the alert stops it. Escalation itself is the policy's."""
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
            keyring=runtime.keyring,
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


async def page_on_overdue_handoff(
    runtime: Runtime, session: AsyncSession, event: HandoffAcknowledgementOverdue
) -> Sequence[Event]:
    """The hospital has not acknowledged a sent handoff in time: page the dispatch on-call."""
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
    return await paging.open_page(
        session=session, keyring=runtime.keyring, cause=cause, now=runtime.clock()
    )


async def stop_on_handoff_acknowledged(
    runtime: Runtime, session: AsyncSession, event: HandoffAcknowledged | HandoffRedirected
) -> Sequence[Event]:
    """Acknowledged (or sent elsewhere, which starts a new sending): the page is resolved."""
    return await paging.resolve_subject(
        session=session, subject_kind=HANDOFF, subject_id=event.handoff_id, now=runtime.clock()
    )


def may_have_paged(event: HandoffAcknowledged | HandoffRedirected) -> bool:
    """Whether a page about the handoff can be open: one opens only on an overdue alert, so an
    acknowledgement of a sending never alerted has none (its page check, a savepoint and a
    select, is skipped: three of the acknowledgement's statements, issue #16)."""
    return not isinstance(event, HandoffAcknowledged) or event.overdue_alerted


async def count_page(runtime: Runtime, event: PageEvent) -> None:
    """Pages by trigger and outcome (opened, escalated, acknowledged; closed: its status)."""
    outcome = {
        PageOpened: "opened",
        PageEscalated: "escalated",
        PageAcknowledged: "acknowledged",
    }.get(type(event), event.status)
    runtime.get(NotificationMetrics).pages.labels(trigger=event.trigger, outcome=outcome).inc()


async def wake_worker(runtime: Runtime, event: PageOpened) -> None:
    """A new page is sent now rather than at the worker's next poll (if so configured)."""
    if runtime.settings.notifications.wake_on_page:
        runtime.get(NotificationWorker).wake()


async def may_read_own_notifications(principal: Principal, user_id: str | None) -> bool:
    """`notifications:<user id>`: that person only (notify:self)."""
    return principal.can(Perm.NOTIFY_SELF) and user_id == principal.id
