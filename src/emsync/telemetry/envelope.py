"""The sealed telemetry envelope (DESIGN.md §3.1): parse, seal, open and the replay check.

Pure: no I/O, no clock. Every way an incoming message can be refused raises `EnvelopeRejected`
with a machine-readable `reason`, so the ingest loop counts rejections by reason and carries on.

Order matters on the receiving side: `parse` → `open_envelope` → `ReplayGuard.admit`. The
counter is only trusted once the tag has verified, otherwise a forged message with a huge
counter would lock the real device out.
"""

from __future__ import annotations

import re
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, NewType

from emsync.telemetry import aead
from emsync.telemetry.aead import Algorithm

__all__ = [
    "HEADER_LENGTH",
    "MAX_PAYLOAD_LENGTH",
    "VERSION",
    "WIRE_ALGORITHMS",
    "DeviceId",
    "EnvelopeRejected",
    "Kind",
    "Reason",
    "ReplayGuard",
    "SealedReading",
    "Topic",
    "is_fresh",
    "open_envelope",
    "parse",
    "parse_topic",
    "seal",
    "topic_for",
]

DeviceId = NewType("DeviceId", str)

VERSION = 1
HEADER_LENGTH = 12  # version, algorithm, key id, counter: the part bound into the AD
TAG_LENGTH = aead.TAG_LENGTH
# A vitals batch of a few hundred readings fits easily; anything larger is refused before any
# work is spent on it, so one misbehaving device cannot make ingest allocate without bound.
MAX_PAYLOAD_LENGTH = 64 * 1024
MAX_KEY_ID = 0xFFFF
MAX_COUNTER = 0xFFFF_FFFF_FFFF_FFFF

WIRE_ALGORITHMS: frozenset[Algorithm] = frozenset(
    {Algorithm.ASCON_AEAD128, Algorithm.ASCON_128, Algorithm.AES_256_GCM}
)
_NONCE_LENGTH: dict[int, int] = {alg.value: aead.spec(alg).nonce_length for alg in WIRE_ALGORITHMS}
_ALGORITHM: dict[int, Algorithm] = {alg.value: alg for alg in WIRE_ALGORITHMS}

_HEADER = struct.Struct(">BBHQ")
_TOPIC_PREFIX = "emsync/v1/devices/"
# [A-Za-z0-9] spelled out (not \w) so no Unicode letter or digit ever passes.
_TOPIC = re.compile(r"emsync/v1/devices/([A-Za-z0-9_-]{1,64})/(vitals|position|status)")


class Kind(StrEnum):
    VITALS = "vitals"
    POSITION = "position"
    STATUS = "status"


_KINDS = {kind.value: kind for kind in Kind}


class Reason(StrEnum):
    """Why a message was refused; the values are metric labels, so they never change."""

    BAD_TOPIC = "bad_topic"
    TOO_LARGE = "too_large"
    TRUNCATED = "truncated"
    BAD_VERSION = "bad_version"
    UNKNOWN_ALGORITHM = "unknown_algorithm"
    KEY_MISMATCH = "key_mismatch"  # the device's key does not fit the algorithm in the header
    BAD_TAG = "bad_tag"
    REPLAYED = "replayed"
    BAD_ENCODING = "bad_encoding"  # plaintext is not UTF-8
    BAD_JSON = "bad_json"
    BAD_SHAPE = "bad_shape"  # valid JSON, but not a reading or a batch of readings
    BAD_TIMESTAMP = "bad_timestamp"
    # Later than the time received plus the allowed clock skew: a device with a wrong clock
    # would otherwise pin a patient's "latest" values for as long as its clock is ahead.
    FUTURE_TIMESTAMP = "future_timestamp"


