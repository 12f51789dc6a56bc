"""Registry events: ids and kinds only, never a name or any other personal value (they are
pushed to the dashboard and may be logged)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonRegistered(Event):
    name: ClassVar[str] = "registry.person_registered"
    person_id: str
    decision: str
    linked_to: str | None
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonUpdated(Event):
    name: ClassVar[str] = "registry.person_updated"
    person_id: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonsMerged(Event):
    name: ClassVar[str] = "registry.persons_merged"
    merge_id: str
    survivor_id: str
    merged_id: str
    method: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonUnmerged(Event):
    name: ClassVar[str] = "registry.person_unmerged"
    merge_id: str
    survivor_id: str
    merged_id: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonLinked(Event):
    name: ClassVar[str] = "registry.person_linked"
    person_id: str
    kind: str
    ref_id: str
    method: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchReviewOpened(Event):
    name: ClassVar[str] = "registry.review_opened"
    review_id: str
    person_id: str
    candidate_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchReviewDecided(Event):
    name: ClassVar[str] = "registry.review_decided"
    review_id: str
    status: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicalEntryRecorded(Event):
    name: ClassVar[str] = "registry.entry_recorded"
    person_id: str
    entry_id: str
    kind: str
    source: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartViewed(Event):
    """Every view of a person's chart, for the audit log (who looked at whom, when)."""

    name: ClassVar[str] = "registry.chart_viewed"
    person_id: str
    actor: str
    request_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffLinkDue(Event):
    """A handoff was sent for an incident with exactly one linked person: link it to that
    person's chart (after the send commits, in a transaction of its own)."""

    name: ClassVar[str] = "registry.handoff_link_due"
    handoff_id: str
    incident_id: str
    person_id: str


# Pushed on the "registry" WebSocket channel (ChartViewed goes only to the audit log;
# HandoffLinkDue only to the reaction that links the handoff, whose PersonLinked is pushed).
ALL_EVENTS: tuple[type[Event], ...] = (
    PersonRegistered,
    PersonUpdated,
    PersonsMerged,
    PersonUnmerged,
    PersonLinked,
    MatchReviewOpened,
    MatchReviewDecided,
    ClinicalEntryRecorded,
)
