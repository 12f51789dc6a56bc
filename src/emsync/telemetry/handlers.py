"""Telemetry's reactions to the notifications domain: an alert acknowledged from a page (SMS
link, reply, the paging screen) is acknowledged here too, and each escalation step the policy
fires is shown on the alert."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from emsync.core.errors import InvalidTransition, NotFound
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.notifications.events import PageAcknowledged, PageEscalated
from emsync.telemetry import service

ALERT_SUBJECT = "telemetry.alert"


def acknowledge_alert_from_page(runtime: Runtime) -> Callable[[PageAcknowledged], Awaitable[None]]:
    async def acknowledge(event: PageAcknowledged) -> None:
        # "source": the page was stopped by this alert's own acknowledgement; nothing to do.
        if event.subject_kind != ALERT_SUBJECT or event.via == "source":
            return
        async with runtime.sessions() as session:
            try:
                await service.acknowledge_alert(
                    uow=UnitOfWork(session, runtime.bus),
                    keyring=runtime.keyring,
                    alert_id=event.subject_id,
                    actor=event.by,
                    now=event.at,
                )
            except (InvalidTransition, NotFound):
                return  # acknowledged or resolved meanwhile: the page and alert agree already

    return acknowledge


def show_escalation_on_alert(runtime: Runtime) -> Callable[[PageEscalated], Awaitable[None]]:
    async def record(event: PageEscalated) -> None:
        if event.subject_kind != ALERT_SUBJECT:
            return
        async with runtime.sessions() as session:
            await service.record_escalation(
                uow=UnitOfWork(session, runtime.bus),
                alert_id=event.subject_id,
                step=event.step,
                escalated_to=event.targets,
                now=event.at,
            )

    return record
