"""The ambulance crew's phone (issue #23 item 3), against a real `emsync serve`, real MQTT and
headless Chromium at phone size: the crew member logs in, sees the unit's call with the route and
ETA, taps through its statuses, loses the network, keeps working (transporting, the handoff with the
monitor's signs, a wound photo) and, when the network is back, everything is sent in order and
applied once — also the tap whose answer was lost on the way back. Then the hospital sees the
photo on the handoff card. A second, short walk checks the installable, offline app shell.
Screenshots under var/e2e-screenshots/crew/."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.e2e.conftest import HTTP_TIMEOUT_S, Server
from tests.e2e.test_dashboard import TIMEOUT_MS, _api, _login, _ok
from tests.e2e.test_paediatric_and_artefacts import _device, _publish

pytestmark = pytest.mark.e2e
CREW = ("medic-anna", "e2e-crew-password-123")
NURSE = ("ed-nurse-crew", "e2e-ed-nurse-password-123")
LIVE_CREW = ("medic-live", "e2e-crew-live-password-123")


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    client = _api(server)
    yield client
    client.close()


def _phone(browser: Browser, *, workers: bool) -> BrowserContext:
    """A phone-sized touch screen (390 x 844 CSS pixels)."""
    return browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        service_workers="allow" if workers else "block",
    )


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _wound_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 50)).save(out, format="PNG")
    return out.getvalue()


def _scene(api: httpx.Client, server: Server) -> dict[str, Any]:
    """A hospital that can receive handoffs, a unit assigned to a chest-pain call, and the
    patient's monitor streaming two sets of vitals."""
    west, south, east, north = _ok(api.get("/api/map"))["bbox"]
    hospital = _ok(
        api.post(
            "/api/hospitals",
            json={
                "name": "Crew General",
                "lat": south + (north - south) * 0.8,
                "lon": west + (east - west) * 0.75,
                "ed_beds_available": 4,
                "pci": True,
            },
        )
    )
    _ok(api.post(f"/api/handoffs/hospital-keys/{hospital['id']}"))
    unit = _ok(
        api.post(
            "/api/units",
            json={
                "call_sign": "CREW-1",
                "unit_type": "ALS",
                "station_lat": south + (north - south) * 0.25,
                "station_lon": west + (east - west) * 0.3,
            },
        )
    )
    incident = _ok(
        api.post(
            "/api/incidents",
            json={
                "chief_complaint": "Chest pain, sweating",
                "priority": 2,
                "address": "Mannerheimintie 5, Helsinki",
                "lat": (south + north) / 2,
                "lon": (west + east) / 2,
                "patients": [{"age_years": 64, "sex": "male"}],
            },
        )
    )
    assign = f"/api/dispatch/incidents/{incident['id']}/assign"
    _ok(api.post(assign, json={"unit_id": unit["id"]}))
    # The crew member's account belongs to the unit (an administrator sets it).
    for user, role, extra in (
        (CREW, "crew", {"unit_id": unit["id"]}),
        (NURSE, "clinician", {"hospital_id": hospital["id"]}),
    ):
        _ok(
            api.post(
                "/api/users", json={"username": user[0], "password": user[1], "role": role, **extra}
            )
        )
    patient_id = incident["patients"][0]["id"]
    key, _ = _device(api, "crew-monitor-1", patient_id)
    now = datetime.now(UTC)
    readings = [
        {"ts": (now - timedelta(minutes=m)).isoformat(), "hr": hr, "spo2": spo2, "rr": rr,
         "sbp": sbp, "dbp": dbp}
        for m, hr, spo2, rr, sbp, dbp in ((4, 112, 93, 22, 142, 88), (2, 108, 95, 20, 138, 84))
    ]  # fmt: skip
    _publish(server, [("crew-monitor-1", key, n, r) for n, r in enumerate(readings, start=1)])
    deadline = time.monotonic() + 60
    while _latest_hr(api, patient_id) != 108:
        assert time.monotonic() < deadline, "the monitor's readings never arrived"
        time.sleep(0.2)
    return {"hospital": hospital, "unit": unit, "incident": incident, "monitor_key": key}


