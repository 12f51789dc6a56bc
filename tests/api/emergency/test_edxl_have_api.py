"""EDXL-HAVE 1.0 over HTTP on both backends: export checked against the element tables and
read back; import of a document written by Sahana Eden (tests/data/emergency/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from lxml import etree

from emsync.auth.permissions import Role
from emsync.emergency import edxl
from tests.builders import auth_headers
from tests.emergency_builders import post

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "emergency" / "edxl-have-sahana-eden.xml"


async def _hospital(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: object
) -> dict[str, Any]:
    body = {"name": "Meilahti Tower Hospital", "lat": 60.1897, "lon": 24.9066, **fields}
    result: dict[str, Any] = await post(client, "/api/hospitals", body, headers)
    return result


async def test_export_carries_every_availability_field_and_reads_back(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    coordinator = await auth_headers(app, client, Role.ADMIN)
    h = await _hospital(
        client,
        coordinator,
        trauma_level=1,
        burns=True,
        pci=True,
        stroke_centre=True,
        paediatrics=False,
        ed_beds_available=7,
    )
    diverted = await _hospital(client, coordinator, name="Jorvi Hospital", lat=60.2208, lon=24.681)
    await client.patch(
        f"/api/hospitals/{diverted['id']}",
        json={"diversion": True, "diversion_reason": "MCI: CT down", "ed_beds_available": 0},
        headers=coordinator,
    )
    response = await client.get("/api/emergency/edxl-have", headers=coordinator)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml"
    assert edxl.check(etree.fromstring(response.content)) == []
    read = {x.name: x for x in edxl.parse(response.content, strict=True)}
    first = read["Meilahti Tower Hospital"]
    assert (first.org_id, first.ems_traffic, first.ed_beds_available) == (h["id"], "Normal", 7)
    assert first.services == {"burns", "trauma", "pci", "stroke", "emergency_department"}
    assert (first.lat, first.lon) == (60.1897, 24.9066)
    second = read["Jorvi Hospital"]
    assert (second.ems_traffic, second.ems_reason, second.ed_beds_available) == (
        "Closed",
        "MCI: CT down",
        0,
    )
    assert second.last_update is not None


async def test_import_a_sahana_eden_document_updates_known_hospitals_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    meilahti = await _hospital(client, admin, ed_beds_available=20)
    response = await client.post(
        "/api/emergency/edxl-have",
        files={"file": ("have.xml", SAMPLE.read_bytes(), "application/xml")},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"updated": [meilahti["id"]], "unmatched": ["Jorvi Hospital"]}
    after = (await client.get(f"/api/hospitals/{meilahti['id']}", headers=admin)).json()
    # EMSTrafficStatus Advisory is not a diversion; the ED's AvailableCount is.
    assert (after["ed_beds_available"], after["diversion"]) == (7, False)
    jorvi = await _hospital(client, admin, name="Jorvi Hospital")
    again = await client.post(
        "/api/emergency/edxl-have",
        files={"file": ("have.xml", SAMPLE.read_bytes(), "application/xml")},
        headers=admin,
    )
    assert sorted(again.json()["updated"]) == sorted([meilahti["id"], jorvi["id"]])
    jorvi_now = (await client.get(f"/api/hospitals/{jorvi['id']}", headers=admin)).json()
    assert (
        jorvi_now["diversion"],
        jorvi_now["diversion_reason"],
        jorvi_now["ed_beds_available"],
    ) == (
        True,
        "Mass casualty incident: diverting",
        0,
    )
    broken = SAMPLE.read_bytes().replace(b"<have:BedType>AdultICU", b"<have:BedType>Attic")
    assert edxl.check(etree.fromstring(broken)) == [
        "Hospital[0].BedType: 'Attic' is not one of " + str(edxl.BED_TYPES)
    ]
    bad = await client.post(
        "/api/emergency/edxl-have",
        files={"file": ("x.xml", b"<nope/>", "application/xml")},
        headers=admin,
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "file"
    manager = await auth_headers(app, client, Role.PARAMEDIC)
    denied = await client.post(
        "/api/emergency/edxl-have",
        files={"file": ("x.xml", SAMPLE.read_bytes(), "application/xml")},
        headers=manager,
    )
    assert denied.status_code == 403
