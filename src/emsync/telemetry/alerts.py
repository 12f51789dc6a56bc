"""Clinical alert rules, pure: NEWS2 bands as levels, hold-off against flapping, the alert
lifecycle table and stale-data checks (escalation is the notifications policy). No I/O and no
clock: `now` is passed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    NEWS2 = "news2"
    STALE = "stale"
    # The broker dropped accepted readings (telemetry/broker_watch.py): no patient of its own.
    BROKER = "broker"
    # A child's early-warning alert (Bedside PEWS bands, named as NEWS2's: emsync.triage.pews).
    PEWS = "pews"


class AlertStatus(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertLevel(StrEnum):
    """NEWS2 escalation bands (RCP 2017) as alert levels, plus the stale-data alert's level."""

    LOW = "low"  # total 1-4
    LOW_MEDIUM = "low-medium"  # a single parameter scoring 3
    MEDIUM = "medium"  # total 5-6
    HIGH = "high"  # total >= 7
    STALE = "stale"


RANK: dict[str, int] = {
    "none": 0,
    AlertLevel.LOW: 1,
    AlertLevel.LOW_MEDIUM: 2,
    AlertLevel.MEDIUM: 3,
    AlertLevel.HIGH: 4,
    AlertLevel.STALE: 2,
}


class AlertAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    RAISE_LEVEL = "raise_level"


# The lifecycle as a table: (status, action) -> next status. Anything else is refused.
LIFECYCLE: dict[tuple[AlertStatus, AlertAction], AlertStatus] = {
    (AlertStatus.RAISED, AlertAction.ACKNOWLEDGE): AlertStatus.ACKNOWLEDGED,
    (AlertStatus.RAISED, AlertAction.RESOLVE): AlertStatus.RESOLVED,
    (AlertStatus.RAISED, AlertAction.ESCALATE): AlertStatus.RAISED,
    (AlertStatus.RAISED, AlertAction.RAISE_LEVEL): AlertStatus.RAISED,
    (AlertStatus.ACKNOWLEDGED, AlertAction.RESOLVE): AlertStatus.RESOLVED,
    # A worse level needs a fresh acknowledgement.
    (AlertStatus.ACKNOWLEDGED, AlertAction.RAISE_LEVEL): AlertStatus.RAISED,
}


def next_status(status: AlertStatus, action: AlertAction) -> AlertStatus | None:
    """The status after `action`, or None when the lifecycle forbids it."""
    return LIFECYCLE.get((status, action))


# RCP NEWS2 (2017): a total of 5 or more, or a single parameter scoring 3 ("low-medium"), calls
# for an urgent response; a total of 1-4 is a ward-level response, shown on the tile but not
# raised as an alert (alarm fatigue). Sites can lower or raise it (settings).
DEFAULT_MIN_BAND = AlertLevel.LOW_MEDIUM.value


def alert_level(band: str, minimum: str) -> AlertLevel | None:
    """The alert level a NEWS2 band calls for, or None below the configured minimum band."""
    if band not in RANK or band == "none" or RANK[band] < RANK[minimum]:
        return None
    return AlertLevel(band)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    level: str
    status: AlertStatus
    cleared_at: datetime | None  # when the condition last went away (pending auto-resolve)


@dataclass(frozen=True, slots=True)
class ResolvedAlert:
    level: str
    resolved_at: datetime


class Decision(StrEnum):
    NOTHING = "nothing"
    RAISE = "raise"
    RAISE_LEVEL = "raise_level"
    CLEAR = "clear"  # condition gone: start the hold-off before resolving
    UNCLEAR = "unclear"  # condition back within the hold-off: the same alert continues
    RESOLVE = "resolve"


def decide(
    *,
    open_alert: OpenAlert | None,
    observed: AlertLevel | None,
    now: datetime,
    holdoff: timedelta,
    last_resolved: ResolvedAlert | None = None,
) -> Decision:
    """What one new observation does to a patient's alert of one kind.

    A flapping value never floods: while an alert is open it is the one alert (a higher level
    raises its level, a lower one changes nothing); when the value clears, the alert resolves
    only after staying clear for `holdoff`; after a resolution, the same or a lower level does
    not re-raise within `holdoff`.
    """
    if open_alert is None:
        if observed is None:
            return Decision.NOTHING
        if (
            last_resolved is not None
            and now - last_resolved.resolved_at < holdoff
            and RANK[observed] <= RANK[last_resolved.level]
        ):
            return Decision.NOTHING
        return Decision.RAISE
    if observed is None:
        if open_alert.cleared_at is None:
            return Decision.CLEAR
        if now - open_alert.cleared_at >= holdoff:
            return Decision.RESOLVE
        return Decision.NOTHING
    if RANK[observed] > RANK[open_alert.level]:
        return Decision.RAISE_LEVEL
    if open_alert.cleared_at is not None:
        return Decision.UNCLEAR
    return Decision.NOTHING


def is_stale(
    *, last_seen: datetime | None, bound_at: datetime, now: datetime, after: timedelta
) -> bool:
    """A bound device is stale when nothing arrived for `after` (counted from binding if it
    never sent anything)."""
    since = last_seen if last_seen is not None and last_seen > bound_at else bound_at
    return now - since >= after


@dataclass(frozen=True, slots=True)
class ScoreObservation:
    """One batch's early-warning scores of one patient: the alert level its worst reading calls
    for (None below the minimum band) with that reading's score, and the newest reading's score
    and time (`detail` dicts: total, band, subscores, ts, ...)."""

    level: AlertLevel | None
    worst: dict[str, Any] | None
    latest: dict[str, Any] | None
    latest_at: datetime | None = None

    def add(
        self, level: AlertLevel | None, detail: dict[str, Any], at: datetime
    ) -> ScoreObservation:
        """This observation with one more reading, measured `at`."""
        worse = (_rank(level), detail["total"]) > (
            _rank(self.level),
            (self.worst or {}).get("total", -1),
        )
        newest = self.latest_at is None or at >= self.latest_at
        return ScoreObservation(
            level=level if worse else self.level,
            worst=detail if worse else self.worst,
            latest=detail if newest else self.latest,
            latest_at=at if newest else self.latest_at,
        )


def _rank(level: str | None) -> int:
    return 0 if level is None else RANK[level]


def _summary(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {"total": detail["total"], "band": detail["band"], "ts": detail["ts"]}


def scored_detail(
    stored: Mapping[str, Any] | None, observation: ScoreObservation
) -> dict[str, Any] | None:
    """An alert's score after a batch: the newest reading's score as its current one, and the
    highest seen since it was raised as its `peak` (an earlier peak wins a tie). None when the
    batch carried no score."""
    latest = observation.latest or observation.worst
    if latest is None:
        return None
    candidates: list[Mapping[str, Any]] = [observation.worst or latest]
    if stored is not None:
        candidates.insert(0, stored.get("peak") or stored)
    peak = max(candidates, key=lambda d: d["total"])  # max() keeps the first of equals
    current = {k: v for k, v in latest.items() if k != "peak"}
    return {**current, "peak": _summary(peak)}
