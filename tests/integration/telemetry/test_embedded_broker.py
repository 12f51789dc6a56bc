"""`emsync serve` with no MQTT host, run as a real process: it starts the embedded amqtt broker on
127.0.0.1 (on EMSYNC_MQTT__PORT: the machine's own Mosquitto holds 1883), and a sealed reading a
device publishes to that broker is stored, served and pushed over the WebSocket. With something
already listening on the port (as `make run` finds on a machine running Mosquitto), it uses that
broker instead."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from websockets.asyncio.client import ClientConnection, connect

from emsync.telemetry import envelope
from tests.live_server import HTTP_TIMEOUT_S, admin_token, live_server
from tests.mosquitto import running_mosquitto
from tests.ports import free_port
from tests.telemetry_support import make_patient, provision, vitals, wait_for


def listeners(port: int) -> list[tuple[str, int]]:
    """(address, socket inode) of every TCP socket listening on `port`, IPv4 and IPv6."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(FileNotFoundError), open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    assert len(address) == width
                    found.append((address, int(fields[9])))
    return found


def owner_command_line(inode: int) -> str:
    """The command line of the process holding the socket with this inode."""
    target = f"socket:[{inode}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return (
                            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                        )
    return ""


LOOPBACK_V4 = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


@contextlib.contextmanager
def device(port: int) -> Iterator[mqtt.Client]:
    """A monitor's MQTT client: 3.1.1, which is all the embedded broker speaks."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"embedded-test-device-{os.getpid()}",
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    connected = threading.Event()

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            connected.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise AssertionError(f"the device could not connect to 127.0.0.1:{port}")
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


@contextlib.asynccontextmanager
async def vitals_socket(base: str, token: str, patient: str) -> AsyncIterator[ClientConnection]:
    channel = f"vitals:{patient}"
    async with connect(
        base.replace("http://", "ws://") + "/ws",
        subprotocols=["emsync.v1", f"bearer.{token}"],  # type: ignore[list-item]
        open_timeout=HTTP_TIMEOUT_S,
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(json.dumps({"op": "subscribe", "channels": [channel]}))
        assert json.loads(await ws.recv()) == {"type": "subscribed", "channels": {channel: "ok"}}
        yield ws


async def publish_and_observe(base: str, mqtt_port: int, hr: int) -> dict[str, Any]:
    """Provision a bound monitor through the API, publish one sealed reading to the broker on
    `mqtt_port`; the WebSocket push it caused and the latest values the API then serves."""
    token = await asyncio.to_thread(admin_token, base)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        patient = await make_patient(client, headers)
        key, key_id, alg = await provision(client, headers, "mon-embedded", patient_id=patient)
        async with vitals_socket(base, token, patient) as ws:
            topic = envelope.topic_for("mon-embedded", "vitals")
            payload = envelope.seal(
                topic=topic,
                algorithm=alg,
                key=key,
                key_id=key_id,
                counter=1,
                plaintext=vitals(datetime.now(UTC), hr=hr, spo2=96, rr=18),
            )
            with device(mqtt_port) as monitor:
                info = monitor.publish(topic, payload, qos=1)
                await asyncio.to_thread(info.wait_for_publish, 10)
                assert info.is_published(), "the broker did not acknowledge the reading"
            pushed = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))

        async def served() -> bool:
            response = await client.get(
                f"/api/telemetry/patients/{patient}/vitals/latest", headers=headers
            )
            return response.status_code == 200 and "hr" in response.json()["values"]

        await wait_for(served, what="the reading served by the API")
        latest = await client.get(
            f"/api/telemetry/patients/{patient}/vitals/latest", headers=headers
        )
    return {"patient": patient, "pushed": pushed, "latest": latest.json()}


def _serve_env(database_url: str, mqtt_port: int) -> dict[str, str]:
    # No EMSYNC_MQTT__HOST: exactly what `make run` gives `emsync serve`.
    assert "EMSYNC_MQTT__HOST" not in os.environ
    return {
        "EMSYNC_DATABASE__URL": database_url,
        "EMSYNC_MQTT__PORT": str(mqtt_port),
        "EMSYNC_MQTT__CLIENT_ID": f"emsync-embedded-test-{os.getpid()}",
        "EMSYNC_LOG_LEVEL": "INFO",
    }


async def test_serve_without_a_broker_embeds_one_on_loopback_that_carries_readings(
    database_url: str, tmp_path: Path
) -> None:
    mqtt_port = free_port()
    assert listeners(mqtt_port) == []
    with live_server(tmp_path, extra_env=_serve_env(database_url, mqtt_port)) as base:
        bound = listeners(mqtt_port)
        assert bound, f"nothing listens on {mqtt_port}: {(tmp_path / 'server.log').read_text()}"
        assert {address for address, _ in bound} == {LOOPBACK_V4}  # 127.0.0.1 only, no IPv6
        for _, inode in bound:
            owner = owner_command_line(inode)
            assert "emsync serve" in owner, owner  # the server's own broker, not another one

        seen = await publish_and_observe(base, mqtt_port, hr=123)
    assert seen["pushed"]["channel"] == f"vitals:{seen['patient']}"
    assert [r["hr"] for r in seen["pushed"]["data"]["readings"]] == [123]
    assert seen["latest"]["values"]["hr"]["value"] == 123
    assert seen["latest"]["values"]["rr"]["value"] == 18
    assert "not starting the embedded one" not in (tmp_path / "server.log").read_text()
    assert listeners(mqtt_port) == []  # the broker went with the server


async def test_serve_uses_a_broker_already_listening_on_the_port(
    database_url: str, tmp_path: Path
) -> None:
    with running_mosquitto(tmp_path / "mqtt") as mosquitto:
        env = _serve_env(database_url, mosquitto.port)
        with live_server(tmp_path, extra_env=env) as base:
            seen = await publish_and_observe(base, mosquitto.port, hr=88)
        log = (tmp_path / "server.log").read_text()
    assert "a broker already listens; not starting the embedded one" in log
    assert seen["latest"]["values"]["hr"]["value"] == 88
    assert [r["hr"] for r in seen["pushed"]["data"]["readings"]] == [88]
