"""The registry's walk end to end ("Done when" of the patient identity issue): a clinician finds
a person, matches a call's patient to them from the dashboard, sees the call on the chart beside
an earlier visit and is stopped by an allergy conflict; registering a misspelt duplicate links
it; a grey-zone record is decided in the review queue; a merge is undone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Server
from tests.registry_builders import national_id

pytestmark = pytest.mark.e2e

CLINICIAN = ("clin.e2e", "clinician-password-registry-1")
# The crew matches the call's patient (hospital staff see a call only once it is coming to them).
PARAMEDIC = ("medic.e2e", "paramedic-password-registry-1")
TIMEOUT_MS = 30_000


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


def _shot(page: Page, folder: Path, name: str) -> None:
    # Taken after the expectations above it settled (the WebSocket keeps the network busy).
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _seed(api: httpx.Client) -> dict[str, Any]:
    hospital = _ok(
        api.post("/api/hospitals", json={"name": "E2E Meilahti", "lat": 60.19, "lon": 24.9})
    )
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
    _ok(
        api.post(
            "/api/users",
            json={"username": PARAMEDIC[0], "password": PARAMEDIC[1], "role": "paramedic"},
        )
    )
    person = _ok(
        api.post(
            "/api/persons",
            json={
                "given_name": "Aino",
                "family_name": "Virtanen",
                "birth_date": "1961-03-14",
                "sex": "female",
                "phone": "+358 40 123 4567",
                "address": {"line": "Mannerheimintie 12", "city": "Helsinki", "postcode": "00100"},
                "emergency_contacts": [{"name": "Pekka Virtanen", "relation": "son"}],
                "insurance": [{"payer": "Kela", "member_id": "K-42"}],
                "language": "fi",
                "identifiers": [{"system": "national", "value": national_id()}],
            },
        )
    )["person"]
    pid = person["id"]
    _ok(
        api.post(
            f"/api/persons/{pid}/entries",
            json={
                "kind": "allergy",
                "substance": "Penicillins",
                "reaction": "anaphylaxis",
                "severity": "severe",
                "source": "hospital",
            },
        )
    )
    _ok(
        api.post(
            f"/api/persons/{pid}/entries",
            json={
                "kind": "encounter",
                "encounter_class": "emergency",
                "facility": "Meilahti ED",
                "reason": "chest pain 2024",
                "diagnosis": "NSTEMI",
                "occurred_at": "2024-01-02T10:00:00Z",
                "source": "hospital",
            },
        )
    )
    incident = _ok(
        api.post(
            "/api/incidents",
            json={"chief_complaint": "collapse at tram stop", "priority": 1, "address": "Kamppi"},
        )
    )
    patient = _ok(
        api.post(
            f"/api/incidents/{incident['id']}/patients",
            json={"name": "Aino V", "age_years": 65, "sex": "female"},
        )
    )
    return {"person": pid, "incident": incident, "patient": patient}


def _login(page: Page, base: str, path: str, user: tuple[str, str]) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)


def test_the_registry_walk(
    server: Server, browser: Browser, api: httpx.Client, shots: Path
) -> None:
    seeded = _seed(api)
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    _login(page, server.base, "/persons", PARAMEDIC)

    # 1. The crew finds the person by a misspelt family name and the date of birth.
    search = page.get_by_role("form", name="Search persons")
    search.get_by_label("Family name").fill("Wirtanen")
    search.get_by_label("Date of birth").fill("1961-03-14")
    search.get_by_role("button", name="Search").click()
    hits = page.get_by_test_id("person-hits")
    expect(hits).to_contain_text("Aino Virtanen", timeout=TIMEOUT_MS)
    _shot(page, shots, "01-search")
    hits.get_by_role("link", name=re.compile("Aino Virtanen")).click()
    expect(page.get_by_test_id("chart-name")).to_have_text("Aino Virtanen", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("identity")).to_contain_text("Pekka Virtanen")
    expect(page.get_by_test_id("identity")).to_contain_text("Kela")

    # 2. Match the call's patient to her.
    link = page.get_by_role("form", name="Link a call's patient")
    link.get_by_label("Call").select_option(seeded["incident"]["id"])
    expect(link.get_by_label("Patient")).to_contain_text("Aino V", timeout=TIMEOUT_MS)
    link.get_by_role("button", name="Link patient").click()
    expect(page.get_by_test_id("chart-status")).to_contain_text("linked", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("vitals")).to_contain_text("Vitals of the call's patient")
    expect(page.get_by_test_id("encounters")).to_contain_text("Meilahti ED")
    expect(page.get_by_test_id("timeline")).to_contain_text("ambulance encounter")
    expect(page.get_by_test_id("timeline")).to_contain_text("emergency encounter: chest pain 2024")
    _shot(page, shots, "02-chart-with-call")

    # 3. Amoxicillin against a penicillin allergy: the conflict shows before anything is stored.
    record = page.get_by_role("form", name="Record on the chart")
    record.get_by_label("Kind").select_option("medication")
    record.get_by_label("Substance").fill("Amoxicillin")
    record.get_by_label("Dose").click()
    conflict = page.get_by_test_id("allergy-conflict")
    expect(conflict).to_contain_text("same class: penicillins", timeout=TIMEOUT_MS)
    record.get_by_role("button", name="Record").click()
    expect(page.get_by_test_id("chart-status")).to_contain_text("conflicts", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("medications")).to_contain_text("None recorded")
    _shot(page, shots, "03-allergy-conflict")

    # 4. At the hospital, a misspelt duplicate registered at the desk links to her.
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    _login(page, server.base, "/persons", CLINICIAN)
    form = page.get_by_role("form", name="Register a person")
    form.get_by_label("Given name").fill("Aina")
    form.get_by_label("Family name").fill("Virtanen")
    form.get_by_label("Date of birth").fill("1961-03-14")
    form.get_by_label("Phone").fill("040 123 4567")
    form.get_by_label("Street address").fill("Mannerheimintie 12")
    form.get_by_label("City").fill("Helsinki")
    form.get_by_label("Postcode").fill("00100")
    form.get_by_role("button", name="Register").click()
    expect(page.get_by_test_id("register-status")).to_contain_text(
        "Matched the existing person", timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id("candidates")).to_contain_text("Aino Virtanen")
    _shot(page, shots, "04-auto-link")

    # 5. A grey-zone record (moved, new phone, day and month swapped) goes to review.
    form.get_by_label("Given name").fill("Aino")
    form.get_by_label("Date of birth").fill("1961-04-13")
    form.get_by_label("Phone").fill("050 765 4321")
    form.get_by_label("Street address").fill("Hameentie 3")
    form.get_by_label("Postcode").fill("00500")
    form.get_by_role("button", name="Register").click()
    expect(page.get_by_test_id("register-status")).to_contain_text("review", timeout=TIMEOUT_MS)
    page.get_by_role("link", name="Match review queue").click()
    reviews = page.get_by_test_id("reviews")
    expect(reviews).to_contain_text("Aino Virtanen", timeout=TIMEOUT_MS)
    _shot(page, shots, "05-review-queue")
    reviews.get_by_role("button", name="Same person").first.click()
    expect(reviews).to_contain_text("Nothing to review", timeout=TIMEOUT_MS)

    # 6. The merge shows on her chart and can be undone.
    page.goto(f"{server.base}/persons/{seeded['person']}")
    merges = page.get_by_test_id("merges")
    expect(merges).to_contain_text("review merge", timeout=TIMEOUT_MS)
    _shot(page, shots, "06-merged")
    merges.get_by_role("button", name="Unmerge").first.click()
    expect(page.get_by_test_id("chart-status")).to_contain_text("restored", timeout=TIMEOUT_MS)
    expect(merges).to_contain_text("undone by", timeout=TIMEOUT_MS)
    _shot(page, shots, "07-unmerged")
