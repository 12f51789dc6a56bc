"""Alerts that mean something: the RCP NEWS2 threshold by default, the current score and its
peak on the alert as scores change, the most severe first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.telemetry.events import AlertChanged
from emsync.telemetry.pipeline import Pipeline
from tests.api.telemetry.test_telemetry_api import inbound
from tests.builders import auth_headers
from tests.telemetry_support import make_patient, provision, vitals

# NEWS2 (RCP 2017) of each set, by parameter. Temperatures stay at 38.5 between sets: a fall of
# 1.5 C within a minute is a probe off (artefacts.py), scored with the last good value.
LOW_3 = {"hr": 95, "spo2": 95, "rr": 14, "sbp": 124, "dbp": 78, "temp": 38.5, "avpu": "A"}  # 1+1+1
RED_FLAG = {"hr": 72, "spo2": 97, "rr": 14, "sbp": 124, "dbp": 78, "temp": 36.8, "avpu": "V"}  # 3
SEVEN = {
    "hr": 105,
    "spo2": 93,
    "rr": 22,
    "sbp": 105,
    "dbp": 60,
    "temp": 38.5,
    "avpu": "A",
}  # 1+2+2+1+1
ELEVEN = {
    "hr": 125,
    "spo2": 91,
    "rr": 25,
    "sbp": 100,
    "dbp": 60,
    "temp": 38.5,
    "avpu": "A",
}  # 2+3+3+2+1
SIX = {"hr": 85, "spo2": 93, "rr": 22, "sbp": 105, "dbp": 60, "temp": 38.5, "avpu": "A"}  # 2+2+1+1
T0 = datetime.now(UTC) - timedelta(minutes=5)


class Monitor:
    """One provisioned monitor bound to a patient, sending through the real pipeline."""

    def __init__(self, app: FastAPI, device_id: str, key: bytes) -> None:
        runtime: Runtime = app.state.runtime
        self.pipeline = runtime.get(Pipeline)
        self.device_id, self.key, self.counter = device_id, key, 0

    async def send(self, *sets: tuple[float, dict[str, Any]]) -> None:
        """One batch: (seconds after T0, values) per reading."""
        batch = []
        for seconds, values in sets:
            self.counter += 1
            plaintext = vitals(T0 + timedelta(seconds=seconds), **values)
            batch.append(
                inbound(self.device_id, self.key, counter=self.counter, plaintext=plaintext)
            )
        outcome = await self.pipeline.handle(batch)
        assert outcome.accepted == len(sets), outcome


async def _monitor(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], name: str
) -> tuple[str, Monitor]:
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, name, patient_id=patient)
    return patient, Monitor(app, name, key)


async def _open_alerts(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/api/telemetry/alerts", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_default_threshold_follows_rcp_a_total_of_1_to_4_raises_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    low, low_monitor = await _monitor(app, client, admin, "mon-low")
    red, red_monitor = await _monitor(app, client, admin, "mon-red")
    await low_monitor.send((0, LOW_3))
    await red_monitor.send((0, RED_FLAG))
    alerts = await _open_alerts(client, admin)
    assert [(a["patient_id"], a["level"], a["news2"]) for a in alerts] == [
        (red, "low-medium", 3)  # one parameter scoring 3 (responds to voice) is an alert
    ]
    assert low not in {a["patient_id"] for a in alerts}


async def test_an_alert_shows_the_current_score_and_its_peak_and_the_worst_comes_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    changes: list[AlertChanged] = []

    async def keep(event: AlertChanged) -> None:
        changes.append(event)

    runtime: Runtime = app.state.runtime
    runtime.bus.subscribe(AlertChanged, keep)
    sick, sick_monitor = await _monitor(app, client, admin, "mon-sick")
    red, red_monitor = await _monitor(app, client, admin, "mon-red2")

    await sick_monitor.send((0, SEVEN))
    [alert] = await _open_alerts(client, admin)
    assert (alert["level"], alert["news2"], alert["peak"], alert["band"]) == ("high", 7, 7, "high")

    await sick_monitor.send((30, ELEVEN))
    [alert] = await _open_alerts(client, admin)
    assert (alert["level"], alert["news2"], alert["peak"]) == ("high", 11, 11)

    # Newest reading last in time, worst first in the batch: current is the newest, peak the worst.
    await sick_monitor.send((60, ELEVEN), (90, SIX))
    [alert] = await _open_alerts(client, admin)
    assert (alert["news2"], alert["band"], alert["peak"], alert["peak_band"]) == (
        6,
        "medium",
        11,
        "high",
    )
    assert alert["level"] == "high"  # the alert's level is the worst it reached, until resolved
    assert datetime.fromisoformat(alert["scored_at"]) == T0 + timedelta(seconds=90)
    assert datetime.fromisoformat(alert["peak_at"]) == T0 + timedelta(seconds=30)
    mine = [(c.change, c.level) for c in changes if c.patient_id == sick]
    assert mine == [("raised", "high"), ("score_changed", "high"), ("score_changed", "high")]

    # A less severe alert raised later still comes after the more severe one.
    await red_monitor.send((120, RED_FLAG))
    alerts = await _open_alerts(client, admin)
    assert [(a["patient_id"], a["level"]) for a in alerts] == [(sick, "high"), (red, "low-medium")]

    # A steady score changes nothing: no event, no rewrite.
    before = len(changes)
    await sick_monitor.send((150, SIX))
    assert len(changes) == before
