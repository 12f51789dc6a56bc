"""Issue #14 item 4: with the shipped Mosquitto configuration a long ingest outage loses nothing;
with a stock queue limit the broker drops readings, and EMsync says so through its alert path
(it reads `$SYS/broker/publish/messages/dropped`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from asgi_lifespan import LifespanManager
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import select

from emsync.bootstrap import create_app
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.broker_watch import BrokerWatch
from emsync.telemetry.events import AlertChanged
from emsync.telemetry.models import Alert
from tests.integration.telemetry.conftest import telemetry_settings, wait_subscribed
from tests.integration.telemetry.test_faults import _setup, stored_counters
from tests.mosquitto import running_mosquitto
from tests.telemetry_support import vitals, wait_for

WHILE_AWAY = 1_200  # beyond a stock Mosquitto's 1,000 queued messages per session


def _publish_all(port: int, device_id: str, key: bytes) -> int:
    """Publish WHILE_AWAY readings at QoS 1 and wait for every PUBACK; returns how many."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"dev-{device_id}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topic = envelope.topic_for(device_id, "vitals")
    infos = [
        client.publish(
            topic,
            envelope.seal(
                topic=topic,
                algorithm=Algorithm.ASCON_AEAD128,
                key=key,
                key_id=1,
                counter=n,
                plaintext=vitals(hr=70),
            ),
            qos=1,
        )
        for n in range(1, WHILE_AWAY + 1)
    ]
    for info in infos:
        info.wait_for_publish(timeout=60)
    acked = sum(1 for info in infos if info.is_published())
    client.disconnect()
    client.loop_stop()
    return acked


async def _run_outage(settings: Settings, port: int, device_id: str) -> tuple[int, int, list[str]]:
    """Ingest up (subscribed, session kept), then away while the device publishes, then back.
    Returns (acknowledged by the broker, stored, kinds of alerts raised after the return)."""
    first = create_app(settings)
    async with LifespanManager(first, startup_timeout=60, shutdown_timeout=60):
        await wait_subscribed(first)
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            key = await _setup(first, client, device_id)
    acked = await asyncio.to_thread(_publish_all, port, device_id, key)
    second = create_app(settings)
    runtime: Runtime = second.state.runtime
    raised: list[str] = []

    async def record(event: AlertChanged) -> None:
        raised.append(event.kind)

    runtime.bus.subscribe(AlertChanged, record)
    async with LifespanManager(second, startup_timeout=60, shutdown_timeout=60):
        watch = runtime.get(BrokerWatch)
        await asyncio.wait_for(watch.sys_seen.wait(), timeout=30)

        async def settled() -> bool:
            return len(await stored_counters(second)) >= acked or bool(raised)

        await wait_for(settled, seconds=60, what="readings stored or an alert raised")
        await asyncio.sleep(1)  # the last batches, if any, and the alert task
        stored = len(await stored_counters(second))
        async with runtime.sessions() as session:
            kinds = [a.kind for a in await session.scalars(select(Alert))]
    return acked, stored, sorted(set(raised) | set(kinds))


async def test_the_shipped_configuration_keeps_a_long_outage(
    database_url: str, tmp_path: Path
) -> None:
    with running_mosquitto(tmp_path / "mqtt", shipped=True) as broker:
        settings = telemetry_settings(database_url, tmp_path, broker.port, shared=False)
        acked, stored, alerts = await _run_outage(settings, broker.port, "mon-ship")
    assert acked == WHILE_AWAY
    assert stored == WHILE_AWAY
    assert "broker" not in alerts


async def test_a_broker_that_drops_readings_raises_an_alert(
    database_url: str, tmp_path: Path
) -> None:
    stock = "max_queued_messages 1000\nsys_interval 1\n"  # Mosquitto's default queue limit
    with running_mosquitto(tmp_path / "mqtt", extra=stock) as broker:
        settings = telemetry_settings(database_url, tmp_path, broker.port, shared=False)
        acked, stored, alerts = await _run_outage(settings, broker.port, "mon-stock")
    assert acked == WHILE_AWAY  # the broker acknowledged them all...
    assert stored < WHILE_AWAY  # ...and dropped some before EMsync could read them
    assert "broker" in alerts
