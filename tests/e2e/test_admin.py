"""The admin's walk (#23 item 4): create a person with a role, create and revoke an API key,
register a device, bind it to a patient and rotate its key (the new key shown once), edit a
hospital's capabilities, import another road map with progress, and read the audit log by name
and verify its chain. Every admin view passes axe with no serious or critical violation."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ADMIN, HTTP_TIMEOUT_S, Server, start_server
from tests.shared_data import shared_data_dir

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
# The import builds a road graph, an address index and vector tiles on a shared machine.
IMPORT_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module, with a map directory holding the Andorra extract."""
    maps = tmp_path_factory.mktemp("maps")
    shutil.copyfile(shared_data_dir() / "osm" / "andorra.osm.pbf", maps / "andorra.osm.pbf")
    data = tmp_path_factory.mktemp("emsync-admin")
    with start_server(data, {"EMSYNC_MAP_IMPORT_DIR": str(maps)}) as running:
        yield running


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _tab(page: Page, name: str) -> None:
    tabs = page.get_by_role("navigation", name="Administration")
    tabs.get_by_role("link", name=name, exact=True).click()


def _seed(api: httpx.Client) -> dict[str, Any]:
    hospital = _ok(
        api.post("/api/hospitals", json={"name": "E2E General", "lat": 60.17, "lon": 24.94})
    )
    incident = _ok(
        api.post(
            "/api/incidents",
            json={
                "chief_complaint": "Breathless, known COPD",
                "priority": 2,
                "address": "Aleksanterinkatu 20",
                "lat": 60.1691,
                "lon": 24.9469,
            },
        )
    )
    patient = _ok(
        api.post(
            f"/api/incidents/{incident['id']}/patients", json={"label": "P1", "name": "Eila Koski"}
        )
    )
    unit = _ok(
        api.post(
            "/api/units",
            json={
                "call_sign": "E2E-7",
                "unit_type": "ALS",
                "station_lat": 60.17,
                "station_lon": 24.94,
            },
        )
    )
    return {"hospital": hospital, "incident": incident, "patient": patient, "unit": unit}


