from __future__ import annotations

import pytest

from emsync.routing.profile import CAR, EMERGENCY, RoadClass, parse_maxspeed, way_rule


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("30 mph", 30 * 1.609344),
        ("20mph", 20 * 1.609344),
        ("walk", 6.0),
        ("none", 130.0),
        ("DE:urban", 50.0),
        ("FR:rural", 90.0),
        ("RU:living_street", 10.0),
        ("50;30", 30.0),
        ("10 knots", 18.52),
        ("signals", None),
        ("variable", None),
        ("", None),
        (None, None),
        ("fast", None),
    ],
)
def test_maxspeed_is_parsed_in_kmh(value: str | None, kmh: float | None) -> None:
    got = parse_maxspeed(value)
    assert got == pytest.approx(kmh) if kmh is not None else got is None


def test_oneway_minus_one_allows_only_backward() -> None:
    rule = way_rule({"highway": "residential", "oneway": "-1"}, CAR)
    assert rule is not None
    assert rule.forward_kmh == 0
    assert rule.backward_kmh > 0


def test_roundabouts_and_motorways_are_implied_one_way() -> None:
    for tags in ({"highway": "primary", "junction": "roundabout"}, {"highway": "motorway"}):
        rule = way_rule(tags, CAR)
        assert rule is not None
        assert rule.forward_kmh > 0
        assert rule.backward_kmh == 0
    two_way = way_rule({"highway": "motorway", "oneway": "no"}, CAR)
    assert two_way is not None
    assert two_way.backward_kmh > 0


def test_emergency_profile_honours_oneway_emergency_no() -> None:
    tags = {"highway": "residential", "oneway": "yes", "oneway:emergency": "no"}
    car, ems = way_rule(tags, CAR), way_rule(tags, EMERGENCY)
    assert car is not None
    assert ems is not None
    assert car.backward_kmh == 0
    assert ems.backward_kmh > 0


def test_non_roads_and_closed_ways_are_not_drivable() -> None:
    for tags in (
        {"highway": "footway"},
        {"highway": "track"},
        {"highway": "pedestrian"},
        {"highway": "residential", "access": "no"},
        {"highway": "service", "motor_vehicle": "agricultural"},
        {"highway": "residential", "oneway": "reversible"},
        {"highway": "service", "area": "yes"},
    ):
        assert way_rule(tags, EMERGENCY) is None, tags


def test_emergency_access_overrides_a_general_ban_only_for_ambulances() -> None:
    tags = {"highway": "service", "access": "no", "emergency": "yes"}
    assert way_rule(tags, CAR) is None
    assert way_rule(tags, EMERGENCY) is not None
    assert way_rule({"highway": "busway"}, CAR) is None
    assert way_rule({"highway": "busway"}, EMERGENCY) is not None


def test_private_service_roads_stay_drivable_but_slower() -> None:
    open_road = way_rule({"highway": "service"}, EMERGENCY)
    private = way_rule({"highway": "service", "access": "private"}, EMERGENCY)
    assert open_road is not None
    assert private is not None
    assert 0 < private.forward_kmh < open_road.forward_kmh
    assert private.road_class is RoadClass.SERVICE


def test_speed_follows_the_limit_per_direction_and_the_emergency_uplift() -> None:
    tags = {"highway": "primary", "maxspeed": "50", "maxspeed:backward": "30"}
    car, ems = way_rule(tags, CAR), way_rule(tags, EMERGENCY)
    assert car is not None
    assert ems is not None
    assert car.forward_kmh == pytest.approx(45.0)
    assert car.backward_kmh == pytest.approx(27.0)
    assert ems.forward_kmh == pytest.approx(60.0)
    no_limit = way_rule({"highway": "motorway", "maxspeed": "none"}, EMERGENCY)
    assert no_limit is not None
    assert no_limit.forward_kmh == EMERGENCY.max_kmh


def test_profile_fingerprint_changes_with_the_profile() -> None:
    assert CAR.fingerprint() != EMERGENCY.fingerprint()
    assert EMERGENCY.fingerprint() == EMERGENCY.fingerprint()
