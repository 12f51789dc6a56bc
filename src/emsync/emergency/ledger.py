"""Stock ledger rules (pure): what each kind of movement does to which location, and the checks
that come before the database's own (`quantity >= 0`, conditional decrements).

A movement is one of:
- receipt: stock arrives from outside (donation, purchase) into `to`;
- issue: stock leaves the system from `from` (used, handed out);
- transfer: `from` -> `to` (a request's fulfilment is a transfer);
- adjustment_in / adjustment_out: a count corrects the books at one location.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    ISSUE = "issue"
    TRANSFER = "transfer"
    ADJUST_IN = "adjust_in"
    ADJUST_OUT = "adjust_out"


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    STATION = "station"
    VEHICLE = "vehicle"
    SHELTER = "shelter"


class RequestStatus(StrEnum):
    OPEN = "open"
    PARTIAL = "partial"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


# Which ends a movement kind must (True) or must not (False) name.
_ENDS: dict[MovementKind, tuple[bool, bool]] = {
    MovementKind.RECEIPT: (False, True),
    MovementKind.ISSUE: (True, False),
    MovementKind.TRANSFER: (True, True),
    MovementKind.ADJUST_IN: (False, True),
    MovementKind.ADJUST_OUT: (True, False),
}


@dataclass(frozen=True, slots=True)
class Delta:
    """One change of on-hand stock: negative takes, positive adds."""

    location_id: str
    change: int


def movement_problem(
    kind: MovementKind, *, from_id: str | None, to_id: str | None, quantity: int
) -> tuple[str, str] | None:
    """(field, message) when the movement is malformed, else None."""
    if quantity <= 0:
        return ("quantity", "quantity must be a whole number greater than 0")
    needs_from, needs_to = _ENDS[kind]
    if needs_from != (from_id is not None):
        verb = "needs" if needs_from else "takes no"
        return ("from_location_id", f"a {kind.value} {verb} source location")
    if needs_to != (to_id is not None):
        verb = "needs" if needs_to else "takes no"
        return ("to_location_id", f"a {kind.value} {verb} destination location")
    if from_id is not None and from_id == to_id:
        return ("to_location_id", "source and destination are the same location")
    return None


def deltas(
    kind: MovementKind, *, from_id: str | None, to_id: str | None, quantity: int
) -> list[Delta]:
    """The stock changes of a well-formed movement, the take first (it is the one that fails)."""
    out: list[Delta] = []
    if from_id is not None:
        out.append(Delta(from_id, -quantity))
    if to_id is not None:
        out.append(Delta(to_id, quantity))
    del kind
    return out


def request_status_after(*, requested: int, fulfilled: int) -> RequestStatus:
    if fulfilled <= 0:
        return RequestStatus.OPEN
    return RequestStatus.FULFILLED if fulfilled >= requested else RequestStatus.PARTIAL


@dataclass(frozen=True, slots=True)
class StockAlert:
    kind: str  # "low_stock" | "expiring" | "expired"
    item_id: str
    location_id: str | None
    message: str


def low_stock(
    *, item_id: str, name: str, unit: str, on_hand: int, minimum: int
) -> StockAlert | None:
    """Below the item's minimum across all locations."""
    if minimum <= 0 or on_hand >= minimum:
        return None
    return StockAlert(
        "low_stock", item_id, None, f"{name}: {on_hand} {unit} on hand, minimum {minimum}"
    )


def expiry(
    *,
    item_id: str,
    name: str,
    location_id: str,
    lot: str,
    expires_on: date | None,
    quantity: int,
    today: date,
    warn_days: int,
) -> StockAlert | None:
    """A lot with stock that has expired or expires within `warn_days`."""
    if expires_on is None or quantity <= 0:
        return None
    label = f"{name} lot {lot or '-'} ({quantity})"
    if expires_on < today:
        return StockAlert("expired", item_id, location_id, f"{label} expired on {expires_on}")
    if expires_on <= today + timedelta(days=warn_days):
        return StockAlert("expiring", item_id, location_id, f"{label} expires on {expires_on}")
    return None
