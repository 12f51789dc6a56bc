"""The live deterioration risk on the monitor survives a page reload and a server restart (it is
stored), and the top bar says Offline when the browser loses the network and Live again when it
is back: a real `emsync serve` (restarted on the same data), real MQTT, headless Chromium.
Screenshots under var/e2e-screenshots/live-risk/."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN, Server, start_server
from tests.e2e.test_dashboard import TIMEOUT_MS, _api, _login
from tests.e2e.test_paediatric_and_artefacts import _device, _patient, _publish
from tests.ports import free_port

pytestmark = pytest.mark.e2e

NORMAL = {"hr": 74, "spo2": 97, "rr": 14, "sbp": 126, "dbp": 78, "temp": 36.8, "avpu": "A"}
SICK = {"hr": 132, "spo2": 88, "rr": 29, "sbp": 84, "dbp": 49, "temp": 38.9, "avpu": "V"}
DEVICE = "e2e-risk-mon"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emsync-e2e-risk")


def _shot(page: Page, folder: Path, name: str) -> None:
    page.wait_for_timeout(300)  # let the sparkline and chart finish drawing
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _risk_at(api: httpx.Client, patient: str, ts: datetime) -> dict[str, Any]:
    """Wait until the patient's latest risk is the score of the reading stamped `ts`."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        body = api.get(f"/api/telemetry/patients/{patient}/vitals/latest").json()
        risk = body.get("risk")
        if risk and datetime.fromisoformat(risk["ts"]) >= ts:
            return dict(risk)
        assert time.monotonic() < deadline, f"no risk scored for {ts}: {body}"
        time.sleep(0.2)


def _feed(server: Server, api: httpx.Client, patient: str, key: bytes, start: datetime) -> int:
    """A well hour then a septic one, a reading every 10 minutes, the last one now; each waited
    for, so each is scored on its own. Returns the next counter."""
    stamps = [start + timedelta(minutes=m) for m in range(0, 120, 10)]
    stamps.append(datetime.now(UTC))
    for counter, ts in enumerate(stamps, start=1):
        values = NORMAL if ts - start < timedelta(hours=1) else SICK
        _publish(server, [(DEVICE, key, counter, {"ts": ts.isoformat(), **values})])
        _risk_at(api, patient, ts)
    return len(stamps) + 1


def test_risk_and_its_trend_after_a_reload_and_a_restart_and_the_offline_label(
    data_dir: Path, browser: Browser, shots: Path
) -> None:
    # One address for both processes: the open page rides across the restart.
    address = {"EMSYNC_PORT": str(free_port())}
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    with start_server(data_dir, address) as server, _api(server) as api:
        _, patient = _patient(api, "Fever and confusion, e2e risk", age=67)
        key, _ = _device(api, DEVICE, patient)
        counter = _feed(server, api, patient, key, datetime.now(UTC) - timedelta(hours=2))

        _login(page, server.base, "/monitor", ADMIN)
        tile = page.get_by_test_id("vital-tile").filter(has_text="e2e risk")
        expect(tile.get_by_test_id("risk")).to_contain_text(
            "Deterioration risk", timeout=TIMEOUT_MS
        )
        page.reload()  # nothing pushed since: all of it from the stored scores
        expect(page.get_by_test_id("connection")).to_have_text("Live", timeout=TIMEOUT_MS)
        expect(tile.get_by_test_id("risk")).to_contain_text(
            re.compile(r"Deterioration risk \d+% (↑ rising|↓ falling|→ steady)"),
            timeout=TIMEOUT_MS,
        )
        expect(tile.get_by_role("img", name=re.compile("Deterioration risk trend"))).to_be_visible()
        expect(tile.get_by_test_id("risk-trend")).to_contain_text("risk, last hour")
        _shot(page, shots, "01-monitor-risk-after-reload")

        # The browser loses the network: the top bar says so; back online: Live again.
        context.set_offline(True)
        expect(page.get_by_test_id("connection")).to_contain_text("Offline", timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("connection")).not_to_contain_text("Live")
        _shot(page, shots, "02-offline-label")
        context.set_offline(False)
        expect(page.get_by_test_id("connection")).to_have_text("Live", timeout=TIMEOUT_MS)

        tile.get_by_role("button", name="History").click()
        page.get_by_role("button", name="Last 6 h").click()
        expect(page.get_by_test_id("history-risk")).to_be_visible(timeout=TIMEOUT_MS)
        _shot(page, shots, "03-history-with-risk")
        before = api.get(f"/api/telemetry/patients/{patient}/vitals/latest").json()["risk"]
        page.get_by_role("link", name="Patient monitor").click()
        expect(tile.get_by_test_id("risk")).to_be_visible(timeout=TIMEOUT_MS)

    # The server is gone: the open page says it is reconnecting, never Live.
    connection = page.get_by_test_id("connection")
    expect(connection).to_contain_text("reconnecting", timeout=TIMEOUT_MS)
    expect(connection).not_to_contain_text("Live")
    _shot(page, shots, "04-server-down-label")

    # The same data, a new process: the stored scores are all there is of the risk.
    with start_server(data_dir, address) as server, _api(server) as api:
        expect(connection).to_have_text("Live", timeout=TIMEOUT_MS)  # the same page, back
        after = api.get(f"/api/telemetry/patients/{patient}/vitals/latest").json()["risk"]
        assert after == before  # served from storage, trend and all
        assert after["trend"] != "new"
        stored = api.get(
            f"/api/telemetry/patients/{patient}/vitals",
            params={
                "start": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
                "end": datetime.now(UTC).isoformat(),
            },
        ).json()["risk"]
        assert len(stored) == 13

        page.reload()
        now = datetime.now(UTC)  # the monitor keeps reading: a fresh value for the tile
        _publish(server, [(DEVICE, key, counter, {"ts": now.isoformat(), **SICK})])
        scored = _risk_at(api, patient, now)
        assert scored["trend"] != "new"  # judged against the scores stored before the restart
        tile = page.get_by_test_id("vital-tile").filter(has_text="e2e risk")
        expect(tile.get_by_test_id("risk")).to_contain_text(
            re.compile(r"Deterioration risk \d+% (↑ rising|↓ falling|→ steady)"),
            timeout=TIMEOUT_MS,
        )
        expect(tile.get_by_role("img", name=re.compile("Deterioration risk trend"))).to_be_visible()
        _shot(page, shots, "05-monitor-risk-after-restart")
    context.close()
