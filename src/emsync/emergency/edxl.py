"""EDXL-HAVE 1.0 (OASIS Hospital AVailability Exchange, as Sahana Eden and Google's hospital
feeds used it): write hospitals' capacity, ED status and diversion, and read another system's.

Pure. No package ships the OASIS XSD, so the committed checks are the specification's element
tables below (element order inside `<Hospital>`, each value set). The output was also validated
once against the EDXL-HAVE 1.0 schema as vendored in public code (UICDS xCore 1.3.3, with its
CIQ, geo-oasis and GML imports; not committed here): `gml:pos`, the `<Capacity>` wrapper,
`Vacant/Available`, the schema's service order and `TraumaCenterServicesIndicator` come from
that check. Sahana Eden's documents are not schema-valid (GML 2 coordinates, no `<Capacity>`,
`TraumaCenterIndicator`, `HospitalResourceStatus`); those spellings are read, never written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from emsync.emergency.cap import parse_xml, xml_safe

HAVE = "urn:oasis:names:tc:emergency:EDXL:HAVE:1.0"
XNL = "urn:oasis:names:tc:ciq:xnl:3"
GML = "http://www.opengis.net/gml"
NSMAP = {"have": HAVE, "xnl": XNL, "gml": GML}
_H, _X, _G = f"{{{HAVE}}}", f"{{{XNL}}}", f"{{{GML}}}"

# Element tables of EDXL-HAVE 1.0 for the parts EMsync uses.
HOSPITAL_SEQUENCE = (
    "Organization",
    "EmergencyDepartmentStatus",
    "HospitalBedCapacityStatus",
    "ServiceCoverageStatus",
    "HospitalFacilityStatus",
    "HospitalResourcesStatus",
    "LastUpdateTime",
)
_READ_ALIASES = {"HospitalResourceStatus": "HospitalResourcesStatus"}  # Sahana Eden's spelling
EMS_TRAFFIC_STATUS = ("Normal", "Advisory", "Closed", "NotApplicable")
BED_TYPES = (
    "AdultICU", "PediatricICU", "NeonatalICU", "EmergencyDepartment", "NurseryBeds",
    "MedicalSurgical", "RehabLongTermCare", "Burn", "Pediatrics", "AdultPsychiatric",
    "PediatricPsychiatric", "NegativeFlowIsolation", "OtherIsolation", "OperatingRooms",
)  # fmt: skip
CAPACITY_STATUS = ("Vacant/Available", "NotAvailable")
FACILITY_STATUS = ("Normal", "Compromised", "Evacuating", "Closed")
# ServiceCoverageStatus elements EMsync's capabilities map to (path under the element), in the
# schema's sequence order (written in this order, not sorted by key).
SERVICES = {
    "burns": ("Burn",),
    "pci": ("CardiologyIndicator", "Cardiology"),
    "emergency_department": ("EmergencyDepartment",),
    "stroke": ("NeurologyIndicator", "Neurology"),
    "paediatrics": ("Pediatrics",),
    "trauma": ("TraumaCenterServicesIndicator", "TraumaCenterServices"),
}

# Read: the schema's path, and Sahana Eden's spelling of the trauma indicator.
_SERVICE_READ_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    key: (path,) for key, path in SERVICES.items()
} | {"trauma": (SERVICES["trauma"], ("TraumaCenterIndicator", "TraumaCenterServices"))}


@dataclass(frozen=True, slots=True)
class HaveHospital:
    org_id: str
    name: str
    lat: float | None
    lon: float | None
    ems_traffic: str  # one of EMS_TRAFFIC_STATUS
    ems_reason: str | None
    ed_beds_available: int | None
    services: frozenset[str] = field(default_factory=frozenset)
    last_update: datetime | None = None

    @property
    def diversion(self) -> bool:
        return self.ems_traffic == "Closed"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    node = etree.SubElement(parent, tag)
    if text is not None:
        node.text = xml_safe(text)
    return node


def _hospital(root: etree._Element, h: HaveHospital) -> None:
    node = _sub(root, _H + "Hospital")
    org = _sub(node, _H + "Organization")
    info = _sub(org, _H + "OrganizationInformation")
    name = _sub(info, _X + "OrganisationName")
    name.set(_X + "ID", xml_safe(h.org_id))
    _sub(name, _X + "NameElement", h.name)
    if h.lat is not None and h.lon is not None:
        point = _sub(_sub(org, _H + "OrganizationGeoLocation"), _G + "Point")
        point.set(_G + "id", f"loc-{h.org_id}")
        _sub(point, _G + "pos", f"{h.lat:.6f} {h.lon:.6f}")
    traffic = _sub(_sub(node, _H + "EmergencyDepartmentStatus"), _H + "EMSTraffic")
    _sub(traffic, _H + "EMSTrafficStatus", h.ems_traffic)
    if h.ems_reason:
        _sub(traffic, _H + "EMSTrafficReason", h.ems_reason)
    if h.ed_beds_available is not None:  # BedCapacity is required inside the element
        bed = _sub(_sub(node, _H + "HospitalBedCapacityStatus"), _H + "BedCapacity")
        _sub(bed, _H + "BedType", "EmergencyDepartment")
        capacity = _sub(bed, _H + "Capacity")
        status = "Vacant/Available" if h.ed_beds_available > 0 else "NotAvailable"
        _sub(capacity, _H + "CapacityStatus", status)
        _sub(capacity, _H + "AvailableCount", str(h.ed_beds_available))
    coverage = _sub(node, _H + "ServiceCoverageStatus")
    for service in (s for s in SERVICES if s in h.services):
        parent = coverage
        *outer, leaf = SERVICES[service]
        for name_ in outer:
            parent = _sub(parent, _H + name_)
        _sub(parent, _H + leaf, "true")
    facility = _sub(node, _H + "HospitalFacilityStatus")
    _sub(facility, _H + "FacilityStatus", "Normal")
    if h.last_update is not None:
        _sub(node, _H + "LastUpdateTime", h.last_update.replace(microsecond=0).isoformat())


def to_xml(hospitals: Sequence[HaveHospital]) -> bytes:
    root = etree.Element(_H + "HospitalStatus", nsmap=NSMAP)
    for h in hospitals:
        _hospital(root, h)
    data = bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    problems = check(parse_xml(data))
    if problems:  # what EMsync writes must pass its own element tables
        raise ValueError("; ".join(problems))
    return data


def _local(node: etree._Element) -> str:
    return str(etree.QName(node).localname)


def check(root: etree._Element) -> list[str]:
    """Departures from the element tables, each with the hospital's position and element."""
    if root.tag != _H + "HospitalStatus":
        return [f"root is {root.tag}, expected HospitalStatus in {HAVE}"]
    out: list[str] = []
    for n, hospital in enumerate(root.findall(_H + "Hospital")):
        where = f"Hospital[{n}]"
        names = [_local(c) for c in hospital if isinstance(c.tag, str)]
        names = [_READ_ALIASES.get(x, x) for x in names]
        unknown = [x for x in names if x not in HOSPITAL_SEQUENCE]
        out += [f"{where}.{x}: not an element of Hospital" for x in unknown]
        order = [HOSPITAL_SEQUENCE.index(x) for x in names if x in HOSPITAL_SEQUENCE]
        if order != sorted(order):
            out.append(f"{where}: elements out of the schema's order ({', '.join(names)})")
        for required in ("Organization", "LastUpdateTime"):
            if required not in names:
                out.append(f"{where}.{required}: required element missing")
        for path, allowed in (
            ("EmergencyDepartmentStatus/have:EMSTraffic/have:EMSTrafficStatus", EMS_TRAFFIC_STATUS),
            ("HospitalBedCapacityStatus/have:BedCapacity/have:BedType", BED_TYPES),
            (
                "HospitalBedCapacityStatus/have:BedCapacity/have:Capacity/have:CapacityStatus",
                CAPACITY_STATUS,
            ),
            ("HospitalFacilityStatus/have:FacilityStatus", FACILITY_STATUS),
        ):
            for value in hospital.xpath(f"have:{path}/text()", namespaces=NSMAP):
                if str(value).strip() not in allowed:
                    element = path.rsplit(":", 1)[-1]
                    out.append(f"{where}.{element}: {str(value).strip()!r} is not one of {allowed}")
        for count in hospital.xpath(".//have:AvailableCount/text()", namespaces=NSMAP):
            if not str(count).strip().isdigit():
                out.append(f"{where}.AvailableCount: {count!r} is not a whole number")
    return out


