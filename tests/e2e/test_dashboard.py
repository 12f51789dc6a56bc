"""The dashboard end to end: a real browser against a real EMsync, one call's course through
every view (login, incident, triage, recommendation, assignment, live vitals, handoff)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN, HTTP_TIMEOUT_S, Server

pytestmark = pytest.mark.e2e

COORDINATOR = ("coord.e2e", "coordinator-password-123")
TIMEOUT_MS = 30_000


def _api(server: Server) -> httpx.Client:
    token = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    return httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


def _login(page: Page, base: str, path: str, user: tuple[str, str]) -> None:
    page.goto(f"{base}{path}")  # a deep link: the SPA answers it and shows the login first
    page.get_by_label("Username").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_call_from_login_to_handoff(
    server: Server, browser: Browser, screenshots: Path, request: pytest.FixtureRequest
) -> None:
    api = _api(server)
    request.addfinalizer(api.close)
    west, south, east, north = _ok(api.get("/api/map"))["bbox"]
    mid_lat, mid_lon = (south + north) / 2, (west + east) / 2
    hospital = _ok(
        api.post(
            "/api/hospitals",
            json={
                "name": "E2E General",
                "lat": south + (north - south) * 0.8,
                "lon": west + (east - west) * 0.8,
                "ed_beds_available": 6,
                "pci": True,
                "stroke_centre": True,
            },
        )
    )
    for i, (fx, fy) in enumerate([(0.2, 0.3), (0.7, 0.25)], start=1):
        _ok(
            api.post(
                "/api/units",
                json={
                    "call_sign": f"E2E-{i}",
                    "unit_type": "ALS",
                    "station_lat": south + (north - south) * fy,
                    "station_lon": west + (east - west) * fx,
                },
            )
        )
    _ok(
        api.post(
            "/api/users",
            json={
                "username": COORDINATOR[0],
                "password": COORDINATOR[1],
                "role": "hospital_coordinator",
                "hospital_id": hospital["id"],
            },
        )
    )

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()

    # 1. Log in (deep link), and the load time by the Performance API (printed, not asserted).
    _login(page, server.base, "/dispatch", ADMIN)
    expect(page.get_by_role("link", name="Dispatch")).to_be_visible()
    timing = page.evaluate(
        """() => {
        const n = performance.getEntriesByType('navigation')[0];
        return {dom_content_loaded_ms: Math.round(n.domContentLoadedEventEnd),
                load_ms: Math.round(n.loadEventEnd)};
    }"""
    )
    # A reload of the board while logged in: the document, then the map and the live link.
    page.reload()
    expect(page.get_by_test_id("map")).to_be_visible()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)
    timing["dispatch_reload_live_ms"] = round(page.evaluate("() => performance.now()"))
    print(json.dumps({"e2e_dashboard_load": timing}))

    # 2. Create an incident from the dispatcher board.
    page.get_by_role("button", name="New incident").click()
    page.get_by_label("Chief complaint").fill("Chest pain, sweating")
    page.get_by_label("Priority (1 most urgent)").select_option("2")
    page.get_by_label("Latitude").fill(f"{mid_lat:.6f}")
    page.get_by_label("Longitude").fill(f"{mid_lon:.6f}")
    page.get_by_role("button", name="Create incident").click()
    queue = page.get_by_test_id("incident-queue")
    expect(queue).to_contain_text("Chest pain, sweating", timeout=TIMEOUT_MS)
    incident_id = page.url.rsplit("/", 1)[-1]

    # 3. The ranked recommendation, with ETAs and reasons.
    recs = page.get_by_test_id("unit-recs")
    expect(recs).to_contain_text("E2E-", timeout=TIMEOUT_MS)
    expect(recs).to_contain_text("ETA")
    expect(page.get_by_test_id("hospital-recs")).to_contain_text("E2E General")
    page.wait_for_timeout(800)  # let the roads and the route line draw before the picture
    _shot(page, screenshots, "01-dispatch-recommendation")

    # 4. Triage it (the assessment is the triage API's; saving writes the incident).
    page.get_by_role("link", name="Triage this incident").click()
    page.get_by_label("Age (years)").fill("64")
    page.get_by_label("Sex").select_option("male")  # no preset: the form asks
    page.get_by_label("Heart rate (/min)").fill("118")
    page.get_by_label("Respiratory rate (/min)").fill("24")
    page.get_by_label("SpO₂ (%)").fill("92")
    page.get_by_label("Systolic BP (mmHg)").fill("96")
    page.get_by_label("Diastolic BP (mmHg)").fill("60")
    page.get_by_label("Temperature (°C)").fill("37.2")
    page.get_by_role("button", name="Assess").click()
    result = page.get_by_test_id("triage-result").or_(page.get_by_test_id("triage-message"))
    expect(result).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("triage-result")).to_contain_text("KTAS")
    expect(page.get_by_test_id("triage-result")).to_contain_text("NEWS2")
    page.get_by_role("button", name=re.compile("Save to incident")).click()
    expect(page.get_by_test_id("triage-message")).to_contain_text("Saved")
    _shot(page, screenshots, "02-triage")

    # 5. Assign the top-ranked unit in one action; the incident moves to dispatched.
    page.get_by_role("link", name="Dispatch").click()
    page.get_by_test_id("incident-queue").get_by_role(
        "button", name=re.compile("Chest pain")
    ).click()
    page.get_by_role("button", name=re.compile(r"^Assign E2E-")).click()
    expect(page.get_by_test_id("assign-message")).to_contain_text("assigned", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("incident-panel")).to_contain_text("dispatched", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("units")).to_contain_text("dispatched")
    page.wait_for_timeout(800)
    _shot(page, screenshots, "03-dispatch-assigned")

    # 6. Live vitals: the simulator provisions patients and devices and publishes over MQTT.
    devices = screenshots.parent / "e2e-sim-devices.json"
    devices.unlink(missing_ok=True)
    sim_log = (screenshots.parent / "e2e-simulate.log").open("w")
    sim = subprocess.Popen(
        [
            sys.executable, "-m", "emsync", "simulate", "--provision", "--patients", "2",
            "--rate", "2", "--duration", "60", "--api", server.base, "--username", ADMIN[0],
            "--password", ADMIN[1], "--devices", str(devices), "--port", str(server.mqtt_port),
            "--host", "127.0.0.1", "--scenario", "sepsis", "--scenario", "hypoxia",
        ],
        env=server.env, stdout=sim_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        page.get_by_role("link", name="Patient monitor").click()
        tile = page.get_by_test_id("vital-tile").filter(has_text="SIM1").first
        expect(tile.get_by_test_id("band")).to_contain_text("NEWS2", timeout=TIMEOUT_MS)
        first = tile.locator(".vitals").inner_text()
        expect(tile.locator(".vitals")).not_to_have_text(first, timeout=TIMEOUT_MS)
        expect(tile).to_have_class(re.compile(r"band-(low|low-medium|medium|high)"))
        page.wait_for_timeout(1500)
        _shot(page, screenshots, "04-monitor-live")
        tile.get_by_role("button", name="History").click()
        expect(page.locator(".chart canvas").first).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Last 15 min").click()
        page.wait_for_timeout(800)
        _shot(page, screenshots, "05-monitor-history")
    finally:
        sim.terminate()
        sim.wait(timeout=15)
        sim_log.close()

    # 7. A handoff sent by the crew, acknowledged in the hospital view by its coordinator.
    api.post(f"/api/handoffs/hospital-keys/{hospital['id']}")
    now = datetime.now(UTC)
    created = _ok(
        api.post(
            "/api/handoffs",
            json={
                "incident_id": incident_id,
                "hospital_id": hospital["id"],
                "unit_id": "E2E-1",
                "eta": (now + timedelta(minutes=9)).isoformat(),
                "acuity": 2,
                "crew": ["Paramedic E2E"],
                "content": {
                    "patient": {"age_years": 64, "sex": "male"},
                    "time_of_onset": (now - timedelta(minutes=40)).isoformat(),
                    "mechanism": "Chest pain at rest, sweating",
                    "injuries": ["Suspected STEMI, anterior leads"],
                    "signs": [
                        {"ts": now.isoformat(), "hr": 118, "spo2": 92, "rr": 24, "sbp": 96,
                         "dbp": 60, "temp": 37.2, "avpu": "A"},
                    ],
                    "treatment": [{"kind": "medication", "name": "aspirin", "dose_value": 300,
                                   "dose_unit": "mg", "route": "oral"}],
                },
            },
        )
    )  # fmt: skip
    _ok(api.post(f"/api/handoffs/{created['id']}/send"))

    hospital_page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    _login(hospital_page, server.base, "/hospital", COORDINATOR)
    cards = hospital_page.get_by_test_id("handoffs")
    expect(cards).to_contain_text("KTAS 2", timeout=TIMEOUT_MS)
    expect(cards).to_contain_text("Arrives in")
    expect(cards).to_contain_text("Suspected STEMI")
    expect(hospital_page.get_by_label("ED beds free")).to_be_visible()
    expect(hospital_page.get_by_role("button", name="Go on diversion")).to_be_visible()
    _shot(hospital_page, screenshots, "06-hospital-incoming")
    cards.get_by_role("button", name="Acknowledge").click()
    expect(cards).to_contain_text("acknowledged", timeout=TIMEOUT_MS)
    expect(cards.get_by_role("button", name="Patient arrived")).to_be_visible()
    _shot(hospital_page, screenshots, "07-hospital-acknowledged")

    # The navigation shows what the role may do: no dispatch board for the coordinator.
    expect(hospital_page.get_by_role("link", name="Dispatch")).to_be_visible()
    expect(hospital_page.get_by_role("link", name="Triage")).to_have_count(0)

    # 8. Keyboard only: Tab reaches the navigation with a visible focus ring; logout works.
    hospital_page.keyboard.press("Tab")
    hospital_page.keyboard.press("Tab")
    hospital_page.keyboard.press("Tab")
    focused = hospital_page.evaluate("() => document.activeElement?.tagName")
    assert focused in {"A", "BUTTON"}
    hospital_page.get_by_role("button", name="Log out").click()
    expect(hospital_page.get_by_role("button", name="Sign in")).to_be_visible()
    hospital_page.context.close()
    context.close()


# The latency probe runs inside the page: it issues the API call with `fetch`, and a
# MutationObserver stamps `performance.now()` when the watched element first shows the new text,
# so both times are on the page's clock. "After response" is DOM time minus the time the API
# call's response body was in hand; that path is the server's commit → WebSocket push → the
# view's refetch → React render. DOM mutation time, not paint.
_LATENCY_PROBE = """async ({token, selector, steps}) => {
  const shows = (text) =>
    [...document.querySelectorAll(selector)].some((el) => (el.textContent ?? '').includes(text));
  const out = [];
  for (const step of steps) {
    let seen = null;
    let done;
    const arrived = new Promise((resolve) => { done = resolve; });
    const observer = new MutationObserver(() => {
      if (seen === null && shows(step.expect)) { seen = performance.now(); done(); }
    });
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
    const t0 = performance.now();
    const response = await fetch(step.url, {
      method: step.method,
      headers: {'Authorization': `Bearer ${token}`, 'Content-Type': 'application/json'},
      body: JSON.stringify(step.body),
    });
    await response.text();
    const t1 = performance.now();
    await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 5000))]);
    observer.disconnect();
    out.push({status: response.status, request_ms: t1 - t0,
              after_response_ms: seen === null ? null : seen - t1});
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return out;
}"""


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)

    return {
        "min": round(ordered[0], 1),
        "p50": at(0.5),
        "p95": at(0.95),
        "max": round(ordered[-1], 1),
        "n": len(ordered),
    }


def test_live_update_latency(
    server: Server, browser: Browser, request: pytest.FixtureRequest
) -> None:
    """Issue 5 item 6 ("within 100 ms of the server event"), measured and printed, not asserted:
    a unit's status and an incident's complaint changed through the API, seen on an open board."""
    api = _api(server)
    request.addfinalizer(api.close)
    token = api.headers["Authorization"].removeprefix("Bearer ")
    west, south, east, north = _ok(api.get("/api/map"))["bbox"]
    unit = _ok(
        api.post(
            "/api/units",
            json={
                "call_sign": "LIVE-1",
                "unit_type": "BLS",
                "station_lat": (south + north) / 2,
                "station_lon": west + (east - west) * 0.1,
            },
        )
    )
    incident = _ok(
        api.post(
            "/api/incidents",
            json={
                "chief_complaint": "Live probe start",
                "priority": 4,
                "lat": (south + north) / 2,
                "lon": (west + east) / 2,
            },
        )
    )
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    request.addfinalizer(context.close)
    page = context.new_page()
    _login(page, server.base, "/dispatch", ADMIN)
    expect(page.get_by_test_id("units")).to_contain_text("LIVE-1 available", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("incident-queue")).to_contain_text("Live probe start")

    rounds = 20
    unit_steps = [
        {
            "method": "POST",
            "url": f"/api/units/{unit['id']}/status",
            "body": {"status": status},
            "expect": f"LIVE-1 {status.replace('_', ' ')}",
        }
        for status in ["out_of_service", "available"] * (rounds // 2)
    ]
    incident_steps = [
        {
            "method": "PATCH",
            "url": f"/api/incidents/{incident['id']}",
            "body": {"chief_complaint": f"Live probe {i:02d}"},
            "expect": f"Live probe {i:02d}",
        }
        for i in range(rounds)
    ]
    results: dict[str, Any] = {}
    for name, selector, steps in [
        ("unit_status", '[data-testid="units"] li', unit_steps),
        ("incident_queue", '[data-testid="incident-queue"] li', incident_steps),
    ]:
        samples = page.evaluate(
            _LATENCY_PROBE, {"token": token, "selector": selector, "steps": steps}
        )
        assert [s["status"] for s in samples] == [200] * rounds, samples
        missed = [i for i, s in enumerate(samples) if s["after_response_ms"] is None]
        assert not missed, f"{name}: rounds {missed} never reached the DOM within 5 s"
        results[name] = {
            "after_response": _percentiles([s["after_response_ms"] for s in samples]),
            "request": _percentiles([s["request_ms"] for s in samples]),
        }
    with open("/proc/loadavg") as f:
        results["loadavg_1m"] = float(f.read().split()[0])
    print(json.dumps({"e2e_live_update_ms": results}))

    # Leave nothing the other tests could pick: the probe unit out of service, the probe cancelled.
    _ok(api.post(f"/api/units/{unit['id']}/status", json={"status": "out_of_service"}))
    _ok(
        api.post(
            f"/api/incidents/{incident['id']}/status",
            json={"status": "cancelled", "reason": "e2e probe"},
        )
    )


def test_keyboard_only_login_and_select_incident(
    server: Server, browser: Browser, request: pytest.FixtureRequest
) -> None:
    """Issue 5 item 6 ("works with keyboard only"): sign in, skip to the content, reach the queue
    and select an incident with Tab/Enter/Space only, with a visible focus ring on the way."""
    api = _api(server)
    request.addfinalizer(api.close)
    west, south, east, north = _ok(api.get("/api/map"))["bbox"]
    incident = _ok(
        api.post(
            "/api/incidents",
            json={
                "chief_complaint": "Keyboard probe fall",
                "priority": 5,
                "lat": (south + north) / 2,
                "lon": (west + east) / 2,
            },
        )
    )
    request.addfinalizer(
        lambda: api.post(
            f"/api/incidents/{incident['id']}/status",
            json={"status": "cancelled", "reason": "e2e probe"},
        )
    )
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    request.addfinalizer(context.close)
    page = context.new_page()
    keys = page.keyboard

    page.goto(f"{server.base}/dispatch")
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus on the login form
    keys.type(ADMIN[0])
    keys.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    keys.type(ADMIN[1])
    keys.press("Enter")
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)
    queue = page.get_by_test_id("incident-queue")
    expect(queue).to_contain_text("Keyboard probe fall", timeout=TIMEOUT_MS)

    keys.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    keys.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    row = queue.get_by_role("button", name=re.compile("Keyboard probe fall"))
    tabs = 0
    while not row.evaluate("el => el === document.activeElement"):
        tabs += 1
        assert tabs <= 40, "40 Tabs from the main content did not reach the incident row"
        keys.press("Tab")
    ring = row.evaluate(
        """el => { const s = getComputedStyle(el);
        return {outline: `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
                boxShadow: s.boxShadow}; }"""
    )
    outline_style, outline_width = ring["outline"].split()[:2]
    has_outline = outline_style != "none" and outline_width != "0px"
    assert has_outline or ring["boxShadow"] != "none", f"no visible focus indicator: {ring}"

    keys.press("Space")
    expect(page).to_have_url(re.compile(f"/dispatch/{incident['id']}$"))
    expect(row).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("incident-panel")).to_contain_text("Keyboard probe fall")
    print(json.dumps({"e2e_keyboard": {"tabs_from_main_to_row": tabs, "focus_ring": ring}}))
