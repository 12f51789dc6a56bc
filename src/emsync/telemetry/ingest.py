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
import functools
import math
import ssl
import struct
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt import __version__ as paho_version
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from emsync.core.settings import MqttSettings
from emsync.telemetry.metrics import TelemetryMetrics
from emsync.telemetry.partition import Partition
from emsync.telemetry.pipeline import Inbound, Pipeline, PreparedBatch

log = structlog.get_logger("emsync.telemetry.ingest")

TOPIC_FILTER = "emsync/v1/devices/+/+"
T = TypeVar("T")
# A reading waiting this long for the pipeline means the ingest is behind: API requests wait
# (for at most a lease each) until it has caught up. A fifth of the 50 ms publish -> WebSocket
# budget; below it the API runs as it would without the ingest.
BEHIND_SECONDS = 0.010
# Readings taken within this long mean the ingest is active: API requests of the same process
# then take fewer turns at a time (http.concurrent_requests_with_ingest).
ACTIVE_SECONDS = 1.0


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


# PUBACK: fixed header 0x40, remaining length 2, packet id. With remaining length 2 an MQTT 5
# PUBACK means reason code 0 (success), exactly what `Client.ack(mid, 1)` sends.
_PUBACK = struct.Struct("!BBH")
_PUBACK_TYPE = 0x40
_READ_CHUNK = 64 * 1024


class ReadBuffer:
    """Buffered reads under paho's packet parser (paho-mqtt 2.2, pinned).

    paho reads each packet with one select() and at least three recv() calls (type byte, length
    bytes, body), and `loop_read` handles one packet per select(): most of the network thread's
    time went on those system calls. This reads up to 64 KiB per recv() and has `loop_read`
    carry on while whole packets are already buffered, so a burst costs a select() and a recv()
    per 64 KiB. The parser, and what it does with each packet, is paho's own. A new socket (a
    reconnect) starts with an empty buffer: nothing read from an old connection is parsed
    after it. TLS works the same way (`_sock_recv` turns SSLWantRead into BlockingIOError).
    """

    __slots__ = ("_client", "_data", "_loop_read", "_pos", "_recv", "_sock")

    def __init__(self, client: mqtt.Client) -> None:
        self._client = client
        self._recv = client._sock_recv
        self._loop_read = client.loop_read
        self._sock: object = None
        self._data = b""
        self._pos = 0

    def install(self) -> None:
        self._client._sock_recv = self.recv  # type: ignore[method-assign]
        self._client.loop_read = self.loop_read  # type: ignore[method-assign]

    def recv(self, bufsize: int) -> bytes:
        sock = self._client._sock
        if sock is not self._sock:
            self._sock, self._data, self._pos = sock, b"", 0
        data, pos = self._data, self._pos
        if pos >= len(data):
            data = self._recv(_READ_CHUNK)  # BlockingIOError when nothing is there
            pos = 0
            self._data, self._pos = data, 0
            if not data:
                return data  # end of stream: paho treats it as connection lost
        chunk = data[pos : pos + bufsize]
        self._pos = pos + len(chunk)
        return chunk

    def buffered(self) -> bool:
        return self._client._sock is self._sock and self._pos < len(self._data)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc: MQTTErrorCode = self._loop_read(max_packets)
        # Each round parses at least one buffered byte, so this ends when the buffer does.
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self.buffered():
            rc = self._loop_read(max_packets)
        return rc


Take = Callable[[str, bytes, int], None]  # (topic, payload, packet id; 0 at QoS 0)
Taken = tuple[int, int, Inbound | None]


