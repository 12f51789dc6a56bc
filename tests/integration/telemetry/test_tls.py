"""MQTT over TLS against a private Mosquitto whose only listener speaks TLS: a CA made at test
time, the ingest (and `emsync simulate`) verifying the broker's certificate, and client
certificates when the broker demands them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import structlog
import typer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from structlog.typing import EventDict
from typer.testing import CliRunner

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.cli import simulate
from emsync.telemetry.ingest import MqttIngest
from emsync.telemetry.simulator import SimDevice, save_devices
from tests.builders import auth_headers
from tests.integration.telemetry.conftest import telemetry_settings, wait_subscribed
from tests.mosquitto import Mosquitto, Pki, make_pki, running_mosquitto
from tests.telemetry_support import make_patient, provision, vitals, wait_for

_ids = itertools.count()


def tls_broker(
    workdir: Path, pki: Pki, *, require_certificate: bool
) -> contextlib.AbstractContextManager[Mosquitto]:
    return running_mosquitto(workdir, tls=pki, require_certificate=require_certificate)


def with_tls(settings: Settings, pki: Pki, *, client_certificate: bool) -> Settings:
    mqtt_settings = settings.mqtt.model_copy(
        update={
            "tls_ca": pki.ca,
            "tls_cert": pki.client_cert if client_certificate else None,
            "tls_key": pki.client_key if client_certificate else None,
        }
    )
    return settings.model_copy(update={"mqtt": mqtt_settings})


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """For the cases that store nothing: they run once, on SQLite."""
    target = tmp_path / "emsync.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@contextlib.contextmanager
def tls_device(port: int, *, trust: Path, cert: tuple[Path, Path] | None) -> Iterator[mqtt.Client]:
    """A device-side paho client of its own (not the code under test) connected over TLS."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"tls-device-{os.getpid()}-{next(_ids)}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.tls_set(
        ca_certs=str(trust),
        certfile=str(cert[0]) if cert else None,
        keyfile=str(cert[1]) if cert else None,
    )
    connected = threading.Event()

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            connected.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port, clean_start=True)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise AssertionError("the device could not connect over TLS")
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def publish_sealed(
    client: mqtt.Client, device_id: str, key: bytes, key_id: int, alg: Algorithm, **fields: Any
) -> None:
    topic = envelope.topic_for(device_id, "vitals")
    payload = envelope.seal(
        topic=topic, algorithm=alg, key=key, key_id=key_id, counter=1, plaintext=vitals(**fields)
    )
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(timeout=10)
    assert info.is_published(), "the broker did not acknowledge the reading"


def assert_plain_mqtt_is_refused(port: int) -> None:
    """The listener speaks TLS only, so whatever got through it above went encrypted."""
    connect = bytes.fromhex("101000044d5154540402003c0004706c61696e")  # CONNECT, id "plain"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(connect)
        try:
            answer = sock.recv(4)
        except ConnectionResetError:
            answer = b""
    assert answer[:1] != b"\x20", "a plaintext CONNECT got a CONNACK from the TLS listener"


async def latest_hr(client: httpx.AsyncClient, headers: dict[str, str], patient: str) -> Any:
    response = await client.get(f"/api/telemetry/patients/{patient}/vitals/latest", headers=headers)
    if response.status_code != 200:
        return None
    return response.json()["values"].get("hr", {}).get("value")


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        await wait_subscribed(application)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, client


async def _stored_through_tls(
    settings: Settings, broker: Mosquitto, pki: Pki, *, device_cert: bool, hr: int
) -> None:
    async with running(settings) as (app, client):
        admin = await auth_headers(app, client, Role.ADMIN)
        patient = await make_patient(client, admin)
        key, key_id, alg = await provision(client, admin, "mon-tls", patient_id=patient)
        cert = (pki.client_cert, pki.client_key) if device_cert else None
        with tls_device(broker.port, trust=pki.ca, cert=cert) as device:
            publish_sealed(device, "mon-tls", key, key_id, alg, hr=hr, spo2=95)

        async def served() -> bool:
            return bool(await latest_hr(client, admin, patient) == hr)

        await wait_for(served, what="the reading published over TLS served by the API")


