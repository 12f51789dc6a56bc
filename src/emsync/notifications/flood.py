"""Anti-flood rules, pure: whether one more notification to a person fits their rate limits
(held for the digest otherwise), and what a page groups under. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    per_user: int
    per_channel: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Sent:
    """What a person received in the current window: in total and per channel."""

    total: int
    by_channel: Mapping[str, int]


def admits(limits: Limits, sent: Sent, channel: str, *, urgent: bool) -> bool:
    """True when one more message on `channel` fits. An urgent one (the first step of a fresh
    page: a new emergency) is held only by the channel limit, never by the total, so a busy
    digest cannot delay a new alert on another channel."""
    channel_limit = limits.per_channel.get(channel)
    if channel_limit is not None and sent.by_channel.get(channel, 0) >= channel_limit:
        return False
    return urgent or sent.total < limits.per_user


def group_key(trigger: str, subject_group: str) -> str:
    """Pages of one trigger family for one patient (or handoff) share a key: while one is open,
    a repeat joins it instead of paging again."""
    family = trigger.split(".", 2)[:2]
    return f"{'.'.join(family)}:{subject_group}"