def _latest_hr(api: httpx.Client, patient_id: str) -> float | None:
    response = api.get(f"/api/telemetry/patients/{patient_id}/vitals/latest")
    hr = response.json().get("values", {}).get("hr") if response.is_success else None
    return None if hr is None else float(hr["value"])


def _tap(page: Page, name: str) -> None:
    page.get_by_test_id("status-keys").get_by_role("button", name=name, exact=True).click()


def _sent(page: Page) -> None:
    """Wait until the queue has sent everything (its panel goes)."""
    expect(page.get_by_test_id("crew-queue")).to_have_count(0, timeout=TIMEOUT_MS)


def test_the_crew_takes_a_call_offline_and_it_syncs_once(
    server: Server, browser: Browser, api: httpx.Client, shots: Path
) -> None:
    scene = _scene(api, server)
    incident_id = scene["incident"]["id"]
    # Service workers off in this walk: Playwright's routing (the lost answer below) does not
    # see requests a worker handles. The worker has its own walk at the end of this file.
    context = _phone(browser, workers=False)
    page = context.new_page()
    _login(page, server.base, "/crew", CREW)

    # The unit's call, its address, route and ETA.
    expect(page.get_by_test_id("crew-status")).to_have_text("dispatched", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("crew-address")).to_have_text("Mannerheimintie 5, Helsinki")
    expect(page.get_by_test_id("crew-eta")).to_contain_text(re.compile(r"ETA .* km to the scene"))
    _tap(page, "En route")
    expect(page.get_by_test_id("crew-status")).to_have_text("en route")
    _tap(page, "On scene")
    expect(page.get_by_test_id("crew-status")).to_have_text("on scene")
    _sent(page)

    # The destination for the patient's condition, and the crew's choice.
    destination = page.get_by_test_id("crew-destination")
    expect(destination).to_contain_text("Crew General", timeout=TIMEOUT_MS)
    destination.get_by_role("radio", name=re.compile("Crew General")).check()
    page.get_by_role("button", name="Draft handoff to Crew General").click()
    # The monitor's two sets are in the draft already.
    signs = page.get_by_test_id("recorded-signs")
    expect(signs).to_contain_text("monitor", timeout=TIMEOUT_MS)
    expect(signs).to_contain_text("HR 108/min")
    expect(signs.locator("li")).to_have_count(2)
    # A newer reading arrives; the crew pulls it into the draft.
    newer = {"ts": (datetime.now(UTC) - timedelta(seconds=30)).isoformat(), "hr": 104, "spo2": 96}
    _publish(server, [("crew-monitor-1", scene["monitor_key"], 3, newer)])
    deadline = time.monotonic() + 60
    while _latest_hr(api, scene["incident"]["patients"][0]["id"]) != 104:
        assert time.monotonic() < deadline, "the newer reading never arrived"
        time.sleep(0.2)
    page.get_by_role(
        "button", name="Add the monitor's newest signs (save your edits first)"
    ).click()
    expect(page.get_by_test_id("recorded-signs").locator("li")).to_have_count(3, timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("recorded-signs")).to_contain_text("HR 104/min")
    page.wait_for_timeout(500)  # let the basemap tiles draw before the picture
    _shot(page, shots, "01-crew-on-scene")

    # The network goes: the crew keeps working.
    context.set_offline(True)
    expect(page.get_by_test_id("crew-network")).to_contain_text("Offline", timeout=TIMEOUT_MS)
    _tap(page, "Transporting")
    expect(page.get_by_test_id("crew-status")).to_have_text("transporting")
    # The route on screen is still the leg to the scene: it says since when, and why.
    expect(page.get_by_test_id("crew-eta")).to_contain_text("to the scene")
    expect(page.get_by_test_id("crew-route-stale")).to_contain_text(
        re.compile(r"Route and ETA as of \d\d:\d\d: no network")
    )
    form = page.get_by_role("form", name="Handoff draft")
    form.get_by_label("Acuity (KTAS)").select_option("2")
    form.get_by_label("Onset unknown").check()
    form.get_by_label("I — Injuries / illness found (one per line)").fill("Chest pain\nSweating")
    form.get_by_label("No treatment given").check()
    form.get_by_label("Allergies (one per line, with the reaction)").fill("aspirin (wheeze)")
    form.get_by_label("Notes (social situation, anything else the ED must know)").fill(
        "Wife on her way."
    )
    form.get_by_label("Arrives in (minutes)").fill("9")
    form.get_by_role("button", name="Send to hospital").click()
    # The send is queued after the save (one click, two queued actions): wait for both before
    # the photo, so the queue's order is the crew's.
    expect(page.get_by_test_id("queue-pending").locator("li")).to_have_count(3, timeout=TIMEOUT_MS)
    page.locator("input[name=photo]").set_input_files(
        {"name": "wound.png", "mimeType": "image/png", "buffer": _wound_photo()}
    )
    pending = page.get_by_test_id("queue-pending").locator("li")
    expect(pending).to_have_count(4)
    expect(pending.nth(0)).to_contain_text("Transporting to Crew General")
    expect(pending.nth(1)).to_contain_text("Save handoff")
    expect(pending.nth(2)).to_contain_text("Send handoff")
    expect(pending.nth(3)).to_contain_text("Photo wound.png")
    expect(page.get_by_test_id("crew-network")).to_contain_text("Offline · 4 waiting")
    expect(page.get_by_test_id("attachment-pending")).to_contain_text("waiting to send")
    expect(page.get_by_test_id("handoff-queued")).to_be_visible()
    _shot(page, shots, "02-crew-offline-queue")
    unit_now = _ok(api.get(f"/api/units/{scene['unit']['id']}"))
    assert unit_now["status"] == "on_scene"  # nothing reached the server

    # Back online. The first answer is lost on its way back (the server applied the tap): the
    # queue sends it again with the same key and gets the kept answer, not a second move.
    lost: list[str] = []

    def lose_first_answer(route: Route) -> None:
        if not lost:
            lost.append(route.request.headers.get("idempotency-key", ""))
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/crew/status", lose_first_answer)
    context.set_offline(False)
    _sent(page)
    expect(page.get_by_test_id("crew-network")).to_have_text("Online")
    expect(page.get_by_test_id("attachment-sent")).to_contain_text("wound.png")
    expect(page.get_by_test_id("handoff-queued")).to_have_count(0)
    expect(page.get_by_test_id("crew-eta")).to_contain_text("to the hospital", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("crew-route-stale")).to_have_count(0)
    page.wait_for_timeout(500)  # the new leg's map tiles
    assert lost
    assert lost[0]
    _shot(page, shots, "03-crew-synced")

    # The server applied each action once, in order.
    unit = _ok(api.get(f"/api/units/{scene['unit']['id']}"))
    assert unit["status"] == "transporting"
    assert unit["hospital_id"] == scene["hospital"]["id"]
    timeline = _ok(api.get(f"/api/incidents/{incident_id}/timeline"))
    moves = [e["data"]["new"] for e in timeline if e["kind"] == "status_changed"]
    assert moves.count("transporting") == 1, timeline
    assert moves.count("on_scene") == 1, timeline
    handoffs = _ok(api.get(f"/api/handoffs?incident_id={incident_id}"))["items"]
    assert len(handoffs) == 1
    assert handoffs[0]["status"] in {"sent", "delivered"}
    nurse = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": NURSE[0], "password": NURSE[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    opened = _ok(
        api.get(f"/api/handoffs/{handoffs[0]['id']}", headers={"Authorization": f"Bearer {nurse}"})
    )
    assert [a["name"] for a in opened["attachments"]] == ["wound.png"]
    assert opened["acuity"] == 2
    assert opened["picture"]["notes"][0]["text"] == "Wife on her way."
    assert opened["picture"]["allergies"] == ["aspirin (wheeze)"]
    assert [s["source"] for s in opened["picture"]["signs"]] == ["telemetry"] * 3
    context.close()

    # The hospital's card shows the photo, fetched with the nurse's token.
    desk = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    _login(desk, server.base, "/hospital", NURSE)
    card = desk.get_by_test_id("handoff-card").filter(has_text="Wife on her way.")
    expect(card.get_by_test_id("handoff-attachments")).to_contain_text(
        "wound.png", timeout=TIMEOUT_MS
    )
    thumb = card.get_by_test_id("attachment").locator("img")
    expect(thumb).to_have_attribute("src", re.compile("^blob:"))
    assert thumb.evaluate("img => img.naturalWidth") == 64
    _shot(desk, shots, "04-hospital-card-photo")
    desk.context.close()