def _first(node: etree._Element, path: str) -> str | None:
    found = node.xpath(f"{path}/text()", namespaces=NSMAP)
    return str(found[0]).strip() if isinstance(found, list) and found else None


def parse(data: bytes, *, strict: bool = False) -> list[HaveHospital]:
    """Hospitals of an EDXL-HAVE 1.0 document. Values outside the tables raise ValueError when
    `strict`; otherwise an unknown EMS traffic status reads as NotApplicable (Sahana writes
    "Unknown", which the specification does not list)."""
    root = parse_xml(data)
    problems = check(root)
    if root.tag != _H + "HospitalStatus" or (strict and problems):
        raise ValueError("; ".join(problems))
    out = []
    for n, node in enumerate(root.findall(_H + "Hospital")):
        org = node.find(f"{_H}Organization/{_H}OrganizationInformation/{_X}OrganisationName")
        name = _first(
            node,
            "have:Organization/have:OrganizationInformation/xnl:OrganisationName/xnl:NameElement",
        )
        if org is None or not name:
            raise ValueError(f"Hospital[{n}].Organization: OrganisationName is required")
        lat = lon = None
        coords = _first(
            node, "have:Organization/have:OrganizationGeoLocation/gml:Point/gml:pos"
        ) or _first(  # Sahana Eden writes GML 2 coordinates
            node, "have:Organization/have:OrganizationGeoLocation/gml:Point/gml:coordinates"
        )
        if coords:
            try:
                lat, lon = (float(x) for x in coords.replace(",", " ").split())
            except ValueError as error:
                raise ValueError(f"Hospital[{n}].gml:coordinates: {coords!r}") from error
        # Sahana Eden's importer reads EMSTrafficStatus without its EMSTraffic wrapper: accept both.
        traffic = _first(
            node, "have:EmergencyDepartmentStatus/have:EMSTraffic/have:EMSTrafficStatus"
        ) or _first(node, "have:EmergencyDepartmentStatus/have:EMSTrafficStatus")
        ed = node.xpath(
            "have:HospitalBedCapacityStatus/have:BedCapacity[have:BedType='EmergencyDepartment']"
            "/have:Capacity/have:AvailableCount/text()"
            " | have:HospitalBedCapacityStatus/have:BedCapacity[have:BedType='EmergencyDepartment']"
            "/have:AvailableCount/text()",  # Sahana Eden omits the Capacity wrapper
            namespaces=NSMAP,
        )
        services = frozenset(
            key
            for key, paths in _SERVICE_READ_PATHS.items()
            if any(
                _first(node, "have:ServiceCoverageStatus/" + "/".join(f"have:{p}" for p in path))
                == "true"
                for path in paths
            )
        )
        updated = _first(node, "have:LastUpdateTime")
        out.append(
            HaveHospital(
                org_id=org.get(_X + "ID") or "",
                name=name,
                lat=lat,
                lon=lon,
                ems_traffic=traffic if traffic in EMS_TRAFFIC_STATUS else "NotApplicable",
                ems_reason=_first(
                    node, "have:EmergencyDepartmentStatus/have:EMSTraffic/have:EMSTrafficReason"
                ),
                ed_beds_available=int(str(ed[0]).strip())
                if isinstance(ed, list) and ed and str(ed[0]).strip().isdigit()
                else None,
                services=services,
                last_update=datetime.fromisoformat(updated) if updated else None,
            )
        )
    return out
