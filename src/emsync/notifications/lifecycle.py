"""Notification and page lifecycles as tables, pure. Anything not in a table is refused."""

from __future__ import annotations

from enum import StrEnum


class Delivery(StrEnum):
    QUEUED = "queued"  # waiting for the worker (or for its retry time)
    SENDING = "sending"  # claimed by a worker under a lease
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider (or the live client) confirmed delivery
    FAILED = "failed"  # gave up: permanent error or out of attempts
    ACKNOWLEDGED = "acknowledged"  # the recipient acknowledged the page it belongs to
    HELD = "held"  # over a rate limit: goes out in the next digest
    DIGESTED = "digested"  # went out inside a digest
    CANCELLED = "cancelled"  # the page was acknowledged or resolved before it was sent
    SUPPRESSED = "suppressed"  # the recipient's preferences (off duty, logged out) say no


D = Delivery
DELIVERY: dict[D, frozenset[D]] = {
    D.QUEUED: frozenset({D.SENDING, D.CANCELLED, D.HELD, D.SUPPRESSED}),
    D.SENDING: frozenset({D.SENT, D.DELIVERED, D.QUEUED, D.FAILED, D.SENDING}),
    D.SENT: frozenset({D.DELIVERED, D.FAILED, D.ACKNOWLEDGED}),
    D.DELIVERED: frozenset({D.ACKNOWLEDGED, D.FAILED}),
    D.HELD: frozenset({D.DIGESTED, D.CANCELLED}),
    D.FAILED: frozenset(),
    D.ACKNOWLEDGED: frozenset(),
    D.DIGESTED: frozenset(),
    D.CANCELLED: frozenset(),
    D.SUPPRESSED: frozenset(),
}
# Statuses after which nothing more will be sent.
FINAL = frozenset({D.FAILED, D.ACKNOWLEDGED, D.DIGESTED, D.CANCELLED, D.SUPPRESSED})
# Not yet out of the door: an acknowledgement cancels these.
PENDING = frozenset({D.QUEUED, D.HELD})


def may_move(current: Delivery, target: Delivery) -> bool:
    return target in DELIVERY[current]


class PageStatus(StrEnum):
    OPEN = "open"  # escalating
    ACKNOWLEDGED = "acknowledged"  # someone took it: escalation stopped
    RESOLVED = "resolved"  # the cause went away
    EXHAUSTED = "exhausted"  # every step fired and nobody acknowledged: stays visible


P = PageStatus
PAGE: dict[P, frozenset[P]] = {
    P.OPEN: frozenset({P.ACKNOWLEDGED, P.RESOLVED, P.EXHAUSTED}),
    P.EXHAUSTED: frozenset({P.ACKNOWLEDGED, P.RESOLVED, P.OPEN}),
    # A worse level of the same cause needs a fresh acknowledgement: the page reopens.
    P.ACKNOWLEDGED: frozenset({P.RESOLVED, P.OPEN}),
    P.RESOLVED: frozenset(),
}


def page_may_move(current: PageStatus, target: PageStatus) -> bool:
    return target in PAGE[current]


def retry_delay(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds before attempt `attempt + 1`: exponential from `base`, capped, times a jitter
    factor in [0.5, 1.0] (the caller draws it) so many failures do not retry in lockstep."""
    grown: float = base * 2.0 ** max(0, attempt - 1)
    return min(cap, grown) * (0.5 + 0.5 * jitter)
