"""The dispatcher types a misspelled address, picks it from the map's own suggestions, and the
call is placed and gets a unit; the map under it shows street names, water, parks and buildings
from the same extract (Monaco), with nothing fetched from outside."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Request, expect

from tests.e2e.conftest import ADMIN, HTTP_TIMEOUT_S, Server, start_server
from tests.shared_data import shared_data_dir

pytestmark = pytest.mark.e2e
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def monaco_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pbf = shared_data_dir() / "osm" / "monaco.osm.pbf"
    data = tmp_path_factory.mktemp("emsync-e2e-monaco")
    # `emsync map import` builds the road graph, the gazetteer and the basemap in one go.
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "emsync",
            "map",
            "import",
            str(pbf),
            "--cache-dir",
            str(data / "cache"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert '"basemap_file"' in imported.stdout
    with start_server(data, {"EMSYNC_MAP_PBF": str(pbf)}) as running:
        yield running


def test_typing_a_misspelled_address_and_the_map_with_street_names(
    monaco_server: Server, browser: Browser, shots: Path
) -> None:
    base = monaco_server.base
    token = httpx.post(
        f"{base}/api/auth/token",
        data={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=HTTP_TIMEOUT_S,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    unit = {
        "call_sign": "MC-1",
        "unit_type": "ALS",
        "station_lat": 43.7384,
        "station_lon": 7.4246,
    }
    assert httpx.post(
        f"{base}/api/units", json=unit, headers=headers, timeout=HTTP_TIMEOUT_S
    ).is_success

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    outside: list[str] = []

    def watch(req: Request) -> None:
        if not req.url.startswith(base) and not req.url.startswith("data:"):
            outside.append(req.url)

    page.on("request", watch)
    page.goto(f"{base}/dispatch")
    page.get_by_label("Username").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("connection")).to_have_text(re.compile("Live"), timeout=TIMEOUT_MS)

    page.get_by_role("button", name="New incident").click()
    page.get_by_label("Chief complaint").fill("Fall from a ladder, leg injury")
    address = page.get_by_role("combobox", name="Address")
    address.click()
    page.keyboard.type("bd albret 1er", delay=60)  # an abbreviation and a slip
    suggestions = page.get_by_test_id("address-suggestion")
    expect(suggestions.first).to_contain_text("Boulevard Albert 1er", timeout=TIMEOUT_MS)
    page.screenshot(path=str(shots / "01-typing-a-misspelled-address.png"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("placed")).to_contain_text("Boulevard Albert 1er")
    assert address.input_value() == "bd albret 1er"  # kept as typed
    assert page.get_by_label("Latitude").input_value().startswith("43.7")
    page.screenshot(path=str(shots / "02-address-picked.png"))
    page.get_by_role("button", name="Create incident").click()
    expect(page.get_by_test_id("incident-queue")).to_contain_text(
        "Fall from a ladder", timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id("unit-recs")).to_contain_text("MC-1", timeout=TIMEOUT_MS)

    # The selected call is shown close up on the basemap, where street names are drawn.
    the_map = page.get_by_test_id("map")
    the_map.scroll_into_view_if_needed()
    page.wait_for_timeout(3000)  # tiles and labels are drawn after the view settles
    the_map.screenshot(path=str(shots / "03-map-with-street-names.png"))
    page.screenshot(path=str(shots / "04-dispatch-with-basemap.png"), full_page=True)
    assert outside == []  # no tile server, CDN or font service
    context.close()