class EnvelopeRejected(ValueError):
    """An incoming message is refused. `detail` never contains plaintext (it may be PHI)."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Topic:
    device_id: DeviceId
    kind: Kind


class SealedReading(NamedTuple):
    """A parsed, not yet authenticated envelope; build it with `parse`."""

    topic: str
    device_id: DeviceId
    kind: Kind
    algorithm: Algorithm
    key_id: int
    counter: int
    nonce: bytes
    ciphertext: bytes  # ciphertext followed by the 16-byte tag
    header: bytes  # envelope bytes 0-11 exactly as received

    @property
    def associated_data(self) -> bytes:
        return self.header + self.topic.encode()


def _match_topic(topic: str) -> tuple[str, Kind]:
    match = _TOPIC.fullmatch(topic)
    if match is None:
        raise EnvelopeRejected(Reason.BAD_TOPIC, "expected emsync/v1/devices/{device_id}/{kind}")
    device_id, kind = match.groups()
    # A dict lookup, because Kind(value) costs about a microsecond per message.
    return device_id, _KINDS[kind]


def parse_topic(topic: str) -> Topic:
    device_id, kind = _match_topic(topic)
    return Topic(device_id=DeviceId(device_id), kind=kind)


def topic_for(device_id: str, kind: Kind | str) -> str:
    """The topic a device publishes `kind` on; ValueError for an invalid device id or kind."""
    topic = f"{_TOPIC_PREFIX}{device_id}/{Kind(kind).value}"
    if _TOPIC.fullmatch(topic) is None:
        raise ValueError("device id must match [A-Za-z0-9_-]{1,64}")
    return topic


def parse(topic: str, payload: bytes) -> SealedReading:
    """Split an MQTT message into its fields; checks structure only, not the tag."""
    device_id, kind = _match_topic(topic)
    size = len(payload)
    if size > MAX_PAYLOAD_LENGTH:
        raise EnvelopeRejected(Reason.TOO_LARGE, f"{size} bytes > {MAX_PAYLOAD_LENGTH}")
    if size < 2:
        raise EnvelopeRejected(Reason.TRUNCATED, f"{size} bytes")
    if payload[0] != VERSION:
        raise EnvelopeRejected(Reason.BAD_VERSION, f"version {payload[0]}")
    nonce_length = _NONCE_LENGTH.get(payload[1])
    if nonce_length is None:
        raise EnvelopeRejected(Reason.UNKNOWN_ALGORITHM, f"algorithm {payload[1]}")
    body = HEADER_LENGTH + nonce_length
    if size < body + TAG_LENGTH:
        raise EnvelopeRejected(Reason.TRUNCATED, f"{size} bytes < {body + TAG_LENGTH}")
    payload = bytes(payload)
    _, algorithm, key_id, counter = _HEADER.unpack_from(payload)
    return SealedReading(
        topic=topic,
        device_id=DeviceId(device_id),
        kind=kind,
        algorithm=_ALGORITHM[algorithm],
        key_id=key_id,
        counter=counter,
        nonce=payload[HEADER_LENGTH:body],
        ciphertext=payload[body:],
        header=payload[:HEADER_LENGTH],
    )


def open_envelope(sealed: SealedReading, key: bytes) -> bytes:
    """The authenticated plaintext; EnvelopeRejected if the key does not fit or the tag fails."""
    if len(key) != aead.spec(sealed.algorithm).key_length:
        raise EnvelopeRejected(Reason.KEY_MISMATCH, f"no {sealed.algorithm.name} key")
    try:
        return aead.open(
            sealed.algorithm, key, sealed.nonce, sealed.associated_data, sealed.ciphertext
        )
    except aead.AeadError:
        raise EnvelopeRejected(Reason.BAD_TAG) from None


def seal(
    *,
    topic: str,
    algorithm: Algorithm,
    key: bytes,
    key_id: int,
    counter: int,
    plaintext: bytes,
    nonce: bytes | None = None,
) -> bytes:
    """The MQTT payload a device publishes on `topic` (for devices, the simulator and tests).

    Without `nonce` a random one is drawn. A random 96-bit AES-GCM nonce is safe for about 2**32
    messages per key (NIST SP 800-38D); keys rotate long before that.
    """
    _match_topic(topic)
    if algorithm not in WIRE_ALGORITHMS:
        raise ValueError(f"{algorithm!r} cannot be carried in an envelope")
    if not 0 <= key_id <= MAX_KEY_ID:
        raise ValueError("key_id must fit in 16 bits")
    if not 0 <= counter <= MAX_COUNTER:
        raise ValueError("counter must fit in 64 bits")
    nonce_length = _NONCE_LENGTH[algorithm]
    if nonce is None:
        nonce = secrets.token_bytes(nonce_length)
    elif len(nonce) != nonce_length:
        raise ValueError(f"nonce must be {nonce_length} bytes")
    header = _HEADER.pack(VERSION, algorithm, key_id, counter)
    sealed = aead.seal(algorithm, key, nonce, header + topic.encode(), plaintext)
    payload = header + nonce + sealed
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise ValueError(f"sealed payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_LENGTH}")
    return payload


def is_fresh(counter: int, last_accepted: int | None) -> bool:
    """Replay rule: a counter must be strictly greater than the last accepted one."""
    return last_accepted is None or counter > last_accepted


class ReplayGuard:
    """Last accepted counter per (device, key id), in memory.

    The caller seeds it from storage on start-up and calls `admit` only after `open_envelope`
    succeeded. A new key id starts its own sequence, so rotation needs no counter hand-over.
    """

    __slots__ = ("_last",)

    def __init__(self, last_accepted: Mapping[tuple[str, int], int] | None = None) -> None:
        self._last: dict[tuple[str, int], int] = dict(last_accepted or {})

    def last_accepted(self, device_id: str, key_id: int) -> int | None:
        return self._last.get((device_id, key_id))

    def check(self, sealed: SealedReading) -> None:
        """EnvelopeRejected(replayed) if the counter is not fresh; changes nothing."""
        last = self._last.get((sealed.device_id, sealed.key_id))
        if not is_fresh(sealed.counter, last):
            raise EnvelopeRejected(Reason.REPLAYED, f"counter {sealed.counter} <= {last}")

    def admit(self, sealed: SealedReading) -> None:
        """Check the counter and, if fresh, remember it as the last accepted."""
        self.check(sealed)
        self._last[(sealed.device_id, sealed.key_id)] = sealed.counter

    def forget(self, device_id: str, key_id: int) -> None:
        """Drop the state of a key that can no longer be used (revoked or past its grace)."""
        self._last.pop((device_id, key_id), None)
