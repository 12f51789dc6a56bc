"""The emergency manager's walk end to end ("Done when" of the emergency issue): a real browser
against a real EMsync. Open a shelter, check evacuees in, move supplies to it, publish a CAP
alert drawn on the map (XSD-valid, in the public Atom feed), find it all through search; and a
rostered ambulance without a qualified crew is excluded from dispatch with its reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from playwright.sync_api import Browser, Page, expect

from emsync.emergency import cap
from tests.e2e.conftest import HTTP_TIMEOUT_S, Server

pytestmark = pytest.mark.e2e

MANAGER = ("em.e2e", "emergency-manager-password-1")
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    from tests.e2e.conftest import ADMIN

    token = httpx.post(
        f"{server.base}/api/auth/token",
        data={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    with httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as c:
        yield c


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


def _shot(page: Page, folder: Path, name: str) -> None:
    # Maps fetch their roads after they settle: let the requests finish before the picture.
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _login(page: Page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(MANAGER[0])
    page.get_by_label("Password").fill(MANAGER[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)


def test_the_emergency_managers_walk(
    server: Server, browser: Browser, api: httpx.Client, shots: Path
) -> None:
    _ok(
        api.post(
            "/api/users",
            json={"username": MANAGER[0], "password": MANAGER[1], "role": "emergency_manager"},
        )
    )
    west, south, east, north = _ok(api.get("/api/map"))["bbox"]
    lat, lon = (south + north) / 2, (west + east) / 2
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    _login(page, server.base, "/emergency/shelters")

    # 1. Open a shelter.
    form = page.get_by_test_id("shelter-form")
    form.get_by_label("Name").fill("Kallio School")
    form.get_by_label("Address").fill("Porthaninkatu 2")
    form.get_by_label("Latitude").fill(f"{lat:.5f}")
    form.get_by_label("Longitude").fill(f"{lon:.5f}")
    form.get_by_label("Beds", exact=True).fill("40")
    form.get_by_label("Amenities (comma separated)").fill("showers, kitchen")
    form.get_by_role("button", name="Open shelter").click()
    expect(page.get_by_test_id("shelters")).to_contain_text("Kallio School", timeout=TIMEOUT_MS)

    # 2. Check evacuees in (every field the form takes reaches the list).
    checkin = page.get_by_test_id("checkin-form")
    for name, household, needs in (
        ("Aino Virtanen", "Virtanen", "insulin"),
        ("Eero Virtanen", "Virtanen", ""),
    ):
        checkin.get_by_label("Name").fill(name)
        checkin.get_by_label("Household").fill(household)
        checkin.get_by_label("Care needs").fill(needs)
        checkin.get_by_role("button", name="Check in").click()
        expect(page.get_by_test_id("checkin-message")).to_contain_text(
            f"{name} checked in", timeout=TIMEOUT_MS
        )
    evacuees = page.get_by_test_id("evacuees")
    expect(evacuees).to_contain_text("Aino Virtanen")
    expect(evacuees).to_contain_text("insulin")
    expect(page.get_by_test_id("shelters")).to_contain_text("Beds: 2 / 40")
    _shot(page, shots, "01-shelter-check-ins")
    # One of them leaves: a third evacuee checks in and out again, so the two above stay for the
    # search below; the bed is free again at once.
    checkin.get_by_label("Name").fill("Leo Lahti")
    checkin.get_by_role("button", name="Check in").click()
    expect(page.get_by_test_id("shelters")).to_contain_text("Beds: 3 / 40", timeout=TIMEOUT_MS)
    evacuees.get_by_role("row", name="Leo Lahti").get_by_role("button", name="Check out").click()
    expect(evacuees).not_to_contain_text("Leo Lahti", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("shelters")).to_contain_text("Beds: 2 / 40", timeout=TIMEOUT_MS)

    # 3. Move supplies to it: a warehouse, an item, a receipt, a transfer to the shelter.
    page.get_by_role("link", name="Inventory").click()
    page.get_by_test_id("location-form").get_by_label("Name").fill("Central warehouse")
    page.get_by_test_id("location-form").get_by_role("button", name="Add location").click()
    expect(page.get_by_test_id("inventory-message")).to_contain_text(
        "Location added", timeout=TIMEOUT_MS
    )
    items = page.get_by_test_id("item-form")
    items.get_by_label("SKU").fill("BLANKET")
    items.get_by_label("Name").fill("Thermal blankets")
    items.get_by_role("button", name="Add item").click()
    movement = page.get_by_test_id("movement-form")
    expect(movement.get_by_label("Item")).to_contain_text("Thermal blankets", timeout=TIMEOUT_MS)
    movement.get_by_label("Quantity").fill("100")
    movement.get_by_label("To").select_option(label="Central warehouse")
    movement.get_by_role("button", name="Record").click()
    expect(page.get_by_test_id("inventory-message")).to_contain_text(
        "Recorded 1", timeout=TIMEOUT_MS
    )
    movement.get_by_label("Kind").select_option("transfer")
    movement.get_by_label("Quantity").fill("40")
    movement.get_by_label("From").select_option(label="Central warehouse")
    movement.get_by_label("To").select_option(label="Shelter: Kallio School")
    movement.get_by_role("button", name="Record").click()
    expect(page.get_by_test_id("stock")).to_contain_text(
        "Shelter: Kallio School", timeout=TIMEOUT_MS
    )
    too_many = movement.get_by_label("Quantity")
    too_many.fill("500")
    movement.get_by_role("button", name="Record").click()
    expect(page.get_by_test_id("inventory-message")).to_contain_text(
        "Not recorded: only 60", timeout=TIMEOUT_MS
    )
    _shot(page, shots, "02-supplies-moved")

    # 4. Publish a CAP alert for the area, drawn on the map.
    page.get_by_role("link", name="Public alerts").click()
    the_map = page.get_by_test_id("emergency-map")
    expect(the_map).to_be_visible()
    box = the_map.bounding_box()
    assert box is not None
    for fx, fy in ((0.3, 0.3), (0.7, 0.3), (0.6, 0.7)):
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    page.get_by_label("Area description").fill("Kallio shore")
    page.get_by_test_id("add-area").click()
    page.get_by_role("button", name="Draw circle").click()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.get_by_label("Circle radius in km").fill("0.5")
    page.get_by_label("Area description").fill("Around the shelter")
    page.get_by_test_id("add-area").click()
    alert_form = page.get_by_test_id("alert-form")
    alert_form.get_by_label("Event").fill("Flood")
    alert_form.get_by_label("Headline").fill("Flood warning: go to Kallio School shelter")
    alert_form.get_by_label("Instruction").fill("Evacuate the shore streets now.")
    alert_form.get_by_label("Evacuate").check()
    alert_form.get_by_role("button", name="Publish alert").click()
    expect(page.get_by_test_id("alert-message")).to_contain_text(
        "Alert published", timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id("active-alerts")).to_contain_text("Flood warning")
    _shot(page, shots, "03-alert-published")
    feed = httpx.get(
        f"{server.base}/api/emergency/public/alerts.atom", timeout=HTTP_TIMEOUT_S
    )  # public: no token
    atom = "{http://www.w3.org/2005/Atom}"
    links = [
        e.get("href")
        for e in etree.fromstring(feed.content).iter(f"{atom}link")
        if e.get("type") == cap.CAP_MEDIA_TYPE
    ]
    assert len(links) == 1
    xml = httpx.get(str(links[0]), timeout=HTTP_TIMEOUT_S).content
    assert cap.xsd_problems(xml) == []
    assert b"<polygon>" in xml
    assert b"<circle>" in xml

    # 5. Find all of it through the search box in the top bar.
    for query, expected in (
        ("Kallio", "Kallio School"),
        ("blankts", "Thermal blankets"),  # a typo
        ("flood", "Flood warning"),
        ("Virtanen", "Aino Virtanen"),  # evacuees: through the blind index only
    ):
        box_input = page.get_by_role("searchbox", name="Search")
        box_input.fill(query)
        box_input.press("Enter")
        expect(page.get_by_test_id("search-results")).to_contain_text(expected, timeout=TIMEOUT_MS)
    page.get_by_role("searchbox", name="Search").fill("Kallio")
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(page.get_by_test_id("search-results").locator("mark").first).to_be_visible()
    _shot(page, shots, "04-search")

    # 6. The map layers.
    page.get_by_role("link", name="Map").click()
    expect(page.get_by_test_id("emergency-map")).to_be_visible()
    _shot(page, shots, "05-map-layers")

    # 7. A rostered ambulance without a qualified crew is excluded from dispatch, with its reason.
    unit = _ok(
        api.post(
            "/api/units",
            json={"call_sign": "AMB-7", "unit_type": "ALS", "station_lat": lat, "station_lon": lon},
        )
    )
    page.get_by_role("link", name="Roster & on duty").click()
    person = page.get_by_test_id("person-form")
    person.get_by_label("Name").fill("Eva EMT")
    person.get_by_label("emt").check()
    person.get_by_role("button", name="Add person").click()
    shift_form = page.get_by_test_id("shift-form")
    expect(shift_form.get_by_label("Person")).to_contain_text("Eva EMT", timeout=TIMEOUT_MS)
    shift_form.get_by_label("Ambulance").select_option(label="AMB-7")
    shift_form.get_by_role("button", name="Add shift").click()
    expect(page.get_by_test_id("roster-message")).to_have_text("Shift added.", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("unit-crews")).to_contain_text(
        "dispatch excludes it: no qualified crew on shift"
    )
    expect(page.get_by_test_id("on-duty")).to_contain_text("Eva EMT")
    _shot(page, shots, "06-roster-crew-problem")

    # 8. Teams: create one in the roster and put the EMT in it.
    team_form = page.get_by_test_id("team-form")
    team_form.get_by_label("Team name").fill("Kallio shelter team")
    team_form.get_by_role("button", name="Create team").click()
    team = page.get_by_test_id("team-Kallio shelter team")
    expect(team).to_be_visible(timeout=TIMEOUT_MS)
    team.get_by_label("Add a member to Kallio shelter team").select_option(label="Eva EMT")
    expect(team).to_contain_text("Eva EMT", timeout=TIMEOUT_MS)
    expect(team).to_contain_text("1 member(s)")
    _shot(page, shots, "06b-roster-team")

    # 9. The activity log of the shelter opened in step 1: who did what, newest first.
    page.get_by_role("link", name="Activity log").click()
    filters = page.get_by_test_id("activity-filters")
    filters.get_by_label("Kind").select_option("shelter")
    filters.get_by_label("Record", exact=True).select_option(label="Kallio School")
    log = page.get_by_test_id("activity")
    expect(log).to_contain_text("Kallio School: 40 beds", timeout=TIMEOUT_MS)
    rows = log.locator("tbody tr")
    expect(rows.first).to_contain_text("checked out")  # the last action on it, first
    expect(rows.nth(1)).to_contain_text("checked in")
    expect(rows.last).to_contain_text("opened")
    expect(rows.last).to_contain_text("shelter: Kallio School")
    expect(rows.last).to_contain_text(f"{MANAGER[0]} (you)")
    filters.get_by_label("Action or detail contains").fill("opened")
    expect(rows).to_have_count(1)
    _shot(page, shots, "06c-activity-log")
    incident = _ok(
        api.post(
            "/api/incidents",
            json={"chief_complaint": "Fall at the shelter", "priority": 2, "lat": lat, "lon": lon},
        )
    )
    rec = _ok(api.get(f"/api/dispatch/incidents/{incident['id']}/recommendation"))
    reasons = {r["call_sign"]: r["reason"] for r in rec["excluded"]}
    assert reasons["AMB-7"] == "no qualified crew on shift: needs paramedic and driver"
    _ok(
        api.post(
            "/api/users",
            json={
                "username": "disp.e2e",
                "password": "dispatcher-password-1",
                "role": "dispatcher",
            },
        )
    )
    # The dispatcher works at another desk: a browser context of their own (the manager's
    # session cookie would otherwise restore the manager here).
    desk = browser.new_context(viewport={"width": 1440, "height": 1000})
    dispatcher = desk.new_page()
    dispatcher.goto(f"{server.base}/dispatch/{incident['id']}")
    dispatcher.get_by_label("Username").fill("disp.e2e")
    dispatcher.get_by_label("Password").fill("dispatcher-password-1")
    dispatcher.get_by_role("button", name="Sign in").click()
    panel = dispatcher.get_by_test_id("unit-recs")
    expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    dispatcher.get_by_text(re.compile(r"unit\(s\) not eligible")).click()
    expect(panel).to_contain_text("AMB-7: no qualified crew on shift: needs paramedic and driver")
    _shot(dispatcher, shots, "07-dispatch-excludes-uncrewed-unit")
    assert (
        datetime.now(UTC) - timedelta(minutes=30) < datetime.fromisoformat(unit["created_at"])
        if "created_at" in unit
        else True
    )
    desk.close()
    context.close()
