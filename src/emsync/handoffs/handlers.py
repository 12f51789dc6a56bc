"""Reactions: live push of handoff changes to both sides, and the bridge from triage and
destination events to a draft handoff."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy import select

from emsync.core.events import Event
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.handoffs import service
from emsync.handoffs.events import HandoffEvent
from emsync.handoffs.models import OutboxEntry
from emsync.handoffs.schemas import DraftRequest

log = structlog.get_logger("emsync.handoffs")

HOSPITAL_CHANNEL = "handoffs"  # "handoffs:<hospital_id>": the hospital's feed, with content
# "handoffs" without an argument: the crew and dispatch board, routing metadata only.


def hospital_channel(hospital_id: str) -> str:
    return f"{HOSPITAL_CHANNEL}:{hospital_id}"


def push_handoff_events(runtime: Runtime) -> Callable[[HandoffEvent], Awaitable[None]]:
    """Deliver each outbox entry a change wrote to the hospital's live channel (same seq as the
    feed, so a client deduplicates and notices gaps), and the change to the crew board."""
    hub = runtime.get(Hub)

    async def push(event: HandoffEvent) -> None:
        # Entries the use case rendered in its own transaction go out as they are; reading them
        # back here would take a second transaction (on SQLite, the write lock) per change.
        entries = [
            (hospital_id, seq, service.rendered_entry(hospital_id, seq))
            for hospital_id, seq in event.deliveries
        ]
        if all(read is not None for _, _, read in entries):
            for hospital_id, _, read in entries:
                assert read is not None
                hub.publish(hospital_channel(hospital_id), read.kind, read.model_dump(mode="json"))
        else:  # not rendered here (another path, or a retry): read back, in order
            async with runtime.sessions() as session:
                for hospital_id, seq, read in entries:
                    if read is None:
                        entry = (
                            await session.scalars(
                                select(OutboxEntry).where(
                                    OutboxEntry.hospital_id == hospital_id, OutboxEntry.seq == seq
                                )
                            )
                        ).one()
                        read = await service.entry_read(
                            session, runtime.keyring, entry, service.Viewer.hospital(hospital_id)
                        )
                    hub.publish(
                        hospital_channel(hospital_id), read.kind, read.model_dump(mode="json")
                    )
        board = event.to_dict()
        board.pop("deliveries", None)
        hub.publish(HOSPITAL_CHANNEL, event.name, board)

    return push


def draft_on_destination(runtime: Runtime) -> Callable[[Any], Awaitable[None]]:
    """The bridge: an event naming an incident, a patient, a unit and a destination hospital
    drafts the handoff for that unit (or refreshes its open draft)."""

    async def draft(event: Event) -> None:
        fields = event.to_dict()
        hospital_id = fields.get("hospital_id") or fields.get("destination_id")
        incident_id = fields.get("incident_id")
        if not hospital_id or not incident_id:
            return
        request = DraftRequest(
            incident_id=incident_id,
            patient_id=fields.get("patient_id"),
            unit_id=fields.get("unit_id"),
            hospital_id=hospital_id,
            eta=fields.get("eta"),
        )
        async with runtime.sessions() as session:
            await service.draft_from_inputs(
                uow=UnitOfWork(session, runtime.bus),
                keyring=runtime.keyring,
                request=request,
                actor="system:handoff-bridge",
                now=runtime.clock(),
            )
        log.info("handoff drafted from event", source=event.name, incident_id=incident_id)

    return draft


def refresh_draft_on_triage(runtime: Runtime) -> Callable[[Any], Awaitable[None]]:
    """A new triage result (acuity `level`, `news2`) updates the patient's open drafts, so the
    draft the crew sends carries the latest acuity. Sent handoffs are never overwritten."""

    async def refresh(event: Event) -> None:
        fields = event.to_dict()
        patient_id = fields.get("patient_id")
        if not patient_id:
            return
        async with runtime.sessions() as session:
            await service.refresh_drafts_from_triage(
                uow=UnitOfWork(session, runtime.bus),
                keyring=runtime.keyring,
                patient_id=patient_id,
                acuity=fields.get("level"),
                news2=fields.get("news2"),
                actor="system:handoff-bridge",
                now=runtime.clock(),
            )

    return refresh
