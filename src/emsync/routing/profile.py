"""Which OSM ways an ambulance may drive, in which direction, and how fast (pure).

Choices, so a reader can argue with them:

- Drivable: motorway … tertiary (and links), unclassified, residential, living_street, road,
  service (every kind: driveways, parking aisles and emergency-access roads are how an
  ambulance reaches a door, a hospital bay or its station) and, for the emergency profile,
  busway. Never: track, path, footway, cycleway, pedestrian, steps, construction, proposed,
  platforms, `area=yes`.
- Access: the most specific of `emergency` (emergency profile only), `motorcar`,
  `motor_vehicle`, `vehicle`, `access` decides. `no`, `agricultural`, `forestry` and `emergency`
  (for the car profile) exclude the way. `private`, `destination`, `customers` and `delivery`
  stay drivable at a reduced speed, so they serve the last metres to an address but are not
  taken as shortcuts. `oneway=reversible/alternating` ways are excluded (direction unknown).
- One-way: `oneway=yes/true/1` forward, `-1/reverse` backward, implied on `junction=roundabout`
  / `circular` and on motorways and motorway links unless `oneway=no`; the emergency profile
  honours `oneway:emergency=no`.
- Speed: `maxspeed` (per direction via `maxspeed:forward/backward`), in km/h, mph or knots,
  `walk`, `none`, `signals`/`variable` and `CC:zone` codes; otherwise a per-highway default.
  The emergency profile drives at the limit with a per-road-class uplift for lights and
  sirens, capped.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

__all__ = [
    "CAR",
    "EMERGENCY",
    "RoadClass",
    "SpeedProfile",
    "WayRule",
    "parse_maxspeed",
    "way_rule",
]


class RoadClass(enum.IntEnum):
    """Road classes for speed factors and calibration (the stored code is the int value)."""

    MOTORWAY = 0
    TRUNK = 1
    PRIMARY = 2
    SECONDARY = 3
    TERTIARY = 4
    LOCAL = 5
    SERVICE = 6

    @property
    def label(self) -> str:
        return self.name.lower()


HIGHWAY_CLASS: Mapping[str, RoadClass] = {
    "motorway": RoadClass.MOTORWAY,
    "motorway_link": RoadClass.MOTORWAY,
    "trunk": RoadClass.TRUNK,
    "trunk_link": RoadClass.TRUNK,
    "primary": RoadClass.PRIMARY,
    "primary_link": RoadClass.PRIMARY,
    "secondary": RoadClass.SECONDARY,
    "secondary_link": RoadClass.SECONDARY,
    "tertiary": RoadClass.TERTIARY,
    "tertiary_link": RoadClass.TERTIARY,
    "unclassified": RoadClass.LOCAL,
    "residential": RoadClass.LOCAL,
    "living_street": RoadClass.LOCAL,
    "road": RoadClass.LOCAL,
    "service": RoadClass.SERVICE,
    "busway": RoadClass.SERVICE,
}

_DEFAULT_KMH: Mapping[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "road": 25.0,
    "service": 15.0,
    "busway": 40.0,
}

_DENIED = frozenset({"no", "agricultural", "forestry"})
_RESTRICTED = frozenset({"private", "destination", "customers", "delivery", "permit"})
_TRUE = frozenset({"yes", "true", "1"})
_REVERSE = frozenset({"-1", "reverse"})
_FALSE = frozenset({"no", "false", "0"})

MPH = 1.609344
KNOT = 1.852
WALK_KMH = 6.0
NO_LIMIT_KMH = 130.0
# Country zone codes (`DE:urban`, `FR:rural`, …): the common legal limits.
_ZONE_KMH: Mapping[str, float] = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 100.0,
    "motorway": 120.0,
    "living_street": 10.0,
    "walk": WALK_KMH,
    "zone30": 30.0,
    "zone20": 20.0,
    "zone:30": 30.0,
    "zone:20": 20.0,
    "bicycle_road": 30.0,
}
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$")


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """How a vehicle uses the road network."""

    name: str
    emergency: bool
    default_kmh: Mapping[str, float] = field(default_factory=lambda: dict(_DEFAULT_KMH))
    limit_share: float = 0.9  # share of the posted limit actually driven
    class_uplift: Mapping[RoadClass, float] = field(default_factory=dict)
    max_kmh: float = 130.0
    restricted_factor: float = 0.5  # speed multiplier on private/destination ways

    def fingerprint(self) -> str:
        """Stable hash of everything that changes the compiled graph."""
        raw = asdict(self)
        raw["class_uplift"] = {c.label: v for c, v in sorted(self.class_uplift.items())}
        blob = json.dumps(raw, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


CAR = SpeedProfile(name="car", emergency=False)
EMERGENCY = SpeedProfile(
    name="emergency",
    emergency=True,
    limit_share=1.0,
    class_uplift={
        RoadClass.MOTORWAY: 1.1,
        RoadClass.TRUNK: 1.15,
        RoadClass.PRIMARY: 1.2,
        RoadClass.SECONDARY: 1.2,
        RoadClass.TERTIARY: 1.2,
        RoadClass.LOCAL: 1.15,
        RoadClass.SERVICE: 1.0,
    },
    max_kmh=130.0,
    restricted_factor=0.6,
)


@dataclass(frozen=True, slots=True)
class WayRule:
    """What a profile makes of one way: speeds per direction (0 = not allowed) and class."""

    road_class: RoadClass
    forward_kmh: float
    backward_kmh: float


def parse_maxspeed(value: str | None) -> float | None:
    """A `maxspeed` value in km/h, or None when it says nothing usable."""
    if value is None:
        return None
    speeds: list[float] = []
    for part in value.split(";"):
        text = part.strip().lower()
        if not text:
            continue
        if text == "walk":
            speeds.append(WALK_KMH)
            continue
        if text == "none":
            speeds.append(NO_LIMIT_KMH)
            continue
        if ":" in text and not text[0].isdigit():
            zone = text.split(":", 1)[1]
            if zone in _ZONE_KMH:
                speeds.append(_ZONE_KMH[zone])
            continue
        match = _NUMBER_UNIT.match(text)
        if match is None:
            continue  # signals, variable, unknown words
        number = float(match.group(1))
        unit = match.group(2)
        if unit == "mph":
            number *= MPH
        elif unit == "knots":
            number *= KNOT
        if number > 0:
            speeds.append(number)
    return min(speeds) if speeds else None


def _access(tags: Mapping[str, str], profile: SpeedProfile) -> str:
    keys: tuple[str, ...] = ("emergency", "motorcar", "motor_vehicle", "vehicle", "access")
    if not profile.emergency:
        keys = keys[1:]
    for key in keys:
        value = tags.get(key)
        if value is not None:
            return value.split(";")[0].strip().lower()
    return "yes"


def _direction(tags: Mapping[str, str], highway: str, profile: SpeedProfile) -> tuple[bool, bool]:
    """(forward allowed, backward allowed)."""
    if profile.emergency and tags.get("oneway:emergency", "").lower() in _FALSE:
        return True, True
    oneway = tags.get("oneway", "").strip().lower()
    if oneway in _TRUE:
        return True, False
    if oneway in _REVERSE:
        return False, True
    if oneway in _FALSE:
        return True, True
    if oneway in {"reversible", "alternating"}:
        return False, False
    junction = tags.get("junction", "").lower()
    if junction in {"roundabout", "circular"} or highway in {"motorway", "motorway_link"}:
        return True, False
    return True, True


def _speed(
    tags: Mapping[str, str], key: str, highway: str, road_class: RoadClass, profile: SpeedProfile
) -> float:
    limit = parse_maxspeed(tags.get(key)) or parse_maxspeed(tags.get("maxspeed"))
    base = limit * profile.limit_share if limit is not None else profile.default_kmh[highway]
    speed = base * profile.class_uplift.get(road_class, 1.0)
    return max(1.0, min(speed, profile.max_kmh))


def way_rule(tags: Mapping[str, str], profile: SpeedProfile) -> WayRule | None:
    """The profile's rule for a way with these tags, or None when it may not be driven."""
    highway = tags.get("highway", "")
    road_class = HIGHWAY_CLASS.get(highway)
    if road_class is None or highway not in profile.default_kmh:
        return None
    if highway == "busway" and not profile.emergency:
        return None
    if tags.get("area", "").lower() == "yes":
        return None
    access = _access(tags, profile)
    if access in _DENIED or (access == "emergency" and not profile.emergency):
        return None
    forward, backward = _direction(tags, highway, profile)
    if not (forward or backward):
        return None
    factor = profile.restricted_factor if access in _RESTRICTED else 1.0
    fwd = _speed(tags, "maxspeed:forward", highway, road_class, profile) * factor
    bwd = _speed(tags, "maxspeed:backward", highway, road_class, profile) * factor
    return WayRule(
        road_class=road_class,
        forward_kmh=fwd if forward else 0.0,
        backward_kmh=bwd if backward else 0.0,
    )
