"""A full hand-off queue holds the MQTT thread back; nothing is lost or stored twice."""

from __future__ import annotations

from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.runtime import Runtime
from emsync.telemetry.models import StoredReading
from tests.builders import auth_headers
from tests.integration.telemetry.conftest import telemetry_settings, wait_subscribed
from tests.mosquitto import Mosquitto
from tests.telemetry_support import NORMAL, Publisher, make_patient, provision, vitals, wait_for


async def test_a_queue_smaller_than_the_stream_still_stores_every_reading_once(
    database_url: str, tmp_path: Path, broker: Mosquitto
) -> None:
    settings = telemetry_settings(database_url, tmp_path, broker.port)
    settings = settings.model_copy(
        update={"mqtt": settings.mqtt.model_copy(update={"queue_size": 2, "batch_max": 2})}
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        await wait_subscribed(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            admin = await auth_headers(app, client, Role.ADMIN)
            patient = await make_patient(client, admin)
            key, key_id, alg = await provision(client, admin, "mon-q", patient_id=patient)
        runtime: Runtime = app.state.runtime

        async def stored() -> int:
            async with runtime.sessions() as session:
                count = await session.scalar(select(func.count()).select_from(StoredReading))
                return int(count or 0)

        pub = Publisher(broker.port)
        try:
            for counter in range(1, 41):
                pub.sealed(
                    "mon-q",
                    key,
                    key_id=key_id,
                    algorithm=alg,
                    counter=counter,
                    plaintext=vitals(**NORMAL),
                )

            async def all_stored() -> bool:
                return await stored() >= 40

            await wait_for(all_stored, what="40 stored readings")
        finally:
            pub.close()
        assert await stored() == 40
