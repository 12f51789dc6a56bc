"""Issue #14 item 3: a reading stamped in the future (a device with a wrong clock) must not pin
a patient's latest vitals; it is refused with a counted reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.api.telemetry.test_telemetry_api import inbound, pipeline_of
from tests.builders import auth_headers
from tests.telemetry_support import make_patient, provision, vitals


async def test_a_reading_from_2099_is_refused_and_never_latest(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-clock", patient_id=patient)
    now = datetime.now(UTC)
    future = datetime(2099, 1, 1, tzinfo=UTC)
    outcome = await pipeline_of(app).handle(
        [
            inbound("mon-clock", key, counter=1, plaintext=vitals(ts=future, hr=122)),
            # A batch with one reading from the future goes as a whole: the clock is wrong.
            inbound(
                "mon-clock",
                key,
                counter=2,
                plaintext=(
                    b'{"readings": [{"ts": "%s", "hr": 90}, {"ts": "%s", "hr": 91}]}'
                    % (now.isoformat().encode(), (now + timedelta(hours=1)).isoformat().encode())
                ),
            ),
            # Within the allowed skew (5 min by default): a clock a little fast is accepted.
            inbound(
                "mon-clock", key, counter=3, plaintext=vitals(ts=now + timedelta(minutes=2), hr=75)
            ),
            inbound("mon-clock", key, counter=4, plaintext=vitals(ts=now, hr=73)),
        ]
    )
    assert outcome.rejected == {"future_timestamp": 2}
    assert outcome.accepted == 2
    latest = await client.get(f"/api/telemetry/patients/{patient}/vitals/latest", headers=admin)
    assert latest.status_code == 200, latest.text
    assert latest.json()["values"]["hr"]["value"] in {73, 75}
    metrics = (await client.get("/metrics")).text
    assert 'emsync_telemetry_messages_rejected_total{reason="future_timestamp"} 2.0' in metrics