class PublishReader:
    """A PUBLISH handler for paho's network thread (paho-mqtt 2.2, pinned) for the common case.

    paho decodes each PUBLISH into an MQTTMessage with a parsed `Properties` object, formats
    a debug line, and matches the topic against per-topic callbacks before calling on_message:
    more than the rest of ingest took per message. For a QoS 0 or 1 PUBLISH without
    properties, which is what devices send, this reads the topic, packet id and payload
    straight out of the packet and hands them to `take`. Anything else (QoS 2, properties, an
    empty topic or topic alias, a topic that is not UTF-8, a malformed packet) goes to paho's
    own handler and so to `on_message`, exactly as before.
    """

    __slots__ = ("_client", "_original", "_props", "_take")

    def __init__(self, client: mqtt.Client, take: Take) -> None:
        self._client = client
        self._original = client._handle_publish
        self._take = take
        # MQTT 5 has a property length after the packet id: one byte, 0, when there are none.
        self._props = 1 if client._protocol == MQTTProtocolVersion.MQTTv5 else 0

    def install(self) -> None:
        self._client._handle_publish = self.handle  # type: ignore[method-assign]

    def handle(self) -> MQTTErrorCode:
        packet = self._client._in_packet
        qos = (packet["command"] & 0x06) >> 1
        data: bytes | bytearray = packet["packet"]
        size = len(data)
        topic_end = 2 + ((data[0] << 8) | data[1]) if size >= 2 else 0
        end = topic_end + (2 if qos else 0)
        # Empty topic (an alias), QoS 2, truncated, or properties: paho's own handler.
        props = self._props
        if topic_end <= 2 or qos > 1 or end + props > size or (props and data[end]):
            return self._original()
        try:
            topic = data[2:topic_end].decode()
        except UnicodeDecodeError:
            return self._original()
        mid = (data[topic_end] << 8) | data[topic_end + 1] if qos else 0
        self._take(topic, bytes(data[end + props :]), mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


def linger_seconds(
    *, oldest: float | None, now: float, linger: float, waiting: int, batch_max: int
) -> float:
    """How long an idle ingest woken by a message waits before it takes a batch: until the
    oldest waiting message (received at `oldest`, monotonic; None for another partition's) is
    `linger` old, and not at all once a full batch is waiting.

    Each batch has a fixed cost (the writer's hand-off and transaction, the PUBACK write, the
    nonce draw, the loop's wake-ups). bench/ingest.py --latency-only at 2,000 readings/s took
    4-8 messages per batch (machine load 11-19) and spent 0.3-0.4 ms of server CPU per
    reading, most of it per batch; with the linger, 16-17 messages per batch and about 30 %
    less server CPU in the full bench's latency phase (two pairs against main).
    """
    if linger <= 0 or waiting >= batch_max:
        return 0.0
    if oldest is None:
        return linger
    return max(0.0, oldest + linger - now)


# ReadBuffer, PublishReader and ack_all use paho's private attributes as of this release; any
# other paho version runs on paho's public path (slower, same behaviour) until they are re-checked.
FAST_PATH_PAHO_VERSION = "2.2.0"


def fast_path_supported() -> bool:
    return paho_version == FAST_PATH_PAHO_VERSION


def ack_all(client: mqtt.Client, mids: list[int]) -> None:
    """QoS 1 acknowledgements for `mids`, queued as one write instead of one per message.

    `Client.ack` queues each PUBACK separately: a wake-up of the network thread and a send()
    per message. The bytes are the same PUBACKs, in the same order. Packet id 0 is a QoS 0
    message, which has nothing to acknowledge.
    """
    pack = _PUBACK.pack
    packet = b"".join([pack(_PUBACK_TYPE, 2, mid) for mid in mids if mid])
    if not packet:
        return
    client._packet_queue(_PUBACK_TYPE, packet, 0, 0)


class MqttIngest:
    """BackgroundService of the ingest role."""

    name = "telemetry.ingest"

    def __init__(
        self,
        *,
        settings: MqttSettings,
        pipeline: Pipeline,
        metrics: TelemetryMetrics,
        caught_up: Callable[[], None] | None = None,
        announce: Callable[[PreparedBatch], Awaitable[None]] | None = None,
    ) -> None:
        """`announce`: what follows a stored batch (alerts, events), before it is acknowledged;
        the pipeline's own by default (telemetry.ingest_thread hands it to another loop)."""
        self._settings = settings
        self._caught_up = caught_up
        self._announce = announce
        self._pipeline = pipeline
        self._metrics = metrics
        # (connection generation, packet id, message; None for another partition's message,
        # which is only acknowledged, in its turn).
        self._queue: collections.deque[Taken] = collections.deque()
        # Messages taken but not yet acknowledged = _taken - _released. Each counter is written
        # by one thread only (paho's, the event loop's), so no lock is needed on the hot path;
        # a threading.Semaphore (pure Python, a Condition per call) cost more per message than
        # moving the message did.
        self._taken = 0
        self._released = 0
        self._room = threading.Event()
        self._idle = False
        self._last_batch = -math.inf  # when the event loop last took a batch (monotonic)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._fast = False  # paho's private fast path (see fast_path_supported)
        self._generation = 0  # bumped on every (re)connect: acks never cross connections
        self._stopping = False
        self._partition = Partition(settings.partition_index, settings.partition_count)
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
        # What PublishReader leaves to paho (see there); the same hand-over.
        self._take(msg.topic, bytes(msg.payload), msg.mid if msg.qos else 0)

    def _take(self, topic: str, payload: bytes, mid: int) -> None:
        # Another ingest's partition: that ingest stores it from its own session. This one
        # only acknowledges it, in order with the rest (MQTT 4.6), never opening it.
        ours = self._partition.count == 1 or self._partition.owns(topic)
        if not ours:
            self._metrics.other_partition.inc()
        # Blocks when the queue is full: back-pressure instead of unbounded memory.
        while self._taken - self._released >= self._settings.queue_size and not self._stopping:
            self._room.clear()
            if self._taken - self._released >= self._settings.queue_size:
                self._room.wait(1.0)
        self._taken += 1
        inbound = Inbound(topic, payload, time.monotonic()) if ours else None
        self._queue.append((self._generation, mid, inbound))
        if self._idle:
            self._idle = False
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(self._wake.set)

    # ---- asyncio side

    def behind(self) -> bool:
        """Whether the oldest message waiting for the pipeline has waited over BEHIND_SECONDS
        (API requests then defer to the ingest: core.admission.Precedence)."""
        try:
            # Asked from another thread when the ingest has a loop of its own: the queue may
            # empty between a check and a read.
            head = self._queue[0][2]
        except IndexError:
            return False
        return head is not None and time.monotonic() - head.received > BEHIND_SECONDS

    def active(self) -> bool:
        """Whether readings were taken in the last ACTIVE_SECONDS (core.admission.Precedence)."""
        return time.monotonic() - self._last_batch < ACTIVE_SECONDS

    async def start(self) -> None:
        await self._pipeline.start()
        self._loop = asyncio.get_running_loop()
        s = self._settings
        if s.host is None:
            raise RuntimeError("MQTT ingest needs a broker host (EMSYNC_MQTT__HOST)")
        client = make_client(s, client_id=s.client_id, manual_ack=True)
        self._fast = fast_path_supported()
        if self._fast:
            ReadBuffer(client).install()
            PublishReader(client, self._take).install()
        else:
            log.warning(
                "paho-mqtt version not checked for the fast path; using its public API",
                version=paho_version,
            )
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
        log.info(
            "mqtt ingest started",
            host=s.host,
            port=s.port,
            filter=subscription(s),
            partition=f"{s.partition_index}/{s.partition_count}",
        )

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._pipeline.devices.stop()  # a read ahead of the views, on this loop
        if self._client is not None:
            self._client.disconnect()
            # Unblock the network thread if it waits for queue space, then let it end.
            self._room.set()
            await asyncio.to_thread(self._client.loop_stop)
        self._metrics.connected.set(0)

    async def _next_batch(self) -> list[Taken]:
        queue = self._queue
        idle = False
        while not queue:
            self._wake.clear()
            self._idle = True
            if queue:  # appended between the check and the flag: do not sleep on it
                self._idle = False
                break
            idle = True
            await self._wake.wait()
        if idle:
            # Only an ingest that had nothing to do waits for company: one that comes back to
            # messages already waiting (a backlog, a busy process) takes them as they are.
            await self._linger()
        n = min(len(queue), self._settings.batch_max)
        batch = [queue.popleft() for _ in range(n)]
        self._last_batch = time.monotonic()
        if self._caught_up is not None:
            self._caught_up()
        return batch

    async def _linger(self) -> None:
        """See `linger_seconds`: the messages that arrive meanwhile share the batch's cost."""
        queue = self._queue
        head = queue[0][2] if queue else None
        wait = linger_seconds(
            oldest=None if head is None else head.received,
            now=time.monotonic(),
            linger=self._settings.batch_linger_ms / 1000,
            waiting=len(queue),
            batch_max=self._settings.batch_max,
        )
        if wait > 0:
            await asyncio.sleep(wait)

    async def _consume(self) -> None:
        """Prepare each batch while the one before it is being stored.

        Storing runs mostly off the event loop (SQLite: the writer's thread; PostgreSQL: the
        server), so opening, scoring and sealing the next batch meanwhile uses the second core.
        Batches are still stored, acknowledged and published one at a time, in order.
        """
        storing: asyncio.Task[None] | None = None
        try:
            while True:
                batch = await self._next_batch()
                self._metrics.queue_depth.set(len(self._queue))
                messages = [item[2] for item in batch if item[2] is not None]
                prepared = (
                    await self._retrying(functools.partial(self._pipeline.prepare, messages))
                    if messages
                    else None
                )
                if storing is not None:
                    await storing
                storing = asyncio.create_task(self._store(batch, prepared))
                # Let the WebSocket pumps send the last batch before the next one is opened,
                # checked and sealed: that work does not yield until it is done, so with
                # messages waiting the pushes waited behind it (bench/ingest.py at 2,000/s: hub
                # -> pump p99 46-88 ms without this yield, 5-7 ms with it).
                await asyncio.sleep(0)
                if storing.done():
                    # Stored and announced within that turn (a small SQLite batch is written on
                    # the loop's thread): its pushes were scheduled during it, behind this task,
                    # so one more turn puts them first.
                    await asyncio.sleep(0)
        finally:
            if storing is not None and not storing.done():
                storing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await storing

    async def _store(self, batch: list[Taken], prepared: PreparedBatch | None) -> None:
        if prepared is not None:
            started = time.monotonic()
            await self._retrying(functools.partial(self._pipeline.store, prepared))
            self._metrics.store_seconds.observe(time.monotonic() - started)
            announce = self._announce or self._pipeline.announce
            await self._retrying(functools.partial(announce, prepared))
        client = self._client
        generation = self._generation
        if client is not None:
            mids = [mid for gen, mid, _ in batch if gen == generation]
            if self._fast:
                ack_all(client, mids)
            else:
                for mid in mids:
                    if mid:
                        client.ack(mid, 1)
        self._released += len(batch)
        self._room.set()

    async def _retrying(self, step: Callable[[], Awaitable[T]]) -> T:
        """`step` until it succeeds: with storage down nothing is acknowledged, so nothing is
        lost; the broker keeps the messages and the queue's back-pressure holds the rest."""
        while True:
            try:
                return await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - storage down: retry, never ack
                self._metrics.store_failures.inc()
                log.error("telemetry batch not stored; retrying", error=type(exc).__name__)
                await asyncio.sleep(self._settings.store_retry_seconds)
