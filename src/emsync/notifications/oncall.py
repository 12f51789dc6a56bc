"""Who is on call, pure: a rotation hands over every `shift` from its `start`, walking its
members in order; an override puts someone else on call for a window. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Rotation:
    start: datetime  # the first handover; shifts repeat from here in both directions
    shift: timedelta
    members: tuple[str, ...]  # user ids, in rotation order


@dataclass(frozen=True, slots=True)
class Override:
    user_id: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Shift:
    user_id: str
    starts_at: datetime
    ends_at: datetime
    override: bool


def rotation_shift(rotation: Rotation, at: datetime) -> Shift | None:
    """The rotation's shift containing `at` (before `start` the pattern runs backwards)."""
    if not rotation.members or rotation.shift <= timedelta(0):
        return None
    index = (at - rotation.start) // rotation.shift
    begins = rotation.start + index * rotation.shift
    member = rotation.members[index % len(rotation.members)]
    return Shift(user_id=member, starts_at=begins, ends_at=begins + rotation.shift, override=False)


def on_call(rotation: Rotation, overrides: Sequence[Override], at: datetime) -> Shift | None:
    """Who is on call at `at`: the newest override covering it, else the rotation's member."""
    covering = [o for o in overrides if o.starts_at <= at < o.ends_at]
    if covering:
        o = covering[-1]
        return Shift(user_id=o.user_id, starts_at=o.starts_at, ends_at=o.ends_at, override=True)
    return rotation_shift(rotation, at)


def upcoming(
    rotation: Rotation, overrides: Sequence[Override], at: datetime, count: int
) -> list[Shift]:
    """The next `count` shifts from `at` (the current one first): handovers, with overrides
    cut in where they apply."""
    shifts: list[Shift] = []
    cursor = at
    while len(shifts) < count:
        current = on_call(rotation, overrides, cursor)
        if current is None:
            break
        ends = current.ends_at
        if not current.override:  # an override starting inside the shift cuts it short
            ends = min([ends, *(o.starts_at for o in overrides if cursor < o.starts_at < ends)])
        starts = current.starts_at if not shifts else cursor
        shifts.append(Shift(current.user_id, starts, ends, current.override))
        cursor = ends
    return shifts
