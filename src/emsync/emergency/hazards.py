"""Hazard feeds in (pure): CAP 1.2 (one alert, or an Atom/RSS feed that embeds or links alerts)
and GeoJSON earthquake feeds (the USGS format: Point features with mag, place, time in ms).
Parsed into map features; anything malformed is a ValueError naming what is wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emsync.emergency import cap

ATOM = "{http://www.w3.org/2005/Atom}"
MAX_LINKED = 50


@dataclass(frozen=True, slots=True)
class HazardItem:
    external_id: str
    title: str
    severity: str | None
    at: datetime | None
    geometry: dict[str, Any]
    properties: dict[str, Any] = field(default_factory=dict)


def _magnitude_severity(mag: float | None) -> str | None:
    # Richter bands as USGS' own summaries word them.
    if mag is None:
        return None
    for floor, word in ((7, "Extreme"), (6, "Severe"), (4.5, "Moderate"), (0, "Minor")):
        if mag >= floor:
            return word
    return "Minor"


def parse_geojson(data: bytes) -> list[HazardItem]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from error
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ValueError("expected a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ValueError("FeatureCollection without a features list")
    out: list[HazardItem] = []
    for n, feature in enumerate(features):
        if not isinstance(feature, dict):
            raise ValueError(f"features[{n}] is not an object")
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in (
            "Point",
            "Polygon",
            "MultiPolygon",
            "LineString",
        ):
            raise ValueError(f"features[{n}].geometry is missing or of an unknown type")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise ValueError(f"features[{n}].properties is not an object")
        mag = props.get("mag")
        mag = float(mag) if isinstance(mag, int | float) else None
        when = props.get("time")
        at = datetime.fromtimestamp(when / 1000, UTC) if isinstance(when, int | float) else None
        ident = feature.get("id") or props.get("code") or f"feature-{n}"
        place = props.get("place") or props.get("title") or "event"
        title = props.get("title") or (f"M {mag:g} - {place}" if mag is not None else str(place))
        out.append(
            HazardItem(
                external_id=str(ident)[:300],
                title=str(title)[:300],
                severity=_magnitude_severity(mag),
                at=at,
                geometry=geometry,
                properties={"mag": mag, "place": place, "url": props.get("url")},
            )
        )
    return out


def _cap_items(alert: cap.ReadAlert) -> list[HazardItem]:
    at: datetime | None
    try:
        at = datetime.fromisoformat(alert.sent) if alert.sent else None
    except ValueError:
        at = None
    out = []
    for n, area in enumerate(alert.areas):
        for m, geometry in enumerate(cap.area_geometry(area)):
            radius = geometry.pop("radius_km", None)
            out.append(
                HazardItem(
                    external_id=f"{alert.sender},{alert.identifier}#{n}.{m}"[:300],
                    title=(alert.headline or alert.event or alert.identifier)[:300],
                    severity=alert.severity,
                    at=at,
                    geometry=geometry,
                    properties={
                        "event": alert.event,
                        "area": area.desc,
                        "msg_type": alert.msg_type,
                        "expires": alert.expires,
                        "radius_km": radius,
                    },
                )
            )
    return out


def parse_cap_document(data: bytes) -> tuple[list[HazardItem], list[str]]:
    """Items of a CAP alert or of a feed embedding alerts, and the CAP links a feed lists
    (to be fetched next). Cancelled alerts are left out."""
    root = cap.parse_xml(data)
    alerts = [root] if root.tag == f"{{{cap.NS}}}alert" else list(root.iter(f"{{{cap.NS}}}alert"))
    items: list[HazardItem] = []
    for element in alerts:
        alert = cap.read_alert(element)
        if alert.msg_type != "Cancel":
            items.extend(_cap_items(alert))
    links: list[str] = []
    if not alerts and root.tag == f"{ATOM}feed":
        links = [
            str(link.get("href"))
            for link in root.iter(f"{ATOM}link")
            if link.get("type") == cap.CAP_MEDIA_TYPE and link.get("href")
        ]
        if not links:
            raise ValueError("an Atom feed without CAP alerts or CAP links")
    elif not alerts:
        raise ValueError(f"neither a CAP alert nor an Atom feed of them ({root.tag})")
    return items, links[:MAX_LINKED]