async def test_ingest_over_tls_stores_a_sealed_reading_served_by_the_api(
    database_url: str, tmp_path: Path, pki: Pki
) -> None:
    with tls_broker(tmp_path / "mqtt", pki, require_certificate=False) as broker:
        settings = telemetry_settings(database_url, tmp_path, broker.port, shared=False)
        settings = with_tls(settings, pki, client_certificate=False)
        await _stored_through_tls(settings, broker, pki, device_cert=False, hr=101)
        assert_plain_mqtt_is_refused(broker.port)


async def test_client_certificate_admits_the_ingest_to_a_broker_that_requires_one(
    database_url: str, tmp_path: Path, pki: Pki
) -> None:
    with tls_broker(tmp_path / "mqtt", pki, require_certificate=True) as broker:
        settings = telemetry_settings(database_url, tmp_path, broker.port, shared=False)
        settings = with_tls(settings, pki, client_certificate=True)
        await _stored_through_tls(settings, broker, pki, device_cert=True, hr=117)


def _warnings(logs: list[EventDict], event: str) -> list[EventDict]:
    return [e for e in list(logs) if e["event"] == event and e["log_level"] == "warning"]


async def _refused(settings: Settings, event: str) -> tuple[list[EventDict], bool, str]:
    """Run the app against a broker that refuses its ingest: what the ingest logged, whether it
    ever connected, and what /health/ready and /metrics said meanwhile."""
    application = create_app(settings)  # configures logging: capture after it
    with structlog.testing.capture_logs() as logs:
        async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):

            async def retried() -> bool:
                return len(_warnings(logs, event)) >= 2

            await wait_for(retried, what=f"two '{event}' warnings (refused, then retried)")
            runtime: Runtime = application.state.runtime
            connected = runtime.get(MqttIngest).connected.is_set()
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                ready = await client.get("/health/ready")
                assert ready.status_code == 200, ready.text  # refused, but the service runs
                metrics = (await client.get("/metrics")).text
    return logs, connected, metrics


async def test_without_a_client_certificate_the_ingest_is_refused_and_keeps_running(
    sqlite_url: str, tmp_path: Path, pki: Pki
) -> None:
    with tls_broker(tmp_path / "mqtt", pki, require_certificate=True) as broker:
        settings = telemetry_settings(sqlite_url, tmp_path, broker.port, shared=False)
        settings = with_tls(settings, pki, client_certificate=False)
        # TLS 1.3: the client finishes its half of the handshake, then the broker drops it.
        _, connected, metrics = await _refused(
            settings, "mqtt disconnected; reconnecting with backoff"
        )
        broker_log = (broker.workdir / "mosquitto.log").read_text()
    assert not connected
    assert "emsync_telemetry_broker_connected 0.0" in metrics
    assert "peer did not return a certificate" in broker_log


async def test_a_broker_certificate_from_an_unknown_ca_is_refused(
    sqlite_url: str, tmp_path: Path, pki: Pki
) -> None:
    impostor = make_pki(tmp_path / "impostor", ca_name="Unknown CA")
    with tls_broker(tmp_path / "mqtt", impostor, require_certificate=False) as broker:
        settings = telemetry_settings(sqlite_url, tmp_path, broker.port, shared=False)
        settings = with_tls(settings, pki, client_certificate=False)  # trusts our CA only
        logs, connected, metrics = await _refused(
            settings, "mqtt connection failed; retrying with backoff"
        )
        # The broker itself is fine: a client trusting its CA gets in.
        with tls_device(broker.port, trust=impostor.ca, cert=None) as device:
            assert device.is_connected()
    assert not connected
    assert "emsync_telemetry_broker_connected 0.0" in metrics
    failures = _warnings(logs, "mqtt connection failed; retrying with backoff")
    assert all("CERTIFICATE_VERIFY_FAILED" in str(e["error"]) for e in failures), failures
    assert failures[0]["port"] == broker.port


