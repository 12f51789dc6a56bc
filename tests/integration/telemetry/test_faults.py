"""Faults: the broker restarts and the ingest process restarts mid-stream; every QoS 1 reading
the broker accepted is stored exactly once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.models import StoredReading
from tests.builders import auth_headers
from tests.integration.telemetry.conftest import telemetry_settings, wait_subscribed
from tests.mosquitto import Mosquitto, running_mosquitto
from tests.telemetry_support import make_patient, provision, vitals, wait_for

COUNT = 150


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """The broker as EMsync ships its configuration (deploy/mosquitto/emsync.conf)."""
    with running_mosquitto(tmp_path / "mqtt", shipped=True) as mosq:
        yield mosq


@pytest.fixture
def tele_settings(database_url: str, tmp_path: Path, broker: Mosquitto) -> Settings:
    # A plain subscription: Mosquitto 2.0.11 does not restore a $share subscription from its
    # persistence file, so with one, readings published between a broker restart and the ingest's
    # resubscription are lost (this test caught it); see the README.
    return telemetry_settings(database_url, tmp_path, broker.port, shared=False)


class DevicePublisher:
    """A device: persistent MQTT session, QoS 1, publishing counters 1..COUNT in a thread, in
    counter order on the wire: each publish waits for the broker's PUBACK of the one before.

    Why one in flight: paho 2.2 reorders a pipelining client across a reconnect. A publish()
    made while the broker is away stays in paho's queue, and one made after the new TCP
    connection opens goes out at once, before paho flushes that queue on CONNACK. The broker
    then receives e.g. 149 before 77..148. The replay guard used to refuse 77..148 as replays
    (the flaky failure "MISSING 77..148" under load); its window now accepts them, which
    test_replay_window.py tests deterministically. This test is about the broker's restart, so
    it keeps the wire order fixed."""

    def __init__(self, port: int, device_id: str, key: bytes) -> None:
        self.device_id = device_id
        self.key = key
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"dev-{device_id}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.max_queued_messages_set(0)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect_async("127.0.0.1", port, clean_start=False, properties=props)
        self._acked_mids: set[int] = set()
        self._lock = threading.Lock()
        self._acked = threading.Condition(self._lock)
        self.client.on_publish = self._on_publish
        self.client.loop_start()
        self.infos: dict[int, mqtt.MQTTMessageInfo] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.half = threading.Event()

    def _run(self) -> None:
        topic = envelope.topic_for(self.device_id, "vitals")
        for counter in range(1, COUNT + 1):
            payload = envelope.seal(
                topic=topic,
                algorithm=Algorithm.ASCON_AEAD128,
                key=self.key,
                key_id=1,
                counter=counter,
                plaintext=vitals(hr=60 + counter % 50),
            )
            info = self.client.publish(topic, payload, qos=1)
            self.infos[counter] = info
            if not self._wait_acked(info.mid):
                return  # the test's "every publish acknowledged" deadline reports it
            if counter == COUNT // 2:
                self.half.set()
            time.sleep(0.01)  # the device's pace (100/s), so the restart lands mid-stream

    def _wait_acked(self, mid: int) -> bool:
        with self._acked:  # across a broker restart this waits for the reconnect
            return self._acked.wait_for(lambda: mid in self._acked_mids, timeout=60)

    def _on_publish(self, _c: object, _u: object, mid: int, _rc: object, _p: object) -> None:
        with self._acked:  # PUBACK received: the broker has taken responsibility for it
            self._acked_mids.add(mid)
            self._acked.notify_all()

    def acknowledged(self) -> set[int]:
        with self._lock:
            return {c for c, info in list(self.infos.items()) if info.mid in self._acked_mids}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def stored_counters(app: FastAPI) -> list[int]:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        rows = await session.scalars(select(StoredReading.counter))
        return [c + 2**63 for c in rows]


async def _setup(app: FastAPI, client: httpx.AsyncClient, device_id: str) -> bytes:
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, device_id, patient_id=patient)
    return key


async def _all_acknowledged(pub: DevicePublisher) -> None:
    async def done() -> bool:
        return len(pub.acknowledged()) == COUNT

    await wait_for(done, seconds=60, what="every publish acknowledged by the broker")


async def test_broker_restart_mid_stream_loses_and_duplicates_nothing(
    tele_app: FastAPI, tele_client: httpx.AsyncClient, broker: Mosquitto
) -> None:
    key = await _setup(tele_app, tele_client, "mon-f1")
    pub = DevicePublisher(broker.port, "mon-f1", key)
    pub.thread.start()
    try:
        await asyncio.to_thread(pub.half.wait, 30)
        await asyncio.to_thread(broker.restart)
        await asyncio.to_thread(pub.thread.join, 60)
        await _all_acknowledged(pub)

        async def all_stored() -> bool:
            return len(await stored_counters(tele_app)) >= COUNT

        try:
            # 60 s like the other fault tests: a loaded machine (load 9-19) drains slowly.
            await wait_for(all_stored, seconds=60, what="every acknowledged reading stored")
        except AssertionError:
            got = set(await stored_counters(tele_app))
            print("MISSING", sorted(set(range(1, COUNT + 1)) - got))
            raise
    finally:
        pub.close()
    counters = await stored_counters(tele_app)
    assert sorted(counters) == sorted(pub.acknowledged())  # exactly once each


async def test_ingest_restart_mid_stream_loses_and_duplicates_nothing(
    tele_settings: Settings, broker: Mosquitto
) -> None:
    first = create_app(tele_settings)
    async with LifespanManager(first, startup_timeout=60, shutdown_timeout=60):
        await wait_subscribed(first)
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            key = await _setup(first, client, "mon-f2")
        pub = DevicePublisher(broker.port, "mon-f2", key)
        pub.thread.start()
        await asyncio.to_thread(pub.half.wait, 30)
    # Ingest is down while the device keeps publishing: the broker queues for its session.
    await asyncio.sleep(0.5)
    second = create_app(tele_settings)
    try:
        async with LifespanManager(second, startup_timeout=60, shutdown_timeout=60):
            await asyncio.to_thread(pub.thread.join, 60)
            await _all_acknowledged(pub)

            async def all_stored() -> bool:
                return len(await stored_counters(second)) >= COUNT

            await wait_for(all_stored, seconds=60, what="every acknowledged reading stored")
            counters = await stored_counters(second)
    finally:
        pub.close()
    assert sorted(counters) == sorted(pub.acknowledged())
    assert len(counters) == COUNT


async def _refuse_inserts(app: FastAPI, refuse: bool) -> None:
    """A trigger that makes the database itself refuse every stored reading, then its removal."""
    runtime: Runtime = app.state.runtime
    postgresql = runtime.engine.dialect.name == "postgresql"
    async with runtime.engine.begin() as conn:
        if not refuse:
            await conn.exec_driver_sql(
                "DROP TRIGGER refuse_readings ON telemetry_readings"
                if postgresql
                else "DROP TRIGGER refuse_readings"
            )
        elif postgresql:
            await conn.exec_driver_sql(
                "CREATE FUNCTION refuse_readings() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'storage unavailable'; END $$"
            )
            await conn.exec_driver_sql(
                "CREATE TRIGGER refuse_readings BEFORE INSERT ON telemetry_readings "
                "FOR EACH ROW EXECUTE FUNCTION refuse_readings()"
            )
        else:
            await conn.exec_driver_sql(
                "CREATE TRIGGER refuse_readings BEFORE INSERT ON telemetry_readings "
                "BEGIN SELECT RAISE(ABORT, 'storage unavailable'); END"
            )


async def test_storage_failing_mid_stream_loses_and_duplicates_nothing(
    tele_app: FastAPI, tele_client: httpx.AsyncClient, broker: Mosquitto
) -> None:
    # The database refuses writes for a while: the ingest retries each batch, acknowledges
    # nothing meanwhile (the broker keeps the messages), and stores everything once it can.
    key = await _setup(tele_app, tele_client, "mon-f3")
    runtime: Runtime = tele_app.state.runtime
    failures = runtime.metrics.registry.get_sample_value
    pub = DevicePublisher(broker.port, "mon-f3", key)
    pub.thread.start()
    try:
        await asyncio.to_thread(pub.half.wait, 30)
        await _refuse_inserts(tele_app, True)
        stored_while_up = len(await stored_counters(tele_app))

        async def retried() -> bool:
            return (failures("emsync_telemetry_store_failures_total") or 0) >= 3

        await wait_for(retried, seconds=30, what="batches refused and retried")
        assert len(await stored_counters(tele_app)) == stored_while_up
        await _refuse_inserts(tele_app, False)
        await asyncio.to_thread(pub.thread.join, 60)
        await _all_acknowledged(pub)

        async def all_stored() -> bool:
            return len(await stored_counters(tele_app)) >= COUNT

        await wait_for(all_stored, seconds=30, what="every reading stored after the outage")
    finally:
        pub.close()
    counters = await stored_counters(tele_app)
    assert sorted(counters) == list(range(1, COUNT + 1))
