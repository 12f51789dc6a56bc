"""What ingest installs under paho (buffered reads, the direct PUBLISH reader, batched PUBACKs)
receives and acknowledges exactly what paho's own code does, over a real socket pair."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from emsync.telemetry import ingest
from emsync.telemetry.ingest import PublishReader, ReadBuffer, ack_all

TOPIC = "emsync/v1/devices/mon-1/vitals"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(
    topic: str, payload: bytes, *, qos: int, mid: int = 0, v5: bool = True, props: bytes = b"\0"
) -> bytes:
    topic_bytes = topic.encode()
    body = struct.pack("!H", len(topic_bytes)) + topic_bytes
    if qos:
        body += struct.pack("!H", mid)
    if v5:
        body += props
    body += payload
    return bytes([0x30 | qos << 1]) + _varint(len(body)) + body


Got = list[tuple[str, str, bytes, int]]


@pytest.fixture
def wired() -> Iterator[tuple[mqtt.Client, socket.socket, Got]]:
    """A v5 client whose socket is one end of a pair, with ingest's readers installed."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="t",
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    client._sock = ours
    got: Got = []
    client.on_message = lambda _c, _u, m: got.append(("paho", m.topic, bytes(m.payload), m.mid))
    ReadBuffer(client).install()
    PublishReader(client, lambda t, p, mid: got.append(("direct", t, p, mid))).install()
    yield client, theirs, got
    client._sock = None
    ours.close()
    theirs.close()


def test_one_read_parses_every_buffered_packet_and_leaves_a_partial_one_for_later(
    wired: tuple[mqtt.Client, socket.socket, Got],
) -> None:
    client, broker, got = wired
    packets = [publish_packet(TOPIC, b"p%d" % i, qos=1, mid=i + 1) for i in range(50)]
    tail = publish_packet(TOPIC, b"x" * 300, qos=1, mid=99)
    broker.sendall(b"".join(packets) + tail[:100])
    client.loop_read()
    assert got == [("direct", TOPIC, b"p%d" % i, i + 1) for i in range(50)]
    broker.sendall(tail[100:])
    client.loop_read()
    assert got[-1] == ("direct", TOPIC, b"x" * 300, 99)


def test_qos0_has_no_packet_id_and_an_empty_payload_is_kept(
    wired: tuple[mqtt.Client, socket.socket, Got],
) -> None:
    client, broker, got = wired
    broker.sendall(publish_packet(TOPIC, b"abc", qos=0) + publish_packet(TOPIC, b"", qos=1, mid=7))
    client.loop_read()
    assert got == [("direct", TOPIC, b"abc", 0), ("direct", TOPIC, b"", 7)]


def test_what_the_direct_reader_does_not_handle_goes_through_paho(
    wired: tuple[mqtt.Client, socket.socket, Got],
) -> None:
    client, broker, got = wired
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = ("k", "v")
    props.MessageExpiryInterval = 60
    with_props = publish_packet(TOPIC, b"pp", qos=1, mid=3, props=props.pack())  # type: ignore[no-untyped-call]
    broker.sendall(with_props + publish_packet(TOPIC, b"plain", qos=1, mid=5))
    client.loop_read()
    assert got == [("paho", TOPIC, b"pp", 3), ("direct", TOPIC, b"plain", 5)]


def test_a_new_socket_never_sees_bytes_buffered_from_the_old_one(
    wired: tuple[mqtt.Client, socket.socket, Got],
) -> None:
    client, broker, got = wired
    first = publish_packet(TOPIC, b"old", qos=1, mid=1)
    broker.sendall(first + publish_packet(TOPIC, b"cut", qos=1, mid=2)[:5])
    client.loop_read()
    assert got == [("direct", TOPIC, b"old", 1)]
    # Reconnect: a fresh socket and a fresh parser state, as paho's reconnect sets up.
    fresh, fresh_broker = socket.socketpair()
    fresh.setblocking(False)
    try:
        client._sock = fresh
        client._in_packet = {
            "command": 0,
            "have_remaining": 0,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": 0,
            "packet": bytearray(b""),
            "to_process": 0,
            "pos": 0,
        }
        fresh_broker.sendall(publish_packet(TOPIC, b"new", qos=1, mid=1))
        client.loop_read()
        assert got[1:] == [("direct", TOPIC, b"new", 1)]
    finally:
        client._sock = None
        fresh.close()
        fresh_broker.close()


def _written(client: mqtt.Client, broker: socket.socket) -> bytes:
    client.loop_write()
    broker.setblocking(False)
    try:
        return broker.recv(65536)
    except BlockingIOError:
        return b""


def test_batched_acks_are_the_bytes_paho_sends_one_by_one_without_qos0(
    wired: tuple[mqtt.Client, socket.socket, Got],
) -> None:
    client, broker, _ = wired
    mids = [1, 2, 300, 65535]
    for mid in mids:
        client.ack(mid, 1)
    one_by_one = _written(client, broker)
    ack_all(client, [*mids[:2], 0, *mids[2:]])
    batched = _written(client, broker)
    assert batched == one_by_one == b"".join(struct.pack("!BBH", 0x40, 2, m) for m in mids)
    ack_all(client, [0])
    assert _written(client, broker) == b""


def test_the_pinned_paho_is_the_one_the_fast_path_was_checked_against() -> None:
    # Upgrading paho-mqtt fails here until ReadBuffer, PublishReader and ack_all are re-checked
    # against its internals (ingest falls back to paho's public API meanwhile).
    assert ingest.fast_path_supported()
