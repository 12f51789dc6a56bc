"""The handoff delivery lifecycle as a readable table (pure): who may move a handoff where."""

from __future__ import annotations

from enum import StrEnum

from emsync.core.errors import Forbidden, InvalidTransition


class HandoffStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    ARRIVED = "arrived"
    HANDED_OVER = "handed_over"
    REDIRECTED = "redirected"
    CANCELLED = "cancelled"


class Side(StrEnum):
    """Who asks for a move: the crew and dispatch, or the receiving hospital's staff."""

    CREW = "crew"
    HOSPITAL = "hospital"


S = HandoffStatus
CREW = frozenset({Side.CREW})
HOSPITAL = frozenset({Side.HOSPITAL})
BOTH = frozenset(Side)

# The main line is draft → sent → delivered → acknowledged → arrived → handed_over. An
# acknowledgement implies delivery (sent → acknowledged), and an ambulance that arrives before
# the hospital acknowledged must still be able to say so. A redirected handoff behaves like a
# freshly sent one for its new hospital. handed_over and cancelled are final.
TRANSITIONS: dict[HandoffStatus, dict[HandoffStatus, frozenset[Side]]] = {
    S.DRAFT: {S.SENT: CREW, S.CANCELLED: CREW},
    S.SENT: {
        S.DELIVERED: HOSPITAL,
        S.ACKNOWLEDGED: HOSPITAL,
        S.ARRIVED: BOTH,
        S.REDIRECTED: CREW,
        S.CANCELLED: CREW,
    },
    S.DELIVERED: {S.ACKNOWLEDGED: HOSPITAL, S.ARRIVED: BOTH, S.REDIRECTED: CREW, S.CANCELLED: CREW},
    S.ACKNOWLEDGED: {S.ARRIVED: BOTH, S.REDIRECTED: CREW, S.CANCELLED: CREW},
    S.REDIRECTED: {
        S.DELIVERED: HOSPITAL,
        S.ACKNOWLEDGED: HOSPITAL,
        S.ARRIVED: BOTH,
        S.REDIRECTED: CREW,
        S.CANCELLED: CREW,
    },
    S.ARRIVED: {S.HANDED_OVER: BOTH},
    S.HANDED_OVER: {},
    S.CANCELLED: {},
}

FINAL = frozenset(s for s, moves in TRANSITIONS.items() if not moves)
# States in which the receiving hospital holds the handoff and updates may be appended.
EN_ROUTE = frozenset({S.SENT, S.DELIVERED, S.ACKNOWLEDGED, S.REDIRECTED, S.ARRIVED})
# States still waiting for the hospital to acknowledge (the overdue alert watches these).
AWAITING_ACK = frozenset({S.SENT, S.DELIVERED, S.REDIRECTED})


def can_move(current: HandoffStatus, target: HandoffStatus, side: Side) -> bool:
    return side in TRANSITIONS[current].get(target, frozenset())


def next_status(current: HandoffStatus, target: HandoffStatus, side: Side) -> HandoffStatus:
    """`target` if the table allows `side` to make the move, else InvalidTransition/Forbidden."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        names = ", ".join(sorted(s.value for s in allowed)) or "none (final)"
        raise InvalidTransition(
            f"a handoff cannot move from {current.value!r} to {target.value!r}; "
            f"allowed from {current.value!r}: {names}",
            current=current.value,
            requested=target.value,
        )
    if side not in allowed[target]:
        raise Forbidden(
            f"the {side.value} side cannot move a handoff to {target.value!r}",
            current=current.value,
            requested=target.value,
        )
    return target
