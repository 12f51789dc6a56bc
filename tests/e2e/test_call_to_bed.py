"""Call to bed, entirely from the dashboard (issue 13, "Done when"): an admin sets up the units,
the hospitals and the ED nurse's account on the admin screen; the dispatcher takes the call
(offline address search), triages it, assigns the recommended unit, moves it on scene, records
the stroke findings, chooses the destination the rules recommend (with their reasons), drafts and
completes the handoff (notes, allergy, AVPU, oxygen, timed doses) and sends it; the ED nurse, in
her own browser, sees every one of those on the card and acknowledges; the unit reaches the
hospital, the nurse records arrival and handover, the unit clears and the dispatcher closes the
incident. The API is used only to read back the handoff's FHIR Bundle at the end.

Screenshots of every step: var/e2e-screenshots/call-to-bed/ (not committed). The Bundle:
var/call-to-bed-fhir-bundle.json (gitignored)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.conftest import ADMIN, HTTP_TIMEOUT_S, Server
from tests.e2e.test_dashboard import TIMEOUT_MS, _login

pytestmark = pytest.mark.e2e

NURSE = ("ed.nurse.walk", "ed-nurse-walk-password-123")
STROKE_CENTRE = "Meilahti Stroke Centre"
CLINIC = "Kallio Health Centre"
NOTES = "Lives alone. Allergy: penicillin."
BUNDLE_PATH = Path(__file__).resolve().parents[2] / "var" / "call-to-bed-fhir-bundle.json"


_MAP_SETTLED = """() => !document.querySelector('.leaflet-zoom-anim')
    && document.querySelectorAll('[data-testid=map] .leaflet-tile:not(.leaflet-tile-loaded)')
        .length === 0"""


class Walk:
    """The numbered screenshots of one walk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0

    def shot(self, page: Page, name: str, *, element: Locator | None = None) -> None:
        if page.get_by_test_id("map").count():
            # A settled map, not a frame of its zoom animation with the old tiles scaled up.
            page.wait_for_function(_MAP_SETTLED)
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        if element is not None:
            element.screenshot(path=str(path))
        else:
            page.screenshot(path=str(path), full_page=True)


def _click_map(page: Page, fx: float, fy: float) -> None:
    """A click at a fraction of the map's box (Leaflet turns it into a position)."""
    the_map = page.get_by_test_id("map")
    box = the_map.bounding_box()
    assert box is not None
    the_map.click(position={"x": box["width"] * fx, "y": box["height"] * fy})


def _set_up_from_the_admin_screen(page: Page, walk: Walk) -> None:
    page.get_by_role("link", name="Admin").click()
    # The admin area and its map are loaded on first use (their own bundle): allow the time.
    expect(page.get_by_test_id("map")).to_be_visible(timeout=TIMEOUT_MS)
    units = page.get_by_test_id("admin-units")
    for call_sign, kind, station, (fx, fy) in [
        ("HKI-11", "ALS", "Kamppi", (0.35, 0.45)),
        ("HKI-12", "BLS", "Kruununhaka", (0.8, 0.3)),
    ]:
        form = page.get_by_role("form", name="New unit")
        form.get_by_label("Call sign").fill(call_sign)
        form.get_by_label("Type").select_option(kind)
        form.get_by_label("Station").fill(station)
        form.get_by_label("Crew (comma-separated)").fill("Paramedic Kallio, EMT Nieminen")
        _click_map(page, fx, fy)
        expect(form).not_to_contain_text("click the map")
        form.get_by_role("button", name="Create unit").click()
        expect(form.get_by_role("status")).to_have_text(f"Unit {call_sign} created.")
        expect(units).to_contain_text(call_sign)

    hospitals = page.get_by_test_id("admin-hospitals")
    for name, stroke, (fx, fy) in [(STROKE_CENTRE, True, (0.2, 0.2)), (CLINIC, False, (0.55, 0.6))]:
        form = page.get_by_role("form", name="New hospital")
        form.get_by_label("Name").fill(name)
        form.get_by_label("ED beds free").fill("4")
        if stroke:
            form.get_by_label("Trauma level").select_option("2")
            form.get_by_label("Stroke centre").check()
            form.get_by_label("PCI lab (STEMI)").check()
        _click_map(page, fx, fy)
        form.get_by_role("button", name="Create hospital").click()
        expect(form.get_by_role("status")).to_have_text(f"Hospital {name} created.")
        expect(hospitals).to_contain_text(name)
    expect(hospitals.get_by_role("listitem").filter(has_text=STROKE_CENTRE)).to_contain_text(
        "stroke"
    )

    walk.shot(page, "admin-units-hospitals")

    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="People & roles"
    ).click()
    person = page.get_by_role("form", name="New person")
    person.get_by_label("Username").fill(NURSE[0])
    person.get_by_label("Initial password").fill(NURSE[1])
    person.get_by_label("Role").select_option("clinician")
    person.get_by_label("Hospital (hospital staff)").select_option(label=STROKE_CENTRE)
    person.get_by_role("button", name="Create account").click()
    expect(person.get_by_role("status")).to_have_text(f"{NURSE[0]} can log in now.")
    walk.shot(page, "admin-person")


