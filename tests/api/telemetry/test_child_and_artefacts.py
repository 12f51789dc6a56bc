"""A child on a monitor is scored and alerted with PEWS, never NEWS2; probable artefacts are
flagged on the reading, stored and pushed, and left out of the score (through the pipeline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.telemetry.events import VitalsReceived
from emsync.telemetry.vitals import LatestValues
from tests.api.telemetry.test_telemetry_api import inbound, pipeline_of
from tests.builders import auth_headers
from tests.telemetry_support import NORMAL, make_patient, provision, vitals

# A two-year-old in respiratory distress: HR 165, RR 48, SpO2 90 on oxygen.
CHILD_SICK: dict[str, Any] = {"hr": 165, "spo2": 90, "rr": 48, "sbp": 95, "dbp": 55, "o2": True}


def capture(app: FastAPI) -> list[VitalsReceived]:
    seen: list[VitalsReceived] = []

    async def keep(event: VitalsReceived) -> None:
        seen.append(event)

    runtime: Runtime = app.state.runtime
    runtime.bus.subscribe(VitalsReceived, keep)
    return seen


async def test_a_child_is_scored_and_alerted_with_pews_never_news2(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin, age_years=2)
    key, _, _ = await provision(client, admin, "mon-child", patient_id=patient)
    seen = capture(app)
    pipeline = pipeline_of(app)
    await pipeline.handle([inbound("mon-child", key, counter=1, plaintext=vitals(**CHILD_SICK))])
    reading = seen[-1].readings[-1]
    assert "news2" not in reading
    # 1-4 years: HR 165 -> 2, RR 48 -> 1, SpO2 90 -> 2, oxygen -> 2, SBP 95 -> 0.
    assert reading["pews"]["total"] == 7
    assert reading["pews"]["band"] == "medium"
    assert "capillary_refill" in reading["pews"]["not_measured"]

    alerts = (await client.get("/api/telemetry/alerts", headers=admin)).json()["items"]
    mine = [a for a in alerts if a["patient_id"] == patient]
    assert [(a["kind"], a["level"], a["news2"], a["pews"]) for a in mine] == [
        ("pews", "medium", None, 7)
    ]
    latest = (
        await client.get(f"/api/telemetry/patients/{patient}/vitals/latest", headers=admin)
    ).json()
    assert latest["news2"] is None
    assert latest["pews"]["total"] == 7
    history = await client.get(
        f"/api/telemetry/patients/{patient}/vitals",
        params={
            "start": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "end": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
        },
        headers=admin,
    )
    item = history.json()["items"][0]
    assert (item["news2"], item["pews"]) == (None, 7)


async def test_a_lead_off_is_flagged_shown_and_kept_out_of_news2(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-lead", patient_id=patient)
    seen = capture(app)
    pipeline = pipeline_of(app)
    now = datetime.now(UTC)
    await pipeline.handle(
        [
            inbound(
                "mon-lead", key, counter=1, plaintext=vitals(now - timedelta(seconds=5), **NORMAL)
            )
        ]
    )
    lead_off = {**NORMAL, "hr": 0}  # SpO2 97 and a BP still measured: a pulse is there
    await pipeline.handle([inbound("mon-lead", key, counter=2, plaintext=vitals(now, **lead_off))])
    reading = seen[-1].readings[-1]
    assert reading["hr"] == 0  # stored and pushed as measured, never dropped
    assert reading["artefacts"] == [{"field": "hr", "kind": "lead_off"}]
    assert reading["news2"]["subscores"][4] == 0  # pulse scored from the last real value (72)
    alerts = (await client.get("/api/telemetry/alerts", headers=admin)).json()["items"]
    assert not [a for a in alerts if a["patient_id"] == patient]
    history = await client.get(
        f"/api/telemetry/patients/{patient}/vitals",
        params={
            "start": (now - timedelta(minutes=5)).isoformat(),
            "end": (now + timedelta(minutes=5)).isoformat(),
        },
        headers=admin,
    )
    flagged = [i for i in history.json()["items"] if i["artefacts"]]
    assert [(i["hr"], i["artefacts"]) for i in flagged] == [
        (0, [{"field": "hr", "kind": "lead_off"}])
    ]
    # The charted series (the tile's heart-rate line, the history chart) do not draw the 0 as the
    # patient's heart rate; SpO2 of the same reading is charted.
    charted = await client.get(
        f"/api/telemetry/patients/{patient}/vitals",
        params={
            "start": (now - timedelta(minutes=5)).isoformat(),
            "end": (now + timedelta(minutes=5)).isoformat(),
            "points": 1,
        },
        headers=admin,
    )
    series = charted.json()["series"]
    assert [(p["value"], p["n"]) for p in series["hr"]] == [(NORMAL["hr"], 1)]
    assert [p["n"] for p in series["spo2"]] == [2]

    # The latest view (what a monitor tile loads) shows the 0 marked and scores as the pipeline
    # did, from this process's cache and from storage alike (another process, a restart).
    async def latest() -> dict[str, Any]:
        url = f"/api/telemetry/patients/{patient}/vitals/latest"
        answer: dict[str, Any] = (await client.get(url, headers=admin)).json()
        return answer

    def agrees(view: dict[str, Any], reading: dict[str, Any]) -> None:
        assert view["values"]["hr"]["value"] == 0
        assert view["values"]["hr"]["artefact"] == "lead_off"
        assert view["values"]["spo2"]["artefact"] is None
        assert view["news2"]["subscores"] == reading["news2"]["subscores"]
        assert view["news2"]["total"] == reading["news2"]["total"]

    agrees(await latest(), reading)
    # A reading without a heart rate is still scored with the last real one, not the lead off's
    # 0 that is the newest heart rate measured.
    without_hr = {k: v for k, v in NORMAL.items() if k != "hr"}
    later = vitals(now + timedelta(seconds=2), **without_hr)
    await pipeline.handle([inbound("mon-lead", key, counter=3, plaintext=later)])
    assert seen[-1].readings[-1]["news2"]["subscores"][4] == 0
    agrees(await latest(), seen[-1].readings[-1])
    app.state.runtime.get(LatestValues).forget(patient)  # as another process or a restart reads
    agrees(await latest(), seen[-1].readings[-1])
    # A real heart rate clears the mark.
    back = vitals(now + timedelta(seconds=4), **NORMAL)
    await pipeline.handle([inbound("mon-lead", key, counter=4, plaintext=back)])
    assert (await latest())["values"]["hr"] == {
        "value": NORMAL["hr"],
        "ts": (now + timedelta(seconds=4)).isoformat().replace("+00:00", "Z"),
        "artefact": None,
    }


async def test_asystole_without_a_pulse_is_not_taken_for_an_artefact(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-arrest", patient_id=patient)
    seen = capture(app)
    pipeline = pipeline_of(app)
    now = datetime.now(UTC)
    await pipeline.handle(
        [
            inbound(
                "mon-arrest", key, counter=1, plaintext=vitals(now - timedelta(seconds=5), **NORMAL)
            )
        ]
    )
    arrest = {"hr": 0, "rr": 0, "temp": 36.8}  # no SpO2 and no pressure: nothing says a pulse
    await pipeline.handle([inbound("mon-arrest", key, counter=2, plaintext=vitals(now, **arrest))])
    reading = seen[-1].readings[-1]
    assert "artefacts" not in reading
    assert reading["news2"]["subscores"][4] == 3
    alerts = (await client.get("/api/telemetry/alerts", headers=admin)).json()["items"]
    assert [a["kind"] for a in alerts if a["patient_id"] == patient] == ["news2"]


async def test_the_latest_view_scores_on_the_spo2_scale_the_device_is_bound_with(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # A patient with hypercapnic failure (target 88-92 %): the device is bound on SpO2 scale 2,
    # so 89 % on air scores 0, where scale 1 gives it 3. The tile's reload must agree with the push.
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-copd", patient_id=None)
    bound = await client.post(
        "/api/telemetry/devices/mon-copd/bind",
        json={"patient_id": patient, "spo2_scale": 2},
        headers=admin,
    )
    assert bound.status_code == 200, bound.text
    seen = capture(app)
    await pipeline_of(app).handle(
        [inbound("mon-copd", key, counter=1, plaintext=vitals(**{**NORMAL, "spo2": 89}))]
    )
    pushed = seen[-1].readings[-1]["news2"]
    latest = (
        await client.get(f"/api/telemetry/patients/{patient}/vitals/latest", headers=admin)
    ).json()["news2"]
    assert pushed["subscores"][1] == 0  # scale 2: 88-92 % scores 0
    assert (latest["total"], latest["subscores"]) == (pushed["total"], pushed["subscores"])
