"""Rosters and the stock ledger's rules, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from emsync.emergency import ledger, roster
from emsync.emergency.ledger import MovementKind

T0 = datetime(2031, 1, 1, 7, tzinfo=UTC)


def _w(start_h: float, end_h: float) -> roster.Window:
    return roster.Window(T0 + timedelta(hours=start_h), T0 + timedelta(hours=end_h))


def test_windows_are_half_open() -> None:
    assert _w(0, 12).overlaps(_w(11, 20))
    assert not _w(0, 12).overlaps(_w(12, 20))
    assert roster.first_overlap(_w(5, 6), [("a", _w(0, 4)), ("b", _w(4, 8))]) == "b"
    assert roster.overlaps_within([_w(0, 8), _w(20, 30), _w(7, 9)]) == (0, 2)
    assert roster.overlaps_within([_w(0, 8), _w(8, 16)]) is None


def test_patterns_keep_local_times_across_daylight_saving() -> None:
    tz = ZoneInfo("Europe/Helsinki")
    shifts = roster.expand_pattern(
        [roster.PatternSlot(0, time(7), 12)],
        cycle_days=1,
        first_day=date(2031, 3, 29),
        days=3,
        tz=tz,
    )
    assert [s.starts_at.astimezone(tz).hour for s in shifts] == [7, 7, 7]
    assert [s.starts_at.utcoffset() for s in shifts] == [
        timedelta(hours=2),
        timedelta(hours=3),
        timedelta(hours=3),
    ]


def _m(name: str, **quals: date | None) -> roster.CrewMember:
    return roster.CrewMember(name, name, quals)


def test_crew_rules_per_unit_type() -> None:
    today = date(2031, 1, 1)
    assert (
        roster.crew_problem("ALS", [_m("p", paramedic=None), _m("d", driver=None)], today) is None
    )
    assert roster.crew_problem("ALS", [], today) == "no crew on shift"
    assert roster.crew_problem("ALS", [_m("e", emt=None), _m("d", driver=None)], today) == (
        "no qualified crew on shift: needs paramedic"
    )
    # One person cannot fill both seats.
    both = [_m("p", paramedic=None, driver=None)]
    assert roster.crew_problem("ALS", both, today) == "no qualified crew on shift: needs driver"
    expired = [_m("Pia", paramedic=date(2030, 12, 31)), _m("d", driver=None)]
    assert roster.crew_problem("ALS", expired, today) == (
        "no qualified crew on shift: needs paramedic (Pia's paramedic expired)"
    )
    assert roster.crew_problem("BLS", [_m("n", nurse=None), _m("d", driver=None)], today) is None
    assert roster.crew_problem("HEMS", [], today) is None  # no rule: not judged


def test_movement_shapes_and_deltas() -> None:
    ok = {"from_id": "a", "to_id": "b", "quantity": 3}
    assert ledger.movement_problem(MovementKind.TRANSFER, **ok) is None  # type: ignore[arg-type]
    assert ledger.movement_problem(MovementKind.RECEIPT, from_id="a", to_id="b", quantity=1) == (
        "from_location_id",
        "a receipt takes no source location",
    )
    no_source = ledger.movement_problem(MovementKind.ISSUE, from_id=None, to_id=None, quantity=1)
    assert no_source is not None
    assert no_source[0] == "from_location_id"
    nothing = ledger.movement_problem(MovementKind.ISSUE, from_id="a", to_id=None, quantity=0)
    assert nothing is not None
    assert nothing[0] == "quantity"
    assert ledger.deltas(MovementKind.TRANSFER, from_id="a", to_id="b", quantity=3) == [
        ledger.Delta("a", -3),
        ledger.Delta("b", 3),
    ]
    assert ledger.request_status_after(requested=10, fulfilled=4) is ledger.RequestStatus.PARTIAL
    assert ledger.request_status_after(requested=10, fulfilled=10) is ledger.RequestStatus.FULFILLED


def test_stock_alerts() -> None:
    assert ledger.low_stock(item_id="i", name="Water", unit="l", on_hand=3, minimum=10) is not None
    assert ledger.low_stock(item_id="i", name="Water", unit="l", on_hand=10, minimum=10) is None
    today = date(2031, 1, 1)
    kinds = [
        a.kind if (a := ledger.expiry(item_id="i", name="n", location_id="l", lot="A", expires_on=d,
                                      quantity=1, today=today, warn_days=30)) else None
        for d in (date(2030, 12, 31), date(2031, 1, 20), date(2031, 6, 1), None)
    ]  # fmt: skip
    assert kinds == ["expired", "expiring", None, None]