def test_a_new_call_reaches_the_crew_screen_live(
    browser: Browser, server: Server, api: httpx.Client, shots: Path
) -> None:
    """The dispatcher assigns the unit: the crew's screen shows the call from the push on its
    unit's channel, without a reload and without asking for the assignment again (the poll runs
    only while the live connection is down)."""
    west, south, east, north = _ok(api.get("/api/map"))["bbox"]
    unit = _ok(
        api.post(
            "/api/units",
            json={
                "call_sign": "CREW-LIVE",
                "unit_type": "ALS",
                "station_lat": south + (north - south) * 0.3,
                "station_lon": west + (east - west) * 0.35,
            },
        )
    )
    user = {"username": LIVE_CREW[0], "password": LIVE_CREW[1], "role": "crew"}
    _ok(api.post("/api/users", json={**user, "unit_id": unit["id"]}))
    dispatcher = ("dispatcher-live", "e2e-dispatcher-password-123")
    _ok(
        api.post(
            "/api/users",
            json={"username": dispatcher[0], "password": dispatcher[1], "role": "dispatcher"},
        )
    )
    context = _phone(browser, workers=False)
    page = context.new_page()
    _login(page, server.base, "/crew", LIVE_CREW)
    expect(page.get_by_test_id("no-call")).to_be_visible(timeout=TIMEOUT_MS)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/crew/assignment" in r.url else None)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    token = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": dispatcher[0], "password": dispatcher[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    desk = {"Authorization": f"Bearer {token}"}
    incident = _ok(
        api.post(
            "/api/incidents",
            json={
                "chief_complaint": "Fall from a ladder, leg pain",
                "priority": 3,
                "address": "Aleksanterinkatu 20, Helsinki",
                "lat": (south + north) / 2,
                "lon": (west + east) / 2,
                "patients": [{"age_years": 51, "sex": "female"}],
            },
            headers=desk,
        )
    )
    assign = f"/api/dispatch/incidents/{incident['id']}/assign"
    _ok(api.post(assign, json={"unit_id": unit["id"]}, headers=desk))

    expect(page.get_by_test_id("crew-address")).to_have_text(
        "Aleksanterinkatu 20, Helsinki", timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id("crew-status")).to_have_text("dispatched")
    expect(page.get_by_test_id("crew-eta")).to_contain_text(re.compile(r"ETA .* km to the scene"))
    # A change to the call arrives the same way.
    moved = {"address": "Aleksanterinkatu 22, Helsinki"}
    _ok(api.patch(f"/api/incidents/{incident['id']}", json=moved, headers=desk))
    expect(page.get_by_test_id("crew-address")).to_have_text(
        "Aleksanterinkatu 22, Helsinki", timeout=TIMEOUT_MS
    )
    page.wait_for_timeout(500)  # let the basemap tiles draw before the picture
    _shot(page, shots, "05-crew-new-call-live")
    assert asked == [], asked  # shown from the push, not fetched
    assert navigations == [], navigations  # no reload
    context.close()


def test_the_app_is_installable_and_opens_offline(server: Server, browser: Browser) -> None:
    context = _phone(browser, workers=True)
    page = context.new_page()
    page.goto(f"{server.base}/")
    manifest = page.evaluate(
        "async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json()"
    )
    assert manifest["display"] == "standalone"
    assert {"192x192", "512x512"} <= {i["sizes"] for i in manifest["icons"]}
    # The worker takes control once it has cached the app shell.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=TIMEOUT_MS)
    cdp = context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito profiles, where Chrome never offers to install; any
    # other error is the app's (manifest, icons, worker).
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == [], errors
    context.set_offline(True)
    page.reload()
    expect(page.get_by_label("Username")).to_be_visible(timeout=TIMEOUT_MS)
    context.close()
