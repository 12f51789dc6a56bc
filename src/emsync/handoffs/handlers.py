"""Reactions: live push of handoff changes to both sides, and the bridge from triage and
destination events to a draft handoff."""

from __future__ import annotations

import structlog
from sqlalchemy import select

from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.errors import NotFound
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.dispatch.events import DestinationChosen
from emsync.handoffs import drafting, outbox, reads
from emsync.handoffs.events import HandoffEvent
from emsync.handoffs.models import OutboxEntry
from emsync.handoffs.public import unit_scoped
from emsync.handoffs.schemas import DraftRequest
from emsync.triage.events import PatientTriaged

log = structlog.get_logger("emsync.handoffs")

HOSPITAL_CHANNEL = "handoffs"  # "handoffs:<hospital_id>": the hospital's feed, with content
# "handoffs" without an argument: the crew and dispatch board, routing metadata only.


def hospital_channel(hospital_id: str) -> str:
    return f"{HOSPITAL_CHANNEL}:{hospital_id}"


async def may_follow_handoffs(principal: Principal, hospital_id: str | None) -> bool:
    """ "handoffs": the dispatch board (handoffs:write, not a unit's crew); "handoffs:<id>": that
    hospital's staff only (handoffs:receive and the account's hospital)."""
    if hospital_id is None:
        # Not the crew role: the board shows every unit's handoffs, a crew reaches only its own.
        return principal.can(Perm.HANDOFFS_WRITE) and not unit_scoped(principal)
    return principal.can(Perm.HANDOFFS_RECEIVE) and principal.hospital_id == hospital_id


def follow_audience(runtime: Runtime) -> None:
    """Use cases render a change for the live push only for channels someone listens to."""
    hub = runtime.get(Hub)

    def listened(hospital_id: str | None) -> bool:
        if hospital_id is None:
            return hub.listened(HOSPITAL_CHANNEL)
        return hub.listened(hospital_channel(hospital_id))

    outbox.set_audience(runtime.bus, listened)


async def push_handoff_events(runtime: Runtime, event: HandoffEvent) -> None:
    """Deliver each outbox entry a change wrote to the hospital's live channel (same seq as the
    feed, so a client deduplicates and notices gaps), and the changed handoff to the board.

    A local reaction (`bootstrap.REACTIONS`), as every channel forward is: it tells the clients
    connected now, and what it carries is durable already in the hospital's feed, which a client
    reads from its cursor on reconnect. Through the event outbox, each create, send and
    acknowledgement paid a sealed row, its relay and a delivery record for it: ~10 % of the
    round trip's server CPU (issue #16 item 2)."""
    hub = runtime.get(Hub)
    # Entries the use case rendered in its own transaction go out as they are; reading them
    # back here would take a second transaction (on SQLite, the write lock) per change.
    entries = []
    for hospital_id, seq in event.deliveries:
        read = outbox.rendered_entry(hospital_id, seq)  # taken even when no one listens
        if hub.listened(hospital_channel(hospital_id)):  # else never read back: for nobody
            entries.append((hospital_id, seq, read))
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
                    read = await outbox.entry_read(
                        session, runtime.keyring, entry, reads.Viewer.hospital(hospital_id)
                    )
                hub.publish(hospital_channel(hospital_id), read.kind, read.model_dump(mode="json"))
    # The crew and dispatch board: the handoff as GET /api/handoffs lists it (routing metadata,
    # never the sealed content), so the board applies it as it is.
    board = outbox.rendered_board(event.handoff_id)  # taken even when no one listens
    if not hub.listened(HOSPITAL_CHANNEL):
        return
    if board is None:  # not rendered here (another path, or a retry): read back
        async with runtime.sessions() as session:
            try:
                handoff = await reads.load_handoff(session, event.handoff_id)
            except NotFound:
                return
            board = await reads.read_handoff(session, runtime.keyring, handoff, reads.BOARD_VIEWER)
    hub.publish(HOSPITAL_CHANNEL, "board", board.model_dump(mode="json"))


async def draft_on_destination(runtime: Runtime, event: DestinationChosen) -> None:
    """The bridge: a unit taking its incident's patient to a hospital drafts the handoff for
    that unit (or refreshes its open draft). The event names no patient: the crew picks one."""
    if event.incident_id is None:
        return  # a unit going to hospital without an incident has no one to hand off
    request = DraftRequest(
        incident_id=event.incident_id,
        patient_id=None,
        unit_id=event.unit_id,
        hospital_id=event.hospital_id,
        eta=event.eta,
    )
    async with runtime.sessions() as session:
        await drafting.draft_from_inputs(
            uow=UnitOfWork(session, runtime.bus),
            keyring=runtime.keyring,
            request=request,
            actor="system:handoff-bridge",
            now=runtime.clock(),
        )
    log.info("handoff drafted from event", source=event.name, incident_id=event.incident_id)


async def refresh_draft_on_triage(runtime: Runtime, event: PatientTriaged) -> None:
    """A new triage result (acuity `level`, `news2`) updates the patient's open drafts, so the
    draft the crew sends carries the latest acuity. Sent handoffs are never overwritten."""
    async with runtime.sessions() as session:
        await drafting.refresh_drafts_from_triage(
            uow=UnitOfWork(session, runtime.bus),
            keyring=runtime.keyring,
            patient_id=event.patient_id,
            acuity=event.level,
            news2=event.news2,
            actor="system:handoff-bridge",
            now=runtime.clock(),
        )