def test_the_admin_walk(server: Server, browser: Browser, api: httpx.Client, shots: Path) -> None:
    seeded = _seed(api)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the "revoke?" confirmations
    page.goto(f"{server.base}/admin")
    page.get_by_label("Username").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)
    expect(page).to_have_url(re.compile("/admin/places$"))
    assert_accessible(page, "admin: stations & hospitals")

    # 1. A person with a role; then the role changed and the account disabled.
    _tab(page, "People & roles")
    form = page.get_by_role("form", name="New person")
    form.get_by_label("Username").fill("coord.e2e")
    form.get_by_label("Initial password").fill("coordinator-password-e2e-1")
    form.get_by_label("Role").select_option("hospital_coordinator")
    form.get_by_label("Hospital (hospital staff)").select_option(label="E2E General")
    form.get_by_role("button", name="Create account").click()
    row = page.get_by_test_id("user-coord.e2e")
    expect(row).to_contain_text("E2E General", timeout=TIMEOUT_MS)
    expect(row.get_by_label("Role of coord.e2e")).to_have_value("hospital_coordinator")
    login = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": "coord.e2e", "password": "coordinator-password-e2e-1"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert login.json()["role"] == "hospital_coordinator"
    row.get_by_label("Role of coord.e2e").select_option("dispatcher")
    expect(page.get_by_text("coord.e2e is now dispatcher")).to_be_visible()
    row.get_by_role("button", name="Disable coord.e2e").click()
    expect(row).to_contain_text("disabled", timeout=TIMEOUT_MS)
    refused = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": "coord.e2e", "password": "coordinator-password-e2e-1"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert refused.status_code == 401
    # A crew member's account names the ambulance the crew view acts for.
    form.get_by_label("Username").fill("medic.e2e")
    form.get_by_label("Initial password").fill("crew-member-password-e2e-1")
    form.get_by_label("Role").select_option("crew")
    form.get_by_label("Unit (the ambulance this crew member works on)").select_option(label="E2E-7")
    form.get_by_role("button", name="Create account").click()
    crew_row = page.get_by_test_id("user-medic.e2e")
    expect(crew_row.get_by_label("Unit of medic.e2e")).to_have_value(
        seeded["unit"]["id"], timeout=TIMEOUT_MS
    )
    crew_token = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": "medic.e2e", "password": "crew-member-password-e2e-1"},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    assignment = httpx.get(
        f"{server.base}/api/crew/assignment",
        headers={"Authorization": f"Bearer {crew_token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert assignment.json()["unit"]["call_sign"] == "E2E-7", assignment.text
    assert_accessible(page, "admin: people")
    _shot(page, shots, "01-people")

    # 2. An API key: its secret shown once, it works, then it is revoked and stops working.
    _tab(page, "API keys")
    form = page.get_by_role("form", name="New API key")
    form.get_by_label("Name (who or what uses it)").fill("Lab integration")
    form.get_by_label("Role").select_option("integration")
    form.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("once-secret").get_by_test_id("secret-value")
    expect(secret).to_have_text(re.compile(r"^emk_"), timeout=TIMEOUT_MS)
    key = secret.inner_text().strip()
    assert httpx.get(
        f"{server.base}/api/incidents", headers={"X-API-Key": key}, timeout=HTTP_TIMEOUT_S
    ).is_success
    assert_accessible(page, "admin: API keys with a new secret")
    _shot(page, shots, "02-api-key-created")
    page.get_by_role("button", name="I have stored it").click()
    expect(page.get_by_test_id("once-secret")).to_have_count(0)
    page.get_by_role("button", name="Revoke key Lab integration").click()
    expect(page.get_by_test_id("key-Lab integration")).to_contain_text("revoked")
    assert (
        httpx.get(
            f"{server.base}/api/incidents", headers={"X-API-Key": key}, timeout=HTTP_TIMEOUT_S
        ).status_code
        == 401
    )

    # 3. A device: registered (key #1 once), bound to the patient, its key rotated (#2 once).
    _tab(page, "Devices")
    form = page.get_by_role("form", name="Register a device")
    form.get_by_label("Device id (also its MQTT topic)").fill("mon-e2e-1")
    form.get_by_label("Label").fill("Bay 3 monitor")
    form.get_by_role("button", name="Register").click()
    expect(page.get_by_test_id("once-secret")).to_contain_text("Key #1", timeout=TIMEOUT_MS)
    first_key = page.get_by_test_id("secret-value").inner_text().strip()
    page.get_by_role("button", name="I have stored it").click()
    device = page.get_by_test_id("device-mon-e2e-1")
    device.get_by_role("button", name="Bind mon-e2e-1 to a patient").click()
    bind = page.get_by_role("form", name="Bind mon-e2e-1")
    bind.get_by_label("Incident").select_option(seeded["incident"]["id"])
    bind.get_by_label("Patient").select_option(seeded["patient"]["id"])
    bind.get_by_role("button", name="Bind").click()
    expect(device).to_contain_text("P1 (Eila Koski)", timeout=TIMEOUT_MS)
    device.get_by_role("button", name="Rotate key of mon-e2e-1").click()
    once = page.get_by_test_id("once-secret")
    expect(once).to_contain_text("Key #2", timeout=TIMEOUT_MS)
    rotated_key = once.get_by_test_id("secret-value").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{32,64}", rotated_key)
    assert rotated_key != first_key
    expect(device).to_contain_text("#1 accepted until")  # the old key's grace period
    stored = _ok(api.get("/api/telemetry/devices/mon-e2e-1"))
    assert stored["active_key_id"] == 2
    assert stored["patient_id"] == seeded["patient"]["id"]
    assert_accessible(page, "admin: devices with a rotated key")
    _shot(page, shots, "03-device-key-rotated")
    page.get_by_role("button", name="I have stored it").click()

    # 4. A hospital's capabilities.
    _tab(page, "Hospitals")
    page.get_by_role("button", name="Edit E2E General").click()
    edit = page.get_by_role("form", name="Edit E2E General")
    edit.get_by_label("Stroke centre").check()
    edit.get_by_label("PCI lab (STEMI)").check()
    edit.get_by_label("Trauma level").select_option("2")
    edit.get_by_label("ED beds free").fill("7")
    edit.get_by_role("button", name="Save hospital").click()
    expect(page.get_by_test_id("hospital-E2E General")).to_contain_text(
        re.compile("stroke centre.*pci|pci.*stroke centre", re.I), timeout=TIMEOUT_MS
    )
    saved = _ok(api.get(f"/api/hospitals/{seeded['hospital']['id']}"))
    assert (saved["stroke_centre"], saved["pci"], saved["trauma_level"]) == (True, True, 2)
    assert saved["ed_beds_available"] == 7
    assert_accessible(page, "admin: hospitals")
    _shot(page, shots, "04-hospital-capabilities")

    _tab(page, "Units & stations")
    expect(page.get_by_role("heading", name=re.compile(r"Units \("))).to_be_visible()
    assert_accessible(page, "admin: units")

    # 5. The road map: which one, and another imported from the map directory with progress.
    _tab(page, "Road map")
    expect(page.get_by_test_id("map-info")).to_contain_text("helsinki", timeout=TIMEOUT_MS)
    assert_accessible(page, "admin: road map")
    page.get_by_label("Map file").select_option("andorra.osm.pbf")
    page.get_by_role("button", name="Import and switch").click()
    imports = page.get_by_test_id("map-imports")
    expect(imports).to_contain_text("andorra.osm.pbf", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("map-info")).to_contain_text("andorra", timeout=IMPORT_TIMEOUT_MS)
    expect(imports).to_contain_text("Now routing on this map")
    assert _ok(api.get("/api/map"))["region"] == "andorra"
    _shot(page, shots, "05-road-map-imported")

    # 6. The audit log: who did what by name, and the chain verified.
    _tab(page, "Audit log")
    log = page.get_by_test_id("audit")
    expect(log).to_contain_text("map import finished", timeout=TIMEOUT_MS)
    expect(log).to_contain_text("POST /api/telemetry/devices/{device_id}/keys/rotate")
    rotate_row = log.get_by_role("row").filter(has_text="keys/rotate")
    expect(rotate_row.get_by_role("cell", name=ADMIN[0], exact=True)).to_be_visible()
    page.get_by_label("Action contains").fill("api-keys")
    expect(log.get_by_role("row")).to_have_count(3)  # header, create, revoke
    page.get_by_role("button", name="Verify chain").click()
    expect(page.get_by_test_id("chain-verdict")).to_contain_text(
        re.compile(r"Chain intact: \d+ entries verified"), timeout=TIMEOUT_MS
    )
    assert_accessible(page, "admin: audit log")
    _shot(page, shots, "06-audit-verified")
    context.close()
