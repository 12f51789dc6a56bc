"""The replay window through the real Mosquitto: readings a device queued during a broker outage
arrive after a newer one (as paho 2.2 sends them after a reconnect) and are all stored once,
also across an ingest restart, while a replayed message is still refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import select

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.runtime import Runtime
from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.models import StoredReading
from tests.builders import auth_headers
from tests.integration.telemetry.conftest import telemetry_settings, wait_subscribed
from tests.mosquitto import Mosquitto
from tests.telemetry_support import make_patient, provision, vitals, wait_for

DEVICE = "mon-w1"
TOPIC = envelope.topic_for(DEVICE, "vitals")


def _publish_in_order(port: int, payloads: list[bytes]) -> None:
    """Publish QoS 1, one in flight: each waits for the broker's PUBACK of the one before, so
    the broker receives (and forwards) them in exactly this order."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"dev-{DEVICE}", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for payload in payloads:
            client.publish(TOPIC, payload, qos=1).wait_for_publish(timeout=60)
    finally:
        client.disconnect()
        client.loop_stop()


async def _stored(app: FastAPI) -> list[int]:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(StoredReading.counter).where(StoredReading.device_id == DEVICE)
        )
        return sorted(c + 2**63 for c in rows)


def _replayed(app: FastAPI) -> float:
    runtime: Runtime = app.state.runtime
    value = runtime.metrics.registry.get_sample_value(
        "emsync_telemetry_messages_rejected_total", {"reason": "replayed"}
    )
    return value or 0.0


async def test_queued_readings_after_a_newer_one_are_stored_once_across_a_restart(
    database_url: str, tmp_path: Path, broker: Mosquitto
) -> None:
    settings = telemetry_settings(database_url, tmp_path, broker.port, shared=False)
    first = create_app(settings)
    async with LifespanManager(first, startup_timeout=60, shutdown_timeout=60):
        await wait_subscribed(first)
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            admin = await auth_headers(first, client, Role.ADMIN)
            patient = await make_patient(client, admin)
            key, _, _ = await provision(client, admin, DEVICE, patient_id=patient)

        payloads = {
            c: envelope.seal(
                topic=TOPIC,
                algorithm=Algorithm.ASCON_AEAD128,
                key=key,
                key_id=1,
                counter=c,
                plaintext=vitals(hr=60 + c % 50),
            )
            for c in range(1, 151)
        }
        # 150 was published right after the reconnect, 77..148 were queued during the outage.
        wire = [*range(1, 77), 150, *range(77, 101)]
        await asyncio.to_thread(_publish_in_order, broker.port, [payloads[c] for c in wire])

        async def first_stored() -> bool:
            return len(await _stored(first)) >= len(wire)

        await wait_for(first_stored, seconds=60, what="the first part stored")
        assert await _stored(first) == sorted(wire)
        assert _replayed(first) == 0

    # After the restart the guard is seeded from storage: the rest of the queue (101..149) is
    # accepted although 150 is stored, while the captured messages 150 and 90 are refused.
    second = create_app(settings)
    async with LifespanManager(second, startup_timeout=60, shutdown_timeout=60):
        await wait_subscribed(second)
        rest = [payloads[c] for c in range(101, 150)]
        await asyncio.to_thread(
            _publish_in_order, broker.port, [*rest, payloads[150], payloads[90]]
        )

        async def all_done() -> bool:
            return len(await _stored(second)) >= 150 and _replayed(second) >= 2

        await wait_for(all_done, seconds=60, what="every reading stored and both replays refused")
        assert await _stored(second) == list(range(1, 151))  # each exactly once
        assert _replayed(second) == 2
