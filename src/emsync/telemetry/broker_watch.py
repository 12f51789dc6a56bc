"""Watching the broker from the inside (issue #14 item 4): what EMsync can see of Mosquitto.

Readings the broker accepted but dropped before EMsync read them are lost without any trace in
EMsync: a stock Mosquitto queues 1,000 messages per offline session and drops the rest
(501 of 2,000 across a 10 s ingest restart at 200/s). The shipped configuration
(deploy/mosquitto/emsync.conf) sizes the queue for the documented outage; this watch checks,
at start-up, what the broker reports about itself under `$SYS` (version, that `$SYS` is
published at all) and raises a clinical-path alert when the broker reports dropped messages
(`$SYS/broker/publish/messages/dropped`, a count since the broker started), so someone looks.

The alert goes through the telemetry alert path (stored, pushed on `alerts`, audited,
escalated like the others) under the kind `broker`, with no patient: it concerns every patient
whose monitor publishes through that broker.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from prometheus_client import Gauge
from sqlalchemy import select

from emsync.core.ids import new_id
from emsync.core.runtime import Runtime
from emsync.core.settings import MqttSettings
from emsync.telemetry.alerts import AlertKind, AlertLevel, AlertStatus
from emsync.telemetry.events import AlertChanged
from emsync.telemetry.ingest import make_client
from emsync.telemetry.models import Alert

log = structlog.get_logger("emsync.telemetry.broker")

VERSION_TOPIC = "$SYS/broker/version"
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
SYSTEM_ACTOR = "system:broker-watch"
# Not a patient's: the alert concerns everything the broker carries.
NO_PATIENT = ""


class BrokerWatch:
    name = "broker-watch"

    def __init__(self, runtime: Runtime, *, start_timeout: float = 15.0) -> None:
        self._runtime = runtime
        self._settings: MqttSettings = runtime.settings.mqtt
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.version: str | None = None
        self.dropped: int | None = None
        self.sys_seen = asyncio.Event()
        self._gauge = Gauge(
            "emsync_telemetry_broker_dropped_messages",
            "messages the broker reports having dropped since it started ($SYS)",
            registry=runtime.metrics.registry,
        )

    @property
    def scope(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.sys_seen = asyncio.Event()
        client = make_client(
            self._settings, client_id=f"{self._settings.client_id}-sys", persistent=False
        )
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.connect_async(self._settings.host or "127.0.0.1", self._settings.port)
        client.loop_start()
        self._client = client
        self._tasks.add(asyncio.create_task(self._startup_check(), name="broker-sys-check"))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            self._client.disconnect()
            await asyncio.to_thread(self._client.loop_stop)
            self._client = None

    async def _startup_check(self) -> None:
        try:
            await asyncio.wait_for(self.sys_seen.wait(), timeout=self._start_timeout)
        except TimeoutError:
            log.warning(
                "the broker publishes no $SYS topics: broker-side drops cannot be watched; "
                "use deploy/mosquitto/emsync.conf (sys_interval) and allow reading $SYS",
                broker=self.scope,
            )
            return
        log.info("broker checked", broker=self.scope, version=self.version, dropped=self.dropped)

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        client.subscribe([(VERSION_TOPIC, 0), (DROPPED_TOPIC, 0)])

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # paho's network thread: hand the value to the event loop.
        loop = self._loop
        if loop is None:
            return
        text = message.payload.decode("utf-8", "replace").strip()
        loop.call_soon_threadsafe(self._received, message.topic, text)

    def _received(self, topic: str, text: str) -> None:
        if topic == VERSION_TOPIC:
            # Mosquitto publishes $SYS only with sys_interval > 0, and keeps its version for as
            # long as it runs: the version alone shows the watch can see $SYS. The dropped count
            # is published only when it changes, with a message expiry (2.0.11 no longer had it
            # 75 s after starting), so a watch that starts later learns it at its next change:
            # the one the alert is about.
            self.version = text
            self.sys_seen.set()
        elif topic == DROPPED_TOPIC:
            try:
                count = int(text)
            except ValueError:
                return
            previous, self.dropped = self.dropped, count
            self._gauge.set(count)
            if count > 0 and (previous is None or count > previous):
                task = asyncio.create_task(self._alert(count), name="broker-drop-alert")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _alert(self, dropped: int) -> None:
        log.error(
            "the broker dropped messages before EMsync read them: readings are lost",
            broker=self.scope,
            dropped=dropped,
        )
        runtime = self._runtime
        now = runtime.clock()
        ack = timedelta(seconds=runtime.settings.telemetry.ack_timeout_seconds)
        async with runtime.sessions() as session, session.begin():
            open_alert = await session.scalar(
                select(Alert).where(
                    Alert.kind == AlertKind.BROKER.value,
                    Alert.scope == self.scope,
                    Alert.status != AlertStatus.RESOLVED.value,
                )
            )
            if open_alert is not None:
                return  # one open alert per broker; the metric keeps the running count
            alert = Alert(
                id=new_id(),
                patient_id=NO_PATIENT,
                kind=AlertKind.BROKER.value,
                scope=self.scope,
                level=AlertLevel.HIGH.value,
                status=AlertStatus.RAISED.value,
                raised_at=now,
                updated_at=now,
                escalation_step=0,
                escalate_at=now + ack,
            )
            session.add(alert)
        event = AlertChanged(
            alert_id=alert.id,
            patient_id=NO_PATIENT,
            kind=alert.kind,
            level=alert.level,
            status=alert.status,
            change="raised",
            actor=SYSTEM_ACTOR,
            at=now,
        )
        await runtime.bus.publish(event)
