"""A child through the dashboard (triage form and monitor, PEWS and never NEWS2), and a probable
artefact shown as such on a monitor tile, against a real `emsync serve` and real MQTT."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect

from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from tests.builders import incident_body
from tests.e2e.conftest import ADMIN, Server
from tests.e2e.test_dashboard import TIMEOUT_MS, _api, _login, _ok

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    client = _api(server)
    yield client
    client.close()


def _patient(api: httpx.Client, complaint: str, age: int) -> tuple[str, str]:
    incident = _ok(
        api.post(
            "/api/incidents",
            json=incident_body(chief_complaint=complaint, patients=[{"age_years": age}]),
        )
    )
    return incident["id"], incident["patients"][0]["id"]


def _device(api: httpx.Client, device_id: str, patient_id: str) -> tuple[bytes, int]:
    created = _ok(
        api.post(
            "/api/telemetry/devices",
            json={"id": device_id, "type": "monitor", "algorithm": "ascon-aead128"},
        )
    )
    _ok(api.post(f"/api/telemetry/devices/{device_id}/bind", json={"patient_id": patient_id}))
    return bytes.fromhex(created["key"]["key_hex"]), int(created["key"]["key_id"])


def _publish(server: Server, messages: list[tuple[str, bytes, int, dict[str, Any]]]) -> None:
    """Seal and publish each (device, key, counter, reading) at QoS 1, as a monitor does."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect("127.0.0.1", server.mqtt_port)
    client.loop_start()
    try:
        assert connected.wait(10)
        for device_id, key, counter, reading in messages:
            topic = envelope.topic_for(device_id, "vitals")
            payload = envelope.seal(
                topic=topic,
                algorithm=Algorithm.ASCON_AEAD128,
                key=key,
                key_id=1,
                counter=counter,
                plaintext=json.dumps(reading).encode(),
            )
            client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_a_child_is_triaged_and_monitored_on_the_paediatric_pathway(
    server: Server, browser: Browser, api: httpx.Client, shots: Path
) -> None:
    incident_id, child_id = _patient(api, "Wheeze, working hard to breathe", age=2)
    page: Page = browser.new_context(viewport={"width": 1366, "height": 1000}).new_page()
    _login(page, server.base, f"/triage/{incident_id}", ADMIN)

    # The triage form: a child's age brings the paediatric fields, and the answer says whose.
    page.get_by_label("Age (years)").fill("2")
    expect(page.get_by_test_id("paediatric-fields")).to_be_visible()
    page.get_by_label("Sex").select_option("female")  # no preset: the form asks
    page.get_by_label("Heart rate (/min)").fill("165")
    page.get_by_label("Respiratory rate (/min)").fill("48")
    page.get_by_label("SpO₂ (%)").fill("91")
    page.get_by_label("Temperature (°C)").fill("38.4")
    page.get_by_label("Work of breathing").select_option("moderate")
    page.get_by_label("Capillary refill (s)").fill("2")
    page.get_by_label("On supplemental oxygen").check()
    page.get_by_role("button", name="Assess").click()
    result = page.get_by_test_id("triage-result")
    expect(result).to_contain_text("Paediatric pathway", timeout=TIMEOUT_MS)
    expect(result).to_contain_text("ESI v4")
    expect(page.get_by_test_id("pews")).to_contain_text("Bedside PEWS: 8")
    expect(page.get_by_test_id("reasons")).to_contain_text("Bedside PEWS 8")
    expect(page.get_by_test_id("reference-ranges")).to_contain_text("1-4 years")
    expect(result).not_to_contain_text("NEWS2:")
    expect(result).not_to_contain_text("Acuity: KTAS")
    page.screenshot(path=str(shots / "01-triage-child.png"), full_page=True)
    page.get_by_role("button", name=re.compile("Save to incident")).click()
    expect(page.get_by_test_id("triage-message")).to_contain_text("Saved")

    # The monitor: the child's tile scores PEWS; an adult's lead off is shown as an artefact.
    _, adult_id = _patient(api, "Chest pain", age=58)
    child_key, _ = _device(api, "e2e-child-mon", child_id)
    adult_key, _ = _device(api, "e2e-adult-mon", adult_id)
    now = datetime.now(UTC)
    child = {"hr": 165, "spo2": 90, "rr": 48, "sbp": 95, "dbp": 55, "o2": True}
    adult = {"hr": 78, "spo2": 97, "rr": 15, "sbp": 128, "dbp": 80, "temp": 36.9}

    def stamp(seconds: float) -> str:
        return (now + timedelta(seconds=seconds)).isoformat()

    page.get_by_role("link", name="Patient monitor").click()
    expect(page.get_by_test_id("tiles")).to_contain_text("child, 2 y", timeout=TIMEOUT_MS)
    _publish(
        server,
        [
            ("e2e-child-mon", child_key, 1, {"ts": stamp(-4), **child}),
            ("e2e-adult-mon", adult_key, 1, {"ts": stamp(-4), **adult}),
            ("e2e-adult-mon", adult_key, 2, {"ts": stamp(-1), **adult, "hr": 0}),
        ],
    )
    child_tile = page.get_by_test_id("vital-tile").filter(has_text="child, 2 y")
    expect(child_tile.get_by_test_id("band")).to_contain_text("PEWS 7 (child)", timeout=TIMEOUT_MS)
    expect(child_tile).not_to_contain_text("NEWS2")
    adult_tile = page.get_by_test_id("vital-tile").filter(has_text="Chest pain")
    expect(adult_tile.get_by_test_id("artefacts")).to_contain_text(
        "HR (lead off)", timeout=TIMEOUT_MS
    )
    expect(adult_tile.get_by_test_id("band")).to_contain_text("NEWS2")
    alerts = page.get_by_test_id("alerts")
    expect(alerts).to_contain_text("PEWS 7 (child)", timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "02-monitor-child-and-artefact.png"), full_page=True)
