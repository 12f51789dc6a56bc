"""Builders for telemetry tests and benchmarks: patients, provisioned devices, a publisher."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from tests.builders import incident_body


async def make_patient(
    client: httpx.AsyncClient, headers: dict[str, str], *, age_years: int = 60
) -> str:
    incident = await client.post("/api/incidents", json=incident_body(), headers=headers)
    assert incident.status_code == 201, incident.text
    patient = await client.post(
        f"/api/incidents/{incident.json()['id']}/patients",
        json={"label": "P1", "age_years": age_years},
        headers=headers,
    )
    assert patient.status_code == 201, patient.text
    return str(patient.json()["id"])


async def provision(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    device_id: str,
    *,
    patient_id: str | None,
    algorithm: str = "ascon-aead128",
) -> tuple[bytes, int, Algorithm]:
    """Register (and bind) a device; its key, key id and algorithm code."""
    created = await client.post(
        "/api/telemetry/devices",
        json={"id": device_id, "type": "monitor", "algorithm": algorithm},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    if patient_id is not None:
        bound = await client.post(
            f"/api/telemetry/devices/{device_id}/bind",
            json={"patient_id": patient_id},
            headers=headers,
        )
        assert bound.status_code == 200, bound.text
    return bytes.fromhex(key["key_hex"]), int(key["key_id"]), Algorithm(key["algorithm_code"])


def vitals(ts: datetime | None = None, **fields: Any) -> bytes:
    stamp = (ts or datetime.now(UTC)).isoformat()
    return json.dumps({"ts": stamp, **fields}).encode()


NORMAL: dict[str, Any] = {
    "hr": 72,
    "spo2": 97,
    "rr": 14,
    "sbp": 124,
    "dbp": 78,
    "temp": 36.8,
    "avpu": "A",
}
SICK: dict[str, Any] = {
    "hr": 135,
    "spo2": 88,
    "rr": 28,
    "sbp": 85,
    "dbp": 50,
    "temp": 39.5,
    "avpu": "V",
}


class Publisher:
    """A device-side MQTT client: QoS 1 publishes, confirmed by PUBACK (MQTT 5)."""

    def __init__(self, port: int, client_id: str = "test-publisher") -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self._connected = threading.Event()
        self.client.on_connect = lambda *_a: self._connected.set()
        self.client.connect("127.0.0.1", port, clean_start=True)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise TimeoutError("publisher did not connect")

    def publish(self, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=1)

    def sealed(
        self,
        device_id: str,
        key: bytes,
        *,
        key_id: int = 1,
        counter: int,
        plaintext: bytes,
        algorithm: Algorithm = Algorithm.ASCON_AEAD128,
        kind: str = "vitals",
    ) -> mqtt.MQTTMessageInfo:
        topic = envelope.topic_for(device_id, kind)
        payload = envelope.seal(
            topic=topic,
            algorithm=algorithm,
            key=key,
            key_id=key_id,
            counter=counter,
            plaintext=plaintext,
        )
        return self.publish(topic, payload)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, seconds: float = 20, what: str = "condition"
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
