"""Escalation policies as data, pure: ordered steps, each after a delay, each naming whom to
notify and on which channels; the chain may repeat. No I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ChannelKind(StrEnum):
    PUSH = "push"
    SMS = "sms"
    EMAIL = "email"
    WEBHOOK = "webhook"
    IN_APP = "in_app"


class TargetKind(StrEnum):
    SCHEDULE = "schedule"  # whoever is on call in that schedule when the step fires
    USER = "user"
    ROLE = "role"  # every active user with that role


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    ref: str


@dataclass(frozen=True, slots=True)
class Step:
    delay_seconds: float  # after the previous step (the first: after the page opens)
    targets: tuple[Target, ...]
    channels: tuple[ChannelKind, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    steps: tuple[Step, ...]
    repeat: int = 0  # how many more times the whole chain runs after its last step
    repeat_after_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class Planned:
    index: int  # which step fires next
    round: int  # 0 the first time through the chain, 1 on the first repeat, ...
    delay_seconds: float  # after the previous step fired (or the page opened)


def plan(policy: Policy, performed: int) -> Planned | None:
    """The next step after `performed` steps have fired, or None when the chain is exhausted."""
    n = len(policy.steps)
    if n == 0:
        return None
    chain_round, index = divmod(performed, n)
    if chain_round > policy.repeat:
        return None
    delay = policy.steps[index].delay_seconds
    if index == 0 and chain_round > 0:
        delay = policy.repeat_after_seconds
    return Planned(index=index, round=chain_round, delay_seconds=delay)


# What the escalation of each trigger does when nobody configured a policy for it: today's
# behaviour (the role chain clinician -> coordinator -> admin, five minutes apart), as data.
DEFAULT_POLICY = Policy(
    steps=(
        Step(0, (Target(TargetKind.ROLE, "clinician"),), (ChannelKind.IN_APP, ChannelKind.PUSH)),
        Step(
            300,
            (Target(TargetKind.ROLE, "hospital_coordinator"),),
            (ChannelKind.IN_APP, ChannelKind.PUSH, ChannelKind.SMS),
        ),
        Step(300, (Target(TargetKind.ROLE, "admin"),), (ChannelKind.IN_APP, ChannelKind.SMS)),
    )
)


# What can open a page. Other domains add theirs here when they start paging.
TRIGGERS = ("telemetry.alert.news2", "telemetry.alert.stale", "handoffs.ack_overdue")