def _take_the_call(page: Page, walk: Walk) -> str:
    page.get_by_role("link", name="Dispatch").click()
    page.get_by_role("button", name="New incident").click()
    page.get_by_label("Chief complaint").fill("Slurred speech and confused, feverish")
    page.get_by_label("Priority (1 most urgent)").select_option("2")
    page.get_by_role("combobox", name="Address").click()
    page.keyboard.type("aleksanterinkatu 52", delay=30)
    suggestion = page.get_by_test_id("address-suggestion").filter(has_text="Aleksanterinkatu 52")
    expect(suggestion.first).to_be_visible(timeout=TIMEOUT_MS)
    suggestion.first.click()
    expect(page.get_by_test_id("placed")).to_contain_text("Aleksanterinkatu 52")
    assert page.get_by_label("Latitude").input_value().startswith("60.1")
    walk.shot(page, "call-address-picked")
    page.get_by_role("button", name="Create incident").click()
    expect(page.get_by_test_id("incident-queue")).to_contain_text(
        "Slurred speech", timeout=TIMEOUT_MS
    )
    expect(page).to_have_url(re.compile(r"/dispatch/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[-1]


def _triage(page: Page, walk: Walk) -> None:
    page.get_by_role("link", name="Triage this incident").click()
    # The form opens once the incident has loaded, with the call's complaint already in it.
    expect(page.get_by_label("Chief complaint")).to_have_value(re.compile(r"\S"))
    page.get_by_label("Age (years)").fill("81")
    page.get_by_label("Sex").select_option("male")
    page.get_by_label("Heart rate (/min)").fill("112")
    page.get_by_label("Respiratory rate (/min)").fill("26")
    page.get_by_label("SpO₂ (%)").fill("88")
    page.get_by_label("Systolic BP (mmHg)").fill("150")
    page.get_by_label("Diastolic BP (mmHg)").fill("90")
    page.get_by_label("Temperature (°C)").fill("38.6")
    page.get_by_role("button", name="Assess").click()
    # The first assessment loads the acuity model: on a loaded machine that takes a while.
    answer = page.get_by_test_id("triage-result").or_(page.get_by_test_id("triage-message"))
    expect(answer).to_be_visible(timeout=3 * TIMEOUT_MS)
    expect(page.get_by_test_id("triage-result")).to_contain_text("KTAS")
    page.get_by_role("button", name=re.compile("Save to incident")).click()
    expect(page.get_by_test_id("triage-message")).to_contain_text("Saved")
    walk.shot(page, "triage-saved")


def _assign_and_reach_the_scene(page: Page, walk: Walk, incident_id: str) -> tuple[Locator, str]:
    """Assigns the top-ranked unit; returns the incident panel and that unit's call sign."""
    page.get_by_role("link", name="Dispatch").click()
    page.get_by_test_id("incident-queue").get_by_role(
        "button", name=re.compile("Slurred speech")
    ).click()
    expect(page).to_have_url(re.compile(f"/dispatch/{incident_id}$"))
    recs = page.get_by_test_id("unit-recs")
    expect(recs).to_contain_text("1. HKI-1", timeout=TIMEOUT_MS)
    expect(recs).to_contain_text("ETA")
    top = recs.get_by_role("radio").first
    expect(top).to_be_checked()  # the recommended unit is preselected
    top_call_sign = re.search(r"1\. (HKI-1\d)", recs.inner_text())
    assert top_call_sign is not None
    walk.shot(page, "recommendation")
    page.get_by_role("button", name=f"Assign {top_call_sign.group(1)}").click()
    panel = page.get_by_test_id("incident-panel")
    expect(page.get_by_test_id("assign-message")).to_contain_text("assigned", timeout=TIMEOUT_MS)
    expect(panel.get_by_role("heading", level=2)).to_contain_text("dispatched")
    actions = page.get_by_test_id("unit-actions")
    expect(actions).to_contain_text(f"{top_call_sign.group(1)} dispatched")
    walk.shot(page, "assigned")
    actions.get_by_role("button", name="On scene").click()
    expect(page.get_by_test_id("unit-message")).to_contain_text("on scene")
    expect(panel.get_by_role("heading", level=2)).to_contain_text("on scene", timeout=TIMEOUT_MS)
    return panel, top_call_sign.group(1)


def _findings_and_destination(page: Page, walk: Walk, panel: Locator) -> None:
    findings = panel.get_by_test_id("findings")
    findings.locator("summary").click()
    findings.get_by_label("F — face droops").check()
    findings.get_by_label("S — speech slurred").check()
    findings.get_by_role("button", name="Save clinical picture").click()
    dests = panel.get_by_test_id("hospital-recs")
    needs = dests.get_by_test_id("needs")
    expect(needs).to_contain_text("stroke centre", timeout=TIMEOUT_MS)
    expect(needs).to_contain_text("BE-FAST")
    # The stroke centre ranks first; the clinic without one is listed as not suitable.
    expect(dests.locator("label.rec").first).to_contain_text(f"1. {STROKE_CENTRE}")
    dests.get_by_text(re.compile(r"hospital\(s\) not suitable")).click()
    expect(dests).to_contain_text(CLINIC)
    dests.get_by_role("radio").first.check()
    walk.shot(page, "destination-with-reasons")


def _fill_the_handoff(page: Page, walk: Walk, panel: Locator) -> None:
    panel.get_by_role("button", name=f"Draft handoff to {STROKE_CENTRE}").click()
    form = page.get_by_role("form", name="Handoff draft")
    expect(form).to_be_visible(timeout=TIMEOUT_MS)
    clock = datetime.now().strftime("%H:%M")  # the browser's and this process's local time
    form.get_by_label("Onset unknown").check()
    form.get_by_label("M — Mechanism / complaint").fill("Found confused at home, slurred speech")
    form.get_by_label("I — Injuries / illness found (one per line)").fill(
        "Facial droop, left\nSlurred speech\nFever"
    )
    form.get_by_label("HR (/min)").fill("118")
    form.get_by_label("SpO₂ (%)").fill("89")
    form.get_by_label("RR (/min)").fill("26")
    form.get_by_label("Systolic (mmHg)").fill("150")
    form.get_by_label("Diastolic (mmHg)").fill("88")
    form.get_by_label("Temp (°C)").fill("38.6")
    form.get_by_label("AVPU").select_option("V")
    form.get_by_label("On supplemental oxygen").check()
    form.get_by_label("Oxygen device").select_option("non_rebreather_mask")
    form.get_by_label("Oxygen flow (L/min)").fill("15")
    for name, dose, unit, route, response in [
        ("oxygen", "15", "L/min", "non-rebreather mask", "SpO2 84 to 89 %"),
        ("paracetamol", "1", "g", "IV", "no change yet"),
    ]:
        form.get_by_label("Name", exact=True).fill(name)
        form.get_by_label("Dose", exact=True).fill(dose)
        form.get_by_label("Unit (mg, g, L/min…)").fill(unit)
        form.get_by_label("Route").fill(route)
        form.get_by_label("Time (HH:MM)").fill(clock)
        form.get_by_label("Response").fill(response)
        form.get_by_role("button", name="Add treatment").click()
    treatments = form.get_by_test_id("treatments")
    expect(treatments).to_contain_text("oxygen 15 L/min, non-rebreather mask, at")
    expect(treatments).to_contain_text("paracetamol 1 g, IV, at")
    form.get_by_label("Allergies (one per line, with the reaction)").fill("penicillin (rash)")
    form.get_by_label("Notes (social situation, anything else the ED must know)").fill(NOTES)
    form.get_by_role("button", name="Save draft").click()
    # Saved: the new set is listed with the recorded ones, the form is ready for the next.
    form = page.get_by_role("form", name="Handoff draft")
    recorded = form.get_by_test_id("recorded-signs")
    expect(recorded).to_contain_text("AVPU V (responds to voice)", timeout=TIMEOUT_MS)
    expect(recorded).to_contain_text("Oxygen on O₂ 15 L/min, non-rebreather mask")
    expect(
        form.get_by_label("Notes (social situation, anything else the ED must know)")
    ).to_have_value(NOTES)
    walk.shot(page, "handoff-draft-saved")
    # The crew sets off: transporting to the chosen hospital gives the draft its road ETA.
    page.get_by_test_id("unit-actions").get_by_role("button", name="Transporting").click()
    expect(page.get_by_test_id("unit-message")).to_contain_text(f"transporting to {STROKE_CENTRE}")
    expect(panel.get_by_role("heading", level=2)).to_contain_text("transporting")
    form = page.get_by_role("form", name="Handoff draft")
    expect(form.get_by_label("Arrives in (minutes)")).not_to_have_value("", timeout=TIMEOUT_MS)
    form.get_by_role("button", name="Send to hospital").click()
    expect(panel.get_by_test_id("handoff-status")).to_have_text(
        re.compile("sent|delivered"), timeout=TIMEOUT_MS
    )
    walk.shot(page, "handoff-sent")


def _the_ed_reads_everything(nurse: Page, walk: Walk, call_sign: str) -> Locator:
    card = nurse.get_by_test_id("handoff-card").first
    expect(card).to_contain_text("KTAS", timeout=TIMEOUT_MS)
    expect(card).to_contain_text(f"Unit {call_sign}")  # the call sign, not the unit's id
    expect(card.get_by_test_id("allergies")).to_have_text("Allergies: penicillin (rash)")
    expect(card.get_by_test_id("notes")).to_contain_text(NOTES)
    current = card.get_by_test_id("current-vitals")
    expect(current).to_contain_text("V (responds to voice)")
    expect(current).to_contain_text("on O₂ 15 L/min, non-rebreather mask")
    expect(current).to_contain_text("89 %")
    expect(card.get_by_test_id("handoff-news2")).to_contain_text("NEWS2")
    treatments = card.get_by_test_id("treatments")
    expect(treatments).to_contain_text("oxygen 15 L/min, non-rebreather mask, at")
    expect(treatments).to_contain_text("response: SpO2 84 to 89 %")
    expect(treatments).to_contain_text("paracetamol 1 g, IV, at")
    expect(card).to_contain_text("Slurred speech")
    # What the destination was chosen for: the incident's BE-FAST findings.
    expect(card.get_by_test_id("findings")).to_contain_text(
        "BE-FAST positive: F face droops, S speech slurred"
    )
    card.scroll_into_view_if_needed()
    walk.shot(nurse, "ed-card-everything", element=card)
    return card


def _fhir_bundle(server: Server, incident_id: str) -> dict[str, Any]:
    token = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": NURSE[0], "password": NURSE[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    with httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as api:
        listed = api.get("/api/handoffs", params={"incident_id": incident_id})
        assert listed.is_success, listed.text
        [handoff] = listed.json()["items"]
        bundle = api.get(f"/api/handoffs/{handoff['id']}/fhir")
        assert bundle.is_success, bundle.text
        result: dict[str, Any] = bundle.json()
        return result


def test_call_to_bed_entirely_from_the_dashboard(
    server: Server, browser: Browser, shots: Path
) -> None:
    walk = Walk(shots)
    desk = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    _login(desk, server.base, "/admin", ADMIN)
    _set_up_from_the_admin_screen(desk, walk)

    incident_id = _take_the_call(desk, walk)
    _triage(desk, walk)
    panel, call_sign = _assign_and_reach_the_scene(desk, walk, incident_id)
    _findings_and_destination(desk, walk, panel)
    _fill_the_handoff(desk, walk, panel)

    # The ED nurse, in her own browser, on a tablet.
    nurse = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    _login(nurse, server.base, "/hospital", NURSE)
    card = _the_ed_reads_everything(nurse, walk, call_sign)
    card.get_by_role("button", name="Acknowledge").click()
    expect(card).to_contain_text("acknowledged", timeout=TIMEOUT_MS)
    expect(panel.get_by_test_id("handoff-status")).to_have_text("acknowledged", timeout=TIMEOUT_MS)
    walk.shot(nurse, "ed-acknowledged")

    actions = desk.get_by_test_id("unit-actions")
    actions.get_by_role("button", name="At hospital").click()
    expect(panel.get_by_role("heading", level=2)).to_contain_text("at hospital")
    walk.shot(desk, "unit-at-hospital")

    card.get_by_role("button", name="Patient arrived").click()
    expect(card).to_contain_text("arrived", timeout=TIMEOUT_MS)
    walk.shot(nurse, "ed-arrived")
    card.get_by_role("button", name="Handed over").click()
    # Handed over: the patient is the ED's now, off the list of incoming patients.
    expect(nurse.get_by_test_id("handoffs")).to_contain_text(
        "No incoming handoffs.", timeout=TIMEOUT_MS
    )

    expect(panel.get_by_test_id("handoff-status")).to_have_text("handed over", timeout=TIMEOUT_MS)
    walk.shot(desk, "handed-over")
    actions.get_by_role("button", name="Available").click()
    expect(desk.get_by_test_id("units")).to_contain_text(re.compile(r"HKI-1\d available"))
    panel.get_by_role("button", name="Close incident").click()
    queue = desk.get_by_test_id("incident-queue")
    expect(queue).not_to_contain_text("Slurred speech", timeout=TIMEOUT_MS)
    expect(desk.get_by_test_id("dispatch-notice")).to_have_text(re.compile(r"Incident #\d+ closed"))
    walk.shot(desk, "incident-closed")

    bundle = _fhir_bundle(server, incident_id)
    BUNDLE_PATH.parent.mkdir(parents=True, exist_ok=True)
    BUNDLE_PATH.write_text(json.dumps(bundle, indent=2))
    text = json.dumps(bundle)
    resources = [e["resource"] for e in bundle["entry"]]
    kinds = {r["resourceType"] for r in resources}
    # Timed treatments are MedicationAdministrations (an untimed one would be a statement).
    assert {"Composition", "AllergyIntolerance", "MedicationAdministration", "Observation"} <= kinds
    assert NOTES in text
    assert "BE-FAST positive: F: face droops, S: speech slurred" in text
    [doc] = [r for r in resources if r["resourceType"] == "Composition"]
    assert [a["display"] for a in doc["author"] if "identifier" in a] == [f"Unit {call_sign}"]
    allergy = next(r for r in resources if r["resourceType"] == "AllergyIntolerance")
    assert "penicillin" in json.dumps(allergy["code"])
    codes = {
        c["code"]
        for r in resources
        if r["resourceType"] == "Observation"
        for c in r.get("code", {}).get("coding", [])
    }
    # AVPU, inhaled O2 flow, and SpO2 with both the pulse-oximetry and the generic code.
    assert {"67775-7", "3151-8", "59408-5", "2708-6"} <= codes, codes
    avpu = next(
        r
        for r in resources
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "67775-7"
    )
    assert "voice" in json.dumps(avpu).lower()
    doses = {
        r["medicationCodeableConcept"]["text"]: (
            r["dosage"]["dose"]["value"],
            r["dosage"]["dose"]["unit"],
            r["dosage"]["route"]["text"],
        )
        for r in resources
        if r["resourceType"] == "MedicationAdministration"
    }
    assert doses == {
        "oxygen": (15, "L/min", "non-rebreather mask"),
        "paracetamol": (1, "g", "IV"),
    }
    desk.context.close()
    nurse.context.close()


def test_a_call_placed_by_a_map_click_and_cancelled_frees_its_unit(
    server: Server, browser: Browser, shots: Path
) -> None:
    """The other way to place a call (a click on the map), and a cancellation with its reason:
    the assigned unit is available again on the board at once."""
    walk = Walk(shots)
    walk.n = 50  # after the call-to-bed pictures
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    _login(page, server.base, "/admin", ADMIN)
    form = page.get_by_role("form", name="New unit")
    form.get_by_label("Call sign").fill("HKI-21")
    form.get_by_label("Type").select_option("BLS")
    _click_map(page, 0.5, 0.7)
    form.get_by_role("button", name="Create unit").click()
    expect(form.get_by_role("status")).to_have_text("Unit HKI-21 created.")

    page.get_by_role("link", name="Dispatch").click()
    page.get_by_role("button", name="New incident").click()
    page.get_by_label("Chief complaint").fill("Fell in the street, wrist pain")
    page.get_by_label("Priority (1 most urgent)").select_option("4")
    expect(page.get_by_test_id("pick-hint")).to_contain_text("click the map")
    _click_map(page, 0.55, 0.5)
    expect(page.get_by_label("Latitude")).to_have_value(re.compile(r"^60\.1\d+$"))
    expect(page.get_by_label("Longitude")).to_have_value(re.compile(r"^24\.9\d+$"))
    walk.shot(page, "call-placed-by-map-click")
    page.get_by_role("button", name="Create incident").click()
    panel = page.get_by_test_id("incident-panel")
    expect(panel).to_contain_text("Fell in the street", timeout=TIMEOUT_MS)
    recs = panel.get_by_test_id("unit-recs")
    expect(recs).to_contain_text("1. HKI-", timeout=TIMEOUT_MS)
    top = re.search(r"1\. (HKI-\d+)", recs.inner_text())
    assert top is not None
    panel.get_by_role("button", name=f"Assign {top.group(1)}").click()
    units = page.get_by_test_id("units")
    expect(units).to_contain_text(f"{top.group(1)} dispatched", timeout=TIMEOUT_MS)
    # The panel turns from "Recommended units" to "Units on this incident" when the incident's
    # own push arrives, which may be after the units list's: the recommendations' block goes
    # and the Cancel button moves up. A click made as it moved landed beside it once (no
    # "Give the reason" alert in 15 s), so the walk waits for the panel to settle, as a
    # dispatcher's eye would.
    expect(panel).to_contain_text("Units on this incident", timeout=TIMEOUT_MS)
    expect(panel.get_by_test_id("unit-recs")).to_have_count(0)

    panel.get_by_role("button", name="Cancel incident").click()
    expect(panel.get_by_role("alert")).to_have_text("Give the reason for cancelling.")
    panel.get_by_label("Reason").fill("caller rang back: went by taxi")
    panel.get_by_role("button", name="Cancel incident").click()
    expect(page.get_by_test_id("dispatch-notice")).to_have_text(
        re.compile(r"Incident #\d+ cancelled \(caller rang back: went by taxi\)\.")
    )
    expect(units).to_contain_text(f"{top.group(1)} available", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("incident-queue")).not_to_contain_text("Fell in the street")
    walk.shot(page, "cancelled-unit-free")
    page.context.close()