async def test_a_broker_certificate_for_another_host_is_refused(
    sqlite_url: str, tmp_path: Path
) -> None:
    elsewhere = make_pki(tmp_path / "elsewhere", server_names=("mqtt.example.org",))
    with tls_broker(tmp_path / "mqtt", elsewhere, require_certificate=False) as broker:
        settings = telemetry_settings(sqlite_url, tmp_path, broker.port, shared=False)
        settings = with_tls(settings, elsewhere, client_certificate=False)  # the right CA
        logs, connected, _ = await _refused(
            settings, "mqtt connection failed; retrying with backoff"
        )
    assert not connected
    failures = _warnings(logs, "mqtt connection failed; retrying with backoff")
    assert all("IP address mismatch" in str(e["error"]) for e in failures), failures


# ---------------------------------------------------------------- emsync simulate


_simulate_app = typer.Typer()
_simulate_app.command()(simulate)  # the function `emsync simulate` runs, without the 20 s import


@dataclass(frozen=True, slots=True)
class SimulateRun:
    exit_code: int
    stderr: str


async def _simulate(env: dict[str, str], devices: Path) -> SimulateRun:
    """`emsync simulate` with these environment variables, in a thread (it blocks while it
    publishes) so this process's ingest keeps consuming."""
    args = ["--devices", str(devices), "--patients", "1", "--rate", "5", "--duration", "2"]
    args += ["--scenario", "stable"]
    result = await asyncio.to_thread(
        CliRunner().invoke, _simulate_app, args, env={"EMSYNC_ENV": "development", **env}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return SimulateRun(result.exit_code, result.stderr)


def _mqtt_env(port: int, pki: Pki, *, trust: Path) -> dict[str, str]:
    return {
        "EMSYNC_MQTT__HOST": "127.0.0.1",
        "EMSYNC_MQTT__PORT": str(port),
        "EMSYNC_MQTT__TLS_CA": str(trust),
        "EMSYNC_MQTT__TLS_CERT": str(pki.client_cert),
        "EMSYNC_MQTT__TLS_KEY": str(pki.client_key),
    }


async def test_simulate_publishes_over_tls_with_a_client_certificate(
    database_url: str, tmp_path: Path, pki: Pki
) -> None:
    with tls_broker(tmp_path / "mqtt", pki, require_certificate=True) as broker:
        settings = telemetry_settings(database_url, tmp_path, broker.port, shared=False)
        settings = with_tls(settings, pki, client_certificate=True)
        async with running(settings) as (app, client):
            admin = await auth_headers(app, client, Role.ADMIN)
            patient = await make_patient(client, admin)
            key, key_id, alg = await provision(client, admin, "sim-tls", patient_id=patient)
            devices = tmp_path / "devices.json"
            save_devices(devices, [SimDevice("sim-tls", key, key_id, alg, patient_id=patient)])

            done = await _simulate(_mqtt_env(broker.port, pki, trust=pki.ca), devices)
            assert done.exit_code == 0, done.stderr
            sent = int(done.stderr.rsplit("sent ", 1)[1].split()[0])
            assert sent >= 1

            async def all_stored() -> bool:
                response = await client.get(
                    f"/api/telemetry/patients/{patient}/vitals",
                    params={"start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"},
                    headers=admin,
                )
                return response.status_code == 200 and len(response.json()["items"]) == sent

            await wait_for(all_stored, what="every reading the simulator sent over TLS stored")


async def test_simulate_reports_a_broker_it_cannot_verify_and_exits(
    tmp_path: Path, pki: Pki
) -> None:
    impostor = make_pki(tmp_path / "impostor", ca_name="Unknown CA")
    with tls_broker(tmp_path / "mqtt", impostor, require_certificate=False) as broker:
        devices = tmp_path / "devices.json"
        save_devices(devices, [SimDevice("sim-x", b"k" * 16, 1, Algorithm.ASCON_AEAD128)])
        done = await _simulate(_mqtt_env(broker.port, pki, trust=pki.ca), devices)
    assert done.exit_code == 1
    assert "could not connect to the MQTT broker" in done.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr
