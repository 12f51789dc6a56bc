"""The ED clinician sees everything the crew recorded (notes, allergy, AVPU, oxygen, doses), the
current vitals first, and the alert panel at tablet width, against a real `emsync serve` and real
MQTT in headless Chromium. Saves the card's screenshots and the handoff's FHIR Bundle under var/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.builders import incident_body
from tests.e2e.conftest import ADMIN, HTTP_TIMEOUT_S, Server
from tests.e2e.test_dashboard import TIMEOUT_MS, _api, _login, _ok
from tests.e2e.test_paediatric_and_artefacts import _device, _publish

pytestmark = pytest.mark.e2e
CLINICIAN = ("ed-nurse", "e2e-ed-nurse-password-123")


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    client = _api(server)
    yield client
    client.close()


def _full_handoff(incident: dict[str, Any], hospital_id: str, now: datetime) -> dict[str, Any]:
    def ago(minutes: float) -> str:
        return (now - timedelta(minutes=minutes)).isoformat()

    return {
        "incident_id": incident["id"],
        "patient_id": incident["patients"][0]["id"],
        "hospital_id": hospital_id,
        "unit_id": "MEDIC-12",
        "eta": (now + timedelta(minutes=9)).isoformat(),
        "acuity": 2,
        "crew": ["Paramedic Kallio", "EMT Nieminen"],
        "content": {
            "patient": {"name": "Eero Testinen", "age_years": 81, "sex": "male"},
            "time_of_onset": ago(50),
            "mechanism": "Found on the floor at home, confused",
            "injuries": ["Confusion", "Hypoxia", "Fever"],
            "signs": [
                {"ts": ago(9), "hr": 112, "spo2": 84, "rr": 26, "sbp": 118, "dbp": 71, "temp": 38.6,
                 "o2": False, "avpu": "V"},
                {"ts": ago(7), "hr": 118, "spo2": 89, "rr": 26, "sbp": 104, "dbp": 62, "temp": 38.6,
                 "o2": True, "o2_device": "non_rebreather_mask", "o2_flow": 15, "avpu": "V"},
            ],
            "treatment": [
                {"kind": "medication", "name": "oxygen", "at": ago(8), "dose_value": 15,
                 "dose_unit": "L/min", "route": "non-rebreather mask",
                 "response": "SpO2 84 to 89 %"},
                {"kind": "medication", "name": "paracetamol", "dose_value": 1, "dose_unit": "g",
                 "route": "IV", "response": "no change yet"},
                {"kind": "procedure", "name": "IV access", "at": ago(6), "route": "left forearm"},
                {"kind": "medication", "name": "flucloxacillin", "dose_value": 1,
                 "dose_unit": "g", "route": "IV"},
            ],
            "allergies": ["penicillin (rash)"],
            "notes": "Lives alone. Allergy: penicillin.",
        },
    }  # fmt: skip


def test_the_ed_clinician_sees_everything_the_crew_recorded(
    server: Server, browser: Browser, api: httpx.Client, shots: Path
) -> None:
    hospital = _ok(api.post("/api/hospitals", json={"name": "E2E ED", "lat": 60.17, "lon": 24.94}))
    _ok(
        api.post(
            "/api/users",
            json={
                "username": CLINICIAN[0],
                "password": CLINICIAN[1],
                "role": "clinician",
                "hospital_id": hospital["id"],
            },
        )
    )
    api.post(f"/api/handoffs/hospital-keys/{hospital['id']}")
    body = incident_body(chief_complaint="Fall, confused", patients=[{"age_years": 81}])
    incident = _ok(api.post("/api/incidents", json=body))
    now = datetime.now(UTC)
    handoff = _ok(api.post("/api/handoffs", json=_full_handoff(incident, hospital["id"], now)))
    _ok(api.post(f"/api/handoffs/{handoff['id']}/send"))
    # En route: the monitor's newer set (SpO2 89 -> 86) and a note follow the handoff.
    # Its pressure has collapsed to a pulse pressure of 6: flagged by the monitor's rules as a
    # probable damped line, shown so, and still scored (it may be the circulation failing).
    monitor_set = {"ts": (now - timedelta(minutes=1)).isoformat(), "hr": 124, "spo2": 86,
                   "rr": 28, "sbp": 100, "dbp": 94, "temp": 38.7, "o2": True,
                   "source": "telemetry",
                   "artefacts": [{"field": "sbp", "kind": "damped_line"},
                                 {"field": "dbp", "kind": "damped_line"}]}  # fmt: skip
    hid = handoff["id"]
    _ok(api.post(f"/api/handoffs/{hid}/updates", json={"kind": "vitals", "vitals": monitor_set}))
    note = {"kind": "note", "note": "Daughter on her way with his medication list."}
    _ok(api.post(f"/api/handoffs/{hid}/updates", json=note))

    page: Page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    _login(page, server.base, "/hospital", CLINICIAN)
    card = page.get_by_test_id("handoff-card").filter(has_text="Eero Testinen")
    expect(card).to_contain_text("KTAS 2", timeout=TIMEOUT_MS)
    # Current vitals first: the monitor's set, with its age and the trend beside it.
    current = card.get_by_test_id("current-vitals")
    expect(current).to_contain_text("ago · monitor")
    expect(current).to_contain_text("86 % ↓ from 89")
    expect(current).to_contain_text("100/94 mmHg (probable artefact: damped line)")
    expect(current).to_contain_text("on O₂")
    expect(card.get_by_test_id("handoff-news2")).to_contain_text("NEWS2")
    expect(card.get_by_test_id("handoff-news2")).to_contain_text("High risk")
    # The monitor reports no AVPU: the crew's V is carried to the score, not assumed Alert.
    expect(card.get_by_test_id("handoff-news2")).to_contain_text("from the set before: avpu")
    # A penicillin given against the written penicillin allergy: said first, in words.
    expect(card.get_by_test_id("allergy-conflicts")).to_contain_text(
        "flucloxacillin given — allergy written by the crew: penicillin (rash); "
        "same drug class: penicillins"
    )
    # Notes, allergy, treatments with dose, route, time and response.
    expect(card.get_by_test_id("allergies")).to_have_text("Allergies: penicillin (rash)")
    notes = card.get_by_test_id("notes")
    expect(notes).to_contain_text("Lives alone. Allergy: penicillin.")
    expect(notes).to_contain_text("Daughter on her way with his medication list.")
    treatments = card.get_by_test_id("treatments")
    expect(treatments).to_contain_text(
        "paracetamol 1 g, IV, time not recorded — response: no change yet"
    )
    expect(treatments).to_contain_text("oxygen 15 L/min, non-rebreather mask, at")
    expect(treatments).to_contain_text("response: SpO2 84 to 89 %")
    expect(treatments).to_contain_text("IV access, left forearm, at")
    # Every set, with its AVPU and oxygen (device and flow), one click away.
    card.get_by_text("All vital sets (3)").click()
    all_sets = card.locator(".all-signs")
    expect(all_sets).to_contain_text("AVPU V (responds to voice)")
    expect(all_sets).to_contain_text("Oxygen on O₂ 15 L/min, non-rebreather mask")
    expect(all_sets).to_contain_text("Oxygen room air")
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(shots / "hospital-card-full.png"))
    page.screenshot(path=str(shots / "hospital-view-tablet.png"), full_page=True)

    # The same handoff as FHIR, as the hospital's system would fetch it.
    token = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": CLINICIAN[0], "password": CLINICIAN[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    bundle = _ok(
        httpx.get(
            f"{server.base}/api/handoffs/{hid}/fhir",
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT_S,
        )
    )
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Composition", "AllergyIntolerance", "MedicationStatement"} <= kinds
    (shots / "handoff-fhir-bundle.json").write_text(json.dumps(bundle, indent=2))


@pytest.mark.parametrize("width", [768, 1024])
def test_the_alert_panel_is_on_the_first_screen_of_a_tablet_and_worst_first(
    server: Server, browser: Browser, api: httpx.Client, shots: Path, width: int
) -> None:
    now = datetime.now(UTC)
    patients, numbers = [], []
    for n, complaint in enumerate(("Short of breath", "Drowsy", "Sore ankle")):
        body = incident_body(chief_complaint=complaint, patients=[{"age_years": 60}])
        incident = _ok(api.post("/api/incidents", json=body))
        key, _ = _device(api, f"e2e-tab-{width}-{n}", incident["patients"][0]["id"])
        patients.append((f"e2e-tab-{width}-{n}", key))
        numbers.append(f"(#{incident['number']})")
    sick = {"hr": 125, "spo2": 91, "rr": 25, "sbp": 100, "dbp": 60, "temp": 38.5, "avpu": "A"}  # 11
    red_flag = {"hr": 72, "spo2": 97, "rr": 14, "sbp": 124, "dbp": 78, "temp": 36.8, "avpu": "V"}
    low = {"hr": 95, "spo2": 95, "rr": 14, "sbp": 124, "dbp": 78, "temp": 38.5, "avpu": "A"}  # 3
    stamp = (now - timedelta(seconds=5)).isoformat()
    _publish(
        server,
        [
            (patients[1][0], patients[1][1], 1, {"ts": stamp, **red_flag}),
            (patients[0][0], patients[0][1], 1, {"ts": stamp, **sick}),
            (patients[2][0], patients[2][1], 1, {"ts": stamp, **low}),
        ],
    )
    page: Page = browser.new_context(viewport={"width": width, "height": 1024}).new_page()
    _login(page, server.base, "/monitor", ADMIN)
    alerts = page.get_by_test_id("alerts")
    expect(alerts).to_contain_text(numbers[0], timeout=TIMEOUT_MS)
    expect(alerts).to_contain_text(numbers[1], timeout=TIMEOUT_MS)
    expect(alerts).not_to_contain_text(numbers[2])  # NEWS2 3 without a red score: no alert
    listed = alerts.get_by_test_id("alert")
    mine = listed.filter(has_text=numbers[0]).or_(listed.filter(has_text=numbers[1]))
    expect(mine).to_have_count(2)
    expect(mine.nth(0)).to_contain_text(numbers[0])
    expect(mine.nth(0)).to_contain_text("HIGH RISK")
    expect(mine.nth(0)).to_contain_text("NEWS2 11")
    expect(mine.nth(1)).to_contain_text("LOW\u2013MEDIUM RISK")
    box = page.locator("aside.alerts").bounding_box()
    assert box is not None
    assert box["y"] < 1024 / 2, f"alert panel starts at {box['y']} px"
    page.screenshot(path=str(shots / f"monitor-alerts-{width}px.png"))
