"""`emsync keys` (master key file, rotation, re-wrapping device keys) and `emsync simulate`."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from emsync.telemetry.simulator import (
    Outgoing,
    Scenario,
    SimDevice,
    load_devices,
    load_replay,
    replay_stream,
    save_devices,
    scenario_stream,
)

if TYPE_CHECKING:
    import httpx

    from emsync.core.settings import Settings

console = Console(stderr=True, soft_wrap=True)
keys_app = typer.Typer(help="Master keys: create, rotate, re-wrap stored device keys.")


def _settings() -> Settings:
    from emsync.core.settings import Settings, with_development_secrets

    return with_development_secrets(Settings())


@keys_app.command("create")
def keys_create(
    file: Annotated[Path, typer.Option(help="Where to write the master key file (mode 0600)")],
) -> None:
    """Create a master key file; point EMSYNC_SECURITY__MASTER_KEY_FILE at it."""
    from emsync.telemetry import keys as device_keys

    try:
        device_keys.create_master_key_file(file)
    except FileExistsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"master key file [bold]{file}[/bold] created with key id 1")


@keys_app.command("rotate")
def keys_rotate(
    file: Annotated[Path, typer.Option(help="The master key file to add a new active key to")],
) -> None:
    """Add a new active master key; old ids stay readable. Then reload every process and run
    `emsync keys rewrap`: no downtime, as each process reads both ids meanwhile."""
    from emsync.telemetry import keys as device_keys

    if not file.exists():
        console.print(f"[red]error:[/red] {file} does not exist (create it with `keys create`)")
        raise typer.Exit(1)
    keyring = device_keys.rotate_master_key_file(file)
    console.print(
        f"master key {keyring.active_id} is now active in [bold]{file}[/bold]; "
        f"key ids {sorted(keyring.keys)} stay readable"
    )


async def _rewrap(settings: Settings) -> int:
    from emsync.core.crypto import Keyring
    from emsync.core.db import create_engine, session_factory
    from emsync.telemetry import devices

    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            return await devices.rewrap_device_keys(
                session=session, keyring=Keyring.from_settings(settings)
            )
    finally:
        await engine.dispose()


@keys_app.command("rewrap")
def keys_rewrap() -> None:
    """Re-seal every stored device key under the active master key."""
    changed = asyncio.run(_rewrap(_settings()))
    console.print(f"{changed} device key(s) re-wrapped under the active master key")


# ---------------------------------------------------------------- simulate


def _ok(response: httpx.Response) -> Any:
    if response.is_error:
        console.print(
            f"[red]{response.request.method} {response.request.url.path}[/red]: "
            f"{response.status_code} {response.text[:300]}"
        )
        raise typer.Exit(1)
    return response.json()


def _provision(
    *, api: str, username: str, password: str, patients: int, prefix: str, algorithm: str
) -> list[SimDevice]:
    """Create an incident, N patients and N bound devices through the HTTP API."""
    import httpx

    from emsync.telemetry.aead import Algorithm

    with httpx.Client(base_url=api, timeout=30) as http:
        token = http.post("/api/auth/token", data={"username": username, "password": password})
        if token.status_code != 200:
            raise typer.BadParameter(
                f"login of {username!r} failed ({token.status_code}): "
                "check --username and --password (EMSYNC_SIM_PASSWORD)"
            )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        devices = []
        incident_id = ""
        for i in range(patients):
            if i % 200 == 0:  # a simulated mass-casualty incident per 200 patients
                incident = _ok(
                    http.post(
                        "/api/incidents",
                        json={
                            "chief_complaint": "simulated patients (emsync simulate)",
                            "priority": 3,
                            "lat": 60.1699,
                            "lon": 24.9384,
                            "mci": patients > 1,
                            "callback_number": None,
                        },
                        headers=headers,
                    )
                )
                incident_id = incident["id"]
            patient = http.post(
                f"/api/incidents/{incident_id}/patients",
                json={"label": f"SIM{i + 1}"[:20]},
                headers=headers,
            )
            patient_id = _ok(patient)["id"]
            device_id = f"{prefix}{i + 1:04d}"
            created = http.post(
                "/api/telemetry/devices",
                json={"id": device_id, "type": "monitor", "algorithm": algorithm},
                headers=headers,
            )
            if created.status_code == 409:
                raise typer.BadParameter(f"device {device_id} exists: use another --prefix")
            key = _ok(created)["key"]
            _ok(
                http.post(
                    f"/api/telemetry/devices/{device_id}/bind",
                    json={"patient_id": patient_id},
                    headers=headers,
                )
            )
            devices.append(
                SimDevice(
                    device_id=device_id,
                    key=bytes.fromhex(key["key_hex"]),
                    key_id=int(key["key_id"]),
                    algorithm=Algorithm(key["algorithm_code"]),
                    patient_id=patient_id,
                )
            )
        return devices


def _provision_or_exit(*, api: str, **options: Any) -> list[SimDevice]:
    """_provision, with a one-line error instead of a traceback when the API cannot be reached."""
    import httpx

    try:
        return _provision(api=api, **options)
    except httpx.HTTPError as exc:
        console.print(
            f"[red]error:[/red] cannot reach the EMsync API at {api} ({type(exc).__name__}: "
            f"{exc or 'no answer'}); is `emsync serve` running? Set EMSYNC_PORT or --api."
        )
        raise typer.Exit(2) from None


def simulate(
    patients: Annotated[
        int, typer.Option(min=1, max=20_000, help="Patients (one device each)")
    ] = 15,
    rate: Annotated[float, typer.Option(min=0.001, help="Readings per second per patient")] = 1.0,
    duration: Annotated[float, typer.Option(min=0, help="Seconds to run (0: until Ctrl-C)")] = 60,
    scenario: Annotated[
        list[Scenario] | None, typer.Option(help="Scenario(s), cycled over the patients")
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(help="PhysioNet 2012 folder or .tar.gz, or a CSV/Excel file of readings"),
    ] = None,
    speed: Annotated[float, typer.Option(min=1, help="Replay time compression")] = 600,
    scenario_speed: Annotated[
        float, typer.Option(min=1, help="Scenario time compression (60: 10 min onset in 10 s)")
    ] = 1,
    devices_file: Annotated[
        Path, typer.Option("--devices", help="Device ids and keys (written by --provision)")
    ] = Path("var/simulator-devices.json"),
    provision: Annotated[
        bool, typer.Option(help="Create patients and bound devices through the API first")
    ] = False,
    api: Annotated[
        str | None,
        typer.Option(help="EMsync API for --provision (default: http://127.0.0.1:$EMSYNC_PORT)"),
    ] = None,
    username: Annotated[str, typer.Option(help="User for --provision")] = "admin",
    password: Annotated[
        str | None, typer.Option(envvar="EMSYNC_SIM_PASSWORD", help="Password for --provision")
    ] = None,
    prefix: Annotated[str, typer.Option(help="Device id prefix for --provision")] = "sim-",
    algorithm: Annotated[
        str, typer.Option(help="Device algorithm for --provision")
    ] = "ascon-aead128",
    host: Annotated[str | None, typer.Option(help="MQTT broker (EMSYNC_MQTT__HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="MQTT port (EMSYNC_MQTT__PORT)")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the scenarios")] = 7,
) -> None:
    """Publish sealed vitals for N patients through MQTT, as their monitors would."""
    settings = _settings()
    if provision:
        if password is None:
            password = typer.prompt(f"password of {username}", hide_input=True)
        devices = _provision_or_exit(
            api=api or f"http://127.0.0.1:{settings.port}",
            username=username,
            password=password,
            patients=patients,
            prefix=prefix,
            algorithm=algorithm,
        )
        save_devices(devices_file, devices)
        console.print(f"provisioned {len(devices)} devices into [bold]{devices_file}[/bold]")
    elif not devices_file.exists():
        console.print(
            f"[red]error:[/red] {devices_file} not found: run once with --provision "
            "(see the README, 'Live vitals')"
        )
        raise typer.Exit(2)
    else:
        devices = load_devices(devices_file)[:patients]
    client = _connected_client(settings, host=host, port=port)
    stream, label = _stream(
        devices,
        replay=replay,
        speed=speed,
        scenarios=scenario,
        interval=1.0 / rate,
        seed=seed,
        scenario_speed=scenario_speed,
    )
    sent, silent = _publish(client, stream, label=label, duration=duration)
    console.print(f"sent {sent} sealed readings ({silent} dropout slots skipped)")


def _stream(
    devices: list[SimDevice],
    *,
    replay: Path | None,
    speed: float,
    scenarios: list[Scenario] | None,
    interval: float,
    seed: int,
    scenario_speed: float,
) -> tuple[Iterator[tuple[float, Outgoing | None]], str]:
    """What to publish and its progress label: a replayed recording, else the scenarios."""
    if replay is not None:
        records = load_replay(replay, limit=len(devices))
        stream = replay_stream(devices, records, speed=speed)
        label = f"replaying {len(records)} record(s) from {replay.name}"
    else:
        chosen = scenarios or [
            Scenario.STABLE,
            Scenario.SEPSIS,
            Scenario.HYPOXIA,
            Scenario.HAEMORRHAGE,
            Scenario.BRADYCARDIA,
            Scenario.DROPOUT,
        ]
        stream = scenario_stream(
            devices, chosen, interval=interval, seed=seed, speed=scenario_speed
        )
        label = f"{len(devices)} patients, {', '.join(s.value for s in chosen)}"
    return stream, label


def _connected_client(settings: Settings, *, host: str | None, port: int | None) -> Any:
    """A started paho client connected to the broker, or exit with why it is not."""
    from emsync.telemetry.ingest import connect_properties, make_client

    mqtt_settings = settings.mqtt.model_copy(
        update={
            "host": host or settings.mqtt.host or "127.0.0.1",
            "port": port or settings.mqtt.port,
            "protocol": "3.1.1",  # works against both Mosquitto and the embedded amqtt
        }
    )
    client = make_client(mqtt_settings, client_id=f"emsync-sim-{os.getpid()}", persistent=False)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connected = threading.Event()

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:  # a refusal (bad credentials) is not a connection
            connected.set()

    client.on_connect = on_connect
    broker = f"{mqtt_settings.host}:{mqtt_settings.port}"
    try:
        client.connect(
            str(mqtt_settings.host),
            mqtt_settings.port,
            properties=connect_properties(mqtt_settings, persistent=False),
        )
    except OSError as exc:  # refused, unreachable, or TLS verification failed
        console.print(f"[red]error:[/red] could not connect to the MQTT broker {broker}: {exc}")
        raise typer.Exit(1) from None
    client.loop_start()
    if not connected.wait(10):
        console.print(f"[red]error:[/red] could not connect to the MQTT broker {broker}")
        client.loop_stop()
        raise typer.Exit(1)
    return client


def _publish(
    client: Any, stream: Iterator[tuple[float, Outgoing | None]], *, label: str, duration: float
) -> tuple[int, int]:
    """Publish the stream on its schedule until `duration` (or Ctrl-C), showing progress, then
    disconnect; returns (sent, silent slots)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    sent = silent = 0
    last = None
    deadline = time.monotonic() + duration if duration > 0 else float("inf")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[sent]} sent, {task.fields[silent]} silent"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(label, total=duration if duration > 0 else None, sent=0, silent=0)
        started = time.monotonic()
        try:
            for due, outgoing in stream:
                now = time.monotonic()
                if due > deadline or now > deadline:
                    break
                if due > now:
                    time.sleep(due - now)
                if outgoing is None:
                    silent += 1
                    continue
                topic, payload = outgoing.device.seal(outgoing.plaintext)
                last = client.publish(topic, payload, qos=1)
                sent += 1
                if sent % 50 == 0:
                    progress.update(
                        task, completed=time.monotonic() - started, sent=sent, silent=silent
                    )
        except KeyboardInterrupt:
            pass
        progress.update(task, completed=time.monotonic() - started, sent=sent, silent=silent)
    if last is not None:
        last.wait_for_publish(timeout=30)  # QoS 1: let the broker confirm what is in flight
    client.disconnect()
    client.loop_stop()
    return sent, silent
