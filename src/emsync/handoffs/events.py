"""Handoff events. They carry ids and routing metadata, never clinical content: the push handler
reads the sealed content for the hospital when it delivers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffEvent(Event):
    handoff_id: str
    hospital_id: str
    incident_id: str
    unit_id: str | None
    status: str
    # Outbox entries this change wrote, as (hospital id, seq): what the live push delivers.
    deliveries: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffDrafted(HandoffEvent):
    name: ClassVar[str] = "handoff.drafted"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffDraftEdited(HandoffEvent):
    name: ClassVar[str] = "handoff.draft_edited"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffStatusChanged(HandoffEvent):
    name: ClassVar[str] = "handoff.status_changed"
    old: str
    new: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffSent(HandoffStatusChanged):
    name: ClassVar[str] = "handoff.sent"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffAcknowledged(HandoffStatusChanged):
    name: ClassVar[str] = "handoff.acknowledged"
    # Whether this sending was alerted as overdue (the alert is what opens a page about a
    # handoff; a redirect resolves the earlier sending's): without one there is no page to
    # resolve, and the page check is skipped. True when not known (an older stored payload).
    overdue_alerted: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffRedirected(HandoffStatusChanged):
    name: ClassVar[str] = "handoff.redirected"
    from_hospital_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffUpdated(HandoffEvent):
    name: ClassVar[str] = "handoff.updated"
    update_seq: int
    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffAcknowledgementOverdue(HandoffEvent):
    """Sent this long ago and still not acknowledged: the dispatcher must phone the hospital."""

    name: ClassVar[str] = "handoff.acknowledgement_overdue"
    sent_at: str
    overdue_seconds: float


# The bus dispatches on the exact class: subscribe to each of these.
ALL_EVENTS: tuple[type[HandoffEvent], ...] = (
    HandoffDrafted,
    HandoffDraftEdited,
    HandoffStatusChanged,
    HandoffSent,
    HandoffAcknowledged,
    HandoffRedirected,
    HandoffUpdated,
    HandoffAcknowledgementOverdue,
)
