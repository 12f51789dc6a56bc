"""MQTT ingest (the `ingest` role): a paho-mqtt 2.x consumer feeding the pipeline.

paho's network thread only moves each message into a bounded queue (when it is full the thread
blocks, the socket stops being read, and TCP pushes back on the broker); the asyncio side drains
the queue in batches through the pipeline and acknowledges (QoS 1, manual acks) only after the
batch is durably stored or refused for good. The session is persistent (fixed client id, clean
start off, session expiry), so messages published while EMsync is down are delivered when it
comes back, and unacknowledged ones are redelivered.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from emsync.core.settings import MqttSettings
from emsync.telemetry.metrics import TelemetryMetrics
from emsync.telemetry.pipeline import Inbound, Pipeline

log = structlog.get_logger("emsync.telemetry.ingest")

TOPIC_FILTER = "emsync/v1/devices/+/+"


def subscription(settings: MqttSettings) -> str:
    """The filter to subscribe: shared across ingest processes on MQTT 5, plain otherwise."""
    if settings.shared_subscription and settings.protocol == "5":
        return f"$share/{settings.share_group}/{TOPIC_FILTER}"
    return TOPIC_FILTER


class _HandshakeClosingSocket(ssl.SSLSocket):
    """paho 2.2 drops the socket of a failed TLS handshake (unknown CA, refused certificate)
    without closing it: each retry would hold a descriptor until the collector ran."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """Verify the broker against `tls_ca` only (certificate and host name); present the client
    certificate when one is set."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(settings.tls_ca))
    if settings.tls_cert is not None:
        context.load_cert_chain(
            str(settings.tls_cert), str(settings.tls_key) if settings.tls_key else None
        )
    context.sslsocket_class = _HandshakeClosingSocket
    return context


def _log_connect_failure(client: mqtt.Client, _userdata: Any) -> None:
    # paho calls this from inside its `except OSError` around the (re)connect and passes no
    # error, so the one that failed (refused, unreachable, TLS verification) is the one in flight.
    error = sys.exc_info()[1]
    log.warning(
        "mqtt connection failed; retrying with backoff",
        host=client.host,
        port=client.port,
        error=repr(error) if error is not None else None,
    )


def make_client(
    settings: MqttSettings, *, client_id: str, manual_ack: bool = False, persistent: bool = True
) -> mqtt.Client:
    """A paho client configured from settings (TLS, credentials, backoff): ingest and tools."""
    v5 = settings.protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if v5 else not persistent,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        manual_ack=manual_ack,
    )
    if settings.username:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    if settings.tls_ca is not None:
        client.tls_set_context(tls_context(settings))
    client.on_connect_fail = _log_connect_failure
    client.reconnect_delay_set(
        min_delay=max(1, round(settings.reconnect_min_seconds)),
        max_delay=max(1, round(settings.reconnect_max_seconds)),
    )
    return client


def connect_properties(settings: MqttSettings, *, persistent: bool = True) -> Properties | None:
    if settings.protocol != "5":
        return None
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if persistent:
        props.SessionExpiryInterval = settings.session_expiry_seconds
    props.ReceiveMaximum = settings.receive_maximum
    return props


class MqttIngest:
    """BackgroundService of the ingest role."""

    name = "telemetry.ingest"

    def __init__(
        self, *, settings: MqttSettings, pipeline: Pipeline, metrics: TelemetryMetrics
    ) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._metrics = metrics
        self._queue: collections.deque[tuple[int, int, Inbound]] = collections.deque()
        # Messages taken but not yet acknowledged = _taken - _released. Each counter is written
        # by one thread only (paho's, the event loop's), so no lock is needed on the hot path;
        # a threading.Semaphore (pure Python, a Condition per call) cost more per message than
        # moving the message did.
        self._taken = 0
        self._released = 0
        self._room = threading.Event()
        self._idle = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._generation = 0  # bumped on every (re)connect: acks never cross connections
        self._stopping = False
        self.connected = threading.Event()
        self.subscribed = threading.Event()

    # ---- paho network thread

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("mqtt connect refused", reason=str(reason))
            return
        self._generation += 1
        self.connected.set()
        self._metrics.connected.set(1)
        log.info("mqtt connected", session_present=bool(flags.session_present))
        client.subscribe(subscription(self._settings), qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("mqtt subscription refused", reasons=[str(r) for r in reasons])
            return
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        self._metrics.connected.set(0)
        if not self._stopping:
            log.warning("mqtt disconnected; reconnecting with backoff", reason=str(reason))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        # Blocks when the queue is full: back-pressure instead of unbounded memory.
        while self._taken - self._released >= self._settings.queue_size and not self._stopping:
            self._room.clear()
            if self._taken - self._released >= self._settings.queue_size:
                self._room.wait(1.0)
        self._taken += 1
        self._queue.append(
            (self._generation, msg.mid, Inbound(msg.topic, bytes(msg.payload), time.monotonic()))
        )
        if self._idle:
            self._idle = False
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(self._wake.set)

    # ---- asyncio side

    async def start(self) -> None:
        await self._pipeline.start()
        self._loop = asyncio.get_running_loop()
        s = self._settings
        if s.host is None:
            raise RuntimeError("MQTT ingest needs a broker host (EMSYNC_MQTT__HOST)")
        client = make_client(s, client_id=s.client_id, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self._task = asyncio.create_task(self._consume(), name="telemetry-ingest")
        client.connect_async(
            s.host,
            s.port,
            keepalive=s.keepalive_seconds,
            clean_start=False,
            properties=connect_properties(s),
        )
        client.loop_start()
        log.info("mqtt ingest started", host=s.host, port=s.port, filter=subscription(s))

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            self._client.disconnect()
            # Unblock the network thread if it waits for queue space, then let it end.
            self._room.set()
            await asyncio.to_thread(self._client.loop_stop)
        self._metrics.connected.set(0)

    async def _next_batch(self) -> list[tuple[int, int, Inbound]]:
        queue = self._queue
        while not queue:
            self._wake.clear()
            self._idle = True
            if queue:  # appended between the check and the flag: do not sleep on it
                self._idle = False
                break
            await self._wake.wait()
        n = min(len(queue), self._settings.batch_max)
        return [queue.popleft() for _ in range(n)]

    async def _consume(self) -> None:
        retry = self._settings.store_retry_seconds
        while True:
            batch = await self._next_batch()
            self._metrics.queue_depth.set(len(self._queue))
            messages = [item[2] for item in batch]
            while True:
                try:
                    await self._pipeline.handle(messages)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - storage down: retry, never ack
                    self._metrics.store_failures.inc()
                    log.error("telemetry batch not stored; retrying", error=type(exc).__name__)
                    await asyncio.sleep(retry)
            client = self._client
            generation = self._generation
            if client is not None:
                for gen, mid, _ in batch:
                    if gen == generation:
                        client.ack(mid, 1)
            self._released += len(batch)
            self._room.set()
