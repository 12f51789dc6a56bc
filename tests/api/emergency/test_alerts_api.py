"""Public alerts over HTTP on SQLite and PostgreSQL: XSD-valid CAP 1.2, the Atom feed,
update/cancel reference chains, bad input refused naming the field, optional XML-DSig."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from capvalidator import Validator
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from lxml import etree
from sqlalchemy import text

from emsync.core.runtime import Runtime
from emsync.emergency import cap
from tests.emergency_builders import alert_body, post

ATOM = "{http://www.w3.org/2005/Atom}"


def _atom_ids(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    return [e.findtext(f"{ATOM}id") for e in root.iter(f"{ATOM}entry")]


async def _alert_count(app: FastAPI) -> int:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(text("SELECT count(*) FROM emergency_alerts")) or 0)


async def test_publish_update_cancel_with_xsd_valid_cap_and_the_atom_feed(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    alert = await post(client, "/api/emergency/alerts", alert_body(), manager)
    assert (alert["msg_type"], alert["state"], alert["signed"]) == ("Alert", "active", False)
    public = await client.get(f"/api/emergency/public/alerts/{alert['identifier']}.xml")
    assert public.headers["content-type"] == "application/cap+xml"
    assert cap.xsd_problems(public.content) == []
    assert Validator(public.content).schema()[0] is True  # capvalidator's own check agrees
    root = etree.fromstring(public.content)
    q = f"{{{cap.NS}}}"
    assert (
        root.findtext(f"{q}info/{q}area/{q}polygon")
        == "60.18,24.94 60.19,24.94 60.19,24.96 60.18,24.94"
    )
    assert root.findtext(f"{q}info/{q}area/{q}circle") == "60.184,24.95 1.5"
    feed = await client.get("/api/emergency/public/alerts.atom")  # public: no token
    assert feed.status_code == 200
    assert _atom_ids(feed.content) == [f"urn:cap:{alert['identifier']}"]
    link = etree.fromstring(feed.content).find(f"{ATOM}entry/{ATOM}link")
    assert link is not None
    assert link.get("type") == "application/cap+xml"
    assert link.get("href", "").endswith(f"/api/emergency/public/alerts/{alert['identifier']}.xml")

    thread = alert["thread_id"]
    updated = await post(
        client,
        f"/api/emergency/alerts/{thread}/update",
        alert_body(severity="Extreme", headline="Flood: evacuation extended"),
        manager,
    )
    assert updated["msg_type"] == "Update"
    assert updated["thread_id"] == thread
    sent = datetime.fromisoformat(alert["sent"]).astimezone(UTC).replace(microsecond=0)
    assert updated["references"] == f"{alert['sender']},{alert['identifier']},{sent.isoformat()}"
    feed_ids = _atom_ids((await client.get("/api/emergency/public/alerts.atom")).content)
    assert feed_ids == [f"urn:cap:{updated['identifier']}"]
    cancelled = await post(
        client, f"/api/emergency/alerts/{thread}/cancel", {"note": "water receding"}, manager
    )
    assert cancelled["msg_type"] == "Cancel"
    assert len(cancelled["references"].split()) == 2  # both earlier messages
    xml = (
        await client.get(f"/api/emergency/alerts/{cancelled['identifier']}.xml", headers=manager)
    ).content
    assert cap.xsd_problems(xml) == []
    assert _atom_ids((await client.get("/api/emergency/public/alerts.atom")).content) == []
    again = await client.post(
        f"/api/emergency/alerts/{thread}/cancel", json={"note": "x"}, headers=manager
    )
    assert again.status_code == 409
    layer = (await client.get("/api/map/alert-areas", headers=manager)).json()
    assert layer["features"] == []


async def test_invalid_alerts_are_refused_naming_the_field_and_store_nothing(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    open_ring = alert_body(
        areas=[
            {"desc": "x", "polygons": [[[60.1, 24.9], [60.2, 24.9], [60.2, 25.0], [60.3, 25.0]]]}
        ]
    )
    few_points = alert_body(
        areas=[{"desc": "x", "polygons": [[[60.1, 24.9], [60.2, 24.9], [60.1, 24.9]]]}]
    )
    off_earth = alert_body(
        areas=[
            {"desc": "x", "polygons": [[[95.0, 24.9], [60.2, 24.9], [60.2, 25.0], [95.0, 24.9]]]}
        ]
    )
    past = alert_body(expires=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    for body, field in (
        (open_ring, "info[0].area[0].polygon[0]"),
        (few_points, "info[0].area[0].polygon[0]"),
        (off_earth, "info[0].area[0].polygon[0]"),
        (past, "expires"),
    ):
        refused = await client.post("/api/emergency/alerts", json=body, headers=manager)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem.get("field") == field or problem["errors"][0]["field"] == field
    missing = {k: v for k, v in alert_body().items() if k != "event"}
    refused = await client.post("/api/emergency/alerts", json=missing, headers=manager)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.event"
    no_area = alert_body(areas=[{"desc": "nowhere"}])
    assert (
        await client.post("/api/emergency/alerts", json=no_area, headers=manager)
    ).status_code == 422
    assert await _alert_count(app) == 0


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EMsync test alerts")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp_path / "cap-key.pem", tmp_path / "cap-cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def test_signed_alerts_verify_and_tampering_is_detected(tmp_path: Path) -> None:
    key, cert = _self_signed(tmp_path)
    now = datetime.now(UTC)
    msg = cap.CapMessage(
        identifier="emsync-test-1",
        sender="alerts@example.org",
        sent=now,
        status="Actual",
        msg_type="Alert",
        info=(
            cap.Info(
                categories=("Fire",),
                event="Wildfire",
                urgency="Immediate",
                severity="Severe",
                certainty="Observed",
                areas=(cap.Area("Ridge", circles=(cap.Circle(60.2, 24.9, 3),)),),
            ),
        ),
    )
    signed = cap.sign(cap.to_xml(msg), key_pem=key.read_bytes(), cert_pem=cert.read_bytes())
    assert cap.xsd_problems(signed) == []
    assert Validator(signed).signature()[0] is True
    tampered = signed.replace(b"Wildfire", b"Drill")
    assert Validator(tampered).signature()[0] is False
